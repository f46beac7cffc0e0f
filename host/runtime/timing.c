#include "runtime/timing.h"

#include <stdlib.h>

int sc_time_calls(sc_ctx *c, sc_timed_fn fn, void *arg, int warmup, int samples, double min_sample_s, sc_timing *out,
                  sc_err *err) {
  for (int i = 0; i < warmup; i++)
    if (fn(arg, err)) return -1;
  if (sc_finish(c, err)) return -1;
  double *t = sc_calloc((size_t)samples, sizeof *t, "timing samples", err);
  if (!t) return -1;
  long total_calls = 0;
  const double cpu0 = sc_cpu_seconds();
  for (int s = 0; s < samples; s++) {
    int calls = 0;
    double t0 = sc_now(), el;
    do {
      if (fn(arg, err) || sc_finish(c, err)) {
        free(t);
        return -1;
      }
      calls++;
      el = sc_now() - t0;
    } while (el < min_sample_s);
    t[s] = el / calls;
    total_calls += calls;
  }
  out->cpu_s = (sc_cpu_seconds() - cpu0) / (double)total_calls;
  out->wall = sc_stats_of(t, samples);
  free(t);
  return 0;
}
