#include "ops/gemm.h"

#include <cjson/cJSON.h>
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/settings.h"
#include "runtime/kargs.h"
#include "runtime/profile.h"
#include "runtime/program.h"
#include "runtime/scratch.h"

/* Register block of the own kernel: RM rows x RN columns per work-item. */
enum { OWN_RM = 8, OWN_RN = 16 };

/* Scratch: B packed into column panels for the own kernel, and CLBlast's indirect-GEMM buffer. */
enum { W_PACKED, W_TEMP, W_COUNT };
static const char *const scratch_names[W_COUNT] = {"GEMM packed B", "CLBlast GEMM temp buffer"};

/* Own-kernel variants are specialised by transpose pair: index = transA*2 + transB. */
struct sc_gemm {
  sc_ctx *c;
  sc_kernels own[4]; /* pack_b, gemm, gemm_rows */
  sc_scratch w;
  sc_gemm_backend preferred; /* what SC_GEMM_AUTO means on this device */
};

const char *sc_gemm_backend_name(sc_gemm_backend b) {
  return b == SC_GEMM_OWN ? "own" : b == SC_GEMM_CLBLAST ? "clblast" : "auto";
}

static const char *clblast_errname(CLBlastStatusCode s) {
  switch (s) {
    case CLBlastNotImplemented:
      return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA:
      return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB:
      return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC:
      return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA:
      return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB:
      return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC:
      return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage:
      return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision:
      return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision:
      return "CLBlastNoDoublePrecision";
    case CLBlastInvalidBatchCount:
      return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel:
      return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter:
      return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalThreadsTotal:
      return "CLBlastInvalidLocalThreadsTotal";
    case CLBlastInvalidLocalThreadsDim:
      return "CLBlastInvalidLocalThreadsDim";
    case CLBlastUnknownError:
      return "CLBlastUnknownError";
    case CLBlastUnexpectedError:
      return "CLBlastUnexpectedError";
    default:
      return sc_cl_errname((cl_int)s);
  }
}

/* Applies the profile's CLBlast parameter overrides ("clblast": {kernel: {param: value}}) and its
 * "gemm_backend". */
static int apply_profile(sc_gemm *g, const cJSON *root, const char *path, sc_err *err) {
  const cJSON *backend = cJSON_GetObjectItemCaseSensitive(root, "gemm_backend");
  if (backend) {
    if (cJSON_IsString(backend) && !strcmp(backend->valuestring, "own"))
      g->preferred = SC_GEMM_OWN;
    else if (!cJSON_IsString(backend) || strcmp(backend->valuestring, "clblast") != 0)
      return sc_fail(err, "profile %s: \"gemm_backend\" must be \"clblast\" or \"own\"", path);
  }
  const cJSON *kernels = cJSON_GetObjectItemCaseSensitive(root, "clblast"), *k;
  cJSON_ArrayForEach(k, kernels) {
    const char *names[64];
    size_t values[64], n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, k) {
      if (n < 64 && cJSON_IsNumber(p)) {
        names[n] = p->string;
        values[n++] = (size_t)p->valuedouble;
      }
    }
    CLBlastStatusCode s = CLBlastOverrideParameters(g->c->dev.id, k->string, CLBlastPrecisionSingle, n, names, values);
    if (s != CLBlastSuccess)
      return sc_fail(err, "profile %s: CLBlast rejected the %s parameters: %s", path, k->string, clblast_errname(s));
  }
  return 0;
}

int sc_gemm_create(sc_ctx *c, sc_gemm **out, sc_err *err) {
  *out = NULL;
  const char *e = sc_settings_get()->gemm;
  if (*e && strcasecmp(e, "own") && strcasecmp(e, "clblast"))
    return sc_fail(err, "SCALECL_GEMM='%s': expected 'clblast' or 'own'", e);
  sc_gemm *g = sc_calloc(1, sizeof *g, "GEMM state", err);
  if (!g) return -1;
  g->c = c;
  sc_scratch_init(&g->w, c, W_COUNT, scratch_names, "use smaller matrices or split the batch");
  g->preferred = SC_GEMM_CLBLAST;
  cJSON *root;
  char path[4400];
  int rc = sc_profile_find(c, &root, path, sizeof path, err);
  if (!rc && root) rc = apply_profile(g, root, path, err);
  cJSON_Delete(root);
  if (rc) {
    free(g);
    return -1;
  }
  if (*e) g->preferred = strcasecmp(e, "own") ? SC_GEMM_CLBLAST : SC_GEMM_OWN;
  *out = g;
  return 0;
}

sc_gemm_backend sc_gemm_default(const sc_gemm *g) {
  return g->preferred;
}

static int own_kernels(sc_gemm *g, int ta, int tb, sc_err *err) {
  int v = ta * 2 + tb;
  if (g->own[v].n) return 0;
  char defs[128];
  snprintf(defs, sizeof defs, "TRANSA=%d TRANSB=%d RM=%d RN=%d", ta, tb, OWN_RM, OWN_RN);
  static const char *const names[] = {"pack_b", "gemm", "gemm_rows"};
  return sc_kernels_build(g->c, "gemm.cl", defs, names, 3, &g->own[v], err);
}

/* The kernel for a few rows times a transposed B (decoding: the activations of one token per sequence times a
 * weight stored (out, in)): B read in place, no packing. */
static int own_gemm_rows(sc_gemm *g, int v, size_t M, size_t N, size_t K, float alpha, sc_view A, size_t lda, size_t sA,
                         sc_view B, size_t ldb, size_t sB, float beta, sc_view C, size_t ldc, size_t sC, size_t batch,
                         sc_err *err) {
  enum { RC = 4 }; /* columns per work-item, as cl/gemm.cl */
  sc_kargs a;
  sc_kargs_begin(&a, g->own[v].k[2], "gemm_rows");
  sc_karg_i32(&a, (int32_t)M), sc_karg_i32(&a, (int32_t)N), sc_karg_i32(&a, (int32_t)K), sc_karg_f32(&a, alpha);
  sc_karg_view(&a, A), sc_karg_i32(&a, (int32_t)lda), sc_karg_u64(&a, sA);
  sc_karg_view(&a, B), sc_karg_i32(&a, (int32_t)ldb), sc_karg_u64(&a, sB), sc_karg_f32(&a, beta);
  sc_karg_view(&a, C), sc_karg_i32(&a, (int32_t)ldc), sc_karg_u64(&a, sC);
  if (sc_kargs_end(&a, err)) return -1;
  const size_t global[3] = {(N + RC - 1) / RC, 1, batch}, local[3] = {1, 1, 1};
  return sc_launch(g->c, g->own[v].k[2], 3, global, local, "gemm_rows", err);
}

static int own_gemm(sc_gemm *g, int ta, int tb, size_t M, size_t N, size_t K, float alpha, sc_view A, size_t lda,
                    size_t sA, sc_view B, size_t ldb, size_t sB, float beta, sc_view C, size_t ldc, size_t sC,
                    size_t batch, sc_err *err) {
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return sc_fail(err, "GEMM dimension above 2^31");
  if (own_kernels(g, ta, tb, err)) return -1;
  int v = ta * 2 + tb;
  if (!ta && tb && M <= OWN_RM)
    return own_gemm_rows(g, v, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch, err);
  size_t panels = (N + OWN_RN - 1) / OWN_RN;
  if (sc_scratch_need(&g->w, W_PACKED, batch * panels * OWN_RN * (K ? K : 1) * sizeof(float), err)) return -1;
  const cl_mem P = g->w.buf[W_PACKED];
  sc_kargs pa, ga;
  sc_kargs_begin(&pa, g->own[v].k[0], "pack_b");
  sc_karg_i32(&pa, (int32_t)N), sc_karg_i32(&pa, (int32_t)K);
  sc_karg_view(&pa, B), sc_karg_i32(&pa, (int32_t)ldb), sc_karg_u64(&pa, sB);
  sc_karg_mem(&pa, P);
  sc_kargs_begin(&ga, g->own[v].k[1], "gemm");
  sc_karg_i32(&ga, (int32_t)M), sc_karg_i32(&ga, (int32_t)N), sc_karg_i32(&ga, (int32_t)K), sc_karg_f32(&ga, alpha);
  sc_karg_view(&ga, A), sc_karg_i32(&ga, (int32_t)lda), sc_karg_u64(&ga, sA);
  sc_karg_mem(&ga, P), sc_karg_f32(&ga, beta);
  sc_karg_view(&ga, C), sc_karg_i32(&ga, (int32_t)ldc), sc_karg_u64(&ga, sC);
  if (sc_kargs_end(&pa, err) || sc_kargs_end(&ga, err)) return -1;
  size_t pglobal[3] = {panels * OWN_RN, K, batch};
  if (K && sc_launch(g->c, g->own[v].k[0], 3, pglobal, NULL, "pack_b", err)) return -1;
  size_t global[3] = {panels, (M + OWN_RM - 1) / OWN_RM, batch};
  size_t local[3] = {1, 1, 1};
  return sc_launch(g->c, g->own[v].k[1], 3, global, local, "gemm", err);
}

static int check_args(size_t M, size_t N, size_t K, int ta, int tb, size_t lda, size_t ldb, size_t ldc, sc_err *err) {
  size_t acols = ta ? M : K, bcols = tb ? K : N;
  if (lda < (acols ? acols : 1)) return sc_fail(err, "GEMM: lda=%zu is below the row length %zu of A", lda, acols);
  if (ldb < (bcols ? bcols : 1)) return sc_fail(err, "GEMM: ldb=%zu is below the row length %zu of B", ldb, bcols);
  if (ldc < (N ? N : 1)) return sc_fail(err, "GEMM: ldc=%zu is below the row length %zu of C", ldc, N);
  return 0;
}

/* Every view present and on a float: the own kernels and CLBlast take offsets in floats. */
static int check_views(sc_view A, sc_view B, sc_view C, sc_err *err) {
  const sc_view v[] = {A, B, C};
  static const char *const names[] = {"A", "B", "C"};
  if (sc_views_present("GEMM", v, names, 3, err)) return -1;
  for (int j = 0; j < 3; j++)
    if (v[j].off % sizeof(float))
      return sc_fail(err, "GEMM: the view of %s starts at byte %zu, not on a float (place tensors at multiples of 4)",
                     names[j], v[j].off);
  return 0;
}

int sc_gemm_run(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
                sc_view A, size_t lda, sc_view B, size_t ldb, float beta, sc_view C, size_t ldc, sc_err *err) {
  if (check_args(M, N, K, transA, transB, lda, ldb, ldc, err) || check_views(A, B, C, err)) return -1;
  if (M == 0 || N == 0) return 0;
  if (be == SC_GEMM_AUTO) be = g->preferred;
  if (be == SC_GEMM_OWN)
    return own_gemm(g, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, err);
  CLBlastTranspose ta = transA ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb = transB ? CLBlastTransposeYes : CLBlastTransposeNo;
  const size_t offA = A.off / 4, offB = B.off / 4, offC = C.off / 4;
  size_t need = 0;
  CLBlastStatusCode s = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, M, N, K, offA, lda, offB, ldb, offC,
                                                   ldc, &g->c->queue, &need);
  if (s != CLBlastSuccess)
    return sc_fail(err, "CLBlastSGemmTempBufferSize(%zux%zux%zu): %s", M, N, K, clblast_errname(s));
  if (sc_scratch_need(&g->w, W_TEMP, need, err)) return -1;
  const cl_mem temp = g->w.buf[W_TEMP];
  s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A.buf, offA, lda, B.buf, offB, ldb,
                                 beta, C.buf, offC, ldc, &g->c->queue, NULL, temp ? temp : C.buf);
  if (s != CLBlastSuccess)
    return sc_fail(err, "CLBlastSgemm(%s%s, %zux%zux%zu) failed: %s", transA ? "T" : "N", transB ? "T" : "N", M, N, K,
                   clblast_errname(s));
  return 0;
}

int sc_gemm_run_batched(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K,
                        float alpha, sc_view A, size_t lda, size_t strideA, sc_view B, size_t ldb, size_t strideB,
                        float beta, sc_view C, size_t ldc, size_t strideC, size_t batch, sc_err *err) {
  if (check_args(M, N, K, transA, transB, lda, ldb, ldc, err) || check_views(A, B, C, err)) return -1;
  if (M == 0 || N == 0 || batch == 0) return 0;
  if (be == SC_GEMM_AUTO) be = g->preferred;
  if (be == SC_GEMM_OWN)
    return own_gemm(g, transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch,
                    err);
  CLBlastStatusCode s = CLBlastSgemmStridedBatched(
      CLBlastLayoutRowMajor, transA ? CLBlastTransposeYes : CLBlastTransposeNo,
      transB ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha, A.buf, A.off / 4, lda, strideA, B.buf,
      B.off / 4, ldb, strideB, beta, C.buf, C.off / 4, ldc, strideC, batch, &g->c->queue, NULL);
  if (s != CLBlastSuccess)
    return sc_fail(err, "CLBlastSgemmStridedBatched(%zu x %zux%zux%zu) failed: %s", batch, M, N, K, clblast_errname(s));
  return 0;
}

void sc_gemm_destroy(sc_gemm *g) {
  if (!g) return;
  for (int i = 0; i < 4; i++) sc_kernels_release(&g->own[i]);
  sc_scratch_release(&g->w);
  free(g);
}
