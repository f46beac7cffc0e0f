/* The comparison helpers the op tests rely on: a NaN or inf on one side only fails, the same non-finite value on
 * both sides matches, and the NMSE bound is checked on its own (a case within atol everywhere can still fail it),
 * by sc_compare, sc_check_result_compare and th_assert_close. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "op_cases.h"

static void test_nonfinite_mismatch_fails(void **state) {
  (void)state;
  const sc_tol tol = {1e-3, 1e-3, 1e-6, 0};
  const double ref[4] = {1, NAN, INFINITY, 2};
  float got[4] = {1, NAN, INFINITY, 2};
  sc_cmp c = sc_compare(got, ref, 4, tol);
  assert_int_equal(c.fails, 0);
  got[1] = 0; /* the reference is NaN, the device value is not */
  c = sc_compare(got, ref, 4, tol);
  assert_int_equal(c.fails, 1);
  assert_int_equal(c.nonfinite, 1);
  assert_int_equal(c.worst, 1);
  got[1] = NAN, got[2] = -INFINITY; /* an inf of the other sign */
  assert_int_equal(sc_compare(got, ref, 4, tol).fails, 1);
  got[2] = INFINITY, got[3] = NAN; /* the device value is NaN, the reference is not */
  c = sc_compare(got, ref, 4, tol);
  assert_int_equal(c.nonfinite, 1);
  assert_int_equal(c.fails, 1);
}

/* th_assert_close ends the running test when it fails, so it runs as the one test of a group in a child process. */
static struct {
  const float *got;
  const double *ref;
  size_t n;
  sc_tol tol;
} child;

static void child_test(void **state) {
  (void)state;
  th_assert_close("child", child.got, child.ref, child.n, child.tol);
}

/* The exit status of that child: 0 when th_assert_close passed. */
static int assert_close_status(const float *got, const double *ref, size_t n, sc_tol tol) {
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
  const sc_tol tol = {0.05, 0, 1e-4, 0};
  sc_check_result r;
  sc_check_result_begin(&r, "test", "two elements");
  sc_check_result_compare(&r, "x", got, ref, 2, tol);
  assert_non_null(strstr(r.failure, "NMSE"));
  sc_check_result_begin(&r, "test", "two elements");
  sc_check_result_compare(&r, "x", got, ref, 2, (sc_tol){0.05, 0, 1e-1, 0});
  assert_string_equal(r.failure, "");
  /* The NMSE itself, over the finite elements only: (0.01^2 + 0.01^2) / (0.1^2 + 0.1^2). */
  const double ref4[4] = {0.1, NAN, -0.1, INFINITY};
  const float got4[4] = {0.11f, NAN, -0.11f, INFINITY};
  const sc_cmp c = sc_compare(got4, ref4, 4, tol);
  assert_true(fabs(c.nmse - 1e-2) < 1e-6);
  assert_int_equal(c.fails, 0);
  assert_int_equal(assert_close_status(got4, ref4, 4, tol), 1);
  assert_int_equal(assert_close_status(got4, ref4, 4, (sc_tol){0.05, 0, 1e-1, 0}), 0);
  /* One-sided NaN in the reference fails th_assert_close as well. */
  const float zero[4] = {0.11f, 0, -0.11f, INFINITY};
  assert_int_equal(assert_close_status(zero, ref4, 4, (sc_tol){0.05, 0, 1e-1, 0}), 1);
}

/* scalecl check's verdict on planted results: it passes only when every case passed and at least one ran, and
 * names the worst case. */
static void test_check_verdict(void **state) {
  (void)state;
  const double ref[3] = {1, 2, 3};
  const float good[3] = {1, 2, 3.00001f}, bad[3] = {1, 2.5f, 3};
  const sc_tol tol = {1e-4, 1e-4, 1e-6, 0};
  sc_check_result r[3];
  sc_check_result_begin(&r[0], "gemm", "good");
  sc_check_result_compare(&r[0], "C", good, ref, 3, tol);
  sc_check_result_begin(&r[1], "norm", "bad");
  sc_check_result_compare(&r[1], "y", good, ref, 3, tol);
  sc_check_result_compare(&r[1], "dx", bad, ref, 3, tol);
  sc_check_result_begin(&r[2], "xent", "planted");
  sc_check_result_compare(&r[2], "loss", good, ref, 1, tol);
  sc_check_result_fail(&r[2], "T = 1: loss %g, expected exactly 0", 0.5);
  char line[512];
  sc_check_verdict v = sc_check_verdict_of(r, 1);
  assert_true(sc_check_verdict_passed(&v));
  sc_check_verdict_line(&v, line, sizeof line);
  assert_non_null(strstr(line, "PASS: 1 cases"));
  v = sc_check_verdict_of(r, 3);
  assert_false(sc_check_verdict_passed(&v));
  assert_int_equal(v.failed, 2);
  assert_ptr_equal(v.worst, &r[1]);
  assert_non_null(strstr(r[1].failure, "dx: 1 of 3 elements"));
  sc_check_verdict_line(&v, line, sizeof line);
  assert_non_null(strstr(line, "FAIL: 2 of 3 cases"));
  assert_non_null(strstr(line, "norm bad (dx"));
  v = sc_check_verdict_of(r, 0);
  assert_false(sc_check_verdict_passed(&v));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nonfinite_mismatch_fails),
      cmocka_unit_test(test_nmse_bound),
      cmocka_unit_test(test_check_verdict),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
