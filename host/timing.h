/* Benchmark timing: host monotonic clock around clFinish, after warm-up, median of samples. */
#ifndef SCALECL_TIMING_H
#define SCALECL_TIMING_H

#include "cl_runtime.h"

typedef int (*sc_timed_fn)(void *arg, sc_err *err);

/* Runs fn `warmup` times, then `samples` samples; each sample repeats fn until at least min_sample_s
 * has passed (ending with clFinish) and yields seconds per call. Writes the median per-call time and,
 * when cpu_s is not NULL, the process CPU time per timed call (warm-up excluded). */
int sc_time_median(sc_ctx *c, sc_timed_fn fn, void *arg, int warmup, int samples, double min_sample_s, double *median_s,
                   double *cpu_s, sc_err *err);

double sc_median(double *v, int n); /* sorts v in place */

/* Process CPU time in seconds, all threads. On a CPU OpenCL device, CPU time per call divided by the compute
 * units gives the time the call would take with the machine to itself. */
double sc_cpu_seconds(void);

#endif
