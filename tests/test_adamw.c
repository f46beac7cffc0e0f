/* The optimizer op (ops/adamw.h): the check table's rows against the float64 reference (ref/adamw.h; the norm at
 * sizes around its slice boundaries, three updates in a row with and without decay, a clipping scale, large
 * weights, view offsets), then the norm's same bits on every run, an empty and a non-finite gradient, and a bad
 * bias correction refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/adamw.h"
#include "ref/adamw.h"

static sc_ctx ctx;
static sc_adamw *ops[TH_NVARIANTS]; /* one op per kernel variant */

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  static sc_err err;
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    if (sc_adamw_create(&ctx, &ops[v], &err)) fail_msg("%s variant: %s", th_variants[v], err.msg);
  }
  th_variant_set(-1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int v = 0; v < TH_NVARIANTS; v++) sc_adamw_destroy(ops[v]);
  sc_ctx_close(&ctx);
  return 0;
}

static void test_adamw_cases(void **state) {
  (void)state;
  th_run_op_cases_variants(&ctx, "adamw");
}

/* The norm of the same gradient twice: the same bits (a fixed reduction order, no atomics), in each variant, and
 * within 1e-6 of the float64 sum over a million values (the compensated sums keep float32 from drifting). */
static void test_norm_same_bits(void **state) {
  (void)state;
  enum { N = 1000003 };
  float *g = th_falloc(N);
  sc_rng rng;
  sc_rng_seed(&rng, 5);
  sc_fill_values(&rng, SC_VAL_MIXED, g, N);
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view gv = th_tensor(&ts, g, N * sizeof *g);
  double want = 0;
  for (int i = 0; i < N; i++) want += (double)g[i] * g[i];
  for (int v = 0; v < TH_NVARIANTS; v++) {
    double a = 0, b = 0;
    TH_CHECK(sc_adamw_sumsq(ops[v], N, gv, &a, TH_ERR));
    TH_CHECK(sc_adamw_sumsq(ops[v], N, gv, &b, TH_ERR));
    if (!(a == b && a > 0)) fail_msg("%s variant: sums of squares %.9g then %.9g", th_variants[v], a, b);
    if (!(fabs(a - want) <= 1e-6 * want))
      fail_msg("%s variant: sum of squares %.9g, float64 %.9g", th_variants[v], a, want);
  }
  th_tensors_release(&ts);
  free(g);
}

static void test_norm_of_nothing_is_zero(void **state) {
  (void)state;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view gv = th_tensor(&ts, NULL, 4 * sizeof(float));
  for (int v = 0; v < TH_NVARIANTS; v++) {
    double got = -1;
    TH_CHECK(sc_adamw_sumsq(ops[v], 0, gv, &got, TH_ERR));
    if (got != 0) fail_msg("%s variant: %g", th_variants[v], got);
  }
  th_tensors_release(&ts);
}

static void test_norm_propagates_non_finite(void **state) {
  (void)state;
  float g[300] = {0};
  g[123] = INFINITY;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view gv = th_tensor(&ts, g, sizeof g);
  for (int v = 0; v < TH_NVARIANTS; v++) {
    double got = 0;
    TH_CHECK(sc_adamw_sumsq(ops[v], 300, gv, &got, TH_ERR));
    if (isfinite(got)) fail_msg("%s variant: %g", th_variants[v], got);
  }
  th_tensors_release(&ts);
}

static void test_update_rejects_zero_bias_correction(void **state) {
  (void)state;
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view a = th_tensor(&ts, NULL, 16), b = th_tensor(&ts, NULL, 16);
  const sc_view c = th_tensor(&ts, NULL, 16), d = th_tensor(&ts, NULL, 16);
  const sc_adamw_hparams h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0, 1, 0, 0.05f};
  sc_err err = {0};
  assert_int_equal(sc_adamw_update(ops[1], 4, a, b, c, d, &h, &err), -1);
  assert_non_null(strstr(err.msg, "bias correction"));
  th_tensors_release(&ts);
}

/* Gradient norm and update times of both variants (print only): 5 M parameters with SCALECL_TEST_TIMES=model,
 * else 10 k. */
typedef struct {
  sc_adamw *op;
  size_t n;
  sc_view p, g, m, v;
} adamw_timed;

static void adamw_timed_sumsq(void *u) {
  adamw_timed *t = u;
  double s;
  TH_CHECK(sc_adamw_sumsq(t->op, t->n, t->g, &s, TH_ERR));
}

static void adamw_timed_update(void *u) {
  adamw_timed *t = u;
  const sc_adamw_hparams h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 0.1f, 0.05f};
  TH_CHECK(sc_adamw_update(t->op, t->n, t->p, t->g, t->m, t->v, &h, TH_ERR));
}

static void test_adamw_variant_times(void **state) {
  (void)state;
  const int model = th_time_model_shapes(), samples = model ? 7 : 2;
  const size_t n = model ? 5000000 : 10000;
  float *g = th_falloc(n);
  sc_rng rng;
  sc_rng_seed(&rng, 6);
  sc_rng_fill_normal(&rng, g, n, 0, 1);
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 0);
  adamw_timed t = {.n = n, .g = th_tensor(&ts, g, n * 4)};
  t.p = th_tensor(&ts, g, n * 4), t.m = th_tensor(&ts, NULL, n * 4), t.v = th_tensor(&ts, NULL, n * 4);
  printf("  adamw n %zu:", n);
  for (int v = 0; v < TH_NVARIANTS; v++) {
    t.op = ops[v];
    printf(" %s sumsq %.3f ms update %.3f ms;", th_variants[v], th_time_ms(&ctx, adamw_timed_sumsq, &t, samples),
           th_time_ms(&ctx, adamw_timed_update, &t, samples));
  }
  printf("\n");
  th_tensors_release(&ts);
  free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adamw_cases),
      cmocka_unit_test(test_norm_same_bits),
      cmocka_unit_test(test_norm_of_nothing_is_zero),
      cmocka_unit_test(test_norm_propagates_non_finite),
      cmocka_unit_test(test_update_rejects_zero_bias_correction),
      cmocka_unit_test(test_adamw_variant_times),
  };
  return TH_RUN_GROUP(tests, setup, teardown);
}
