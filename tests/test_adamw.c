/* The optimizer op (ops/adamw.h) on the test device against the float64 reference (ref/adamw.h): the squared
 * gradient norm at sizes around the reduction's slice boundaries and with extreme magnitudes, and several AdamW
 * updates in a row (moments carried) with and without weight decay, a clipping scale and view offsets; the norm
 * gives the same bits on every run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/adamw.h"
#include "ref/adamw.h"

static sc_ctx ctx;
static sc_adamw *op;

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  static sc_err err;
  if (sc_adamw_create(&ctx, &op, &err)) fail_msg("%s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_adamw_destroy(op);
  sc_ctx_close(&ctx);
  return 0;
}

/* Float32 sums of up to millions of squares, compensated per slice: a few ulps relative. */
static const sc_tol SUMSQ_TOL = {0, 1e-6, 1e-12};

static void norm_matches_reference_at(size_t n, double scale, uint64_t seed) {
  float *g = th_falloc(n);
  double *gd = th_dalloc(n);
  sc_rng rng;
  sc_rng_seed(&rng, seed);
  sc_rng_fill_normal(&rng, g, n, 0, scale);
  for (size_t i = 0; i < n; i++) gd[i] = g[i];
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view gv = th_tensor(&ts, g, n * sizeof *g);
  double got = 0, again = 0;
  TH_CHECK(sc_adamw_sumsq(op, n, gv, &got, TH_ERR));
  TH_CHECK(sc_adamw_sumsq(op, n, gv, &again, TH_ERR));
  const double ref = sc_ref_sumsq(n, gd);
  char label[96];
  snprintf(label, sizeof label, "sumsq n=%zu scale=%g", n, scale);
  th_assert_close_d(label, &got, &ref, 1, SUMSQ_TOL);
  assert_true(got == again);
  th_tensors_release(&ts);
  free(g), free(gd);
}

static void test_norm_matches_reference(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 7, 255, 256, 257, 1000, 65537, 3000001};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) norm_matches_reference_at(sizes[i], 1.0, 10 + i);
  norm_matches_reference_at(4099, 1e-15, 21); /* squares near the bottom of float32's normal range */
  norm_matches_reference_at(4099, 1e15, 22);  /* squares near its top */
}

static void test_norm_of_nothing_is_zero(void **state) {
  (void)state;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view gv = th_tensor(&ts, NULL, 4 * sizeof(float));
  double got = -1;
  TH_CHECK(sc_adamw_sumsq(op, 0, gv, &got, TH_ERR));
  assert_true(got == 0);
  th_tensors_release(&ts);
}

static void test_norm_propagates_non_finite(void **state) {
  (void)state;
  float g[300] = {0};
  g[123] = INFINITY;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  double got = 0;
  TH_CHECK(sc_adamw_sumsq(op, 300, th_tensor(&ts, g, sizeof g), &got, TH_ERR));
  assert_false(isfinite(got));
  th_tensors_release(&ts);
}

/* Three updates in a row, each with its own gradient, lr and bias corrections. */
static void updates_match_reference(size_t n, double wd, double gscale, double pscale, uint64_t seed) {
  float *p = th_falloc(n), *g = th_falloc(n), *m = th_falloc(n), *v = th_falloc(n);
  double *pd = th_dalloc(n), *gd = th_dalloc(n), *md = th_dalloc(n), *vd = th_dalloc(n);
  sc_rng rng;
  sc_rng_seed(&rng, seed);
  sc_rng_fill_normal(&rng, p, n, 0, pscale);
  for (size_t i = 0; i < n; i++) pd[i] = p[i];
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view pv = th_tensor(&ts, p, n * 4), gv = th_tensor(&ts, NULL, n * 4);
  const sc_view mv = th_tensor(&ts, NULL, n * 4), vv = th_tensor(&ts, NULL, n * 4);
  for (int t = 1; t <= 3; t++) {
    sc_rng_fill_normal(&rng, g, n, 0, t == 2 ? 1e-6 : 1.0); /* tiny gradients: the eps term matters */
    for (size_t i = 0; i < n; i++) gd[i] = g[i];
    TH_CHECK(sc_buffer_write(&ctx, gv.buf, gv.off, n * 4, g, TH_ERR));
    const double lr = 1e-3 * t, b1 = 0.9, b2 = 0.95;
    const sc_ref_adamw_hparams hd = {lr, b1, b2, 1e-8, wd, gscale, 1 - pow(b1, t), 1 - pow(b2, t)};
    const sc_adamw_hparams h = {(float)hd.lr, (float)hd.beta1, (float)hd.beta2, (float)hd.eps,
                                (float)hd.wd, (float)gscale,   (float)hd.bc1,   (float)hd.bc2};
    TH_CHECK(sc_adamw_update(op, n, pv, gv, mv, vv, &h, TH_ERR));
    sc_ref_adamw_update(n, pd, gd, md, vd, &hd);
  }
  th_tensor_read(&ts, pv, p, n * 4), th_tensor_read(&ts, mv, m, n * 4), th_tensor_read(&ts, vv, v, n * 4);
  char label[128];
  /* Float32 moments and update: each of the three steps rounds the parameter once, so a parameter that the
   * updates carried near zero keeps an absolute error of a few ulps of the initial scale. */
  snprintf(label, sizeof label, "params n=%zu wd=%g gscale=%g", n, wd, gscale);
  th_assert_close(label, p, pd, n, (sc_tol){2e-6 * pscale, 2e-6, 1e-12});
  snprintf(label, sizeof label, "m n=%zu", n);
  th_assert_close(label, m, md, n, (sc_tol){1e-6 * gscale, 2e-6, 1e-11}); /* sums of O(gscale) terms */
  snprintf(label, sizeof label, "v n=%zu", n);
  th_assert_close(label, v, vd, n, (sc_tol){1e-6 * gscale * gscale, 2e-6, 1e-11});
  th_tensors_release(&ts);
  free(p), free(g), free(m), free(v), free(pd), free(gd), free(md), free(vd);
}

static void test_updates_match_reference(void **state) {
  (void)state;
  updates_match_reference(1, 0.1, 1.0, 0.02, 31);
  updates_match_reference(1000, 0.0, 1.0, 0.02, 32);
  updates_match_reference(4097, 0.1, 0.25, 0.02, 33);
  updates_match_reference(333, 0.1, 1.0, 1e4, 34); /* large weights: decay dominates */
}

static void test_update_rejects_zero_bias_correction(void **state) {
  (void)state;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view a = th_tensor(&ts, NULL, 16), b = th_tensor(&ts, NULL, 16);
  const sc_view c = th_tensor(&ts, NULL, 16), d = th_tensor(&ts, NULL, 16);
  const sc_adamw_hparams h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0, 1, 0, 0.05f};
  sc_err err = {0};
  assert_int_equal(sc_adamw_update(op, 4, a, b, c, d, &h, &err), -1);
  assert_non_null(strstr(err.msg, "bias correction"));
  th_tensors_release(&ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_norm_matches_reference),
      cmocka_unit_test(test_norm_of_nothing_is_zero),
      cmocka_unit_test(test_norm_propagates_non_finite),
      cmocka_unit_test(test_updates_match_reference),
      cmocka_unit_test(test_update_rejects_zero_bias_correction),
  };
  return TH_RUN_GROUP(tests, setup, teardown);
}
