/* Benchmark timing: host monotonic clock around clFinish, after warm-up, median of samples. */
#ifndef SCALECL_RUNTIME_TIMING_H
#define SCALECL_RUNTIME_TIMING_H

#include "base/clock.h"
#include "runtime/context.h"

typedef int (*sc_timed_fn)(void *arg, sc_err *err);

/* Wall time per call over the samples, and process CPU time per timed call (warm-up excluded). */
typedef struct {
  sc_stats wall;
  double cpu_s;
} sc_timing;

/* Runs fn `warmup` times, then `samples` samples; each sample repeats fn until at least min_sample_s has passed
 * (ending with clFinish) and yields seconds per call. */
int sc_time_calls(sc_ctx *c, sc_timed_fn fn, void *arg, int warmup, int samples, double min_sample_s, sc_timing *t,
                  sc_err *err);

#endif
