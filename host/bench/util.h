/* Helpers shared by the `scalecl bench` topics: random device inputs, timing with process CPU
 * time, machine load, the reference SGEMM rate and the --json output. */
#ifndef SCALECL_BENCH_UTIL_H
#define SCALECL_BENCH_UTIL_H

#include <cjson/cJSON.h>

#include "runtime/timing.h"

/* Writes n floats uniform in [lo, hi) from a fixed LCG started at seed into m. */
int sc_bench_fill_uniform(sc_ctx *c, cl_mem m, size_t n, unsigned seed, float lo, float hi, sc_err *err);

/* Compute units, at least 1: the divisor that turns process CPU time into time on an otherwise idle CPU device. */
int sc_bench_compute_units(const sc_ctx *c);
/* 1-minute load average (-1 if unknown): printed next to timings taken on a shared machine. */
double sc_loadavg(void);
/* The 1- and 5-minute load averages (each -1 if unknown). */
void sc_loadavg2(double *l1, double *l5);

/* Wall time (median per call) and process CPU time per call. On a CPU device the CPU time is what the calls
 * cost whatever else runs on the machine, so rates from it stay comparable on a shared host. */
typedef struct {
  double wall_s, cpu_s;
} sc_bench_timing;
/* One untimed warm-up call (PoCL generates code at the first launch), then sc_time_median over `samples`
 * samples of at least min_sample_s each. */
int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, sc_bench_timing *t,
                  sc_err *err);

/* The device's reference rate in GFLOP/s: the best sgemm[].clblast_gflops of a `scalecl peak --json` file when
 * peak_path is set (cpu_gflops 0), else CLBlast SGEMM at 1024^3 measured here as sc_bench_time does (one warm-up
 * call, median of 5 samples of at least 0.2 s), by wall time and by process CPU time per compute unit. */
int sc_bench_sgemm_ref(sc_ctx *c, const char *peak_path, double *gflops, double *cpu_gflops, sc_err *err);
/* Prints "device: NAME (PLATFORM, N CUs); load average L at start" and returns L (see sc_loadavg). */
double sc_bench_print_device(const sc_ctx *c);

/* Adds root[name] for one timed pass of `flops` (stored under flops_key) over `tokens`: seconds, cpu_seconds,
 * tokens_per_s, gflops and fraction_of_sgemm by wall time, and on a CPU device with a measured cpu-norm
 * reference (sgemm_cpu > 0) cpu_norm_fraction_of_sgemm by process CPU time per compute unit. */
void sc_bench_json_pass(cJSON *root, const char *name, const sc_ctx *c, const sc_bench_timing *t, const char *flops_key,
                        double flops, double tokens, double sgemm, double sgemm_cpu);
/* Adds device, platform, compute_units and the reference rate with its source to a bench's JSON root. */
void sc_bench_json_device(cJSON *root, const sc_ctx *c, const char *peak_path, double gflops, double cpu_gflops);
/* Adds the version ("scalecl") and the settings ("settings") that produced the numbers to root, then prints it
 * to stdout when path is "-", else writes it to path atomically. */
int sc_bench_write_json(cJSON *root, const char *path, sc_err *err);

#endif
