#include "bench/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/version.h"
#include "bench/attention.h"
#include "bench/mlstm.h"
#include "bench/peak.h"
#include "bench/util.h"
#include "check/cases.h"
#include "check/check.h"
#include "ops/adamw.h"
#include "ops/gemm.h"
#include "ops/norm.h"
#include "ops/xent.h"
#include "ref/gemm.h"

/* The size of a timed shape: the --quick one, else the GPU-sized one, else the normal one. */
static int sized(const sc_tune_opts *o, int quick, int normal, int gpu) {
  return o->quick ? quick : o->gpu ? gpu : normal;
}

/* ---- gemm: the own kernels of both variants (cl/gemm.cl) ---- */

static int gemm_n(const sc_tune_opts *o) {
  return sized(o, 128, 512, 2048);
}

static void gemm_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  const int n = gemm_n(o);
  snprintf(buf, cap, "SGEMM %dx%dx%d NN", n, n, n);
}

static int gemm_fits_cpu(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_gemm_tiles_check(d, 0, tiles, err);
}

static int gemm_fits_gpu(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_gemm_tiles_check(d, 1, tiles, err);
}

static int gemm_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  (void)o;
  return sc_gemm_create(c, (sc_gemm **)op, err);
}

static void gemm_close(void *op) {
  sc_gemm_destroy(op);
}

/* Two batched products, as stored and both transposed (the two ways each tile is loaded), with edges in M, N and K
 * for every grid value, padded leading dimensions and strides, offsets, alpha and beta. */
static int gemm_verify(sc_ctx *c, void *op, sc_err *err) {
  enum { M = 67, N = 45, K = 37, BATCH = 2 };
  const size_t ld = 70, stride = 70 * 70 + 3, off = 5, total = off + 3 * BATCH * stride;
  float *host = sc_malloc(total * 4, "tuner check data", err), *got = sc_malloc(total * 4, "tuner check data", err);
  double *ref = sc_malloc(M * N * sizeof(double), "tuner check reference", err);
  cl_mem buf = NULL;
  int rc = -1;
  if (!host || !got || !ref || sc_buffer_create(c, total * 4, "tuner check matrices", &buf, err)) goto done;
  sc_rng rng;
  sc_rng_seed(&rng, 5);
  sc_rng_fill_normal(&rng, host, total, 0, 1);
  const size_t oA = off, oB = off + BATCH * stride, oC = off + 2 * BATCH * stride;
  for (int t = 0; t < 2; t++) {
    if (sc_buffer_write(c, buf, 0, total * 4, host, err) ||
        sc_gemm_run_batched(op, SC_GEMM_OWN, t, t, M, N, K, -0.5f, (sc_view){buf, oA * 4}, ld, stride,
                            (sc_view){buf, oB * 4}, ld, stride, 0.75f, (sc_view){buf, oC * 4}, ld, stride, BATCH,
                            err) ||
        sc_buffer_read(c, buf, 0, total * 4, got, err))
      goto done;
    for (size_t b = 0; b < BATCH; b++) {
      sc_ref_gemm(t, t, M, N, K, -0.5, host + oA + b * stride, ld, host + oB + b * stride, ld, 0.75,
                  host + oC + b * stride, ld, ref);
      for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
          const double r = ref[i * N + j], g = got[oC + b * stride + i * ld + j];
          if (!(fabs(g - r) <= 1e-4 * sqrt((double)K) + 1e-4 * fabs(r))) {
            sc_fail(err, "%s: C[%zu][%zu] of batch %zu is %g, the float64 reference %g", t ? "TT" : "NN", i, j, b, g,
                    r);
            rc = 1;
            goto done;
          }
        }
    }
  }
  rc = 0;
done:
  sc_buffer_release(c, buf);
  free(host);
  free(got);
  free(ref);
  return rc;
}

static int gemm_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                     sc_err *err) {
  (void)shape;
  const size_t n = (size_t)gemm_n(o);
  sc_timing t;
  if (sc_sgemm_time(c, op, SC_GEMM_OWN, n, n, n, 2, o->samples, o->min_sample_s, &t, err)) return -1;
  *work = 2.0 * (double)n * n * n * 1e-9;
  *rate = sc_figure_rate(&t.wall, *work);
  return 0;
}

/* ---- helpers of the other families' entries ---- */

/* The first failing result of the check rows run so far. */
typedef struct {
  int failed;
  char msg[1024];
} verdict;

static void on_result(void *user, const sc_check_result *r) {
  verdict *v = user;
  if (v->failed || sc_check_result_passed(r)) return;
  v->failed = 1;
  snprintf(v->msg, sizeof v->msg, "%.200s: %.600s", r->label, r->failure);
}

/* The candidate against the float64 references (host/ref/) as `scalecl check` judges it: every row of the check
 * table (check/cases.h) of `op` tagged with one of `tags` (NULL-terminated: small odd shapes, ragged tiles), each
 * making its own op under the candidate's tiles (the context's override). */
static int verify_rows(sc_ctx *c, const char *op, const char *const *tags, sc_err *err) {
  int n, ran = 0;
  const sc_check_row *rows = sc_check_rows(&n);
  verdict v = {0, ""};
  for (int i = 0; i < n; i++) {
    int tagged = 0;
    for (const char *const *t = tags; *t; t++) tagged |= !strcmp(rows[i].tag, *t);
    if (strcmp(rows[i].op, op) || !tagged) continue;
    if (sc_check_run_row(c, &rows[i], on_result, &v, err)) return -1;
    ran++;
    if (v.failed) return sc_fail(err, "%s", v.msg), 1;
  }
  return ran ? 0 : sc_fail(err, "tuner: the check table has no %s row tagged '%s'", op, tags[0]);
}

/* Device tensors of n[j] floats, uniform in [-1, 1) seeded by j; on failure the ones made are released. */
static int tensors_make(sc_ctx *c, cl_mem *t, const size_t *n, int count, sc_err *err) {
  for (int j = 0; j < count; j++) t[j] = NULL;
  for (int j = 0; j < count; j++)
    if (sc_buffer_create(c, n[j] * 4, "tuner tensor", &t[j], err) ||
        sc_bench_fill_uniform(c, t[j], n[j], 17u + (unsigned)j, -1.0f, 1.0f, err)) {
      for (int k = 0; k <= j; k++) sc_buffer_release(c, t[k]);
      return -1;
    }
  return 0;
}

static void tensors_release(sc_ctx *c, cl_mem *t, int count) {
  for (int j = 0; j < count; j++) sc_buffer_release(c, t[j]);
}

/* fn(arg) timed as the benchmarks time it; the rate is `work` (stored in *out_work) per second. */
static int time_rate(sc_ctx *c, sc_timed_fn fn, void *arg, const sc_tune_opts *o, double work, sc_figure *rate,
                     double *out_work, sc_err *err) {
  sc_timing t;
  if (sc_bench_time(c, fn, arg, o->samples, o->min_sample_s, &t, err)) return -1;
  *rate = sc_figure_rate(&t.wall, work);
  *out_work = work;
  return 0;
}

/* ---- mlstm: the chunkwise forward and backward (cl/mlstm.cl), gpu variant ---- */

/* The timed shapes: head dims and chunk, at S tokens of `heads` heads; on a GPU the GPU study's (those of
 * device-suite.sh --gpu). Tiles that win at head dim 64 can lose at 256, so each is timed apart. */
typedef struct {
  int dqk, dv, L;
} mlstm_shape;
static const mlstm_shape mlstm_shapes_cpu[] = {{64, 64, 64}},
                         mlstm_shapes_gpu[] = {{64, 64, 64}, {128, 128, 64}, {256, 256, 128}};

static const mlstm_shape *mlstm_shape_list(const sc_tune_opts *o, int *n) {
  const int gpu = o->gpu && !o->quick;
  *n = gpu ? 3 : 1;
  return gpu ? mlstm_shapes_gpu : mlstm_shapes_cpu;
}

static int mlstm_heads(const sc_tune_opts *o) {
  return sized(o, 2, 2, 8);
}

static size_t mlstm_seq(const sc_tune_opts *o) {
  return (size_t)sized(o, 512, 2048, 8192);
}

/* The name the op gives sc_variant_pick (ops/mlstm.c). */
static int mlstm_shapes(const sc_tune_opts *o, int i, char *name, size_t cap) {
  int n;
  const mlstm_shape *sh = mlstm_shape_list(o, &n);
  if (i < n) snprintf(name, cap, "dh%dx%d", sh[i].dqk, sh[i].dv);
  return n;
}

static void mlstm_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  int n;
  const mlstm_shape *sh = mlstm_shape_list(o, &n);
  size_t used = (size_t)snprintf(buf, cap, "mLSTM fwd+bwd %d heads S=%zu", mlstm_heads(o), mlstm_seq(o));
  for (int i = 0; i < n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s dh=%dx%d L=%d", i ? "," : "", sh[i].dqk, sh[i].dv, sh[i].L);
}

/* One op per timed shape, made under the candidate's tiles. */
typedef struct {
  int n;
  sc_mlstm *op[SC_TUNE_MAX_SHAPES];
} mlstm_ops;

static void mlstm_close(void *op) {
  mlstm_ops *m = op;
  if (!m) return;
  for (int i = 0; i < m->n; i++) sc_mlstm_destroy(m->op[i]);
  free(m);
}

static int mlstm_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  mlstm_ops *m = sc_calloc(1, sizeof *m, "tuner mLSTM ops", err);
  if (!m) return -1;
  *op = m;
  int n;
  const mlstm_shape *sh = mlstm_shape_list(o, &n);
  for (; m->n < n; m->n++) {
    const sc_mlstm_cfg cfg = {.chunk = sh[m->n].L, .dqk = sh[m->n].dqk, .dv = sh[m->n].dv};
    if (sc_mlstm_create(c, &cfg, &m->op[m->n], err)) return -1;
  }
  return 0;
}

/* Chunk 64 with 1-100 tokens of head dims 16 x 24: partial tiles in every dimension, with and without state. */
static int mlstm_verify(sc_ctx *c, void *op, sc_err *err) {
  (void)op;
  return verify_rows(c, "mlstm", (const char *const[]){"ragged", NULL}, err);
}

static int mlstm_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                      sc_err *err) {
  const mlstm_ops *m = op;
  int n;
  const mlstm_shape *sh = &mlstm_shape_list(o, &n)[shape];
  const size_t S = mlstm_seq(o), heads = (size_t)mlstm_heads(o);
  sc_timing fb;
  if (sc_bench_mlstm_time(c, m->op[shape], sh->dqk, sh->dv, heads, S, o->samples, o->min_sample_s, 0.0, NULL, NULL, &fb,
                          err))
    return -1;
  *work = (double)(heads * S);
  *rate = sc_figure_rate(&fb.wall, *work);
  return 0;
}

/* ---- attention: the flash forward and backward (cl/attention.cl), gpu variant ---- */

/* Timed at the head dims the models use most, each apart: a tile that wins at 64 can lose at 128, where the
 * register tiles hold twice the output columns; on a GPU at 256 as well. */
static const int att_dh[3] = {64, 128, 256};

static int att_n_dh(const sc_tune_opts *o) {
  return o->gpu && !o->quick ? 3 : 2;
}

static int att_heads(const sc_tune_opts *o) {
  return sized(o, 2, 2, 8);
}

static int att_seq(const sc_tune_opts *o) {
  return sized(o, 512, 2048, 8192);
}

/* The name the op gives sc_variant_pick (ops/attention.c). */
static int attention_shapes(const sc_tune_opts *o, int i, char *name, size_t cap) {
  if (i < att_n_dh(o)) snprintf(name, cap, "dh%d", att_dh[i]);
  return att_n_dh(o);
}

static void attention_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  snprintf(buf, cap, "attention fwd+bwd %d heads S=%d dh=64,128%s, causal", att_heads(o), att_seq(o),
           att_n_dh(o) > 2 ? ",256" : "");
}

/* At the timed head dims and at 256, the largest the models use, after the fitting that create applies. */
static int attention_fits(const sc_device_info *d, const char *tiles, sc_err *err) {
  for (int i = 0; i < 3; i++)
    if (sc_attention_tiles_usable(d, tiles, att_dh[i], err)) return -1;
  return 0;
}

typedef struct {
  int n;
  sc_attention *op[SC_TUNE_MAX_SHAPES];
} attention_ops;

static void attention_close(void *op) {
  attention_ops *a = op;
  if (!a) return;
  for (int i = 0; i < a->n; i++) sc_attention_destroy(a->op[i]);
  free(a);
}

static int attention_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  attention_ops *a = sc_calloc(1, sizeof *a, "tuner attention ops", err);
  if (!a) return -1;
  *op = a;
  for (; a->n < att_n_dh(o); a->n++)
    if (sc_attention_create(c, &(sc_attention_cfg){.head_dim = att_dh[a->n]}, &a->op[a->n], err)) return -1;
  return 0;
}

/* Packed documents with RoPE at head dims 16 to 128 (S 129: partial tiles), then the token-major rows. */
static int attention_verify(sc_ctx *c, void *op, sc_err *err) {
  (void)op;
  return verify_rows(c, "attention", (const char *const[]){"docs+rope", "token-major", NULL}, err);
}

static int attention_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                          sc_err *err) {
  const attention_ops *a = op;
  const int S = att_seq(o), heads = att_heads(o);
  sc_timing fb;
  if (sc_bench_attention_time(c, a->op[shape], att_dh[shape], 1, heads, S, 0, o->samples, o->min_sample_s, NULL, NULL,
                              &fb, err))
    return -1;
  *work = (double)heads * S;
  *rate = sc_figure_rate(&fb.wall, *work);
  return 0;
}

/* ---- norm: RMSNorm forward and backward (cl/norm.cl), gpu variant ---- */

enum { NORM_WIDTH = 512 };

static int norm_rows(const sc_tune_opts *o) {
  return sized(o, 1024, 4096, 65536);
}

static void norm_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  snprintf(buf, cap, "RMSNorm fwd+bwd %d x %d", norm_rows(o), NORM_WIDTH);
}

static int norm_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  (void)o;
  const sc_norm_cfg cfg = {SC_NORM_RMS, NORM_WIDTH, 0, 1e-6f, 0};
  return sc_norm_create(c, &cfg, (sc_norm **)op, err);
}

static void norm_close(void *op) {
  sc_norm_destroy(op);
}

/* Rows of 5 to 200 values (fewer and more than a work-group) and heads of 5 to 33 sharing work-groups. */
static int norm_verify(sc_ctx *c, void *op, sc_err *err) {
  (void)op;
  return verify_rows(c, "norm", (const char *const[]){"odd width", "odd heads", NULL}, err);
}

enum { N_X, N_W, N_Y, N_STATS, N_DY, N_DX, N_DW, N_COUNT };
typedef struct {
  sc_norm *op;
  int rows;
  cl_mem t[N_COUNT];
} norm_arg;

static int norm_once(void *p, sc_err *err) {
  norm_arg *a = p;
  sc_view v[N_COUNT];
  for (int j = 0; j < N_COUNT; j++) v[j] = sc_view_of(a->t[j]);
  return sc_norm_forward(a->op, a->rows, &(sc_norm_fwd_io){v[N_X], v[N_W], v[N_Y], v[N_STATS]}, err) ||
         sc_norm_backward(a->op, a->rows, &(sc_norm_bwd_io){v[N_X], v[N_W], v[N_STATS], v[N_DY], v[N_DX], v[N_DW]},
                          err);
}

static int norm_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                     sc_err *err) {
  (void)shape;
  norm_arg a = {op, norm_rows(o), {NULL}};
  const size_t rc = (size_t)a.rows * NORM_WIDTH;
  const size_t n[N_COUNT] = {rc, NORM_WIDTH, rc, 2 * (size_t)a.rows, rc, rc, NORM_WIDTH};
  if (tensors_make(c, a.t, n, N_COUNT, err)) return -1;
  const int rc2 = time_rate(c, norm_once, &a, o, a.rows, rate, work, err);
  tensors_release(c, a.t, N_COUNT);
  return rc2;
}

/* ---- xent: the LM head's cross-entropy forward and backward (cl/xent.cl, its GEMMs included), gpu variant ---- */

enum { XENT_D = 16, XENT_V = 8192 };

static int xent_tokens(const sc_tune_opts *o) {
  return sized(o, 512, 4096, 16384);
}

static void xent_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  snprintf(buf, cap, "xent fwd+bwd N=%d V=%d d=%d", xent_tokens(o), XENT_V, XENT_D);
}

static int xent_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  (void)o;
  const sc_xent_cfg cfg = {.d = XENT_D, .V = XENT_V, .cap = 30.0f};
  return sc_xent_create(c, &cfg, (sc_xent **)op, err);
}

static void xent_close(void *op) {
  sc_xent_destroy(op);
}

/* 33 tokens over 257 words in blocks of 64, and 45 words narrower than a block: rows and blocks of odd widths. */
static int xent_verify(sc_ctx *c, void *op, sc_err *err) {
  (void)op;
  return verify_rows(c, "xent", (const char *const[]){"B = 1", "V < block", NULL}, err);
}

enum { X_X, X_W, X_LSE, X_LOSS, X_DX, X_DW, X_TOK, X_COUNT };
typedef struct {
  sc_xent *op;
  int N;
  cl_mem t[X_COUNT];
} xent_arg;

static int xent_once(void *p, sc_err *err) {
  xent_arg *a = p;
  sc_view v[X_COUNT];
  for (int j = 0; j < X_COUNT; j++) v[j] = sc_view_of(a->t[j]);
  const sc_view none = sc_view_of(NULL);
  const sc_xent_fwd_io f = {v[X_X], v[X_W], v[X_TOK], v[X_LSE], v[X_LOSS], none, none};
  const sc_xent_bwd_io b = {v[X_X], v[X_W], v[X_TOK], v[X_LSE], v[X_DX], v[X_DW], 0};
  return sc_xent_forward(a->op, 1, a->N, &f, err) || sc_xent_backward(a->op, 1, a->N, 1.0f, &b, err);
}

static int xent_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                     sc_err *err) {
  (void)shape;
  xent_arg a = {op, xent_tokens(o), {NULL}};
  const size_t N = (size_t)a.N,
               n[X_COUNT] = {N * XENT_D, (size_t)XENT_V * XENT_D, N, 1, N * XENT_D, (size_t)XENT_V * XENT_D, N};
  int32_t *tok = sc_malloc(N * sizeof *tok, "tuner tokens", err);
  if (!tok || tensors_make(c, a.t, n, X_COUNT, err)) {
    free(tok);
    return -1;
  }
  for (size_t i = 0; i < N; i++) tok[i] = (int32_t)(i * 7919 % XENT_V);
  int rc = sc_buffer_write(c, a.t[X_TOK], 0, N * sizeof *tok, tok, err);
  if (!rc) rc = time_rate(c, xent_once, &a, o, (double)N, rate, work, err);
  free(tok);
  tensors_release(c, a.t, X_COUNT);
  return rc;
}

/* ---- adamw: the gradient norm and the update (cl/adamw.cl), gpu variant ---- */

static int adamw_params(const sc_tune_opts *o) {
  return sized(o, 1 << 20, 5 << 20, 64 << 20);
}

static void adamw_describe(const sc_tune_opts *o, char *buf, size_t cap) {
  snprintf(buf, cap, "AdamW norm+update of %d Mi parameters", adamw_params(o) >> 20);
}

static int adamw_fits(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_adamw_tiles_check(d, 1, tiles, err);
}

static int adamw_open(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err) {
  (void)o;
  return sc_adamw_create(c, (sc_adamw **)op, err);
}

static void adamw_close(void *op) {
  sc_adamw_destroy(op);
}

/* 4097 parameters (the norm's slices end mid-slice) and one. */
static int adamw_verify(sc_ctx *c, void *op, sc_err *err) {
  (void)op;
  return verify_rows(c, "adamw", (const char *const[]){"slice edges, clipped", "one parameter", NULL}, err);
}

enum { A_P, A_G, A_M, A_V, A_COUNT };
typedef struct {
  sc_adamw *op;
  size_t n;
  cl_mem t[A_COUNT];
} adamw_arg;

static int adamw_once(void *p, sc_err *err) {
  adamw_arg *a = p;
  sc_view v[A_COUNT];
  for (int j = 0; j < A_COUNT; j++) v[j] = sc_view_of(a->t[j]);
  const sc_adamw_hparams h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 0.1f, 0.05f};
  double sumsq;
  return sc_adamw_sumsq(a->op, a->n, v[A_G], &sumsq, err) ||
         sc_adamw_update(a->op, a->n, v[A_P], v[A_G], v[A_M], v[A_V], &h, err);
}

static int adamw_time(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work,
                      sc_err *err) {
  (void)shape;
  adamw_arg a = {op, (size_t)adamw_params(o), {NULL}};
  const size_t n[A_COUNT] = {a.n, a.n, a.n, a.n};
  if (tensors_make(c, a.t, n, A_COUNT, err)) return -1;
  const int rc = time_rate(c, adamw_once, &a, o, (double)a.n * 1e-6, rate, work, err);
  tensors_release(c, a.t, A_COUNT);
  return rc;
}

/* ---- the table ---- */

/* The GPU grids (on GPU devices) keep to what a GPU's compiler and a short device lease afford: NVIDIA's OpenCL
 * compiler takes seconds per program, each candidate builds one program per shape plus its check rows, and a lease
 * lasts minutes. They favour the larger register tiles that __local memory bandwidth asks for on GPUs. */

/* 81 full, 8 quick and 16 GPU candidates; PAD stays 1 (an odd row length: no bank conflicts for any tile), TK 16
 * (a full grid with TK 8 as well did not finish in 37 minutes on llvmpipe with the machine shared, load 10). */
static const sc_tune_param gemm_gpu_params[] = {
    {"WGM", 3, {32, 64, 128}, 2, {32, 64}, 2, {64, 128}},
    {"WGN", 3, {32, 64, 128}, 1, {64}, 2, {64, 128}},
    {"TM", 3, {2, 4, 8}, 2, {2, 4}, 2, {4, 8}},
    {"TN", 3, {2, 4, 8}, 2, {2, 4}, 2, {4, 8}},
};
static const sc_tune_param gemm_cpu_params[] = {{"RM", 2, {4, 8}, 1, {8}, 0, {0}},
                                                {"RN", 2, {8, 16}, 2, {8, 16}, 0, {0}}};
/* 324 full, 8 quick and 32 GPU candidates; ST and SWG (the scan and the decode step, a few percent of the time)
 * stay. LS tries both forms: operands staged in __local memory or read from global memory (TK then unused); GPUs
 * stage, and try each tile with and without float4 reads of contiguous register tiles (VL, first: the first
 * parameter varies fastest, so a budget that runs out has still compared the two on the tiles it reached). */
static const sc_tune_param mlstm_gpu_params[] = {
    {"VL", 1, {0}, 1, {0}, 2, {0, 1}},
    {"TM", 3, {16, 32, 64}, 2, {32, 64}, 2, {32, 64}},
    {"TN", 3, {16, 32, 64}, 1, {32}, 2, {32, 64}},
    {"TK", 2, {8, 16}, 2, {8, 16}, 1, {16}},
    {"WM", 3, {1, 2, 4}, 1, {2}, 2, {4, 8}},
    {"WN", 3, {1, 2, 4}, 1, {2}, 2, {4, 8}},
    {"LS", 2, {0, 1}, 2, {0, 1}, 1, {1}},
};
/* 64 full, 2 quick and 32 GPU candidates; TK and TC (staging depths) stay, fitted to the device's __local memory
 * (all of it on GPUs: LMAX 1). NEXP tries native_exp() for the probabilities, kept only where the check rows pass
 * with it (on GPUs after every tile with exp(), as for mlstm). */
static const sc_tune_param attention_gpu_params[] = {
    {"BR", 2, {32, 64}, 2, {32, 64}, 2, {32, 64}},
    {"BC", 2, {32, 64}, 1, {32}, 2, {32, 64}},
    {"WR", 2, {2, 4}, 1, {4}, 2, {4, 8}},
    {"WC", 2, {2, 4}, 1, {4}, 2, {4, 8}},
    {"LS", 2, {0, 1}, 1, {0}, 1, {1}},
    {"NEXP", 2, {0, 1}, 1, {0}, 2, {0, 1}},
    {"LMAX", 1, {0}, 1, {0}, 1, {1}},
};
/* n_gpu 0: GPUs try the full grid. */
static const sc_tune_param norm_gpu_params[] = {{"WG", 6, {32, 64, 128, 256, 512, 1024}, 3, {32, 64, 256}, 0, {0}}};
static const sc_tune_param xent_gpu_params[] = {{"WG", 6, {32, 64, 128, 256, 512, 1024}, 3, {64, 128, 256}, 0, {0}}};
static const sc_tune_param adamw_gpu_params[] = {{"SUMSQ_PARTS", 4, {128, 256, 512, 1024}, 2, {256, 512}, 0, {0}},
                                                 {"WG", 4, {64, 128, 256, 512}, 1, {256}, 0, {0}}};

/* family_describe, _open, _close, _verify and _time of a family; shapes_: its shapes function or NULL. */
#define ENTRY(family_, variant_, defaults_, params_, unit_, fits_, shapes_)                                       \
  {                                                                                                               \
#family_, variant_, defaults_, params_, (int)(sizeof params_ / sizeof params_[0]), unit_, family_##_describe, \
        shapes_, fits_, family_##_open, family_##_close, family_##_verify, family_##_time                         \
  }
static const sc_tune_entry entries[] = {
    ENTRY(gemm, SC_VARIANT_GPU, SC_GEMM_GPU_TILES, gemm_gpu_params, "GFLOP/s", gemm_fits_gpu, NULL),
    ENTRY(gemm, SC_VARIANT_CPU, SC_GEMM_CPU_TILES, gemm_cpu_params, "GFLOP/s", gemm_fits_cpu, NULL),
    ENTRY(mlstm, SC_VARIANT_GPU, SC_MLSTM_GPU_TILES, mlstm_gpu_params, "tok/s", sc_mlstm_tiles_check, mlstm_shapes),
    ENTRY(attention, SC_VARIANT_GPU, SC_ATTENTION_GPU_TILES, attention_gpu_params, "tok/s", attention_fits,
          attention_shapes),
    ENTRY(norm, SC_VARIANT_GPU, SC_NORM_GPU_TILES, norm_gpu_params, "rows/s", sc_norm_tiles_check, NULL),
    ENTRY(xent, SC_VARIANT_GPU, SC_XENT_GPU_TILES, xent_gpu_params, "tok/s", sc_xent_tiles_check, NULL),
    ENTRY(adamw, SC_VARIANT_GPU, SC_ADAMW_GPU_TILES, adamw_gpu_params, "Mparam/s", adamw_fits, NULL),
};

const sc_tune_entry *sc_tune_entries(int *n) {
  *n = (int)(sizeof entries / sizeof entries[0]);
  return entries;
}

/* ---- the search ---- */

const char *sc_tune_status_name(sc_tune_status s) {
  static const char *const names[] = {"ok", "does not fit", "failed", "wrong", "not tried"};
  return names[s];
}

/* The values a parameter takes in the grid of o. */
static const int *param_values(const sc_tune_param *p, const sc_tune_opts *o, int *n) {
  if (o->quick) return *n = p->n_quick, p->quick;
  if (o->gpu && p->n_gpu) return *n = p->n_gpu, p->gpu;
  return *n = p->n_values, p->values;
}

/* The defaults with grid point `idx` (mixed radix over the params' value lists) in place of their values. */
static int candidate_tiles(const sc_tune_entry *e, const sc_tune_opts *o, long idx, char *buf, size_t cap,
                           sc_err *err) {
  char work[256];
  snprintf(work, sizeof work, "%s", e->defaults);
  size_t used = 0;
  buf[0] = '\0';
  for (char *save = NULL, *w = strtok_r(work, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(w, '=');
    if (!eq) return sc_fail(err, "tuner: defaults '%s' of %s are not NAME=VALUE words", e->defaults, e->family);
    *eq = '\0';
    char value[32];
    snprintf(value, sizeof value, "%s", eq + 1);
    long rest = idx;
    for (int p = 0; p < e->n_params; p++) {
      int nv;
      const int *vals = param_values(&e->params[p], o, &nv);
      if (!strcmp(e->params[p].name, w)) snprintf(value, sizeof value, "%d", vals[rest % nv]);
      rest /= nv;
    }
    used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s", used ? " " : "", w, value);
    if (used >= cap) return sc_fail(err, "tuner: the tiles of %s do not fit %zu characters", e->family, cap);
  }
  return 0;
}

/* The first line of a message, at most cap - 1 characters. */
static void first_line(char *dst, size_t cap, const char *msg) {
  const size_t n = strcspn(msg, "\n");
  snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), msg);
}

/* How many shapes e times under o. */
static int shape_count(const sc_tune_entry *e, const sc_tune_opts *o) {
  char name[24];
  return e->shapes ? e->shapes(o, 0, name, sizeof name) : 1;
}

/* Each shape's rate, then the rate over all of them: their work over the sum of their median times (a single
 * shape keeps its own figure; no spread of a sum of medians is claimed). */
static int time_shapes(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, void *op, sc_tune_candidate *k,
                       sc_err *err) {
  const int n = shape_count(e, o);
  double work = 0.0, seconds = 0.0;
  for (int s = 0; s < n; s++) {
    double w;
    if (e->time(c, op, o, s, &k->shape_rate[s], &w, err)) return -1;
    work += w, seconds += w / k->shape_rate[s].median;
  }
  k->rate = n == 1 ? k->shape_rate[0] : (sc_figure){work / seconds, NAN, NAN};
  return 0;
}

static void try_candidate(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, sc_tune_candidate *k) {
  sc_err cerr = {0};
  k->status = SC_TUNE_OK;
  if (e->fits(&c->dev, k->tiles, &cerr)) {
    k->status = SC_TUNE_NO_FIT;
    first_line(k->note, sizeof k->note, cerr.msg);
    return;
  }
  snprintf(c->tile_key, sizeof c->tile_key, "%s_%s", e->family, sc_variant_name(e->variant));
  snprintf(c->tile_override, sizeof c->tile_override, "%s", k->tiles);
  void *op = NULL;
  int rc = e->open(c, o, &op, &cerr);
  if (!rc) rc = e->verify(c, op, &cerr);
  if (!rc) rc = time_shapes(c, e, o, op, k, &cerr);
  if (op) e->close(op);
  if (rc) {
    k->status = rc > 0 ? SC_TUNE_WRONG : SC_TUNE_FAILED;
    first_line(k->note, sizeof k->note, cerr.msg);
    sc_err ferr;
    sc_finish(c, &ferr); /* a failed launch leaves nothing queued for the next candidate */
  }
}

int sc_tune_run(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, void (*progress)(void *, int, int),
                void *progress_arg, sc_tune_result *r, sc_err *err) {
  long points = 1;
  for (int p = 0; p < e->n_params; p++) {
    int nv;
    param_values(&e->params[p], o, &nv);
    points *= nv;
  }
  *r = (sc_tune_result){.entry = e, .best = -1, .n_shapes = shape_count(e, o)};
  if (r->n_shapes < 1 || r->n_shapes > SC_TUNE_MAX_SHAPES)
    return sc_fail(err, "tuner: %s times %d shapes, not 1 to %d", e->family, r->n_shapes, SC_TUNE_MAX_SHAPES);
  for (int s = 0; s < r->n_shapes; s++)
    if (e->shapes) e->shapes(o, s, r->shape[s], sizeof r->shape[s]);
  if (!(r->cand = sc_calloc((size_t)points + 1, sizeof *r->cand, "tuner candidates", err))) return -1;
  snprintf(r->cand[0].tiles, sizeof r->cand[0].tiles, "%s", e->defaults);
  r->n = 1;
  for (long i = 0; i < points; i++) {
    char tiles[256];
    if (candidate_tiles(e, o, i, tiles, sizeof tiles, err)) return -1;
    if (strcmp(tiles, e->defaults)) snprintf(r->cand[r->n++].tiles, sizeof tiles, "%s", tiles);
  }
  const double t0 = sc_now();
  for (int i = 0; i < r->n; i++) {
    if (o->budget_s > 0 && i > 0 && sc_now() - t0 > o->budget_s)
      r->cand[i].status = SC_TUNE_NOT_TRIED;
    else
      try_candidate(c, e, o, &r->cand[i]);
    if (progress) progress(progress_arg, i + 1, r->n);
  }
  c->tile_key[0] = c->tile_override[0] = '\0';
  sc_tune_pick(r);
  return 0;
}

/* A shape keeps the overall best unless another candidate is this much faster there: a few percent is within the
 * spread of a tuner's short samples, and each shape entry is one more thing in the profile to trust. */
#define SHAPE_GAIN 1.05

void sc_tune_pick(sc_tune_result *r) {
  r->best = -1;
  for (int i = 0; i < r->n; i++)
    if (r->cand[i].status == SC_TUNE_OK && (r->best < 0 || r->cand[i].rate.median > r->cand[r->best].rate.median))
      r->best = i;
  for (int s = 0; s < r->n_shapes; s++) {
    int fastest = r->best;
    for (int i = 0; i < r->n && r->best >= 0; i++)
      if (r->cand[i].status == SC_TUNE_OK && r->cand[i].shape_rate[s].median > r->cand[fastest].shape_rate[s].median)
        fastest = i;
    r->shape_best[s] =
        fastest >= 0 && r->cand[fastest].shape_rate[s].median >= SHAPE_GAIN * r->cand[r->best].shape_rate[s].median
            ? fastest
            : r->best;
  }
}

/* ---- the profile ---- */

/* {"NAME": value} of a tiles string; values are integers. */
static cJSON *tiles_json(const char *tiles) {
  cJSON *o = cJSON_CreateObject();
  char work[256];
  snprintf(work, sizeof work, "%s", tiles);
  for (char *save = NULL, *w = strtok_r(work, " ", &save); o && w; w = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(w, '=');
    if (eq) *eq = '\0';
    if (!eq || !cJSON_AddNumberToObject(o, w, atof(eq + 1))) {
      cJSON_Delete(o);
      return NULL;
    }
  }
  return o;
}

static void summarize(const sc_tune_result *r, const sc_tune_opts *o, char *buf, size_t cap) {
  int counts[5] = {0};
  for (int i = 0; i < r->n; i++) counts[r->cand[i].status]++;
  char shape[160];
  r->entry->describe(o, shape, sizeof shape);
  const sc_tune_candidate *b = &r->cand[r->best], *d = &r->cand[0];
  size_t used = (size_t)snprintf(
      buf, cap,
      "%s_%s: best of %d candidates (%d did not fit, %d failed, %d wrong, %d not tried: budget) '%s' %.1f %s at %s",
      r->entry->family, sc_variant_name(r->entry->variant), r->n, counts[SC_TUNE_NO_FIT], counts[SC_TUNE_FAILED],
      counts[SC_TUNE_WRONG], counts[SC_TUNE_NOT_TRIED], b->tiles, b->rate.median, r->entry->unit, shape);
  if (used < cap && d->status == SC_TUNE_OK)
    used += (size_t)snprintf(buf + used, cap - used, " vs %.1f with the defaults", d->rate.median);
  else if (used < cap)
    used += (size_t)snprintf(buf + used, cap - used, "; the defaults %s", sc_tune_status_name(d->status));
  for (int s = 0; s < r->n_shapes && used < cap; s++)
    if (r->shape_best[s] != r->best)
      used += (size_t)snprintf(buf + used, cap - used, "; at %s '%s' %.1f vs %.1f", r->shape[s],
                               r->cand[r->shape_best[s]].tiles, r->cand[r->shape_best[s]].shape_rate[s].median,
                               b->shape_rate[s].median);
}

cJSON *sc_tune_profile(const sc_ctx *c, const sc_tune_result *r, int n, const sc_tune_opts *o, const char *command,
                       sc_err *err) {
  cJSON *root = cJSON_CreateObject(), *match, *kv, *tiles;
  if (!root) goto oom;
  char about[8192], when[32];
  const time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
  size_t used = (size_t)snprintf(
      about, sizeof about, "Produced by '%s' (%s) on %s on '%s' (%s, driver %s), load average %.2f. ", command,
      sc_version_line(), when, c->dev.name, c->dev.platform_name, c->dev.driver_version, sc_loadavg());
  int any = 0;
  for (int i = 0; i < n; i++) {
    if (r[i].best < 0) continue;
    any = 1;
    summarize(&r[i], o, about + used, sizeof about - used);
    used += strlen(about + used);
    used += (size_t)snprintf(about + used, sizeof about - used, ". ");
  }
  if (!any) {
    cJSON_Delete(root);
    return sc_fail(err, "tuner: no candidate passed its check on '%s'; see the table for why", c->dev.name), NULL;
  }
  snprintf(about + used, sizeof about - used,
           "Copy it into platforms/profiles/ (the first profile whose match strings all occur wins) or point "
           "SCALECL_PROFILE_DIR at its directory.");
  if (!cJSON_AddStringToObject(root, "about", about) || !(match = cJSON_AddArrayToObject(root, "match")) ||
      !(kv = cJSON_AddObjectToObject(root, "kernel_variant")) || !(tiles = cJSON_AddObjectToObject(root, "tiles")))
    goto oom;
  cJSON_AddItemToArray(match, cJSON_CreateString(c->dev.platform_name));
  cJSON_AddItemToArray(match, cJSON_CreateString(c->dev.name));
  for (int i = 0; i < n; i++) {
    if (r[i].best < 0) continue;
    const sc_tune_entry *e = r[i].entry;
    char key[48];
    snprintf(key, sizeof key, "%s_%s", e->family, sc_variant_name(e->variant));
    cJSON *t = tiles_json(r[i].cand[r[i].best].tiles);
    if (!t) goto oom;
    cJSON_AddItemToObject(tiles, key, t);
    for (int s = 0; s < r[i].n_shapes; s++) {
      if (r[i].shape_best[s] == r[i].best || !r[i].shape[s][0]) continue;
      char shaped[80];
      snprintf(shaped, sizeof shaped, "%s@%s", key, r[i].shape[s]);
      if (!(t = tiles_json(r[i].cand[r[i].shape_best[s]].tiles))) goto oom;
      cJSON_AddItemToObject(tiles, shaped, t);
    }
    /* The family runs the variant whose best is fastest. */
    int fastest = 1;
    for (int j = 0; j < n; j++)
      if (j != i && r[j].best >= 0 && !strcmp(r[j].entry->family, e->family) &&
          r[j].cand[r[j].best].rate.median > r[i].cand[r[i].best].rate.median)
        fastest = 0;
    if (fastest && !cJSON_GetObjectItemCaseSensitive(kv, e->family))
      cJSON_AddStringToObject(kv, e->family, sc_variant_name(e->variant));
  }
  return root;
oom:
  cJSON_Delete(root);
  sc_fail(err, "tuner: out of memory building the profile");
  return NULL;
}
