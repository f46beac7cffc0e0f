#include "bench/peak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "ops/gemm.h"
#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/timing.h"

typedef struct {
  sc_ctx *c;
  cl_kernel k;
  size_t global;
  const char *name;
} launch_arg;

static int launch_once(void *p, sc_err *err) {
  launch_arg *a = p;
  return sc_launch(a->c, a->k, 1, &a->global, NULL, a->name, err);
}

static const int fma_iters = 512;

static int measure_fma(sc_ctx *c, const sc_peak_opts *o, sc_peak *out, cl_mem buf, size_t global, sc_progress *prog,
                       sc_err *err) {
  static const int widths[5] = {1, 2, 4, 8, 16};
  for (int w = 0; w < 5; w++) {
    char defs[64];
    snprintf(defs, sizeof defs, "FMA at vector width %d", widths[w]);
    sc_progress_note(prog, defs);
    snprintf(defs, sizeof defs, "VW=%d ITERS=%d", widths[w], fma_iters);
    cl_program p;
    cl_kernel k;
    if (sc_program_build(c, "peak.cl", defs, NULL, &p, NULL, err)) return -1;
    if (sc_kernel_create(p, "fma_peak", &k, err)) {
      clReleaseProgram(p);
      return -1;
    }
    float a = 0.999f, b = 1e-4f;
    sc_kargs ka;
    sc_kargs_begin(&ka, k, "fma_peak");
    sc_karg_mem(&ka, buf), sc_karg_f32(&ka, a), sc_karg_f32(&ka, b);
    int rc = sc_kargs_end(&ka, err);
    sc_timing t;
    launch_arg la = {c, k, global, "fma_peak"};
    if (!rc) rc = sc_time_calls(c, launch_once, &la, 2, o->samples, o->min_sample_s, &t, err);
    clReleaseKernel(k);
    clReleaseProgram(p);
    if (rc) return -1;
    out->fma_by_width[w] = sc_figure_rate(&t.wall, (double)global * fma_iters * 8.0 * widths[w] * 2.0 * 1e-9);
    if (out->fma_by_width[w].median > out->fma_gflops) {
      out->fma_gflops = out->fma_by_width[w].median;
      out->fma_best_width = widths[w];
    }
    sc_progress_add(prog, 1);
  }
  return 0;
}

static int measure_bw_latency(sc_ctx *c, const sc_peak_opts *o, sc_peak *out, sc_err *err) {
  size_t bytes = (size_t)256 << 20;
  if (bytes > c->dev.max_alloc / 2) bytes = (size_t)(c->dev.max_alloc / 2);
  const cl_uint reps = 4;
  cl_uint n = (cl_uint)(bytes / (16ull * reps));
  cl_mem in = NULL, outb = NULL;
  cl_program p = NULL;
  cl_kernel kr = NULL, ke = NULL;
  int rc = -1;
  if (sc_buffer_create(c, (size_t)n * reps * 16, "bandwidth input", &in, err) ||
      sc_buffer_create(c, (size_t)n * 4, "bandwidth output", &outb, err) ||
      sc_buffer_fill_zero(c, in, 0, (size_t)n * reps * 16, err) ||
      sc_program_build(c, "peak.cl", "VW=1 ITERS=1 REPS=4", NULL, &p, NULL, err) ||
      sc_kernel_create(p, "read_bw", &kr, err) || sc_kernel_create(p, "empty", &ke, err))
    goto done;
  sc_kargs ar, ae;
  sc_kargs_begin(&ar, kr, "read_bw");
  sc_karg_mem(&ar, in), sc_karg_mem(&ar, outb), sc_karg_i32(&ar, (int32_t)n);
  sc_kargs_begin(&ae, ke, "empty");
  sc_karg_mem(&ae, outb);
  if (sc_kargs_end(&ar, err) || sc_kargs_end(&ae, err)) goto done;
  launch_arg lr = {c, kr, n, "read_bw"};
  sc_timing t;
  if (sc_time_calls(c, launch_once, &lr, 2, o->samples, o->min_sample_s, &t, err)) goto done;
  out->read_gbs = sc_figure_rate(&t.wall, (double)n * reps * 16 * 1e-9);
  /* Latency is one launch plus clFinish, not amortised: min_sample_s = 0 gives one call per sample. */
  launch_arg le = {c, ke, 1, "empty"};
  if (sc_time_calls(c, launch_once, &le, 20, 101, 0.0, &t, err)) goto done;
  out->launch_us = sc_figure_time(&t.wall, 1e6);
  rc = 0;
done:
  if (kr) clReleaseKernel(kr);
  if (ke) clReleaseKernel(ke);
  if (p) clReleaseProgram(p);
  sc_buffer_release(c, in);
  sc_buffer_release(c, outb);
  return rc;
}

typedef struct {
  sc_gemm *gemm;
  int be;
  size_t m, n, k;
  cl_mem a, b, cc;
} gemm_arg;

static int gemm_once(void *p, sc_err *err) {
  gemm_arg *g = p;
  return sc_gemm_run(g->gemm, (sc_gemm_backend)g->be, 0, 0, g->m, g->n, g->k, 1.0f, sc_view_of(g->a), g->k,
                     sc_view_of(g->b), g->n, 0.0f, sc_view_of(g->cc), g->n, err);
}

int sc_sgemm_time(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int warmup, int samples,
                  double min_sample_s, sc_timing *t, sc_err *err) {
  gemm_arg g = {gemm, backend, m, n, k, NULL, NULL, NULL};
  int rc = -1;
  float *host = NULL;
  size_t big = m * k > k * n ? m * k : k * n;
  if (!(host = sc_malloc(big * sizeof *host, "GEMM host data", err))) return -1;
  for (size_t i = 0; i < big; i++) host[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  if (sc_buffer_create(c, m * k * 4, "GEMM A", &g.a, err) || sc_buffer_create(c, k * n * 4, "GEMM B", &g.b, err) ||
      sc_buffer_create(c, m * n * 4, "GEMM C", &g.cc, err) || sc_buffer_write(c, g.a, 0, m * k * 4, host, err) ||
      sc_buffer_write(c, g.b, 0, k * n * 4, host, err))
    goto done;
  rc = sc_time_calls(c, gemm_once, &g, warmup, samples, min_sample_s, t, err);
done:
  free(host);
  sc_buffer_release(c, g.a);
  sc_buffer_release(c, g.b);
  sc_buffer_release(c, g.cc);
  return rc;
}

int sc_peak_sgemm(sc_ctx *c, sc_gemm *gemm, int backend, size_t m, size_t n, size_t k, int samples, double min_sample_s,
                  sc_figure *gflops, sc_err *err) {
  sc_timing t;
  if (sc_sgemm_time(c, gemm, backend, m, n, k, 2, samples, min_sample_s, &t, err)) return -1;
  *gflops = sc_figure_rate(&t.wall, 2.0 * (double)m * n * k * 1e-9);
  return 0;
}

/* FMA widths, bandwidth and latency, then each GEMM shape and backend: the steps of the progress line. */
static int measure_all(sc_ctx *c, const sc_peak_opts *o, sc_peak *out, sc_progress *prog, sc_err *err) {
  cl_mem buf;
  size_t global = (size_t)c->dev.compute_units * 4096;
  if (sc_buffer_create(c, global * 4, "FMA output", &buf, err)) return -1;
  int rc = measure_fma(c, o, out, buf, global, prog, err);
  sc_buffer_release(c, buf);
  sc_progress_note(prog, "memory bandwidth and launch latency");
  if (rc || measure_bw_latency(c, o, out, err)) return -1;
  sc_progress_add(prog, 1);
  if (!o->skip_gemm) {
    sc_progress_note(prog, "SGEMM");
    sc_gemm *gemm;
    if (sc_gemm_create(c, &gemm, err)) return -1;
    out->api_backend = sc_gemm_default(gemm);
    static const size_t shapes[2][3] = {{1024, 1024, 1024}, {4096, 1536, 512}};
    for (int s = 0; s < 2; s++) {
      sc_peak_gemm *g = &out->gemm[out->n_gemm++];
      g->m = shapes[s][0];
      g->n = shapes[s][1];
      g->k = shapes[s][2];
      for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT; be++) {
        if (!sc_gemm_available(gemm, be)) continue;
        if (sc_peak_sgemm(c, gemm, be, g->m, g->n, g->k, o->samples, o->min_sample_s, &g->gflops[be], err)) {
          sc_gemm_destroy(gemm);
          return sc_wrap(err, "SGEMM %zux%zux%zu (%s): ", g->m, g->n, g->k, sc_gemm_backend_name(be));
        }
        sc_progress_add(prog, 1);
      }
    }
    sc_gemm_destroy(gemm);
  }
  return 0;
}

int sc_peak_measure(sc_ctx *c, const sc_peak_opts *o, sc_peak *out, sc_err *err) {
  memset(out, 0, sizeof *out);
  const double t0 = sc_now();
  sc_progress prog;
  /* 6 steps before SGEMM, then one per shape and backend */
  sc_progress_begin(&prog, "peak", o->skip_gemm ? 6 : 6 + 2 * (2 + sc_gemm_host_capable(&c->dev)));
  const int rc = measure_all(c, o, out, o->progress ? &prog : NULL, err);
  sc_progress_end(&prog);
  out->seconds = sc_now() - t0;
  return rc;
}
