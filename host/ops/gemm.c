#include "ops/gemm.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/settings.h"
#include "runtime/kargs.h"
#include "runtime/profile.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/variant.h"

/* Products of at most this many rows times a transposed B run on the cpu variant's rows kernel. */
enum { ROWS_MAX = 8 };

/* Scratch: B packed into column panels for the own kernel, and CLBlast's indirect-GEMM buffer. */
enum { W_PACKED, W_TEMP, W_COUNT };
static const char *const scratch_names[W_COUNT] = {"GEMM packed B", "CLBlast GEMM temp buffer"};

/* Own kernels are specialised by transpose pair: index = transA*2 + transB. */
struct sc_gemm {
  sc_ctx *c;
  sc_kernels own[4]; /* cpu: pack_b, gemm, gemm_rows; gpu: gemm */
  int picked;        /* variant and tiles chosen (at the first own-kernel call) */
  sc_variant variant;
  char tiles[256];
  int rm, rn;           /* cpu: register block of a work-item */
  int wgm, wgn, tm, tn; /* gpu: block of a work-group and of a work-item (they set the launch) */
  sc_scratch w;
  sc_gemm_backend preferred; /* what SC_GEMM_AUTO means on this device */
};

static const char *const backend_names[SC_GEMM_COUNT] = {"auto", "clblast", "own", "host"};

const char *sc_gemm_backend_name(sc_gemm_backend b) {
  return b > SC_GEMM_AUTO && b < SC_GEMM_COUNT ? backend_names[b] : "auto";
}

sc_gemm_backend sc_gemm_backend_parse(const char *name) {
  for (int b = SC_GEMM_CLBLAST; b < SC_GEMM_COUNT; b++)
    if (!strcasecmp(name, backend_names[b])) return (sc_gemm_backend)b;
  return SC_GEMM_AUTO;
}

int sc_gemm_host_capable(const sc_device_info *d) {
  return (d->type & CL_DEVICE_TYPE_CPU) && d->host_unified;
}

int sc_gemm_available(const sc_gemm *g, sc_gemm_backend be) {
  return be != SC_GEMM_HOST || sc_gemm_host_capable(&g->c->dev);
}

/* The error for the host backend on a device that cannot run it; `who` says who asked for it. */
static int host_unavailable(const sc_device_info *d, const char *who, sc_err *err) {
  return sc_fail(err,
                 "%sGEMM backend 'host' calls the host's BLAS on mapped buffers and needs a CPU device that shares "
                 "host memory, but '%s' is a %s device%s; use the clblast or own backend there",
                 who, d->name, sc_device_type_name(d->type), d->host_unified ? "" : " without host-unified memory");
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
    g->preferred = cJSON_IsString(backend) ? sc_gemm_backend_parse(backend->valuestring) : SC_GEMM_AUTO;
    if (g->preferred == SC_GEMM_AUTO)
      return sc_fail(err, "profile %s: \"gemm_backend\" must be \"clblast\", \"own\" or \"host\"", path);
  }
  const cJSON *kernels = cJSON_GetObjectItemCaseSensitive(root, "clblast"), *k;
  if (kernels && !cJSON_IsObject(kernels))
    return sc_fail(err, "profile %s: \"clblast\" must be an object of kernel names", path);
  cJSON_ArrayForEach(k, kernels) {
    if (!cJSON_IsObject(k))
      return sc_fail(err, "profile %s: clblast.%s must be an object of parameter values", path, k->string);
    const char *names[64];
    size_t values[64], n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, k) {
      /* Checked before the cast: a negative or huge double does not convert to size_t. */
      const double v = p->valuedouble;
      if (!cJSON_IsNumber(p) || !(v >= 0 && v <= 1e9) || v != floor(v))
        return sc_fail(err, "profile %s: clblast.%s.%s must be a non-negative integer", path, k->string, p->string);
      if (n == 64) return sc_fail(err, "profile %s: clblast.%s has more than 64 parameters", path, k->string);
      names[n] = p->string;
      values[n++] = (size_t)v;
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
  const sc_gemm_backend env = sc_gemm_backend_parse(e);
  if (*e && env == SC_GEMM_AUTO) return sc_fail(err, "SCALECL_GEMM='%s': expected 'clblast', 'own' or 'host'", e);
  sc_gemm *g = sc_calloc(1, sizeof *g, "GEMM state", err);
  if (!g) return -1;
  g->c = c;
  sc_scratch_init(&g->w, c, W_COUNT, scratch_names, "use smaller matrices or split the batch");
  g->preferred = SC_GEMM_CLBLAST;
  cJSON *root;
  char path[4400], who[4500];
  int rc = sc_profile_find(c, &root, path, sizeof path, err);
  if (!rc && root) rc = apply_profile(g, root, path, err);
  cJSON_Delete(root);
  if (env != SC_GEMM_AUTO) g->preferred = env;
  if (!rc && !sc_gemm_available(g, g->preferred)) {
    if (env == SC_GEMM_HOST)
      snprintf(who, sizeof who, "SCALECL_GEMM=host: ");
    else
      snprintf(who, sizeof who, "profile %s: ", path);
    rc = host_unavailable(&c->dev, who, err);
  }
  if (rc) {
    free(g);
    return -1;
  }
  if (sc_gemm_host_capable(&c->dev)) openblas_set_num_threads((int)(c->dev.compute_units ? c->dev.compute_units : 1));
  *out = g;
  return 0;
}

sc_gemm_backend sc_gemm_default(const sc_gemm *g) {
  return g->preferred;
}

/* The value of NAME in the picked tile defines; -1 when absent or not a number. */
static long tile_get(const char *tiles, const char *name) {
  return sc_variant_tile(tiles, name, -1);
}

int sc_gemm_tiles_check(const sc_device_info *d, int gpu, const char *tiles, sc_err *err) {
  static const char *const cpu_names[] = {"RM", "RN"}, *const gpu_names[] = {"WGM", "WGN", "TM", "TN", "TK", "PAD"};
  const char *const *names = gpu ? gpu_names : cpu_names;
  long v[6];
  for (int i = 0; i < (gpu ? 6 : 2); i++)
    if ((v[i] = tile_get(tiles, names[i])) < (i == 5 ? 0 : 1) || v[i] > 4096)
      return sc_fail(err, "GEMM %s tiles '%s': %s must be an integer from %d to 4096", gpu ? "gpu" : "cpu", tiles,
                     names[i], i == 5 ? 0 : 1);
  if (!gpu) {
    if (v[1] != 4 && v[1] != 8 && v[1] != 16) return sc_fail(err, "GEMM cpu tiles '%s': RN must be 4, 8 or 16", tiles);
    return 0;
  }
  if (v[0] % v[2] || v[1] % v[3])
    return sc_fail(err, "GEMM gpu tiles '%s': WGM must be a multiple of TM and WGN of TN", tiles);
  const size_t wg = (size_t)(v[0] / v[2]) * (size_t)(v[1] / v[3]);
  const size_t local = 4 * (size_t)v[4] * (size_t)(v[0] + v[1] + 2 * v[5]);
  if (wg > d->max_wg)
    return sc_fail(err,
                   "GEMM gpu tiles '%s': work-groups of (WGM/TM)*(WGN/TN) = %zu work-items, above the %zu of '%s'; "
                   "raise TM or TN, or lower WGM or WGN",
                   tiles, wg, d->max_wg, d->name);
  if (local > d->local_mem)
    return sc_fail(err,
                   "GEMM gpu tiles '%s': %zu bytes of __local tiles (4*TK*(WGM+WGN+2*PAD)), above the %llu of '%s'; "
                   "lower TK, WGM or WGN",
                   tiles, local, (unsigned long long)d->local_mem, d->name);
  return 0;
}

/* The variant and its tiles, once per op: from SCALECL_KERNEL_VARIANT, the profile or the device type, and the
 * tuner's candidate (runtime/variant.h). */
static int own_pick(sc_gemm *g, sc_err *err) {
  if (g->picked) return 0;
  if (sc_variant_pick(g->c, "gemm", NULL, SC_GEMM_CPU_TILES, SC_GEMM_GPU_TILES, &g->variant, g->tiles, sizeof g->tiles,
                      err) ||
      sc_gemm_tiles_check(&g->c->dev, g->variant == SC_VARIANT_GPU, g->tiles, err))
    return -1;
  g->rm = (int)tile_get(g->tiles, "RM"), g->rn = (int)tile_get(g->tiles, "RN");
  g->wgm = (int)tile_get(g->tiles, "WGM"), g->wgn = (int)tile_get(g->tiles, "WGN");
  g->tm = (int)tile_get(g->tiles, "TM"), g->tn = (int)tile_get(g->tiles, "TN");
  g->picked = 1;
  return 0;
}

static int own_kernels(sc_gemm *g, int ta, int tb, sc_err *err) {
  int v = ta * 2 + tb;
  if (g->own[v].n) return 0;
  if (own_pick(g, err)) return -1;
  const int gpu = g->variant == SC_VARIANT_GPU;
  char defs[384];
  snprintf(defs, sizeof defs, "TRANSA=%d TRANSB=%d GEMM_GPU=%d %s", ta, tb, gpu, g->tiles);
  static const char *const cpu_names[] = {"pack_b", "gemm", "gemm_rows"}, *const gpu_names[] = {"gemm"};
  /* CL_KERNEL_WORK_GROUP_SIZE is not checked here: rusticl 22.3 reports 32 for this kernel on llvmpipe, yet runs
   * and passes with 256. A device that cannot run the tiles fails the launch, naming the kernel. */
  return sc_kernels_build(g->c, "gemm.cl", defs, gpu ? gpu_names : cpu_names, gpu ? 1 : 3, &g->own[v], err);
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

/* The gpu variant: one launch, A and B read in place. */
static int own_gemm_gpu(sc_gemm *g, int v, size_t M, size_t N, size_t K, float alpha, sc_view A, size_t lda, size_t sA,
                        sc_view B, size_t ldb, size_t sB, float beta, sc_view C, size_t ldc, size_t sC, size_t batch,
                        sc_err *err) {
  sc_kargs a;
  sc_kargs_begin(&a, g->own[v].k[0], "gemm");
  sc_karg_i32(&a, (int32_t)M), sc_karg_i32(&a, (int32_t)N), sc_karg_i32(&a, (int32_t)K), sc_karg_f32(&a, alpha);
  sc_karg_view(&a, A), sc_karg_i32(&a, (int32_t)lda), sc_karg_u64(&a, sA);
  sc_karg_view(&a, B), sc_karg_i32(&a, (int32_t)ldb), sc_karg_u64(&a, sB), sc_karg_f32(&a, beta);
  sc_karg_view(&a, C), sc_karg_i32(&a, (int32_t)ldc), sc_karg_u64(&a, sC);
  if (sc_kargs_end(&a, err)) return -1;
  const size_t nd = (size_t)(g->wgn / g->tn), md = (size_t)(g->wgm / g->tm);
  const size_t wgn = (size_t)g->wgn, wgm = (size_t)g->wgm;
  const size_t global[3] = {(N + wgn - 1) / wgn * nd, (M + wgm - 1) / wgm * md, batch}, local[3] = {nd, md, 1};
  return sc_launch(g->c, g->own[v].k[0], 3, global, local, "gemm", err);
}

static int own_gemm(sc_gemm *g, int ta, int tb, size_t M, size_t N, size_t K, float alpha, sc_view A, size_t lda,
                    size_t sA, sc_view B, size_t ldb, size_t sB, float beta, sc_view C, size_t ldc, size_t sC,
                    size_t batch, sc_err *err) {
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return sc_fail(err, "GEMM dimension above 2^31");
  if (own_kernels(g, ta, tb, err)) return -1;
  int v = ta * 2 + tb;
  if (g->variant == SC_VARIANT_GPU)
    return own_gemm_gpu(g, v, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch, err);
  if (!ta && tb && M <= ROWS_MAX)
    return own_gemm_rows(g, v, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch, err);
  const size_t rm = (size_t)g->rm, rn = (size_t)g->rn, panels = (N + rn - 1) / rn;
  if (sc_scratch_need(&g->w, W_PACKED, batch * panels * rn * (K ? K : 1) * sizeof(float), err)) return -1;
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
  size_t pglobal[3] = {panels * rn, K, batch};
  if (K && sc_launch(g->c, g->own[v].k[0], 3, pglobal, NULL, "pack_b", err)) return -1;
  size_t global[3] = {panels, (M + rm - 1) / rm, batch};
  size_t local[3] = {1, 1, 1};
  return sc_launch(g->c, g->own[v].k[1], 3, global, local, "gemm", err);
}

/* One mapping per distinct buffer, over the union of the byte ranges its views use: views of one arena may share a
 * buffer, and OpenCL leaves overlapping maps with a writer undefined. */
typedef struct {
  cl_mem buf;
  size_t lo, hi; /* bytes */
  cl_map_flags flags;
  char *ptr;
} host_map;

/* Adds the bytes of `batch` matrices of rows x cols floats (leading dimension ld, batch stride in floats) at view v;
 * returns the mapping's index. */
static int host_map_add(host_map *m, int *n, sc_view v, size_t rows, size_t cols, size_t ld, size_t stride,
                        size_t batch, cl_map_flags flags) {
  const size_t lo = v.off, hi = v.off + 4 * ((batch - 1) * stride + (rows - 1) * ld + cols);
  int i = 0;
  while (i < *n && m[i].buf != v.buf) i++;
  if (i == *n) m[(*n)++] = (host_map){v.buf, lo, hi, flags, NULL};
  m[i].lo = lo < m[i].lo ? lo : m[i].lo;
  m[i].hi = hi > m[i].hi ? hi : m[i].hi;
  m[i].flags |= flags;
  return i;
}

/* Unmaps every mapped buffer; returns rc, or the first unmap error when rc is 0. */
static int host_unmap(sc_ctx *c, host_map *m, int n, int rc, sc_err *err) {
  for (int i = 0; i < n; i++) {
    if (!m[i].ptr) continue;
    const cl_int e = clEnqueueUnmapMemObject(c->queue, m[i].buf, m[i].ptr, 0, NULL, NULL);
    if (!rc) rc = sc_cl_check(e, "GEMM (host): unmapping a matrix", err);
  }
  return rc;
}

/* cblas_sgemm per batch matrix on the views mapped into host memory. Blocking maps wait for the commands before
 * them on the in-order queue; the unmaps order the commands after. */
static int host_gemm(sc_gemm *g, int ta, int tb, size_t M, size_t N, size_t K, float alpha, sc_view A, size_t lda,
                     size_t sA, sc_view B, size_t ldb, size_t sB, float beta, sc_view C, size_t ldc, size_t sC,
                     size_t batch, sc_err *err) {
  if (!sc_gemm_host_capable(&g->c->dev)) return host_unavailable(&g->c->dev, "", err);
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff || lda > 0x7fffffff || ldb > 0x7fffffff || ldc > 0x7fffffff)
    return sc_fail(err, "GEMM (host): a dimension or leading dimension above 2^31 (BLAS takes int)");
  host_map m[3];
  int n = 0, ia = -1, ib = -1;
  if (K) { /* with K = 0, C = beta*C and BLAS reads neither A nor B */
    ia = host_map_add(m, &n, A, ta ? K : M, ta ? M : K, lda, sA, batch, CL_MAP_READ);
    ib = host_map_add(m, &n, B, tb ? N : K, tb ? K : N, ldb, sB, batch, CL_MAP_READ);
  }
  const int ic = host_map_add(m, &n, C, M, N, ldc, sC, batch, CL_MAP_READ | CL_MAP_WRITE);
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    cl_int e;
    m[i].ptr =
        clEnqueueMapBuffer(g->c->queue, m[i].buf, CL_TRUE, m[i].flags, m[i].lo, m[i].hi - m[i].lo, 0, NULL, NULL, &e);
    rc = sc_cl_check(e, "GEMM (host): mapping a matrix", err);
  }
  if (!rc) {
    const float *a = ia < 0 ? NULL : (const float *)(m[ia].ptr + (A.off - m[ia].lo));
    const float *b = ib < 0 ? NULL : (const float *)(m[ib].ptr + (B.off - m[ib].lo));
    float *cc = (float *)(m[ic].ptr + (C.off - m[ic].lo));
    for (size_t i = 0; i < batch; i++)
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                  alpha, a ? a + i * sA : NULL, (int)lda, b ? b + i * sB : NULL, (int)ldb, beta, cc + i * sC, (int)ldc);
  }
  return host_unmap(g->c, m, n, rc, err);
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

/* What SC_GEMM_AUTO means for one call: the preferred backend, except that a few rows times a transposed B
 * (decoding steps) stay on the device's own rows kernel when the host's BLAS is preferred, because mapping the
 * buffers drains the queue and costs more than such a product (3 vs 12 ms per xlstm-cpu-5m step on PoCL). */
static sc_gemm_backend auto_backend(const sc_gemm *g, int ta, int tb, size_t M) {
  if (g->preferred == SC_GEMM_HOST && !ta && tb && M <= ROWS_MAX) return SC_GEMM_OWN;
  return g->preferred;
}

int sc_gemm_run(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
                sc_view A, size_t lda, sc_view B, size_t ldb, float beta, sc_view C, size_t ldc, sc_err *err) {
  if (check_args(M, N, K, transA, transB, lda, ldb, ldc, err) || check_views(A, B, C, err)) return -1;
  if (M == 0 || N == 0) return 0;
  if (be == SC_GEMM_AUTO) be = auto_backend(g, transA, transB, M);
  if (be == SC_GEMM_OWN)
    return own_gemm(g, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, err);
  if (be == SC_GEMM_HOST)
    return host_gemm(g, transA, transB, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, err);
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
  if (be == SC_GEMM_AUTO) be = auto_backend(g, transA, transB, M);
  if (be == SC_GEMM_OWN)
    return own_gemm(g, transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch,
                    err);
  if (be == SC_GEMM_HOST)
    return host_gemm(g, transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch,
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

void sc_gemm_host_describe(char *buf, size_t cap) {
  char name[32] = "OpenBLAS", version[32] = "?";
  sscanf(openblas_get_config(), "%31s %31s", name, version);
  snprintf(buf, cap, "%s %s, %s kernels, %d threads", name, version, openblas_get_corename(),
           openblas_get_num_threads());
}

/* OpenBLAS 0.3.21's x86 core types whose SGEMM kernels use at most SSE (0), AVX (1) or AVX2 (2). Names not listed
 * (SkylakeX, Cooperlake, later ones) have AVX-512 kernels or are newer than this table: their choice stands. */
static const struct {
  const char *name;
  int isa;
} narrow_cores[] = {{"Prescott", 0},  {"Core2", 0},       {"Penryn", 0},       {"Dunnington", 0}, {"Nehalem", 0},
                    {"Atom", 0},      {"Opteron", 0},     {"Opteron_SSE3", 0}, {"Barcelona", 0},  {"Bobcat", 0},
                    {"Nano", 0},      {"Sandybridge", 1}, {"Bulldozer", 1},    {"Piledriver", 1}, {"Steamroller", 1},
                    {"Excavator", 2}, {"Haswell", 2},     {"Zen", 2}};

const char *sc_gemm_blas_core_for(const char *corename, int has_avx2, int has_avx512) {
  const int cpu = has_avx512 ? 3 : has_avx2 ? 2 : 0;
  for (size_t i = 0; i < sizeof narrow_cores / sizeof narrow_cores[0]; i++)
    if (!strcasecmp(corename, narrow_cores[i].name))
      return narrow_cores[i].isa >= cpu ? NULL : cpu == 3 ? "SKYLAKEX" : "HASWELL";
  return NULL;
}

/* The fitting core type for kernels named corename on this CPU (NULL: they fit, or not an x86 CPU). */
static const char *core_for_this_cpu(const char *corename) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return sc_gemm_blas_core_for(corename, avx2, avx512);
#else
  (void)corename;
  return NULL;
#endif
}

const char *sc_gemm_blas_core_fix(void) {
  return *sc_settings_get()->blas_coretype ? NULL : core_for_this_cpu(openblas_get_corename());
}

int sc_gemm_blas_core_note(const sc_device_info *d, char *buf, size_t cap) {
  const char *set = sc_settings_get()->blas_coretype;
  const char *fit = *set && sc_gemm_host_capable(d) ? core_for_this_cpu(set) : NULL;
  if (!fit) return 0;
  snprintf(buf, cap,
           "OPENBLAS_CORETYPE=%s gives the host GEMM backend narrower kernels than this CPU has: GEMMs run slower "
           "(xlstm-cpu-5m forward+backward 1.5x with HASWELL on an AVX-512 Zen 5); unset it or set %s",
           set, fit);
  return 1;
}

int sc_gemm_blas_env(const char *names[2], const char *values[2]) {
  int n = 0;
  const char *core = sc_gemm_blas_core_fix();
  if (core) names[n] = "OPENBLAS_CORETYPE", values[n++] = core;
  if (!*sc_settings_get()->blas_thread_timeout) names[n] = "OPENBLAS_THREAD_TIMEOUT", values[n++] = "4";
  return n;
}
