/* GEMM API (CLBlast and own kernel) against a float64 host reference on odd shapes, every
 * transpose pair, non-zero beta, offsets and strided batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/gemm.h"

static sc_err err;

typedef struct {
  size_t m, n, k;
} shape;

/* Reference: C = alpha*op(A)*op(B) + beta*C0, row-major, in double. */
static void ref_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda,
                     const float *B, size_t ldb, double beta, const float *C0, size_t ldc, double *out) {
  for (size_t i = 0; i < M; i++)
    for (size_t j = 0; j < N; j++) {
      double s = 0;
      for (size_t k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      out[i * N + j] = alpha * s + (beta != 0 ? beta * C0[i * ldc + j] : 0);
    }
}

/* Runs one case through a backend; batch > 1 uses the strided-batched call with padded strides
 * and a non-zero base offset. */
static void run_case(sc_ctx *c, sc_gemm *g, sc_gemm_backend be, int ta, int tb, shape s, float alpha, float beta,
                     size_t batch, th_rng *rng) {
  size_t lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 1, ldc = s.n + 2;
  size_t arows = ta ? s.k : s.m, brows = tb ? s.n : s.k;
  size_t sA = arows * lda + 5, sB = brows * ldb + 7, sC = s.m * ldc + 1, off = 11;
  size_t nA = off + sA * batch, nB = off + sB * batch, nC = off + sC * batch;
  float *A = malloc(nA * 4), *B = malloc(nB * 4), *C = malloc(nC * 4), *Cout = malloc(nC * 4);
  double *ref = malloc(s.m * s.n * sizeof(double) + 8);
  assert_true(A && B && C && Cout && ref);
  th_fill_normal(rng, A, nA, 0, 1);
  th_fill_normal(rng, B, nB, 0, 1);
  th_fill_normal(rng, C, nC, 0, 1);
  if (beta == 0.0f)
    for (size_t i = 0; i < nC; i++) C[i] = NAN; /* beta = 0 must not read C */
  cl_mem dA, dB, dC;
  assert_int_equal(sc_buffer_create(c, nA * 4, "A", &dA, &err), 0);
  assert_int_equal(sc_buffer_create(c, nB * 4, "B", &dB, &err), 0);
  assert_int_equal(sc_buffer_create(c, nC * 4, "C", &dC, &err), 0);
  assert_int_equal(sc_buffer_write(c, dA, 0, nA * 4, A, &err), 0);
  assert_int_equal(sc_buffer_write(c, dB, 0, nB * 4, B, &err), 0);
  assert_int_equal(sc_buffer_write(c, dC, 0, nC * 4, C, &err), 0);
  /* Every matrix at an odd element offset inside its buffer. */
  const sc_view vA = {dA, off * 4}, vB = {dB, off * 4}, vC = {dC, off * 4};
  int rc = batch == 1 ? sc_gemm_run(g, be, ta, tb, s.m, s.n, s.k, alpha, vA, lda, vB, ldb, beta, vC, ldc, &err)
                      : sc_gemm_run_batched(g, be, ta, tb, s.m, s.n, s.k, alpha, vA, lda, sA, vB, ldb, sB, beta, vC,
                                            ldc, sC, batch, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(sc_buffer_read(c, dC, 0, nC * 4, Cout, &err), 0);
  char label[160];
  for (size_t b = 0; b < batch; b++) {
    ref_gemm(ta, tb, s.m, s.n, s.k, alpha, A + off + b * sA, lda, B + off + b * sB, ldb, beta, C + off + b * sC, ldc,
             ref);
    float *got = malloc(s.m * s.n * 4 + 4);
    assert_non_null(got);
    for (size_t i = 0; i < s.m; i++) memcpy(got + i * s.n, Cout + off + b * sC + i * ldc, s.n * 4);
    /* fp32 accumulation over K terms of N(0,1) products: error grows like sqrt(K) * eps * |terms|. */
    double atol = 1e-5 * sqrt((double)s.k) * 4, rtol = 1e-4;
    snprintf(label, sizeof label, "%s %c%c %zux%zux%zu alpha=%g beta=%g batch %zu/%zu", sc_gemm_backend_name(be),
             ta ? 'T' : 'N', tb ? 'T' : 'N', s.m, s.n, s.k, alpha, beta, b + 1, batch);
    th_assert_close(label, got, ref, s.m * s.n, atol, rtol);
    /* Padding between rows and batches is untouched. */
    for (size_t i = 0; i < s.m; i++)
      for (size_t j = s.n; j < ldc && (b * sC + i * ldc + j) < sC * batch; j++) {
        float before = C[off + b * sC + i * ldc + j], after = Cout[off + b * sC + i * ldc + j];
        assert_true(memcmp(&before, &after, 4) == 0);
      }
    free(got);
  }
  sc_buffer_release(c, dA);
  sc_buffer_release(c, dB);
  sc_buffer_release(c, dC);
  free(A);
  free(B);
  free(C);
  free(Cout);
  free(ref);
}

static const shape shapes[] = {{1, 1, 1}, {17, 33, 65}, {256, 3, 511}, {5, 130, 9}, {64, 48, 16}};

static void all_cases(sc_gemm_backend be) {
  sc_ctx c;
  th_ctx_open(&c);
  sc_gemm *g;
  TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
  th_rng rng;
  th_rng_seed(&rng, 42);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        run_case(&c, g, be, ta, tb, shapes[s], 1.0f, 0.0f, 1, &rng);
        run_case(&c, g, be, ta, tb, shapes[s], -0.75f, 0.5f, 1, &rng);
      }
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      run_case(&c, g, be, ta, tb, (shape){17, 33, 65}, 0.5f, 1.5f, 3, &rng);
      run_case(&c, g, be, ta, tb, (shape){1, 1, 1}, 1.0f, 0.0f, 4, &rng);
    }
  /* Extreme values: large magnitudes stay finite and exact in relative terms. */
  run_case(&c, g, be, 0, 1, (shape){9, 7, 5}, 1e15f, 0.0f, 1, &rng);
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
}

static void test_own(void **state) {
  (void)state;
  all_cases(SC_GEMM_OWN);
}

static void test_clblast(void **state) {
  (void)state;
  all_cases(SC_GEMM_CLBLAST);
}

/* The two backends agree on an LM-like shape (cross-check of the own kernel). */
static void test_backends_agree(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  sc_gemm *g;
  TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
  size_t M = 200, N = 96, K = 300;
  th_rng rng;
  th_rng_seed(&rng, 7);
  float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C1 = malloc(M * N * 4), *C2 = malloc(M * N * 4);
  double *c1d = malloc(M * N * sizeof(double));
  assert_true(A && B && C1 && C2 && c1d);
  th_fill_normal(&rng, A, M * K, 0, 1);
  th_fill_normal(&rng, B, K * N, 0, 1);
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
  th_assert_close("own vs CLBlast 200x96x300", C2, c1d, M * N, 1e-4, 1e-4);
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

  write_profile(dir, "{\"match\": [\"no-such-device\"], \"gemm_backend\": \"own\"}");
  expect_backend(SC_GEMM_CLBLAST, NULL);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_own),
      cmocka_unit_test(test_clblast),
      cmocka_unit_test(test_backends_agree),
      cmocka_unit_test(test_default_backend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
