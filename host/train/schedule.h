/* Learning-rate schedules (spec xlstm.md §4.2), as functions of the 0-based update index s of a run of `total`
 * steps, with optax's conventions (the paper's framework): the first warmup update has lr 0.
 *   cosine:   linear warmup 0 → lr over `warmup`; cosine from lr to end·lr over total − warmup − cooldown;
 *             linear cooldown end·lr → 0 over `cooldown` (the paper's: end 0.1, warmup 750, cooldown 1000).
 *   constant: linear warmup, then lr.
 *   wsd:      warmup-stable-decay: linear warmup, lr, then linear decay lr → 0 over `cooldown`. */
#ifndef SCALECL_TRAIN_SCHEDULE_H
#define SCALECL_TRAIN_SCHEDULE_H

#include "base/err.h"

typedef enum { SC_SCHED_COSINE, SC_SCHED_CONSTANT, SC_SCHED_WSD, SC_SCHED_COUNT } sc_sched_kind;
extern const char *const sc_sched_names[SC_SCHED_COUNT + 1]; /* "cosine", "constant", "wsd", NULL */

typedef struct {
  sc_sched_kind kind;
  double lr;
  double end; /* cosine: the floor as a fraction of lr (0.1) */
  long warmup, cooldown, total;
} sc_schedule;

/* Fails naming the option when warmup + cooldown exceed the steps or a value is out of range. */
int sc_schedule_check(const sc_schedule *s, sc_err *err);
double sc_schedule_lr(const sc_schedule *s, long step);

#endif
