#include "gemm.h"

#include <clblast_c.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Register block of the own kernel: RM rows x RN columns per work-item. */
enum { OWN_RM = 8, OWN_RN = 16 };

/* Own-kernel variants are specialised by transpose pair: index = transA*2 + transB. */
struct sc_gemm_state {
  cl_program prog[4];
  cl_kernel kern[4], pack[4];
  cl_mem packed; /* B packed into column panels for the own kernel, grown on demand and kept */
  size_t packed_size;
  cl_mem temp; /* CLBlast's indirect-GEMM scratch, grown on demand and kept */
  size_t temp_size;
  sc_gemm_backend preferred; /* what SC_GEMM_AUTO means on this device */
};

const char *sc_gemm_backend_name(sc_gemm_backend b) {
  return b == SC_GEMM_OWN ? "own" : b == SC_GEMM_CLBLAST ? "clblast" : "auto";
}

static const char *clblast_errname(CLBlastStatusCode s) {
  switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInvalidBatchCount: return "CLBlastInvalidBatchCount";
    case CLBlastInvalidOverrideKernel: return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter: return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalThreadsTotal: return "CLBlastInvalidLocalThreadsTotal";
    case CLBlastInvalidLocalThreadsDim: return "CLBlastInvalidLocalThreadsDim";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return sc_cl_errname((cl_int)s);
  }
}

/* Applies CLBlast parameter overrides from the first profile in profile_dir whose "match"
 * strings all occur in the platform or device name. A missing directory means no overrides. */
static int apply_profile(sc_ctx *c, sc_err *err) {
  DIR *d = opendir(c->profile_dir);
  if (!d) return 0;
  struct dirent *ent;
  int rc = 0;
  while ((ent = readdir(d)) != NULL && rc == 0) {
    size_t nl = strlen(ent->d_name);
    if (nl < 6 || strcmp(ent->d_name + nl - 5, ".json") != 0) continue;
    char path[8400], *text;
    snprintf(path, sizeof path, "%s/%s", c->profile_dir, ent->d_name);
    if (sc_read_file(path, &text, NULL, err)) {
      rc = -1;
      break;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) {
      rc = sc_fail(err, "profile %s is not valid JSON (near '%.24s')", path,
                   cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "?");
      break;
    }
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(root, "match");
    int matches = cJSON_IsArray(match) && cJSON_GetArraySize(match) > 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, match) {
      if (!cJSON_IsString(m) || (!strstr(c->dev.name, m->valuestring) && !strstr(c->dev.platform_name, m->valuestring)))
        matches = 0;
    }
    if (!matches) {
      cJSON_Delete(root);
      continue;
    }
    const cJSON *backend = cJSON_GetObjectItemCaseSensitive(root, "gemm_backend");
    if (backend) {
      if (cJSON_IsString(backend) && !strcmp(backend->valuestring, "own"))
        c->gemm->preferred = SC_GEMM_OWN;
      else if (!cJSON_IsString(backend) || strcmp(backend->valuestring, "clblast") != 0)
        rc = sc_fail(err, "profile %s: \"gemm_backend\" must be \"clblast\" or \"own\"", path);
    }
    const cJSON *kernels = cJSON_GetObjectItemCaseSensitive(root, "clblast"), *k;
    cJSON_ArrayForEach(k, kernels) {
      if (rc) break;
      const char *names[64];
      size_t values[64], n = 0;
      const cJSON *p;
      cJSON_ArrayForEach(p, k) {
        if (n < 64 && cJSON_IsNumber(p)) {
          names[n] = p->string;
          values[n++] = (size_t)p->valuedouble;
        }
      }
      CLBlastStatusCode s = CLBlastOverrideParameters(c->dev.id, k->string, CLBlastPrecisionSingle, n, names, values);
      if (s != CLBlastSuccess)
        rc = sc_fail(err, "profile %s: CLBlast rejected the %s parameters: %s", path, k->string, clblast_errname(s));
    }
    cJSON_Delete(root);
    break;
  }
  closedir(d);
  return rc;
}

/* Creates the GEMM state on first use: applies the device profile and resolves the default
 * backend ($SCALECL_GEMM, else the profile's "gemm_backend", else CLBlast). */
static int state(sc_ctx *c, sc_err *err) {
  if (c->gemm) return 0;
  const char *e = getenv("SCALECL_GEMM");
  if (e && *e && strcasecmp(e, "own") && strcasecmp(e, "clblast"))
    return sc_fail(err, "SCALECL_GEMM='%s': expected 'clblast' or 'own'", e);
  c->gemm = sc_calloc(1, sizeof *c->gemm, "GEMM state", err);
  if (!c->gemm) return -1;
  c->gemm->preferred = SC_GEMM_CLBLAST;
  if (apply_profile(c, err)) {
    free(c->gemm);
    c->gemm = NULL;
    return -1;
  }
  if (e && *e) c->gemm->preferred = strcasecmp(e, "own") ? SC_GEMM_CLBLAST : SC_GEMM_OWN;
  return 0;
}

int sc_gemm_default(sc_ctx *c, sc_gemm_backend *out, sc_err *err) {
  if (state(c, err)) return -1;
  *out = c->gemm->preferred;
  return 0;
}

static int own_kernels(sc_ctx *c, int ta, int tb, sc_err *err) {
  int v = ta * 2 + tb;
  if (c->gemm->kern[v]) return 0;
  char defs[128];
  snprintf(defs, sizeof defs, "TRANSA=%d TRANSB=%d RM=%d RN=%d", ta, tb, OWN_RM, OWN_RN);
  if (sc_program_build(c, "gemm.cl", defs, NULL, &c->gemm->prog[v], NULL, err)) return -1;
  if (sc_kernel_create(c->gemm->prog[v], "pack_b", &c->gemm->pack[v], err)) return -1;
  return sc_kernel_create(c->gemm->prog[v], "gemm", &c->gemm->kern[v], err);
}

static int grow(sc_ctx *c, cl_mem *buf, size_t *have, size_t need, const char *what, sc_err *err) {
  if (need <= *have) return 0;
  sc_buffer_release(c, *buf);
  *buf = NULL;
  *have = 0;
  if (sc_buffer_create(c, need, what, buf, err)) return -1;
  *have = need;
  return 0;
}

static int own_gemm(sc_ctx *c, int ta, int tb, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t offA,
                    size_t lda, size_t sA, cl_mem B, size_t offB, size_t ldb, size_t sB, float beta, cl_mem C,
                    size_t offC, size_t ldc, size_t sC, size_t batch, sc_err *err) {
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return sc_fail(err, "GEMM dimension above 2^31");
  if (own_kernels(c, ta, tb, err)) return -1;
  int v = ta * 2 + tb;
  size_t panels = (N + OWN_RN - 1) / OWN_RN;
  if (grow(c, &c->gemm->packed, &c->gemm->packed_size, batch * panels * OWN_RN * (K ? K : 1) * sizeof(float),
           "GEMM packed B", err))
    return -1;
  cl_int m = (cl_int)M, n = (cl_int)N, kk = (cl_int)K, la = (cl_int)lda, lb = (cl_int)ldb, lc = (cl_int)ldc;
  cl_ulong oa = offA, ob = offB, oc = offC, sa = sA, sb = sB, sc = sC;
  cl_mem P = c->gemm->packed;
  const void *pargs[] = {&n, &kk, &B, &ob, &lb, &sb, &P};
  const size_t psizes[] = {4, 4, sizeof B, 8, 4, 8, sizeof P};
  const void *gargs[] = {&m, &n, &kk, &alpha, &A, &oa, &la, &sa, &P, &beta, &C, &oc, &lc, &sc};
  const size_t gsizes[] = {4, 4, 4, 4, sizeof A, 8, 4, 8, sizeof P, 4, sizeof C, 8, 4, 8};
  if (sc_set_args(c->gemm->pack[v], "pack_b", 7, psizes, pargs, err) ||
      sc_set_args(c->gemm->kern[v], "gemm", 14, gsizes, gargs, err))
    return -1;
  size_t pglobal[3] = {panels * OWN_RN, K, batch};
  if (K && sc_launch(c, c->gemm->pack[v], 3, pglobal, NULL, "pack_b", err)) return -1;
  size_t global[3] = {panels, (M + OWN_RM - 1) / OWN_RM, batch};
  size_t local[3] = {1, 1, 1};
  return sc_launch(c, c->gemm->kern[v], 3, global, local, "gemm", err);
}

static int check_args(size_t M, size_t N, size_t K, int ta, int tb, size_t lda, size_t ldb, size_t ldc, sc_err *err) {
  size_t acols = ta ? M : K, bcols = tb ? K : N;
  if (lda < (acols ? acols : 1)) return sc_fail(err, "GEMM: lda=%zu is below the row length %zu of A", lda, acols);
  if (ldb < (bcols ? bcols : 1)) return sc_fail(err, "GEMM: ldb=%zu is below the row length %zu of B", ldb, bcols);
  if (ldc < (N ? N : 1)) return sc_fail(err, "GEMM: ldc=%zu is below the row length %zu of C", ldc, N);
  return 0;
}

int sc_gemm(sc_ctx *c, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
            cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C, size_t offC,
            size_t ldc, sc_err *err) {
  if (state(c, err) || check_args(M, N, K, transA, transB, lda, ldb, ldc, err)) return -1;
  if (M == 0 || N == 0) return 0;
  if (be == SC_GEMM_AUTO) be = c->gemm->preferred;
  if (be == SC_GEMM_OWN)
    return own_gemm(c, transA, transB, M, N, K, alpha, A, offA, lda, 0, B, offB, ldb, 0, beta, C, offC, ldc, 0, 1,
                    err);
  CLBlastTranspose ta = transA ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb = transB ? CLBlastTransposeYes : CLBlastTransposeNo;
  size_t need = 0;
  CLBlastStatusCode s = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, M, N, K, offA, lda, offB, ldb, offC,
                                                   ldc, &c->queue, &need);
  if (s != CLBlastSuccess) return sc_fail(err, "CLBlastSGemmTempBufferSize(%zux%zux%zu): %s", M, N, K, clblast_errname(s));
  if (grow(c, &c->gemm->temp, &c->gemm->temp_size, need, "CLBlast GEMM temp buffer", err)) return -1;
  s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A, offA, lda, B, offB, ldb, beta, C,
                                 offC, ldc, &c->queue, NULL, c->gemm->temp ? c->gemm->temp : C);
  if (s != CLBlastSuccess)
    return sc_fail(err, "CLBlastSgemm(%s%s, %zux%zux%zu) failed: %s", transA ? "T" : "N", transB ? "T" : "N", M, N, K,
                   clblast_errname(s));
  return 0;
}

int sc_gemm_batched(sc_ctx *c, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, size_t strideA, cl_mem B, size_t offB, size_t ldb,
                    size_t strideB, float beta, cl_mem C, size_t offC, size_t ldc, size_t strideC, size_t batch,
                    sc_err *err) {
  if (state(c, err) || check_args(M, N, K, transA, transB, lda, ldb, ldc, err)) return -1;
  if (M == 0 || N == 0 || batch == 0) return 0;
  if (be == SC_GEMM_AUTO) be = c->gemm->preferred;
  if (be == SC_GEMM_OWN)
    return own_gemm(c, transA, transB, M, N, K, alpha, A, offA, lda, strideA, B, offB, ldb, strideB, beta, C, offC,
                    ldc, strideC, batch, err);
  CLBlastStatusCode s = CLBlastSgemmStridedBatched(
      CLBlastLayoutRowMajor, transA ? CLBlastTransposeYes : CLBlastTransposeNo,
      transB ? CLBlastTransposeYes : CLBlastTransposeNo, M, N, K, alpha, A, offA, lda, strideA, B, offB, ldb, strideB,
      beta, C, offC, ldc, strideC, batch, &c->queue, NULL);
  if (s != CLBlastSuccess)
    return sc_fail(err, "CLBlastSgemmStridedBatched(%zu x %zux%zux%zu) failed: %s", batch, M, N, K,
                   clblast_errname(s));
  return 0;
}

void sc_gemm_release(sc_ctx *c) {
  if (!c->gemm) return;
  for (int i = 0; i < 4; i++) {
    if (c->gemm->kern[i]) clReleaseKernel(c->gemm->kern[i]);
    if (c->gemm->pack[i]) clReleaseKernel(c->gemm->pack[i]);
    if (c->gemm->prog[i]) clReleaseProgram(c->gemm->prog[i]);
  }
  sc_buffer_release(c, c->gemm->temp);
  sc_buffer_release(c, c->gemm->packed);
  free(c->gemm);
  c->gemm = NULL;
}
