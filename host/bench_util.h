/* Helpers shared by the `scalecl bench` topics: machine load, process CPU time and the reference SGEMM rate
 * from a `scalecl peak --json` file. */
#ifndef SCALECL_BENCH_UTIL_H
#define SCALECL_BENCH_UTIL_H

#include "timing.h"

/* 1-minute load average (-1 if unknown): printed next to timings taken on a shared machine. */
double sc_loadavg(void);
/* Process CPU time in seconds. On a CPU OpenCL device, CPU time per call divided by the compute units gives
 * the time the call would take with the machine to itself. */
double sc_cpu_seconds(void);
/* One untimed warm-up call (PoCL generates code at the first launch), then the median wall time per call over
 * `samples` samples of at least min_sample_s each (sc_time_median), and the mean process CPU time per call. */
int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, double *wall_s, double *cpu_s,
                  sc_err *err);
/* Best sgemm[].clblast_gflops in a `scalecl peak --json` file. */
int sc_read_peak_sgemm(const char *path, double *gflops, sc_err *err);

#endif
