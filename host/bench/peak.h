/* Device peak measurements (`scalecl peak`): FMA GFLOP/s, read bandwidth, launch latency and
 * SGEMM rates through every GEMM backend the device runs. Later benchmarks report efficiency against these. */
#ifndef SCALECL_PEAK_H
#define SCALECL_PEAK_H

#include "ops/gemm.h"
#include "runtime/context.h"
#include "runtime/timing.h"

#define SC_PEAK_MAX_GEMM 4

typedef struct {
  size_t m, n, k;
  sc_figure gflops[SC_GEMM_COUNT]; /* by sc_gemm_backend; median 0: not measured (host off CPU devices) */
} sc_peak_gemm;

/* Figures over the samples (median, mean, sd) in GFLOP/s, GB/s and microseconds. */
typedef struct {
  double fma_gflops; /* best median over vector widths */
  int fma_best_width;
  sc_figure fma_by_width[5]; /* widths 1, 2, 4, 8, 16 */
  sc_figure read_gbs;
  sc_figure launch_us;
  int n_gemm;
  sc_peak_gemm gemm[SC_PEAK_MAX_GEMM];
  int api_backend; /* sc_gemm_backend that the GEMM API uses by default on this device */
  double seconds;  /* wall time of the whole measurement */
} sc_peak;

typedef struct {
  int samples;         /* median over this many samples (default 5) */
  double min_sample_s; /* each sample lasts at least this long (default 0.2 s) */
  int skip_gemm;
  int progress; /* a progress line on stderr (when it is a terminal) */
} sc_peak_opts;

int sc_peak_measure(sc_ctx *c, const sc_peak_opts *o, sc_peak *out, sc_err *err);
/* Times one SGEMM shape through a backend on resident buffers (sc_time_calls after `warmup` calls). */
int sc_sgemm_time(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int warmup, int samples,
                  double min_sample_s, sc_timing *t, sc_err *err);
/* Measures one SGEMM shape through a backend after 2 warm-up calls; GFLOP/s = 2MNK / time per call. */
int sc_peak_sgemm(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int samples, double min_sample_s,
                  sc_figure *gflops, sc_err *err);

#endif
