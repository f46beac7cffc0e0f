/* The elementwise layers (ops/elementwise.h) on the test device against float64 references (ref/swiglu.h,
 * ref/softcap.h; the gates and output gate as ref/xlstm.c writes them), through the op-case table: one value,
 * odd counts, values far past the caps, view offsets; the gates read one fused [i; f] projection or two, with
 * document resets and a bias gradient that accumulates. Then argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/elementwise.h"
#include "ref/softcap.h"
#include "ref/swiglu.h"

static sc_ctx ctx;
static sc_elementwise *ew;

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

static void test_swiglu_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "swiglu");
}

static void test_softcap_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "softcap");
}

static void test_ogate_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "ogate");
}

static void test_residual_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "residual");
}

static void test_gates_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "gates");
}

static void test_elementwise_errors(void **state) {
  (void)state;
  sc_err err;
  cl_mem b;
  TH_CHECK(sc_buffer_create(&ctx, 64, "b", &b, TH_ERR));
  const sc_view v = sc_view_of(b), none = sc_view_of(NULL);
  assert_int_equal(sc_swiglu_forward(ew, 4, v, none, v, &err), -1);
  assert_non_null(strstr(err.msg, "'u'"));
  assert_int_equal(sc_gates_forward(ew, 1, 2, 2, 1, &(sc_gates_fwd_io){v, v, v, v, none, v, v}, &err), -1);
  assert_non_null(strstr(err.msg, "row stride 1"));
  assert_int_equal(sc_gates_forward(ew, 1, 0, 2, 0, &(sc_gates_fwd_io){v, v, v, v, none, v, v}, &err), -1);
  assert_non_null(strstr(err.msg, "T=0"));
  assert_int_equal(sc_softcap_forward(ew, 0, 15.0f, none, none, &err), 0); /* nothing to do */
  sc_buffer_release(&ctx, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swiglu_cases), cmocka_unit_test(test_softcap_cases),
      cmocka_unit_test(test_ogate_cases),  cmocka_unit_test(test_residual_cases),
      cmocka_unit_test(test_gates_cases),  cmocka_unit_test(test_elementwise_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
