/* GEMM API (CLBlast and own kernel) against the float64 reference (ref/gemm.h) on the op-case table's rows (odd
 * shapes, every transpose pair, non-zero beta, view offsets, strided batches, extreme values), the backends
 * against each other, argument errors, and the choice of the default backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/gemm.h"
#include "ref/gemm.h"

static sc_err err;
static sc_ctx ctx;
static sc_gemm *gemm;

static void test_gemm_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "gemm");
}

/* The two backends agree on an LM-like shape (cross-check of the own kernel). */
static void test_backends_agree(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  sc_gemm *g;
  TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
  size_t M = 200, N = 96, K = 300;
  sc_rng rng;
  sc_rng_seed(&rng, 7);
  float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C1 = malloc(M * N * 4), *C2 = malloc(M * N * 4);
  double *c1d = malloc(M * N * sizeof(double));
  assert_true(A && B && C1 && C2 && c1d);
  sc_rng_fill_normal(&rng, A, M * K, 0, 1);
  sc_rng_fill_normal(&rng, B, K * N, 0, 1);
  cl_mem dA, dB, dC;
  assert_int_equal(sc_buffer_create(&c, M * K * 4, "A", &dA, &err), 0);
  assert_int_equal(sc_buffer_create(&c, K * N * 4, "B", &dB, &err), 0);
  assert_int_equal(sc_buffer_create(&c, M * N * 4, "C", &dC, &err), 0);
  assert_int_equal(sc_buffer_write(&c, dA, 0, M * K * 4, A, &err), 0);
  assert_int_equal(sc_buffer_write(&c, dB, 0, K * N * 4, B, &err), 0);
  const sc_view vA = sc_view_of(dA), vB = sc_view_of(dB), vC = sc_view_of(dC);
  assert_int_equal(sc_gemm_run(g, SC_GEMM_CLBLAST, 0, 0, M, N, K, 1, vA, K, vB, N, 0, vC, N, &err), 0);
  assert_int_equal(sc_buffer_read(&c, dC, 0, M * N * 4, C1, &err), 0);
  assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, M, N, K, 1, vA, K, vB, N, 0, vC, N, &err), 0);
  assert_int_equal(sc_buffer_read(&c, dC, 0, M * N * 4, C2, &err), 0);
  for (size_t i = 0; i < M * N; i++) c1d[i] = C1[i];
  th_assert_close("own vs CLBlast 200x96x300", C2, c1d, M * N, (sc_tol){1e-4, 1e-4, 1e-10});
  /* Bad leading dimension: an error, not a crash. */
  assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, M, N, K, 1, vA, K - 1, vB, N, 0, vC, N, &err), -1);
  assert_non_null(strstr(err.msg, "lda"));
  /* A view off a float boundary, or a missing matrix: errors naming the matrix. */
  assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, M, N, K, 1, vA, K, sc_view_at(vB, 2), N, 0, vC, N, &err), -1);
  assert_non_null(strstr(err.msg, "view of B"));
  assert_int_equal(sc_gemm_run(g, SC_GEMM_CLBLAST, 0, 0, M, N, K, 1, vA, K, vB, N, 0, sc_view_of(NULL), N, &err), -1);
  assert_non_null(strstr(err.msg, "'C'"));
  sc_buffer_release(&c, dA);
  sc_buffer_release(&c, dB);
  sc_buffer_release(&c, dC);
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
  free(A);
  free(B);
  free(C1);
  free(C2);
  free(c1d);
}

static void write_profile(const char *dir, const char *body) {
  char path[600];
  snprintf(path, sizeof path, "%s/test.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(body, f);
  fclose(f);
}

/* Opens a context and a GEMM op: want >= 0 is the expected default backend, -1 a failed create whose message
 * contains `needle`. */
static void expect_backend(int want, const char *needle) {
  sc_ctx c;
  sc_gemm *g = NULL;
  th_ctx_open(&c);
  int rc = sc_gemm_create(&c, &g, &err);
  if (want < 0) {
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, needle));
  } else {
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(sc_gemm_default(g), want);
  }
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
}

/* The default backend comes from $SCALECL_GEMM, else the matching device profile, else CLBlast;
 * bad values are errors that name the file or variable. */
static void test_default_backend(void **state) {
  (void)state;
  char dir[512];
  th_tmpdir("profile", dir, sizeof dir);
  th_setenv("SCALECL_PROFILE_DIR", dir);
  expect_backend(SC_GEMM_CLBLAST, NULL);

  write_profile(dir, "{\"match\": [\"\"], \"gemm_backend\": \"own\"}");
  expect_backend(SC_GEMM_OWN, NULL);

  th_setenv("SCALECL_GEMM", "clblast");
  expect_backend(SC_GEMM_CLBLAST, NULL);

  th_setenv("SCALECL_GEMM", "cublas");
  expect_backend(-1, "SCALECL_GEMM");
  th_setenv("SCALECL_GEMM", NULL);

  write_profile(dir, "{\"match\": [\"\"], \"gemm_backend\": \"fast\"}");
  expect_backend(-1, "test.json");
  expect_backend(-1, "gemm_backend");

  write_profile(dir, "{\"match\": [\"\"], \"clblast\": {\"Xgemm\": {\"MWG\": 64}}}");
  expect_backend(-1, "Xgemm");

  /* A value is checked before its cast to size_t; a profile that is not JSON is quoted before its text is freed. */
  write_profile(dir, "{\"match\": [\"\"], \"clblast\": {\"Xgemm\": {\"MWG\": -1}}}");
  expect_backend(-1, "clblast.Xgemm.MWG must be a non-negative integer");
  write_profile(dir, "{\"match\": [\"\"], \"clblast\": [{\"MWG\": 64}]}");
  expect_backend(-1, "\"clblast\" must be an object");
  write_profile(dir, "{\"match\": [\"\"], \"clblast\": {\"Xgemm\": 64}}");
  expect_backend(-1, "clblast.Xgemm must be an object");
  write_profile(dir, "{\"match\": [\"\"], \"clblast\": {");
  expect_backend(-1, "is not valid JSON");

  write_profile(dir, "{\"match\": [\"no-such-device\"], \"gemm_backend\": \"own\"}");
  expect_backend(SC_GEMM_CLBLAST, NULL);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  if (sc_gemm_create(&ctx, &gemm, &err)) fail_msg("%s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_gemm_destroy(gemm);
  sc_ctx_close(&ctx);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_gemm_cases, setup, teardown),
      cmocka_unit_test(test_backends_agree),
      cmocka_unit_test(test_default_backend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
