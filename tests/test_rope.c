/* RoPE (ops/rope.h) on the test device against the float64 reference (ref/rope.h), through the op-case table:
 * adjacent pairs, per-token positions restarting at documents, positions up to 40000 (where a float32 angle would
 * be off by ~1e-3 rad), the transposed rotation for the backward, in-place use, the table growing, view offsets and
 * extreme values; then known values and argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/rope.h"
#include "ref/rope.h"

static sc_ctx ctx;
/* The op for a (head dim, theta), kept across rows so the table grows on the same object. */
static sc_rope *ropes[8];
static int rope_dh[8];
static double rope_theta[8];

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int j = 0; j < 8; j++) sc_rope_destroy(ropes[j]);
  sc_ctx_close(&ctx);
  return 0;
}


static sc_rope *rope_for(int dh, double theta) {
  int j = 0;
  while (j < 8 && ropes[j] && (rope_dh[j] != dh || rope_theta[j] != theta)) j++;
  if (j == 8) fail_msg("more than 8 RoPE configurations");
  if (!ropes[j]) {
    TH_CHECK(sc_rope_create(&ctx, dh, theta, &ropes[j], TH_ERR));
    rope_dh[j] = dh, rope_theta[j] = theta;
  }
  return ropes[j];
}

/* One op-case row (op_cases.c): random rows rotated forward and backward (in place) on the device against the
 * float64 reference, and the round trip against x. Positions: documents restarting at 0 (a boundary at 11 in the
 * first sequence, every 5 in the second) or far ones (down from 40000 in steps of 997, and from 16384). Values as
 * th_fill_values gives them. */
static void rope_case(sc_ctx *c, const th_op_case *row) {
  const th_rope_shape sh = row->rope;
  const int B = sh.B, NH = sh.NH, S = sh.S, dh = sh.dh;
  if (B != 2) fail_msg("rope rows have B = 2 (two position patterns)");
  int32_t *pos = th_calloc((size_t)B * S, sizeof *pos);
  for (int s = 0; s < S; s++) {
    pos[s] = sh.far ? 40000 - s * 997 : s < 11 ? s : s - 11;
    pos[S + s] = sh.far ? 16384 + s : s % 5;
  }
  const size_t n = (size_t)B * NH * S * dh;
  float *x = th_falloc(n), *y = th_falloc(n), *z = th_falloc(n);
  double *xd = th_dalloc(n), *yd = th_dalloc(n), *zd = th_dalloc(n);
  th_rng rng;
  th_rng_seed(&rng, row->seed);
  th_fill_values(&rng, row->values, x, n);
  for (size_t i = 0; i < n; i++) xd[i] = x[i];
  int mp = 0;
  for (int i = 0; i < B * S; i++) mp = pos[i] > mp ? pos[i] : mp;
  sc_rope *r = rope_for(dh, sh.theta);
  th_tensors ts;
  th_tensors_init(&ts, c, row->offsets);
  const sc_view bx = th_tensor(&ts, x, n * 4), by = th_tensor(&ts, NULL, n * 4);
  const sc_view bp = th_tensor(&ts, pos, (size_t)B * S * 4);
  TH_CHECK(sc_rope_apply(r, B, NH, S, bp, mp, bx, by, 0, TH_ERR));
  th_tensor_read(&ts, by, y, n * 4);
  TH_CHECK(sc_rope_apply(r, B, NH, S, bp, mp, by, by, 1, TH_ERR)); /* in place */
  th_tensor_read(&ts, by, z, n * 4);
  th_tensors_release(&ts);
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, xd, yd, 0);
  for (size_t i = 0; i < n; i++) zd[i] = y[i];
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, zd, zd, 1);
  char variant[96];
  snprintf(variant, sizeof variant, "B%d NH%d S%d dh%d theta %g max pos %d", B, NH, S, dh, sh.theta, mp);
  th_case cs;
  th_case_begin(&cs, row, variant);
  th_case_compare(&cs, "forward", y, yd, n, row->tol);
  th_case_compare(&cs, "backward", z, zd, n, row->tol);
  th_case_compare(&cs, "backward(forward(x)) = x", z, xd, n, row->tol);
  th_case_end(&cs);
  free(pos), free(x), free(y), free(z), free(xd), free(yd), free(zd);
}

static void test_rope_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "rope", rope_case);
}

/* Position 0 is the identity; a pair at position p turns by p radians at j = 0, also at the last position
 * allowed (the factorised table's two float32 factors stay within 1e-5 of the float64 angle). */
static void rotate_pair(int32_t pos) {
  const int dh = 16;
  float x[16] = {1, 0}, y[16];
  sc_rope *r;
  cl_mem bx, bp;
  TH_CHECK(sc_rope_create(&ctx, dh, 500000.0, &r, TH_ERR));
  TH_CHECK(sc_buffer_create(&ctx, sizeof x, "x", &bx, TH_ERR));
  TH_CHECK(sc_buffer_create(&ctx, sizeof pos, "pos", &bp, TH_ERR));
  TH_CHECK(sc_buffer_write(&ctx, bx, 0, sizeof x, x, TH_ERR));
  TH_CHECK(sc_buffer_write(&ctx, bp, 0, sizeof pos, &pos, TH_ERR));
  TH_CHECK(sc_rope_apply(r, 1, 1, 1, sc_view_of(bp), pos, sc_view_of(bx), sc_view_of(bx), 0, TH_ERR));
  TH_CHECK(sc_buffer_read(&ctx, bx, 0, sizeof y, y, TH_ERR));
  assert_float_equal(y[0], cos((double)pos), 1e-5);
  assert_float_equal(y[1], sin((double)pos), 1e-5);
  for (int i = 2; i < dh; i++) assert_float_equal(y[i], 0.0, 0.0);
  sc_buffer_release(&ctx, bx), sc_buffer_release(&ctx, bp);
  sc_rope_destroy(r);
}

static void test_rope_known_values(void **state) {
  (void)state;
  rotate_pair(3);
  rotate_pair(1023);
  rotate_pair(1024 * 37 + 5);
  rotate_pair(SC_ROPE_MAX_POS - 1);
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
  /* A position at the limit (a fuzzed 2^31-1 used to ask for a 2^36-byte table) is refused at once. */
  TH_CHECK(sc_rope_create(&ctx, 16, 500000.0, &r, TH_ERR));
  cl_mem b;
  TH_CHECK(sc_buffer_create(&ctx, 64, "x", &b, TH_ERR));
  const sc_view v = sc_view_of(b);
  assert_int_equal(sc_rope_apply(r, 1, 1, 1, v, SC_ROPE_MAX_POS, v, v, 0, &err), -1);
  assert_non_null(strstr(err.msg, "max position 16777216 is outside [0, 16777216)"));
  assert_int_equal(sc_rope_apply(r, 1, 1, 1, v, 2147483647, v, v, 0, &err), -1);
  sc_buffer_release(&ctx, b);
  sc_rope_destroy(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rope_cases),
      cmocka_unit_test(test_rope_known_values),
      cmocka_unit_test(test_rope_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
