/* Device peak measurements (`scalecl peak`): FMA GFLOP/s, read bandwidth, launch latency and
 * SGEMM rates through both GEMM backends. Later benchmarks report efficiency against these. */
#ifndef SCALECL_PEAK_H
#define SCALECL_PEAK_H

#include "ops/gemm.h"
#include "runtime/context.h"

#define SC_PEAK_MAX_GEMM 4

typedef struct {
  size_t m, n, k;
  double clblast_gflops, own_gflops;
} sc_peak_gemm;

typedef struct {
  double fma_gflops; /* best over vector widths */
  int fma_best_width;
  double fma_by_width[5]; /* widths 1, 2, 4, 8, 16 */
  double read_gbs;
  double launch_us;
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
/* Times one SGEMM shape through a backend on resident buffers (sc_time_median after `warmup` calls): median
 * seconds per call and, when cpu_s is not NULL, process CPU seconds per timed call. */
int sc_sgemm_time(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int warmup, int samples,
                  double min_sample_s, double *wall_s, double *cpu_s, sc_err *err);
/* Measures one SGEMM shape through a backend after 2 warm-up calls; GFLOP/s = 2MNK / median time. */
int sc_peak_sgemm(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int samples, double min_sample_s,
                  double *gflops, sc_err *err);

#endif
