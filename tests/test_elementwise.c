/* The elementwise layers (ops/elementwise.h) on the test device against float64 references (ref/swiglu.h,
 * ref/softcap.h, ref/heads.h; the gates and output gate as ref/xlstm.c writes them), through the op-case table:
 * one value, odd counts, values far past the caps, view offsets; the gates read one fused [i; f] projection or two,
 * with document resets and a bias gradient that accumulates; the head layout slices a fused output. Then argument
 * errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/elementwise.h"
#include "ref/heads.h"
#include "ref/softcap.h"
#include "ref/swiglu.h"

static sc_ctx ctx;
static sc_elementwise *ew;
static const double gate_cap = 15, doc_reset = -25;

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  sc_err err;
  if (sc_elementwise_create(&ctx, NULL, &ew, &err)) fail_msg("%s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_elementwise_destroy(ew);
  sc_ctx_close(&ctx);
  return 0;
}

/* Host inputs of the plain layers: a and b of the row's values, d ~ N(0, 1) (the incoming gradient). */
typedef struct {
  size_t n;
  float *a, *b, *d, *out[3];
  double *ad, *bd, *dd, *ref[3];
} pw_data;

static pw_data pw_inputs(const th_op_case *row) {
  const th_pointwise_shape sh = row->pointwise;
  pw_data p = {.n = (size_t)sh.B * sh.T * sh.NH * sh.dh};
  th_rng rng;
  th_rng_seed(&rng, row->seed);
  p.a = th_falloc(p.n), p.b = th_falloc(p.n), p.d = th_falloc(p.n);
  th_fill_values(&rng, row->values, p.a, p.n);
  th_fill_values(&rng, row->values, p.b, p.n);
  th_fill_normal(&rng, p.d, p.n, 0, 1);
  p.ad = th_dalloc(p.n), p.bd = th_dalloc(p.n), p.dd = th_dalloc(p.n);
  for (size_t i = 0; i < p.n; i++) p.ad[i] = p.a[i], p.bd[i] = p.b[i], p.dd[i] = p.d[i];
  for (int k = 0; k < 3; k++) p.out[k] = th_falloc(p.n), p.ref[k] = th_dalloc(p.n);
  return p;
}

/* Compares out[k] with ref[k] under names[k] (the first with the forward's tolerance), then frees. */
static void pw_finish(const th_op_case *row, pw_data *p, const char *const *names, int nout) {
  char variant[32];
  snprintf(variant, sizeof variant, "n%zu", p->n);
  th_case cs;
  th_case_begin(&cs, row, variant);
  for (int k = 0; k < nout; k++)
    th_case_compare(&cs, names[k], p->out[k], p->ref[k], p->n, k ? row->tol_grad : row->tol);
  th_case_end(&cs);
  free(p->a), free(p->b), free(p->d), free(p->ad), free(p->bd), free(p->dd);
  for (int k = 0; k < 3; k++) free(p->out[k]), free(p->ref[k]);
}

/* Device tensors of a, b, d and three outputs; run(views) launches, then the outputs are read back. */
typedef void (*pw_launch)(const th_pointwise_shape *sh, int n, const sc_view *v);

static void pw_device(sc_ctx *c, const th_op_case *row, pw_data *p, pw_launch run) {
  th_tensors ts;
  th_tensors_init(&ts, c, row->offsets);
  const size_t bytes = p->n * sizeof(float);
  sc_view v[6] = {th_tensor(&ts, p->a, bytes), th_tensor(&ts, p->b, bytes), th_tensor(&ts, p->d, bytes)};
  for (int k = 0; k < 3; k++) v[3 + k] = th_tensor(&ts, NULL, bytes);
  run(&row->pointwise, (int)p->n, v);
  for (int k = 0; k < 3; k++) th_tensor_read(&ts, v[3 + k], p->out[k], bytes);
  th_tensors_release(&ts);
}

/* v: g, u, dz, z, dg, du. */
static void swiglu_launch(const th_pointwise_shape *sh, int n, const sc_view *v) {
  (void)sh;
  TH_CHECK(sc_swiglu_forward(ew, n, v[0], v[1], v[3], TH_ERR));
  TH_CHECK(sc_swiglu_backward(ew, n, v[0], v[1], v[2], v[4], v[5], TH_ERR));
}

static void swiglu_case(sc_ctx *c, const th_op_case *row) {
  pw_data p = pw_inputs(row);
  pw_device(c, row, &p, swiglu_launch);
  sc_ref_swiglu_forward(p.n, p.ad, p.bd, p.ref[0]);
  sc_ref_swiglu_backward(p.n, p.ad, p.bd, p.dd, p.ref[1], p.ref[2]);
  static const char *const names[] = {"z", "dg", "du"};
  pw_finish(row, &p, names, 3);
}

/* v: x, (unused), dy, y, dx. */
static void softcap_launch(const th_pointwise_shape *sh, int n, const sc_view *v) {
  TH_CHECK(sc_softcap_forward(ew, n, sh->cap, v[0], v[3], TH_ERR));
  TH_CHECK(sc_softcap_backward(ew, n, sh->cap, v[0], v[2], v[4], TH_ERR));
}

static void softcap_case(sc_ctx *c, const th_op_case *row) {
  pw_data p = pw_inputs(row);
  pw_device(c, row, &p, softcap_launch);
  sc_ref_softcap_forward(p.n, row->pointwise.cap, p.ad, p.ref[0]);
  sc_ref_softcap_backward(p.n, row->pointwise.cap, p.ad, p.dd, p.ref[1]);
  static const char *const names[] = {"y", "dx"};
  pw_finish(row, &p, names, 2);
}

/* v: o, h, dy, y, do, dh. */
static void ogate_launch(const th_pointwise_shape *sh, int n, const sc_view *v) {
  (void)sh;
  TH_CHECK(sc_ogate_forward(ew, n, v[0], v[1], v[3], TH_ERR));
  TH_CHECK(sc_ogate_backward(ew, n, v[0], v[1], v[2], v[4], v[5], TH_ERR));
}

static void ogate_case(sc_ctx *c, const th_op_case *row) {
  pw_data p = pw_inputs(row);
  pw_device(c, row, &p, ogate_launch);
  for (size_t i = 0; i < p.n; i++) {
    const double s = sc_ref_sigmoid(p.ad[i]), sm = sc_ref_sigmoid(-p.ad[i]);
    p.ref[0][i] = s * p.bd[i];
    p.ref[1][i] = p.dd[i] * p.bd[i] * s * sm;
    p.ref[2][i] = p.dd[i] * s;
  }
  static const char *const names[] = {"y", "do", "dh"};
  pw_finish(row, &p, names, 3);
}

/* v: x, y: x += y twice (the second time in place on a view that already holds a sum), read from x. */
static void residual_launch(const th_pointwise_shape *sh, int n, const sc_view *v) {
  (void)sh;
  TH_CHECK(sc_residual_add(ew, n, v[0], v[1], TH_ERR));
  TH_CHECK(sc_residual_add(ew, n, v[0], v[1], TH_ERR));
  TH_CHECK(sc_residual_add(ew, n, v[3], v[0], TH_ERR));
}

static void residual_case(sc_ctx *c, const th_op_case *row) {
  pw_data p = pw_inputs(row);
  pw_device(c, row, &p, residual_launch);
  for (size_t i = 0; i < p.n; i++) {
    const float once = p.a[i] + p.b[i]; /* float sums, so that cancellation rounds as on the device */
    p.ref[0][i] = once + p.b[i];
  }
  static const char *const names[] = {"x + y + y"};
  pw_finish(row, &p, names, 1);
}

/* Gates: xi and xf in one fused (B, T, ld) tensor when ld is set, else two packed (B, T, NH) tensors. */
static void gates_case(sc_ctx *c, const th_op_case *row) {
  const th_pointwise_shape sh = row->pointwise;
  const int B = sh.B, T = sh.T, NH = sh.NH, fused = sh.ld != 0, L = fused ? sh.ld : NH;
  const size_t rows = (size_t)B * T, ng = rows * NH, nin = rows * L;
  th_rng rng;
  th_rng_seed(&rng, row->seed);
  float *in[2] = {th_falloc(nin), th_falloc(nin)}, *bias[2] = {th_falloc(NH), th_falloc(NH)};
  float *dg[2] = {th_falloc(ng), th_falloc(ng)}, *db[2] = {th_falloc(NH), th_falloc(NH)};
  float *g[2] = {th_falloc(ng), th_falloc(ng)}, *dx[2] = {th_falloc(nin), th_falloc(nin)};
  int32_t *doc = th_calloc(rows, sizeof *doc);
  for (int k = 0; k < 2; k++) {
    th_fill_values(&rng, row->values, in[k], nin);
    th_fill_normal(&rng, bias[k], NH, k ? 4 : -10, 3);
    th_fill_normal(&rng, dg[k], ng, 0, 1);
    th_fill_normal(&rng, db[k], NH, 0, 1);
  }
  for (size_t r = 0; sh.docs && r < rows; r++) doc[r] = (r % T) % 7 == 0;
  /* Where each token's (i, f) pre-activation lives in in[] and dx[]. */
  const int kf = fused ? 0 : 1, cf = fused ? NH : 0;
  double *ref_g[2] = {th_dalloc(ng), th_dalloc(ng)}, *ref_dx[2] = {th_dalloc(ng), th_dalloc(ng)};
  double *ref_db[2] = {th_dalloc(NH), th_dalloc(NH)};
  float *got_dx[2] = {th_falloc(ng), th_falloc(ng)};
  for (int k = 0; k < 2; k++)
    for (int h = 0; h < NH; h++) ref_db[k][h] = db[k][h];
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < NH; h++) {
        const size_t r = (size_t)b * T + t, hd = ((size_t)b * NH + h) * T + t, tok = r * NH + h;
        for (int k = 0; k < 2; k++) {
          const double pre = (double)in[k ? kf : 0][r * L + (k ? cf : 0) + h] + bias[k][h];
          const int reset = k == 1 && doc[r];
          ref_g[k][hd] = reset ? doc_reset : sc_ref_softcap(pre, gate_cap);
          ref_dx[k][tok] = reset ? 0 : dg[k][hd] * sc_ref_softcap_grad(pre, gate_cap);
          ref_db[k][h] += ref_dx[k][tok];
        }
      }
  th_tensors ts;
  th_tensors_init(&ts, c, row->offsets);
  const sc_view xi = th_tensor(&ts, in[0], nin * 4),
                xf = fused ? sc_view_at(xi, NH * 4) : th_tensor(&ts, in[1], nin * 4);
  const sc_view dxi = th_tensor(&ts, NULL, nin * 4),
                dxf = fused ? sc_view_at(dxi, NH * 4) : th_tensor(&ts, NULL, nin * 4);
  const sc_view bi = th_tensor(&ts, bias[0], NH * 4), bf = th_tensor(&ts, bias[1], NH * 4);
  const sc_view ds = sh.docs ? th_tensor(&ts, doc, rows * 4) : sc_view_of(NULL);
  const sc_view gi = th_tensor(&ts, NULL, ng * 4), gf = th_tensor(&ts, NULL, ng * 4);
  const sc_view di = th_tensor(&ts, dg[0], ng * 4), df = th_tensor(&ts, dg[1], ng * 4);
  const sc_view dbi = th_tensor(&ts, db[0], NH * 4), dbf = th_tensor(&ts, db[1], NH * 4);
  TH_CHECK(sc_gates_forward(ew, B, T, NH, sh.ld, &(sc_gates_fwd_io){xi, xf, bi, bf, ds, gi, gf}, TH_ERR));
  TH_CHECK(sc_gates_backward(ew, B, T, NH, sh.ld, &(sc_gates_bwd_io){xi, xf, bi, bf, ds, di, df, dxi, dxf, dbi, dbf},
                             TH_ERR));
  th_tensor_read(&ts, gi, g[0], ng * 4), th_tensor_read(&ts, gf, g[1], ng * 4);
  th_tensor_read(&ts, dxi, dx[0], nin * 4);
  if (!fused) th_tensor_read(&ts, dxf, dx[1], nin * 4);
  th_tensor_read(&ts, dbi, db[0], NH * 4), th_tensor_read(&ts, dbf, db[1], NH * 4);
  th_tensors_release(&ts);
  for (size_t r = 0; r < rows; r++)
    for (int h = 0; h < NH; h++) {
      got_dx[0][r * NH + h] = dx[0][r * L + h];
      got_dx[1][r * NH + h] = dx[kf][r * L + cf + h];
    }
  char variant[64];
  snprintf(variant, sizeof variant, "B%d T%d NH%d ld%d", B, T, NH, L);
  th_case cs;
  th_case_begin(&cs, row, variant);
  th_case_compare(&cs, "i", g[0], ref_g[0], ng, row->tol);
  th_case_compare(&cs, "f", g[1], ref_g[1], ng, row->tol);
  th_case_compare(&cs, "dxi", got_dx[0], ref_dx[0], ng, row->tol_grad);
  th_case_compare(&cs, "dxf", got_dx[1], ref_dx[1], ng, row->tol_grad);
  th_case_compare(&cs, "dbi", db[0], ref_db[0], NH, row->tol_grad);
  th_case_compare(&cs, "dbf", db[1], ref_db[1], NH, row->tol_grad);
  th_case_end(&cs);
  for (int k = 0; k < 2; k++) {
    free(in[k]), free(bias[k]), free(dg[k]), free(db[k]), free(g[k]), free(dx[k]);
    free(ref_g[k]), free(ref_dx[k]), free(ref_db[k]), free(got_dx[k]);
  }
  free(doc);
}

/* Split from a (B, T, L) tensor whose last NH·dh columns are the heads, merge back into one whose other columns
 * hold 7 (they must keep it). */
static void heads_case(sc_ctx *c, const th_op_case *row) {
  const th_pointwise_shape sh = row->pointwise;
  const size_t B = (size_t)sh.B, T = (size_t)sh.T, NH = (size_t)sh.NH, dh = (size_t)sh.dh, w = NH * dh;
  const size_t L = sh.ld ? (size_t)sh.ld : w, col = L - w, n = B * T * w, nfull = B * T * L;
  th_rng rng;
  th_rng_seed(&rng, row->seed);
  float *x = th_falloc(nfull), *y = th_falloc(n), *z = th_falloc(nfull);
  double *packed = th_dalloc(n), *ref_y = th_dalloc(n), *ref_z = th_dalloc(nfull);
  th_fill_values(&rng, row->values, x, nfull);
  for (size_t i = 0; i < nfull; i++) z[i] = 7, ref_z[i] = 7;
  for (size_t r = 0; r < B * T; r++)
    for (size_t j = 0; j < w; j++) packed[r * w + j] = x[r * L + col + j];
  sc_ref_heads_split(B, T, NH, dh, packed, ref_y);
  sc_ref_heads_merge(B, T, NH, dh, ref_y, packed);
  for (size_t r = 0; r < B * T; r++)
    for (size_t j = 0; j < w; j++) ref_z[r * L + col + j] = packed[r * w + j];
  th_tensors ts;
  th_tensors_init(&ts, c, row->offsets);
  const sc_view bx = th_tensor(&ts, x, nfull * 4), by = th_tensor(&ts, NULL, n * 4), bz = th_tensor(&ts, z, nfull * 4);
  TH_CHECK(sc_heads_split(ew, sh.B, sh.T, sh.NH, sh.dh, sh.ld, sc_view_at(bx, col * 4), by, TH_ERR));
  TH_CHECK(sc_heads_merge(ew, sh.B, sh.T, sh.NH, sh.dh, sh.ld, by, sc_view_at(bz, col * 4), TH_ERR));
  th_tensor_read(&ts, by, y, n * 4);
  th_tensor_read(&ts, bz, z, nfull * 4);
  th_tensors_release(&ts);
  char variant[64];
  snprintf(variant, sizeof variant, "B%zu T%zu NH%zu dh%zu ld%zu", B, T, NH, dh, L);
  th_case cs;
  th_case_begin(&cs, row, variant);
  th_case_compare(&cs, "split", y, ref_y, n, row->tol);
  th_case_compare(&cs, "merge", z, ref_z, nfull, row->tol);
  th_case_end(&cs);
  free(x), free(y), free(z), free(packed), free(ref_y), free(ref_z);
}

static void test_swiglu_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "swiglu", swiglu_case);
}

static void test_softcap_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "softcap", softcap_case);
}

static void test_ogate_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "ogate", ogate_case);
}

static void test_residual_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "residual", residual_case);
}

static void test_gates_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "gates", gates_case);
}

static void test_heads_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "heads", heads_case);
}

static void test_elementwise_errors(void **state) {
  (void)state;
  sc_err err;
  cl_mem b;
  TH_CHECK(sc_buffer_create(&ctx, 64, "b", &b, TH_ERR));
  const sc_view v = sc_view_of(b), none = sc_view_of(NULL);
  assert_int_equal(sc_swiglu_forward(ew, 4, v, none, v, &err), -1);
  assert_non_null(strstr(err.msg, "'u'"));
  assert_int_equal(sc_heads_split(ew, 1, 2, 2, 3, 5, v, v, &err), -1);
  assert_non_null(strstr(err.msg, "row stride 5"));
  assert_int_equal(sc_gates_forward(ew, 1, 0, 2, 0, &(sc_gates_fwd_io){v, v, v, v, none, v, v}, &err), -1);
  assert_non_null(strstr(err.msg, "T=0"));
  assert_int_equal(sc_softcap_forward(ew, 0, 15.0f, none, none, &err), 0); /* nothing to do */
  sc_buffer_release(&ctx, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swiglu_cases),       cmocka_unit_test(test_softcap_cases),
      cmocka_unit_test(test_ogate_cases),        cmocka_unit_test(test_residual_cases),
      cmocka_unit_test(test_gates_cases),        cmocka_unit_test(test_heads_cases),
      cmocka_unit_test(test_elementwise_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
