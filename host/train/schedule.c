#include "train/schedule.h"

#include <math.h>

const char *const sc_sched_names[SC_SCHED_COUNT + 1] = {"cosine", "constant", "wsd", NULL};

int sc_schedule_check(const sc_schedule *s, sc_err *err) {
  if (!(s->lr > 0) || !isfinite(s->lr)) return sc_fail(err, "--lr %g must be a positive number", s->lr);
  if (s->total < 1) return sc_fail(err, "the run has %ld steps; it needs at least 1", s->total);
  if (s->warmup < 0 || s->cooldown < 0)
    return sc_fail(err, "--warmup %ld and --cooldown %ld must not be negative", s->warmup, s->cooldown);
  if (s->kind == SC_SCHED_CONSTANT && s->cooldown > 0)
    return sc_fail(err, "--cooldown %ld: the constant schedule has no cooldown (use --schedule wsd)", s->cooldown);
  if (s->warmup + s->cooldown > s->total)
    return sc_fail(err, "--warmup %ld plus --cooldown %ld exceed the run's %ld steps; shorten them or train longer",
                   s->warmup, s->cooldown, s->total);
  if (!(s->end >= 0 && s->end <= 1)) return sc_fail(err, "the cosine floor %g must lie in [0, 1]", s->end);
  return 0;
}

double sc_schedule_lr(const sc_schedule *s, long step) {
  if (step < s->warmup) return s->lr * (double)step / (double)s->warmup;
  const long decay_end = s->total - s->cooldown;
  if (s->kind == SC_SCHED_CONSTANT || (s->kind == SC_SCHED_WSD && step < decay_end)) return s->lr;
  if (s->kind == SC_SCHED_WSD) return s->lr * (1.0 - (double)(step - decay_end) / (double)s->cooldown);
  const double floor_lr = s->end * s->lr;
  if (step < decay_end) {
    const double frac = (double)(step - s->warmup) / (double)(decay_end - s->warmup);
    return floor_lr + (s->lr - floor_lr) * 0.5 * (1.0 + cos(M_PI * frac));
  }
  return floor_lr * (1.0 - (double)(step - decay_end) / (double)s->cooldown);
}
