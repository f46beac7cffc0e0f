/* GEMM API (CLBlast, own kernels in both variants, and the host's BLAS on CPU devices) against the float64
 * reference (ref/gemm.h) on the op-case table's rows (odd shapes, every transpose pair, non-zero beta, view offsets,
 * strided batches, extreme values), the backends against each other on one shared buffer, the gpu variant under
 * other tiles and its tile errors, argument errors, the choice of the default backend, the host backend's device
 * check, and the OpenBLAS core-type fix. */
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

/* The op-case rows with the own kernels in the variant the test's state names (the setup sets it). */
static void test_gemm_cases(void **state) {
  printf("own kernels: %s variant\n", (const char *)*state);
  th_run_op_cases(&ctx, "gemm");
}

/* The own kernel against the float64 reference: `batch` products with every transpose pair, alpha and beta, A, B
 * and C at offsets in one buffer with padded leading dimensions and strides. */
static void expect_own_matches(sc_gemm *g, sc_ctx *c, size_t M, size_t N, size_t K, size_t batch, const char *what) {
  for (int t = 0; t < 4; t++) {
    const int ta = t / 2, tb = t % 2;
    const size_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
    const size_t sA = (ta ? K : M) * lda + 1, sB = (tb ? N : K) * ldb + 5, sC = M * ldc + 2;
    const size_t offA = 3, offB = offA + batch * sA, offC = offB + batch * sB, total = offC + batch * sC;
    float *host = malloc(total * 4), *got = malloc(total * 4), *row = malloc(M * N * 4);
    double *ref = malloc(M * N * sizeof(double));
    assert_true(host && got && row && ref);
    sc_rng rng;
    sc_rng_seed(&rng, 11 + (uint64_t)t);
    sc_rng_fill_normal(&rng, host, total, 0, 1);
    cl_mem buf;
    TH_CHECK(sc_buffer_create(c, total * 4, "arena", &buf, TH_ERR));
    TH_CHECK(sc_buffer_write(c, buf, 0, total * 4, host, TH_ERR));
    TH_CHECK(sc_gemm_run_batched(g, SC_GEMM_OWN, ta, tb, M, N, K, -0.5f, (sc_view){buf, offA * 4}, lda, sA,
                                 (sc_view){buf, offB * 4}, ldb, sB, 0.75f, (sc_view){buf, offC * 4}, ldc, sC, batch,
                                 TH_ERR));
    TH_CHECK(sc_buffer_read(c, buf, 0, total * 4, got, TH_ERR));
    for (size_t b = 0; b < batch; b++) {
      sc_ref_gemm(ta, tb, M, N, K, -0.5, host + offA + b * sA, lda, host + offB + b * sB, ldb, 0.75,
                  host + offC + b * sC, ldc, ref);
      for (size_t i = 0; i < M; i++) memcpy(row + i * N, got + offC + b * sC + i * ldc, N * 4);
      char label[160];
      snprintf(label, sizeof label, "own %s %c%c %zux%zux%zu batch %zu of %zu", what, ta ? 'T' : 'N', tb ? 'T' : 'N', M,
               N, K, b, batch);
      th_assert_close(label, row, ref, M * N, (sc_tol){1e-4, 1e-4, 1e-10, 0});
    }
    sc_buffer_release(c, buf);
    free(host);
    free(got);
    free(row);
    free(ref);
  }
}

/* Every backend matches the float64 reference on an LM-like shape with A, B and C in one buffer (an arena: the host
 * backend maps the buffer once); then argument errors. */
static void test_backends_agree(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  sc_gemm *g;
  TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
  const size_t M = 200, N = 96, K = 300, offA = 3, offB = offA + M * K + 5, offC = offB + K * N + 7;
  const size_t total = offC + M * N + 2;
  sc_rng rng;
  sc_rng_seed(&rng, 7);
  float *host = calloc(total, 4), *got = malloc(M * N * 4);
  double *ref = malloc(M * N * sizeof(double));
  assert_true(host && got && ref);
  sc_rng_fill_normal(&rng, host + offA, M * K, 0, 1);
  sc_rng_fill_normal(&rng, host + offB, K * N, 0, 1);
  sc_ref_gemm(0, 0, M, N, K, 1, host + offA, K, host + offB, N, 0, host + offC, N, ref);
  cl_mem arena;
  assert_int_equal(sc_buffer_create(&c, total * 4, "arena", &arena, &err), 0);
  assert_int_equal(sc_buffer_write(&c, arena, 0, total * 4, host, &err), 0);
  const sc_view vA = {arena, offA * 4}, vB = {arena, offB * 4}, vC = {arena, offC * 4};
  for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT; be++) {
    if (!sc_gemm_available(g, be)) continue;
    assert_int_equal(sc_buffer_fill_zero(&c, arena, offC * 4, M * N * 4, &err), 0);
    if (sc_gemm_run(g, be, 0, 0, M, N, K, 1, vA, K, vB, N, 0, vC, N, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sc_buffer_read(&c, arena, offC * 4, M * N * 4, got, &err), 0);
    char what[64];
    snprintf(what, sizeof what, "%s 200x96x300 in one buffer", sc_gemm_backend_name(be));
    th_assert_close(what, got, ref, M * N, (sc_tol){1e-4, 1e-4, 1e-10, 0});
  }
  /* Bad leading dimension: an error, not a crash. */
  assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, M, N, K, 1, vA, K - 1, vB, N, 0, vC, N, &err), -1);
  assert_non_null(strstr(err.msg, "lda"));
  /* A view off a float boundary, or a missing matrix: errors naming the matrix. */
  assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, M, N, K, 1, vA, K, sc_view_at(vB, 2), N, 0, vC, N, &err), -1);
  assert_non_null(strstr(err.msg, "view of B"));
  assert_int_equal(sc_gemm_run(g, SC_GEMM_CLBLAST, 0, 0, M, N, K, 1, vA, K, vB, N, 0, sc_view_of(NULL), N, &err), -1);
  assert_non_null(strstr(err.msg, "'C'"));
  sc_buffer_release(&c, arena);
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
  free(host);
  free(got);
  free(ref);
}

static void write_profile(const char *dir, const char *body) {
  char path[600];
  snprintf(path, sizeof path, "%s/test.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(body, f);
  fclose(f);
}

/* The gpu variant under tiles from a profile that differ from the defaults in every parameter (a K step that
 * divides nothing, no padding, work-groups of other shapes): shapes that span several tiles with edges in M, N and K;
 * then tiles that break the kernel's rules or the device's limits are errors naming the tiles. */
static void test_gpu_tiles(void **state) {
  (void)state;
  char dir[512];
  th_tmpdir("gemm-tiles", dir, sizeof dir);
  th_setenv("SCALECL_PROFILE_DIR", dir);
  th_setenv("SCALECL_KERNEL_VARIANT", "gpu");
  static const char *const tiles[] = {"{\"WGM\": 32, \"WGN\": 16, \"TM\": 4, \"TN\": 2, \"TK\": 5, \"PAD\": 0}",
                                      "{\"WGM\": 16, \"WGN\": 48, \"TM\": 1, \"TN\": 3, \"TK\": 32, \"PAD\": 2}"};
  for (int i = 0; i < 2; i++) {
    char body[512];
    snprintf(body, sizeof body, "{\"match\": [\"\"], \"tiles\": {\"gemm_gpu\": %s}}", tiles[i]);
    write_profile(dir, body);
    sc_ctx c;
    sc_gemm *g;
    th_ctx_open(&c);
    TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
    expect_own_matches(g, &c, 70, 37, 41, 2, "profile tiles");
    expect_own_matches(g, &c, 1, 1, 1, 1, "profile tiles");
    sc_gemm_destroy(g);
    sc_ctx_close(&c);
  }
  static const struct {
    const char *tiles, *needle;
  } bad[] = {
      {"{\"WGM\": 64, \"TM\": 3}", "multiple of TM"},
      {"{\"TK\": 0}", "TK must be"},
      {"{\"WGM\": 4096, \"WGN\": 4096, \"TM\": 1, \"TN\": 1}", "work-items"},
      {"{\"WGM\": 4096, \"WGN\": 4096, \"TM\": 256, \"TN\": 256, \"TK\": 64}", "__local"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char body[512];
    snprintf(body, sizeof body, "{\"match\": [\"\"], \"tiles\": {\"gemm_gpu\": %s}}", bad[i].tiles);
    write_profile(dir, body);
    sc_ctx c;
    sc_gemm *g;
    th_ctx_open(&c);
    TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
    cl_mem m;
    TH_CHECK(sc_buffer_create(&c, 64, "m", &m, TH_ERR));
    const sc_view v = sc_view_of(m);
    assert_int_equal(sc_gemm_run(g, SC_GEMM_OWN, 0, 0, 2, 2, 2, 1, v, 2, v, 2, 0, sc_view_at(v, 32), 2, &err), -1);
    if (!strstr(err.msg, bad[i].needle) || !strstr(err.msg, "gpu tiles"))
      fail_msg("tiles %s: expected an error with '%s', got: %s", bad[i].tiles, bad[i].needle, err.msg);
    sc_buffer_release(&c, m);
    sc_gemm_destroy(g);
    sc_ctx_close(&c);
  }
  th_setenv("SCALECL_KERNEL_VARIANT", NULL);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

/* Opens a context and a GEMM op: want >= 0 is the expected default backend, -1 a failed create whose message
 * contains `needle` (and the device's name when `deny_host`). deny_host makes the device look like one without
 * host-unified memory, where the host backend cannot run. */
static void expect_backend_on(int want, const char *needle, int deny_host) {
  sc_ctx c;
  sc_gemm *g = NULL;
  th_ctx_open(&c);
  if (deny_host) c.dev.host_unified = 0;
  int rc = sc_gemm_create(&c, &g, &err);
  if (want < 0) {
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, needle));
    if (deny_host) assert_non_null(strstr(err.msg, c.dev.name));
  } else {
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(sc_gemm_default(g), want);
  }
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
}

static void expect_backend(int want, const char *needle) {
  expect_backend_on(want, needle, 0);
}

/* The default backend comes from $SCALECL_GEMM, else the matching device profile, else CLBlast;
 * bad values, and host where the device cannot run it, are errors that name the file or variable. */
static void test_default_backend(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  const int host_ok = sc_gemm_host_capable(&c.dev);
  sc_ctx_close(&c);
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

  write_profile(dir, "{\"match\": [\"\"], \"gemm_backend\": \"host\"}");
  expect_backend(host_ok ? SC_GEMM_HOST : -1, "test.json");
  expect_backend_on(-1, "test.json", 1);
  th_setenv("SCALECL_GEMM", "own");
  expect_backend_on(SC_GEMM_OWN, NULL, 1); /* the variable overrides the profile: no host backend needed */
  th_setenv("SCALECL_GEMM", "HOST");
  expect_backend(host_ok ? SC_GEMM_HOST : -1, "SCALECL_GEMM=host");
  expect_backend_on(-1, "SCALECL_GEMM=host", 1);
  th_setenv("SCALECL_GEMM", NULL);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

/* Which devices run the host backend (a pure check of the device's type and memory), its error elsewhere, and the
 * backend names. */
static void test_host_backend_devices(void **state) {
  (void)state;
  sc_device_info d = {.type = CL_DEVICE_TYPE_CPU, .host_unified = 1};
  assert_true(sc_gemm_host_capable(&d));
  d.type = CL_DEVICE_TYPE_CPU | CL_DEVICE_TYPE_DEFAULT;
  assert_true(sc_gemm_host_capable(&d));
  d.host_unified = 0;
  assert_false(sc_gemm_host_capable(&d));
  d = (sc_device_info){.type = CL_DEVICE_TYPE_GPU, .host_unified = 1}; /* an integrated GPU */
  assert_false(sc_gemm_host_capable(&d));
  for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT; be++)
    assert_int_equal(sc_gemm_backend_parse(sc_gemm_backend_name(be)), be);
  assert_int_equal(sc_gemm_backend_parse("blas"), SC_GEMM_AUTO);

  sc_ctx c;
  th_ctx_open(&c);
  c.dev.host_unified = 0;
  sc_gemm *g;
  th_setenv("SCALECL_GEMM", "own"); /* the device's profile may choose host */
  TH_CHECK(sc_gemm_create(&c, &g, TH_ERR));
  th_setenv("SCALECL_GEMM", NULL);
  assert_false(sc_gemm_available(g, SC_GEMM_HOST));
  assert_true(sc_gemm_available(g, SC_GEMM_OWN));
  cl_mem m;
  TH_CHECK(sc_buffer_create(&c, 64, "m", &m, TH_ERR));
  const sc_view v = sc_view_of(m);
  assert_int_equal(sc_gemm_run(g, SC_GEMM_HOST, 0, 0, 2, 2, 2, 1, v, 2, v, 2, 0, sc_view_at(v, 32), 2, &err), -1);
  assert_non_null(strstr(err.msg, c.dev.name));
  assert_non_null(strstr(err.msg, "'host'"));
  sc_buffer_release(&c, m);
  sc_gemm_destroy(g);
  sc_ctx_close(&c);
}

/* OpenBLAS's fallback to kernels narrower than the CPU (Prescott on a CPU it does not know; Haswell or Zen on an
 * AVX-512 CPU) is replaced by the core type that fits the CPU's features; any other choice of OpenBLAS stands, and so
 * does an OPENBLAS_CORETYPE the user set. */
static void test_blas_core_fix(void **state) {
  (void)state;
  assert_string_equal(sc_gemm_blas_core_for("Prescott", 1, 1), "SKYLAKEX");
  assert_string_equal(sc_gemm_blas_core_for("Prescott", 1, 0), "HASWELL");
  assert_string_equal(sc_gemm_blas_core_for("Haswell", 1, 1), "SKYLAKEX");
  assert_string_equal(sc_gemm_blas_core_for("zen", 1, 1), "SKYLAKEX");
  assert_string_equal(sc_gemm_blas_core_for("Sandybridge", 1, 0), "HASWELL");
  assert_null(sc_gemm_blas_core_for("Prescott", 0, 0));
  assert_null(sc_gemm_blas_core_for("Cooperlake", 1, 1));
  assert_null(sc_gemm_blas_core_for("SkylakeX", 1, 1));
  assert_null(sc_gemm_blas_core_for("Zen", 1, 0));
  assert_null(sc_gemm_blas_core_for("Haswell", 1, 0));
  assert_null(sc_gemm_blas_core_for("SomeNewCore", 1, 1));
  char note[320] = "";
  sc_device_info cpu = {0}, gpu = {0};
  cpu.type = CL_DEVICE_TYPE_CPU, cpu.host_unified = 1, gpu.type = CL_DEVICE_TYPE_GPU;
  th_setenv("OPENBLAS_CORETYPE", "PRESCOTT");
  assert_int_equal(sc_gemm_blas_core_note(&gpu, note, sizeof note), 0); /* no host backend there */
  assert_null(sc_gemm_blas_core_fix());
#if defined(__x86_64__)
  /* a user's narrow choice stands but is named, with the fitting one */
  __builtin_cpu_init();
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  assert_int_equal(sc_gemm_blas_core_note(&cpu, note, sizeof note), avx2);
  if (avx2) {
    assert_non_null(strstr(note, "OPENBLAS_CORETYPE=PRESCOTT"));
    assert_true(strstr(note, "set HASWELL") || strstr(note, "set SKYLAKEX"));
  }
#endif
  th_setenv("OPENBLAS_CORETYPE", "COOPERLAKE");
  assert_int_equal(sc_gemm_blas_core_note(&cpu, note, sizeof note), 0);
  th_setenv("OPENBLAS_CORETYPE", NULL);
  assert_int_equal(sc_gemm_blas_core_note(&cpu, note, sizeof note), 0);
}

/* main runs itself again with OPENBLAS_THREAD_TIMEOUT=4 (idle OpenBLAS threads sleep at once instead of spinning on
 * the cores PoCL's kernels need), unless the user set it. */
static void test_blas_thread_timeout(void **state) {
  (void)state;
  const char *names[2], *values[2];
  th_setenv("OPENBLAS_CORETYPE", "COOPERLAKE");
  th_setenv("OPENBLAS_THREAD_TIMEOUT", NULL);
  assert_int_equal(sc_gemm_blas_env(names, values), 1);
  assert_string_equal(names[0], "OPENBLAS_THREAD_TIMEOUT");
  assert_string_equal(values[0], "4");
  th_setenv("OPENBLAS_THREAD_TIMEOUT", "28");
  assert_int_equal(sc_gemm_blas_env(names, values), 0);
  th_setenv("OPENBLAS_THREAD_TIMEOUT", NULL);
  th_setenv("OPENBLAS_CORETYPE", NULL);
}

/* state: the kernel variant ("cpu" or "gpu") the own kernels run in. */
static int setup(void **state) {
  th_setenv("SCALECL_KERNEL_VARIANT", *state);
  th_ctx_open(&ctx);
  if (sc_gemm_create(&ctx, &gemm, &err)) fail_msg("%s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_gemm_destroy(gemm);
  sc_ctx_close(&ctx);
  th_setenv("SCALECL_KERNEL_VARIANT", NULL);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      {"test_gemm_cases_cpu_variant", test_gemm_cases, setup, teardown, "cpu"},
      {"test_gemm_cases_gpu_variant", test_gemm_cases, setup, teardown, "gpu"},
      cmocka_unit_test(test_gpu_tiles),
      cmocka_unit_test(test_backends_agree),
      cmocka_unit_test(test_default_backend),
      cmocka_unit_test(test_host_backend_devices),
      cmocka_unit_test(test_blas_core_fix),
      cmocka_unit_test(test_blas_thread_timeout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
