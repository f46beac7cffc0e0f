/* The comparison helpers the op tests rely on: a NaN or inf on one side only fails, the same non-finite value on
 * both sides matches, and the NMSE bound is checked on its own (a case within atol everywhere can still fail it),
 * by th_compare, th_case_compare and th_assert_close. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
  c = th_compare(got, ref, 4, tol);
  assert_int_equal(c.nonfinite, 1);
  assert_int_equal(c.fails, 1);
}

/* th_assert_close ends the running test when it fails, so it runs as the one test of a group in a child process. */
static struct {
  const float *got;
  const double *ref;
  size_t n;
  th_tol tol;
} child;

static void child_test(void **state) {
  (void)state;
  th_assert_close("child", child.got, child.ref, child.n, child.tol);
}

/* The exit status of that child: 0 when th_assert_close passed. */
static int assert_close_status(const float *got, const double *ref, size_t n, th_tol tol) {
  fflush(stdout);
  const pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(100);
    child.got = got, child.ref = ref, child.n = n, child.tol = tol;
    const struct CMUnitTest one[] = {cmocka_unit_test(child_test)};
    _exit(cmocka_run_group_tests(one, NULL, NULL));
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
  /* The NMSE itself, over the finite elements only: (0.01^2 + 0.01^2) / (0.1^2 + 0.1^2). */
  const double ref4[4] = {0.1, NAN, -0.1, INFINITY};
  const float got4[4] = {0.11f, NAN, -0.11f, INFINITY};
  const th_cmp c = th_compare(got4, ref4, 4, row.tol);
  assert_true(fabs(c.nmse - 1e-2) < 1e-6);
  assert_int_equal(c.fails, 0);
  assert_int_equal(assert_close_status(got4, ref4, 4, row.tol), 1);
  assert_int_equal(assert_close_status(got4, ref4, 4, (th_tol){0.05, 0, 1e-1}), 0);
  /* One-sided NaN in the reference fails th_assert_close as well. */
  const float zero[4] = {0.11f, 0, -0.11f, INFINITY};
  assert_int_equal(assert_close_status(zero, ref4, 4, (th_tol){0.05, 0, 1e-1}), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nonfinite_mismatch_fails),
      cmocka_unit_test(test_nmse_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
