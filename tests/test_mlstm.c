/* Device mLSTM (cl/mlstm.cl via host/ops/mlstm.c) against the float64 references through the op-case table
 * (forward vs the parallel stable-forget form, backward vs the custom chunkwise backward; ragged lengths, extreme
 * gates, every chunk size, a range of head dims, head groups, view offsets), then chunkwise vs recurrent-step
 * rollout, state hand-off and configuration errors. Every device test runs under both kernel variants (cpu and
 * gpu, forced through SCALECL_KERNEL_VARIANT before the op is created) with the same tolerances. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/mlstm.h"
#include "ref/mlstm.h"
#include "runtime/variant.h"

#define FW_TOL ((sc_tol){1e-4, 1e-3, 1e-8, 0})
#define EPS 1e-6

/* Host tensors of one problem, float32 for the device and float64 copies for the references. */
typedef struct {
  size_t BH, S, dqk, dv;
  int with_state;
  float *f32[9]; /* q k v i f c0 n0 m0 dh */
  double *f64[9];
  size_t n[9];
} problem;
enum { Q, K, V, I, F, C0, N0, M0, DH };

/* A float64 copy, for the references and for comparing one device result with another. */
static double *widen(const float *x, size_t n) {
  double *p = th_dalloc(n);
  for (size_t j = 0; j < n; j++) p[j] = x[j];
  return p;
}

typedef struct {
  double f_off, i_off, i_std, f_std;
  int with_state;
  uint64_t seed;
} gen;

static problem make(size_t BH, size_t S, size_t dqk, size_t dv, gen g) {
  problem p = {BH,
               S,
               dqk,
               dv,
               g.with_state,
               {0},
               {0},
               {BH * S * dqk, BH * S * dqk, BH * S * dv, BH * S, BH * S, BH * dqk * dv, BH * dqk, BH, BH * S * dv}};
  sc_rng r;
  sc_rng_seed(&r, g.seed);
  for (int t = 0; t < 9; t++) {
    p.f32[t] = th_falloc(p.n[t]);
    double mean = t == I ? g.i_off : t == F ? g.f_off : 0, std = t == I ? g.i_std : t == F ? g.f_std : 1;
    if (t < C0 || t > M0 || g.with_state) sc_rng_fill_normal(&r, p.f32[t], p.n[t], mean, std);
    p.f64[t] = widen(p.f32[t], p.n[t]);
  }
  return p;
}

static gen normal(double f_off, int with_state, uint64_t seed) {
  return (gen){f_off, 0, 1, 1, with_state, seed};
}

static void release(problem *p) {
  for (int t = 0; t < 9; t++) free(p->f32[t]), free(p->f64[t]);
}

static th_tensors ts;   /* the device tensors of the running test */
static int use_offsets; /* place them at odd offsets (harness.h) */

static sc_view upload(const float *x, size_t n) {
  return th_tensor(&ts, x, n * 4);
}

static void download(sc_view m, float *x, size_t n) {
  th_tensor_read(&ts, m, x, n * 4);
}

static size_t ws_limit; /* workspace limit override in bytes, 0 = default */

/* Forces the kernel variant for the ops the test creates (cmocka setup). */
static int use_cpu(void **state) {
  (void)state;
  th_setenv("SCALECL_KERNEL_VARIANT", "cpu");
  return 0;
}

static int use_gpu(void **state) {
  (void)state;
  th_setenv("SCALECL_KERNEL_VARIANT", "gpu");
  return 0;
}

/* The gpu variant reading its operands straight from global memory (LS=0, as on llvmpipe), with a non-square
 * register tile so that a row/column mix-up shows, groups of 4 items along the sequence scans, so that each item
 * takes several chunks and tokens, and 8 x 8 scan and transpose tiles. */
static int use_gpu_direct(void **state) {
  use_gpu(state);
  th_override_tiles(&th_ctx, "mlstm_gpu", "LS=0 TM=32 TN=16 WM=4 WN=2 NEXP=1 SWG=4 ST=8");
  return 0;
}

/* The gpu variant's float4 reads of contiguous register tiles (VL=1), non-square, two float4s a column block. */
static int use_gpu_vector(void **state) {
  use_gpu(state);
  th_override_tiles(&th_ctx, "mlstm_gpu", "VL=1 TM=32 TN=64 WM=4 WN=8");
  return 0;
}

static int use_default(void **state) {
  (void)state;
  th_setenv("SCALECL_KERNEL_VARIANT", NULL);
  th_override_tiles(&th_ctx, NULL, NULL);
  return 0;
}

/* The op just created runs the forced variant and tiles (so a test named gpu cannot silently run the cpu kernels). */
static void assert_variant_ran(void) {
  th_assert_pick(&th_ctx, "mlstm", getenv("SCALECL_KERNEL_VARIANT"));
}

static sc_mlstm *init_op(int L, size_t dqk, size_t dv) {
  sc_err err;
  sc_mlstm *m;
  const sc_mlstm_cfg cfg = {.chunk = L, .dqk = (int)dqk, .dv = (int)dv, .workspace_bytes = ws_limit};
  if (sc_mlstm_create(&th_ctx, &cfg, &m, &err)) fail_msg("%s", err.msg);
  assert_variant_ran();
  th_tensors_init(&ts, &th_ctx, use_offsets);
  return m;
}

static void release_op(sc_mlstm *m) {
  th_tensors_release(&ts);
  sc_mlstm_destroy(m);
}

/* Device results of the forward (and optionally backward) of one problem. */
typedef struct {
  float *h, *nout, *mout, *clast, *nlast, *mlast;
  float *g[6]; /* dq dk dv di df dc0 */
} result;

static void free_result(result *r) {
  free(r->h), free(r->nout), free(r->mout), free(r->clast), free(r->nlast), free(r->mlast);
  for (int j = 0; j < 6; j++) free(r->g[j]);
}

static result run_device(sc_mlstm *m, const problem *p, int backward) {
  const size_t BH = p->BH, S = p->S;
  sc_view in[9];
  for (int t = 0; t < 9; t++) in[t] = upload(p->f32[t], p->n[t]);
  sc_view h = upload(NULL, BH * S * p->dv), nout = upload(NULL, BH * S), mout = upload(NULL, BH * S);
  sc_view cl = upload(NULL, BH * p->dqk * p->dv), nl = upload(NULL, BH * p->dqk), ml = upload(NULL, BH);
  sc_mlstm_fwd_io io = {in[Q], in[K], in[V], in[I], in[F], in[C0], in[N0], in[M0], h, nout, mout, cl, nl, ml};
  sc_err err;
  if (sc_mlstm_forward(m, BH, S, (float)EPS, &io, &err)) fail_msg("%s", err.msg);
  result r = {th_falloc(BH * S * p->dv),
              th_falloc(BH * S),
              th_falloc(BH * S),
              th_falloc(BH * p->dqk * p->dv),
              th_falloc(BH * p->dqk),
              th_falloc(BH),
              {0}};
  download(h, r.h, BH * S * p->dv), download(nout, r.nout, BH * S), download(mout, r.mout, BH * S);
  download(cl, r.clast, BH * p->dqk * p->dv), download(nl, r.nlast, BH * p->dqk), download(ml, r.mlast, BH);
  if (backward) {
    const size_t gn[6] = {BH * S * p->dqk, BH * S * p->dqk, BH * S * p->dv, BH * S, BH * S, BH * p->dqk * p->dv};
    sc_view gm[6];
    for (int j = 0; j < 6; j++) gm[j] = upload(NULL, gn[j]);
    sc_mlstm_bwd_io b = {in[Q], in[K],  in[V], in[I], in[F], in[C0], in[N0], in[M0],
                         nout,  in[DH], gm[0], gm[1], gm[2], gm[3],  gm[4],  gm[5]};
    if (sc_mlstm_backward(m, BH, S, (float)EPS, &b, &err)) fail_msg("%s", err.msg);
    for (int j = 0; j < 6; j++) {
      r.g[j] = th_falloc(gn[j]);
      download(gm[j], r.g[j], gn[j]);
    }
  }
  return r;
}

static void test_mlstm_cases(void **state) {
  (void)state;
  th_run_op_cases(&th_ctx, "mlstm");
  assert_variant_ran();
}

/* Chunkwise forward vs a rollout of the device recurrent step, token by token, from the same initial state. */
static void step_rollout(size_t BH, size_t S, size_t dqk, size_t dv) {
  problem p = make(BH, S, dqk, dv, normal(2, 1, 600));
  use_offsets = 1; /* the step's tensors at odd offsets too */
  sc_mlstm *m = init_op(32, dqk, dv);
  use_offsets = 0;
  result chunk = run_device(m, &p, 0);
  const sc_view C = upload(p.f32[C0], p.n[C0]), n = upload(p.f32[N0], p.n[N0]), ms = upload(p.f32[M0], p.n[M0]);
  const sc_view q = upload(NULL, BH * dqk), k = upload(NULL, BH * dqk), v = upload(NULL, BH * dv),
                ig = upload(NULL, BH), fg = upload(NULL, BH), h = upload(NULL, BH * dv);
  const sc_mlstm_step_io io = {q, k, v, ig, fg, C, n, ms, h};
  float *hs = th_falloc(BH * S * dv), *row = th_falloc(BH * (2 * dqk + dv + 2)), *hrow = th_falloc(BH * dv);
  sc_err err;
  for (size_t t = 0; t < S; t++) {
    float *rq = row, *rk = rq + BH * dqk, *rv = rk + BH * dqk, *ri = rv + BH * dv, *rf = ri + BH;
    for (size_t b = 0; b < BH; b++) {
      memcpy(rq + b * dqk, p.f32[Q] + (b * S + t) * dqk, dqk * 4);
      memcpy(rk + b * dqk, p.f32[K] + (b * S + t) * dqk, dqk * 4);
      memcpy(rv + b * dv, p.f32[V] + (b * S + t) * dv, dv * 4);
      ri[b] = p.f32[I][b * S + t], rf[b] = p.f32[F][b * S + t];
    }
    if (sc_buffer_write(&th_ctx, q.buf, q.off, BH * dqk * 4, rq, &err) ||
        sc_buffer_write(&th_ctx, k.buf, k.off, BH * dqk * 4, rk, &err) ||
        sc_buffer_write(&th_ctx, v.buf, v.off, BH * dv * 4, rv, &err) ||
        sc_buffer_write(&th_ctx, ig.buf, ig.off, BH * 4, ri, &err) ||
        sc_buffer_write(&th_ctx, fg.buf, fg.off, BH * 4, rf, &err) || sc_mlstm_step(m, BH, (float)EPS, &io, &err))
      fail_msg("%s", err.msg);
    download(h, hrow, BH * dv);
    for (size_t b = 0; b < BH; b++) memcpy(hs + (b * S + t) * dv, hrow + b * dv, dv * 4);
  }
  float *cs = th_falloc(p.n[C0]), *ns = th_falloc(p.n[N0]), *mss = th_falloc(BH);
  download(C, cs, p.n[C0]), download(n, ns, p.n[N0]), download(ms, mss, BH);
  /* Both against the float64 recurrent reference, and against each other. */
  const sc_ref_mlstm_dims d = {BH, S, dqk, dv, EPS};
  double *hr = th_dalloc(BH * S * dv), *cr = th_dalloc(p.n[C0]), *nr = th_dalloc(p.n[N0]), *mr = th_dalloc(BH);
  if (sc_ref_mlstm_recurrent(&d, p.f64[Q], p.f64[K], p.f64[V], p.f64[I], p.f64[F], p.f64[C0], p.f64[N0], p.f64[M0], hr,
                             cr, nr, mr, &err))
    fail_msg("%s", err.msg);
  th_assert_close("step rollout h vs f64 recurrent", hs, hr, BH * S * dv, FW_TOL);
  th_assert_close("step rollout C vs f64 recurrent", cs, cr, p.n[C0], FW_TOL);
  th_assert_close("step rollout n vs f64 recurrent", ns, nr, p.n[N0], FW_TOL);
  th_assert_close("step rollout m vs f64 recurrent", mss, mr, BH, (sc_tol){1e-5, 1e-5, 1e-8, 0});
  double *hd = widen(hs, BH * S * dv), *cd = widen(cs, p.n[C0]);
  th_assert_close("chunkwise h vs step rollout h", chunk.h, hd, BH * S * dv, FW_TOL);
  th_assert_close("chunkwise C_last vs step rollout C", chunk.clast, cd, p.n[C0], FW_TOL);
  free(hd), free(cd), free(hr), free(cr), free(nr), free(mr), free(cs), free(ns), free(mss), free(hs), free(row),
      free(hrow);
  free_result(&chunk);
  release_op(m);
  release(&p);
}

static void test_recurrent_step_rollout(void **state) {
  (void)state;
  step_rollout(4, 70, 16, 32);
  /* Head dims past one work-group of the gpu step (SWG = 64 columns, strided loops over dqk). */
  step_rollout(2, 20, 72, 136);
}

/* Two halves with the state carried from the first into the second equal the whole sequence. */
static void test_state_handoff(void **state) {
  (void)state;
  const size_t BH = 2, S = 150, S1 = 70, dqk = 32, dv = 64;
  problem whole = make(BH, S, dqk, dv, normal(2, 1, 700));
  problem part[2] = {make(BH, S1, dqk, dv, normal(0, 1, 701)), make(BH, S - S1, dqk, dv, normal(0, 0, 702))};
  for (size_t b = 0; b < BH; b++)
    for (int t = Q; t <= F; t++) {
      const size_t w = t <= K ? dqk : t == V ? dv : 1;
      memcpy(part[0].f32[t] + b * S1 * w, whole.f32[t] + b * S * w, S1 * w * 4);
      memcpy(part[1].f32[t] + b * (S - S1) * w, whole.f32[t] + (b * S + S1) * w, (S - S1) * w * 4);
    }
  memcpy(part[0].f32[C0], whole.f32[C0], whole.n[C0] * 4);
  memcpy(part[0].f32[N0], whole.f32[N0], whole.n[N0] * 4);
  memcpy(part[0].f32[M0], whole.f32[M0], whole.n[M0] * 4);
  sc_mlstm *m = init_op(32, dqk, dv);
  result rw = run_device(m, &whole, 0), r0 = run_device(m, &part[0], 0);
  memcpy(part[1].f32[C0], r0.clast, whole.n[C0] * 4);
  memcpy(part[1].f32[N0], r0.nlast, whole.n[N0] * 4);
  memcpy(part[1].f32[M0], r0.mlast, whole.n[M0] * 4);
  result r1 = run_device(m, &part[1], 0);
  double *hw = widen(rw.h, BH * S * dv), *cw = widen(rw.clast, whole.n[C0]), *nw = widen(rw.nlast, whole.n[N0]),
         *mw = widen(rw.mlast, BH);
  float *hs = th_falloc(BH * S * dv);
  for (size_t b = 0; b < BH; b++) {
    memcpy(hs + b * S * dv, r0.h + b * S1 * dv, S1 * dv * 4);
    memcpy(hs + (b * S + S1) * dv, r1.h + b * (S - S1) * dv, (S - S1) * dv * 4);
  }
  th_assert_close("halves h vs whole h", hs, hw, BH * S * dv, (sc_tol){1e-5, 1e-4, 1e-8, 0});
  th_assert_close("halves C_last vs whole", r1.clast, cw, whole.n[C0], (sc_tol){1e-5, 1e-4, 1e-8, 0});
  th_assert_close("halves n_last vs whole", r1.nlast, nw, whole.n[N0], (sc_tol){1e-5, 1e-4, 1e-8, 0});
  th_assert_close("halves m_last vs whole", r1.mlast, mw, BH, (sc_tol){1e-6, 1e-6, 1e-8, 0});
  free(hw), free(cw), free(nw), free(mw), free(hs);
  free_result(&rw), free_result(&r0), free_result(&r1);
  release_op(m);
  release(&whole), release(&part[0]), release(&part[1]);
}

static void test_rejects_bad_config(void **state) {
  (void)state;
  sc_mlstm *m = NULL;
  sc_err err;
  assert_int_equal(sc_mlstm_create(&th_ctx, &(sc_mlstm_cfg){.chunk = 24, .dqk = 64, .dv = 64}, &m, &err), -1);
  assert_non_null(strstr(err.msg, "multiple of 16"));
  assert_int_equal(sc_mlstm_create(&th_ctx, &(sc_mlstm_cfg){.chunk = 64, .dqk = 60, .dv = 64}, &m, &err), -1);
  assert_non_null(strstr(err.msg, "dqk=60"));
  assert_int_equal(sc_mlstm_create(&th_ctx, &(sc_mlstm_cfg){.chunk = 64, .dqk = 64, .dv = 520}, &m, &err), -1);
  assert_non_null(strstr(err.msg, "dv=520"));
  assert_null(m);
}

/* A device test under each kernel variant (and the gpu variant's direct-load form). */
/* clang-format off */
#define BOTH_VARIANTS(f) {#f " [cpu]", f, use_cpu, use_default, NULL}, {#f " [gpu]", f, use_gpu, use_default, NULL}, \
                         {#f " [gpu LS=0]", f, use_gpu_direct, use_default, NULL}
/* clang-format on */

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_VARIANTS(test_mlstm_cases),
      {"test_mlstm_cases [gpu VL=1]", test_mlstm_cases, use_gpu_vector, use_default, NULL},
      BOTH_VARIANTS(test_recurrent_step_rollout),
      BOTH_VARIANTS(test_state_handoff),
      cmocka_unit_test(test_rejects_bad_config),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
