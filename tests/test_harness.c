/* The comparison helpers the op tests rely on: a NaN or inf on one side only fails, the same non-finite value on
 * both sides matches, and the NMSE bound is checked on its own (a case within atol everywhere can still fail it). */
#include <math.h>
#include <string.h>

#include "op_cases.h"

static void test_nonfinite_mismatch_fails(void **state) {
  (void)state;
  const th_tol tol = {1e-3, 1e-3, 1e-6};
  const double ref[4] = {1, NAN, INFINITY, 2};
  float got[4] = {1, NAN, INFINITY, 2};
  th_cmp c = th_compare(got, ref, 4, tol);
  assert_int_equal(c.fails, 0);
  got[1] = 0; /* the reference is NaN, the device value is not */
  c = th_compare(got, ref, 4, tol);
  assert_int_equal(c.fails, 1);
  assert_int_equal(c.nonfinite, 1);
  assert_int_equal(c.worst, 1);
  got[1] = NAN, got[2] = -INFINITY; /* an inf of the other sign */
  assert_int_equal(th_compare(got, ref, 4, tol).fails, 1);
  got[2] = INFINITY, got[3] = NAN; /* the device value is NaN, the reference is not */
  assert_int_equal(th_compare(got, ref, 4, tol).nonfinite, 1);
}

static void test_nmse_bound(void **state) {
  (void)state;
  /* Every element within atol, but the NMSE is 1e-2: the case fails on the NMSE alone. */
  const double ref[2] = {0.1, -0.1};
  const float got[2] = {0.11f, -0.11f};
  const th_op_case row = {.op = "test", .tag = "nmse", .tol = {0.05, 0, 1e-4}};
  th_case cs;
  th_case_begin(&cs, &row, "two elements");
  th_case_compare(&cs, "x", got, ref, 2, row.tol);
  assert_non_null(strstr(cs.failure, "NMSE"));
  th_case_begin(&cs, &row, "two elements");
  th_case_compare(&cs, "x", got, ref, 2, (th_tol){0.05, 0, 1e-1});
  assert_string_equal(cs.failure, "");
  th_case_end(&cs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nonfinite_mismatch_fails),
      cmocka_unit_test(test_nmse_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
