/* RoPE (ops/rope.h) on the test device against the float64 reference (ref/rope.h): adjacent pairs,
 * per-token positions restarting at documents, positions up to 40000 (where a float32 angle would be
 * off by ~1e-3 rad), the transposed rotation for the backward, in-place use and the table growing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/rope.h"
#include "ref/rope.h"

static sc_ctx ctx;

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_ctx_close(&ctx);
  return 0;
}


/* Rotates random rows forward and backward on the device, in place for the backward, and compares. */
static void check(int B, int NH, int S, int dh, double theta, const int32_t *pos, sc_rope *r, uint64_t seed) {
  const size_t n = (size_t)B * NH * S * dh;
  float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
  double *xd = malloc(n * 8), *yd = malloc(n * 8), *zd = malloc(n * 8);
  assert_true(x && y && z && xd && yd && zd);
  th_rng rng;
  th_rng_seed(&rng, seed);
  th_fill_normal(&rng, x, n, 0, 1);
  for (size_t i = 0; i < n; i++) xd[i] = x[i];
  int mp = 0;
  for (int i = 0; i < B * S; i++) mp = pos[i] > mp ? pos[i] : mp;
  th_tensors ts; /* every tensor at its own odd offset */
  th_tensors_init(&ts, &ctx, 1);
  const sc_view bx = th_tensor(&ts, x, n * 4), by = th_tensor(&ts, NULL, n * 4);
  const sc_view bp = th_tensor(&ts, pos, (size_t)B * S * 4);
  TH_CHECK(sc_rope_apply(r, B, NH, S, bp, mp, bx, by, 0, TH_ERR));
  th_tensor_read(&ts, by, y, n * 4);
  TH_CHECK(sc_rope_apply(r, B, NH, S, bp, mp, by, by, 1, TH_ERR)); /* in place */
  th_tensor_read(&ts, by, z, n * 4);
  sc_ref_rope(B, NH, S, dh, theta, pos, xd, yd, 0);
  for (size_t i = 0; i < n; i++) zd[i] = y[i];
  sc_ref_rope(B, NH, S, dh, theta, pos, zd, zd, 1);
  char label[96];
  snprintf(label, sizeof label, "rope dh%d theta %g max pos %d forward", dh, theta, mp);
  th_assert_close(label, y, yd, n, 1e-5, 1e-4);
  snprintf(label, sizeof label, "rope dh%d theta %g max pos %d backward", dh, theta, mp);
  th_assert_close(label, z, zd, n, 1e-5, 1e-4);
  snprintf(label, sizeof label, "rope dh%d backward(forward(x)) = x", dh);
  th_assert_close(label, z, xd, n, 1e-5, 1e-4);
  th_tensors_release(&ts);
  free(x), free(y), free(z), free(xd), free(yd), free(zd);
}

static void test_rope_head_dims_and_positions(void **state) {
  (void)state;
  static const int dhs[] = {16, 64, 80, 96, 128};
  enum { B = 2, S = 37 };
  int32_t docs[B * S], far[B * S];
  for (int s = 0; s < S; s++) {
    docs[s] = s < 11 ? s : s - 11; /* a document boundary at 11 */
    docs[S + s] = s % 5;
    far[s] = 40000 - s * 997; /* large positions, decreasing, not contiguous */
    far[S + s] = 16384 + s;
  }
  for (int a = 0; a < 5; a++) {
    sc_rope *r;
    TH_CHECK(sc_rope_create(&ctx, dhs[a], 500000.0, &r, TH_ERR));
    check(B, 3, S, dhs[a], 500000.0, docs, r, 10 + a);
    check(B, 3, S, dhs[a], 500000.0, far, r, 20 + a); /* the table grows on the same object */
    sc_rope_destroy(r);
  }
  sc_rope *r;
  TH_CHECK(sc_rope_create(&ctx, 64, 10000.0, &r, TH_ERR));
  check(B, 2, S, 64, 10000.0, far, r, 30);
  sc_rope_destroy(r);
}

/* Position 0 is the identity; a pair at position p turns by p radians at j = 0. */
static void test_rope_known_values(void **state) {
  (void)state;
  const int dh = 16;
  float x[16] = {1, 0}, y[16];
  int32_t pos = 3;
  sc_rope *r;
  cl_mem bx, bp;
  TH_CHECK(sc_rope_create(&ctx, dh, 500000.0, &r, TH_ERR));
  TH_CHECK(sc_buffer_create(&ctx, sizeof x, "x", &bx, TH_ERR));
  TH_CHECK(sc_buffer_create(&ctx, sizeof pos, "pos", &bp, TH_ERR));
  TH_CHECK(sc_buffer_write(&ctx, bx, 0, sizeof x, x, TH_ERR));
  TH_CHECK(sc_buffer_write(&ctx, bp, 0, sizeof pos, &pos, TH_ERR));
  TH_CHECK(sc_rope_apply(r, 1, 1, 1, sc_view_of(bp), pos, sc_view_of(bx), sc_view_of(bx), 0, TH_ERR));
  TH_CHECK(sc_buffer_read(&ctx, bx, 0, sizeof y, y, TH_ERR));
  assert_float_equal(y[0], cos(3.0), 1e-6);
  assert_float_equal(y[1], sin(3.0), 1e-6);
  for (int i = 2; i < dh; i++) assert_float_equal(y[i], 0.0, 0.0);
  sc_buffer_release(&ctx, bx), sc_buffer_release(&ctx, bp);
  sc_rope_destroy(r);
}

static void test_rope_errors(void **state) {
  (void)state;
  sc_err err;
  sc_rope *r = NULL;
  assert_int_equal(sc_rope_create(&ctx, 15, 500000.0, &r, &err), -1);
  assert_non_null(strstr(err.msg, "head dim 15"));
  assert_int_equal(sc_rope_create(&ctx, 16, 0.5, &r, &err), -1);
  assert_non_null(strstr(err.msg, "theta"));
  assert_null(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rope_head_dims_and_positions),
      cmocka_unit_test(test_rope_known_values),
      cmocka_unit_test(test_rope_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
