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

static void test_rope_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "rope");
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
