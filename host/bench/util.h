/* Helpers shared by the `scalecl bench` topics and `scalecl peak`: random device inputs, timing with process CPU
 * time, machine load, the reference GEMM rate, the columns every throughput table shares, and the device fields of
 * the JSON document (base/output.h writes it). */
#ifndef SCALECL_BENCH_UTIL_H
#define SCALECL_BENCH_UTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/output.h"
#include "base/table.h"
#include "runtime/timing.h"

/* Writes n floats uniform in [lo, hi) from a fixed LCG started at seed into m. */
int sc_bench_fill_uniform(sc_ctx *c, cl_mem m, size_t n, unsigned seed, float lo, float hi, sc_err *err);

/* Compute units, at least 1: the divisor that turns process CPU time into time on an otherwise idle CPU device. */
int sc_bench_compute_units(const sc_ctx *c);
/* 1-minute load average (-1 if unknown): printed next to timings taken on a shared machine. */
double sc_loadavg(void);
/* The 1- and 5-minute load averages (each -1 if unknown). */
void sc_loadavg2(double *l1, double *l5);

/* One untimed warm-up call (PoCL generates code at the first launch), then sc_time_calls over `samples` samples of
 * at least min_sample_s each. */
int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, sc_timing *t, sc_err *err);

/* One more call of fn with every launch bracketed by clFinish (the context's kprof), printed to f kernel by kernel:
 * launches, wall ms and share, and on CPU devices the process CPU ms per compute unit ("cpu-norm"). */
int sc_bench_kernel_profile(sc_ctx *c, sc_timed_fn fn, void *arg, FILE *f, sc_err *err);

/* The reference GEMM rate that efficiencies ("pct_gemm") divide by: the GEMM path scalecl itself uses on the device
 * (sc_gemm_default: $SCALECL_GEMM, else the device profile's gemm_backend, else CLBlast). */
typedef struct {
  const char *backend; /* sc_gemm_backend_name: "clblast", "own" or "host" */
  double gflops;       /* by wall time */
  double cpu_gflops;   /* by process CPU time per compute unit on a CPU device; 0 when not measured */
  const char *source;  /* the --peak file, or "measured 1024x1024x1024" */
} sc_gemm_ref;
/* From a `scalecl peak --json` file when peak_path is set (the best sgemm[] rate of its gemm_api_backend; CLBlast
 * for files without one), else SGEMM at 1024^3 measured here through the API backend as sc_bench_time does (median
 * of 5 samples of at least 0.2 s). */
int sc_bench_gemm_ref(sc_ctx *c, const char *peak_path, sc_gemm_ref *r, sc_err *err);
/* The parsed `scalecl peak --json` file at path (the caller deletes it); NULL with a message naming the file. */
cJSON *sc_bench_read_peak(const char *path, sc_err *err);
/* The FMA peak in GFLOP/s from a `scalecl peak --json` file when peak_path is set, else measured here (quick: 3
 * samples of 0.05 s per vector width); *source names where it came from. */
int sc_bench_fma_peak(sc_ctx *c, const char *peak_path, double *gflops, const char **source, sc_err *err);
/* Prints the reference as one line: its backend, rate and source. */
void sc_bench_print_gemm_ref(FILE *f, const sc_ctx *c, const sc_gemm_ref *r);
/* Adds gemm_ref_backend, gemm_ref_gflops, gemm_ref_source and (when measured) gemm_ref_cpu_norm_gflops. */
void sc_bench_json_gemm_ref(cJSON *root, const sc_gemm_ref *r);

/* Prints "device: NAME (PLATFORM, N CUs, driver D); load average L at start" to f and returns L. */
double sc_bench_print_device(FILE *f, const sc_ctx *c);
/* A JSON document root holding the device: device (its name), platform, driver_version, device_type and
 * compute_units; NULL when out of memory. */
cJSON *sc_bench_json_root(const sc_ctx *c);

/* The JSON root of a kernel throughput bench (mlstm, attention): the device, the reference GEMM, how FLOPs are
 * counted, batch 1, heads, samples and the load averages at start and end; NULL when out of memory. */
cJSON *sc_bench_json_run(const sc_ctx *c, const sc_gemm_ref *ref, const char *flop_count, long heads, long samples,
                         double load0, double load1);

/* sc_output_emit of a benchmark: first adds to root (when not NULL) "benchmark" (its kind: "peak", "gemm", "mlstm",
 * "attention", "model", "train", "infer"; `scalecl report devices` groups files by it) and "kernel_variants"
 * (sc_variants_json: the variant and tile defines of every op family created on c), so every file records what ran. */
int sc_bench_emit(const sc_output *o, const sc_ctx *c, const char *benchmark, cJSON *root, sc_table *const *tables,
                  int n, sc_err *err);

/* Sets columns col, col + 1 and col + 2 of the table's last row to the figure's median, mean and sd. */
void sc_bench_cells(sc_table *t, int col, sc_figure f);

/* What a roofline point needs besides the time: the work of one timed call and the least traffic it can cost, so
 * that arithmetic intensity = flops / min_bytes (FLOP/byte). Only in CSV and JSON (wide). */
/* clang-format off */
#define SC_BENCH_ROOFLINE_COLUMNS                                                               \
  {"flops", "FLOP per timed call, counted as flop_count says", SC_COL_NUM, "%.4g", 1},          \
  {"min_bytes", "B per timed call at the least: every input read and every output written once " \
                "in global memory (fp32), nothing re-read", SC_COL_NUM, "%.4g", 1}
/* clang-format on */

/* The columns of one timed pass that the throughput tables share (bench mlstm, bench attention), in this order
 * inside a table's columns; sc_bench_pass_cells fills them from the pass's first column on. */
/* clang-format off */
#define SC_BENCH_PASS_COLUMNS                                                                   \
  {"pass", NULL, SC_COL_STR, NULL, 0},                                                          \
  {"ms", "ms", SC_COL_NUM, "%.2f", 0},                                                          \
  {"ms_mean", "ms", SC_COL_NUM, "%.2f", 0},                                                     \
  {"ms_sd", "ms", SC_COL_NUM, "%.2f", 0},                                                       \
  {"tokens_per_s", "tokens/s", SC_COL_NUM, "%.0f", 0},                                          \
  {"gflops", "GFLOP/s", SC_COL_NUM, "%.1f", 0},                                                 \
  {"pct_gemm", "% of gemm_ref_gflops", SC_COL_NUM, "%.0f", 0},                                  \
  {"cpu_norm_gflops", "GFLOP/s by process CPU time / compute units", SC_COL_NUM, "%.1f", 0},    \
  {"cpu_norm_pct_gemm", "% of gemm_ref_cpu_norm_gflops", SC_COL_NUM, "%.0f", 0},                \
  SC_BENCH_ROOFLINE_COLUMNS
/* clang-format on */
enum { SC_BENCH_PASS_NCOLS = 11 };
/* One pass of `flops` FLOPs over `tokens` tokens that moves at least min_bytes: its name, ms, tokens/s, GFLOP/s
 * and the fraction of the reference in percent, flops and min_bytes; on a CPU device also the rates by process CPU
 * time per compute unit. */
void sc_bench_pass_cells(sc_table *t, int first, const sc_ctx *c, const char *pass, const sc_timing *tm, double flops,
                         double min_bytes, double tokens, const sc_gemm_ref *ref);

#endif
