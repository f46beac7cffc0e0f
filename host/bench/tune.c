#include "bench/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/version.h"
#include "bench/peak.h"
#include "bench/util.h"
#include "check/cases.h"
#include "ops/gemm.h"
#include "ref/gemm.h"

/* ---- gemm: the own kernels of both variants (cl/gemm.cl) ---- */

static void gemm_describe(int quick, char *buf, size_t cap) {
  const int n = quick ? 128 : 512;
  snprintf(buf, cap, "SGEMM %dx%dx%d NN", n, n, n);
}

static int gemm_fits_cpu(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_gemm_tiles_check(d, 0, tiles, err);
}

static int gemm_fits_gpu(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_gemm_tiles_check(d, 1, tiles, err);
}

static int gemm_open(sc_ctx *c, void **op, sc_err *err) {
  return sc_gemm_create(c, (sc_gemm **)op, err);
}

static void gemm_close(void *op) {
  sc_gemm_destroy(op);
}

/* Two batched products, as stored and both transposed (the two ways each tile is loaded), with edges in M, N and K
 * for every grid value, padded leading dimensions and strides, offsets, alpha and beta. */
static int gemm_verify(sc_ctx *c, void *op, sc_err *err) {
  enum { M = 67, N = 45, K = 37, BATCH = 2 };
  const size_t ld = 70, stride = 70 * 70 + 3, off = 5, total = off + 3 * BATCH * stride;
  float *host = sc_malloc(total * 4, "tuner check data", err), *got = sc_malloc(total * 4, "tuner check data", err);
  double *ref = sc_malloc(M * N * sizeof(double), "tuner check reference", err);
  cl_mem buf = NULL;
  int rc = -1;
  if (!host || !got || !ref || sc_buffer_create(c, total * 4, "tuner check matrices", &buf, err)) goto done;
  sc_rng rng;
  sc_rng_seed(&rng, 5);
  sc_rng_fill_normal(&rng, host, total, 0, 1);
  const size_t oA = off, oB = off + BATCH * stride, oC = off + 2 * BATCH * stride;
  for (int t = 0; t < 2; t++) {
    if (sc_buffer_write(c, buf, 0, total * 4, host, err) ||
        sc_gemm_run_batched(op, SC_GEMM_OWN, t, t, M, N, K, -0.5f, (sc_view){buf, oA * 4}, ld, stride,
                            (sc_view){buf, oB * 4}, ld, stride, 0.75f, (sc_view){buf, oC * 4}, ld, stride, BATCH,
                            err) ||
        sc_buffer_read(c, buf, 0, total * 4, got, err))
      goto done;
    for (size_t b = 0; b < BATCH; b++) {
      sc_ref_gemm(t, t, M, N, K, -0.5, host + oA + b * stride, ld, host + oB + b * stride, ld, 0.75,
                  host + oC + b * stride, ld, ref);
      for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
          const double r = ref[i * N + j], g = got[oC + b * stride + i * ld + j];
          if (!(fabs(g - r) <= 1e-4 * sqrt((double)K) + 1e-4 * fabs(r))) {
            sc_fail(err, "%s: C[%zu][%zu] of batch %zu is %g, the float64 reference %g", t ? "TT" : "NN", i, j, b, g,
                    r);
            rc = 1;
            goto done;
          }
        }
    }
  }
  rc = 0;
done:
  sc_buffer_release(c, buf);
  free(host);
  free(got);
  free(ref);
  return rc;
}

static int gemm_time(sc_ctx *c, void *op, const sc_tune_opts *o, sc_figure *rate, sc_err *err) {
  const size_t n = o->quick ? 128 : 512;
  sc_timing t;
  if (sc_sgemm_time(c, op, SC_GEMM_OWN, n, n, n, 2, o->samples, o->min_sample_s, &t, err)) return -1;
  *rate = sc_figure_rate(&t.wall, 2.0 * (double)n * n * n * 1e-9);
  return 0;
}

/* 81 full and 8 quick gpu candidates; PAD stays 1 (an odd row length: no bank conflicts for any tile), TK 16 (a
 * full grid with TK 8 as well did not finish in 37 minutes on llvmpipe with the machine shared, load 10). */
static const sc_tune_param gemm_gpu_params[] = {
    {"WGM", 3, {32, 64, 128}, 2, {32, 64}},
    {"WGN", 3, {32, 64, 128}, 1, {64}},
    {"TM", 3, {2, 4, 8}, 2, {2, 4}},
    {"TN", 3, {2, 4, 8}, 2, {2, 4}},
};
static const sc_tune_param gemm_cpu_params[] = {{"RM", 2, {4, 8}, 1, {8}}, {"RN", 2, {8, 16}, 2, {8, 16}}};

#define GEMM_ENTRY(variant_, defaults_, params_, fits_)                                                               \
  {                                                                                                                   \
    "gemm", variant_, defaults_, params_, (int)(sizeof params_ / sizeof params_[0]), "GFLOP/s", gemm_describe, fits_, \
        gemm_open, gemm_close, gemm_verify, gemm_time                                                                 \
  }
static const sc_tune_entry entries[] = {
    GEMM_ENTRY(SC_VARIANT_GPU, SC_GEMM_GPU_TILES, gemm_gpu_params, gemm_fits_gpu),
    GEMM_ENTRY(SC_VARIANT_CPU, SC_GEMM_CPU_TILES, gemm_cpu_params, gemm_fits_cpu),
};

const sc_tune_entry *sc_tune_entries(int *n) {
  *n = (int)(sizeof entries / sizeof entries[0]);
  return entries;
}

/* ---- the search ---- */

const char *sc_tune_status_name(sc_tune_status s) {
  static const char *const names[] = {"ok", "does not fit", "failed", "wrong"};
  return names[s];
}

/* The values a parameter takes in the grid. */
static const int *param_values(const sc_tune_param *p, int quick, int *n) {
  *n = quick ? p->n_quick : p->n_values;
  return quick ? p->quick : p->values;
}

/* The defaults with grid point `idx` (mixed radix over the params' value lists) in place of their values. */
static int candidate_tiles(const sc_tune_entry *e, int quick, long idx, char *buf, size_t cap, sc_err *err) {
  char work[256];
  snprintf(work, sizeof work, "%s", e->defaults);
  size_t used = 0;
  buf[0] = '\0';
  for (char *save = NULL, *w = strtok_r(work, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(w, '=');
    if (!eq) return sc_fail(err, "tuner: defaults '%s' of %s are not NAME=VALUE words", e->defaults, e->family);
    *eq = '\0';
    char value[32];
    snprintf(value, sizeof value, "%s", eq + 1);
    long rest = idx;
    for (int p = 0; p < e->n_params; p++) {
      int nv;
      const int *vals = param_values(&e->params[p], quick, &nv);
      if (!strcmp(e->params[p].name, w)) snprintf(value, sizeof value, "%d", vals[rest % nv]);
      rest /= nv;
    }
    used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s", used ? " " : "", w, value);
    if (used >= cap) return sc_fail(err, "tuner: the tiles of %s do not fit %zu characters", e->family, cap);
  }
  return 0;
}

/* The first line of a message, at most cap - 1 characters. */
static void first_line(char *dst, size_t cap, const char *msg) {
  const size_t n = strcspn(msg, "\n");
  snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), msg);
}

static void try_candidate(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, sc_tune_candidate *k) {
  sc_err cerr = {0};
  k->status = SC_TUNE_OK;
  if (e->fits(&c->dev, k->tiles, &cerr)) {
    k->status = SC_TUNE_NO_FIT;
    first_line(k->note, sizeof k->note, cerr.msg);
    return;
  }
  snprintf(c->tile_key, sizeof c->tile_key, "%s_%s", e->family, sc_variant_name(e->variant));
  snprintf(c->tile_override, sizeof c->tile_override, "%s", k->tiles);
  void *op = NULL;
  int rc = e->open(c, &op, &cerr);
  if (!rc) rc = e->verify(c, op, &cerr);
  if (!rc) rc = e->time(c, op, o, &k->rate, &cerr);
  if (op) e->close(op);
  if (rc) {
    k->status = rc > 0 ? SC_TUNE_WRONG : SC_TUNE_FAILED;
    first_line(k->note, sizeof k->note, cerr.msg);
    sc_err ferr;
    sc_finish(c, &ferr); /* a failed launch leaves nothing queued for the next candidate */
  }
}

int sc_tune_run(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, void (*progress)(void *, int, int),
                void *progress_arg, sc_tune_result *r, sc_err *err) {
  long points = 1;
  for (int p = 0; p < e->n_params; p++) {
    int nv;
    param_values(&e->params[p], o->quick, &nv);
    points *= nv;
  }
  *r = (sc_tune_result){e, NULL, 0, -1};
  if (!(r->cand = sc_calloc((size_t)points + 1, sizeof *r->cand, "tuner candidates", err))) return -1;
  snprintf(r->cand[0].tiles, sizeof r->cand[0].tiles, "%s", e->defaults);
  r->n = 1;
  for (long i = 0; i < points; i++) {
    char tiles[256];
    if (candidate_tiles(e, o->quick, i, tiles, sizeof tiles, err)) return -1;
    if (strcmp(tiles, e->defaults)) snprintf(r->cand[r->n++].tiles, sizeof tiles, "%s", tiles);
  }
  for (int i = 0; i < r->n; i++) {
    try_candidate(c, e, o, &r->cand[i]);
    if (r->cand[i].status == SC_TUNE_OK && (r->best < 0 || r->cand[i].rate.median > r->cand[r->best].rate.median))
      r->best = i;
    if (progress) progress(progress_arg, i + 1, r->n);
  }
  c->tile_key[0] = c->tile_override[0] = '\0';
  return 0;
}

/* ---- the profile ---- */

/* {"NAME": value} of a tiles string; values are integers. */
static cJSON *tiles_json(const char *tiles) {
  cJSON *o = cJSON_CreateObject();
  char work[256];
  snprintf(work, sizeof work, "%s", tiles);
  for (char *save = NULL, *w = strtok_r(work, " ", &save); o && w; w = strtok_r(NULL, " ", &save)) {
    char *eq = strchr(w, '=');
    if (eq) *eq = '\0';
    if (!eq || !cJSON_AddNumberToObject(o, w, atof(eq + 1))) {
      cJSON_Delete(o);
      return NULL;
    }
  }
  return o;
}

static void summarize(const sc_tune_result *r, int quick, char *buf, size_t cap) {
  int counts[4] = {0};
  for (int i = 0; i < r->n; i++) counts[r->cand[i].status]++;
  char shape[64];
  r->entry->describe(quick, shape, sizeof shape);
  const sc_tune_candidate *b = &r->cand[r->best], *d = &r->cand[0];
  size_t used = (size_t)snprintf(
      buf, cap, "%s_%s: best of %d candidates (%d did not fit, %d failed, %d wrong) '%s' %.1f %s at %s",
      r->entry->family, sc_variant_name(r->entry->variant), r->n, counts[SC_TUNE_NO_FIT], counts[SC_TUNE_FAILED],
      counts[SC_TUNE_WRONG], b->tiles, b->rate.median, r->entry->unit, shape);
  if (used < cap && d->status == SC_TUNE_OK)
    snprintf(buf + used, cap - used, " vs %.1f with the defaults", d->rate.median);
  else if (used < cap)
    snprintf(buf + used, cap - used, "; the defaults %s", sc_tune_status_name(d->status));
}

cJSON *sc_tune_profile(const sc_ctx *c, const sc_tune_result *r, int n, const char *command, sc_err *err) {
  cJSON *root = cJSON_CreateObject(), *match, *kv, *tiles;
  if (!root) goto oom;
  char about[4096], when[32];
  const time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
  size_t used = (size_t)snprintf(
      about, sizeof about, "Produced by '%s' (%s) on %s on '%s' (%s, driver %s), load average %.2f. ", command,
      sc_version_line(), when, c->dev.name, c->dev.platform_name, c->dev.driver_version, sc_loadavg());
  int any = 0;
  for (int i = 0; i < n; i++) {
    if (r[i].best < 0) continue;
    any = 1;
    summarize(&r[i], strstr(command, "--quick") != NULL, about + used, sizeof about - used);
    used += strlen(about + used);
    used += (size_t)snprintf(about + used, sizeof about - used, ". ");
  }
  if (!any) {
    cJSON_Delete(root);
    return sc_fail(err, "tuner: no candidate passed its check on '%s'; see the table for why", c->dev.name), NULL;
  }
  snprintf(about + used, sizeof about - used,
           "Copy it into platforms/profiles/ (the first profile whose match strings all occur wins) or point "
           "SCALECL_PROFILE_DIR at its directory.");
  if (!cJSON_AddStringToObject(root, "about", about) || !(match = cJSON_AddArrayToObject(root, "match")) ||
      !(kv = cJSON_AddObjectToObject(root, "kernel_variant")) || !(tiles = cJSON_AddObjectToObject(root, "tiles")))
    goto oom;
  cJSON_AddItemToArray(match, cJSON_CreateString(c->dev.platform_name));
  cJSON_AddItemToArray(match, cJSON_CreateString(c->dev.name));
  for (int i = 0; i < n; i++) {
    if (r[i].best < 0) continue;
    const sc_tune_entry *e = r[i].entry;
    char key[48];
    snprintf(key, sizeof key, "%s_%s", e->family, sc_variant_name(e->variant));
    cJSON *t = tiles_json(r[i].cand[r[i].best].tiles);
    if (!t) goto oom;
    cJSON_AddItemToObject(tiles, key, t);
    /* The family runs the variant whose best is fastest. */
    int fastest = 1;
    for (int j = 0; j < n; j++)
      if (j != i && r[j].best >= 0 && !strcmp(r[j].entry->family, e->family) &&
          r[j].cand[r[j].best].rate.median > r[i].cand[r[i].best].rate.median)
        fastest = 0;
    if (fastest && !cJSON_GetObjectItemCaseSensitive(kv, e->family))
      cJSON_AddStringToObject(kv, e->family, sc_variant_name(e->variant));
  }
  return root;
oom:
  cJSON_Delete(root);
  sc_fail(err, "tuner: out of memory building the profile");
  return NULL;
}
