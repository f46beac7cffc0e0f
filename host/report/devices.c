#include "report/devices.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/gnuplot.h"
#include "base/paths.h"
#include "base/table.h"
#include "report/devices_impl.h"

const rd_kind rd_kinds[RD_KINDS] = {
    {"gemm", "SGEMM (`scalecl bench gemm`)", "gemm", "GFLOP/s", 'G'},
    {"mlstm", "mLSTM cell (`scalecl bench mlstm`)", "mlstm", "tokens/s", 'M'},
    {"attention", "Causal attention (`scalecl bench attention`)", "attention", "tokens/s", 'A'},
    {"model", "Whole model (`scalecl bench model`)", NULL, "tokens/s", 'W'},
    {"train", "Training step (`scalecl bench train`)", NULL, "tokens/s", 'T'},
    {"infer", "Inference (`scalecl bench infer`)", NULL, "tokens/s", 'I'},
};

/* ---- JSON fields ---------------------------------------------------------------------------------------- */

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

const char *rd_kv_note(const cJSON *o) {
  return strcmp(str(o, "kv_cache"), "f16") ? "" : ", f16 KV cache";
}

/* Appends item to the "; "-joined list in buf unless it is there already (whole entries compared). */
static void add_distinct(char *buf, size_t cap, const char *item) {
  const size_t n = strlen(item);
  for (const char *p = buf; *p;) {
    const char *e = strstr(p, "; ");
    const size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, item, n)) return;
    p += len + (e ? 2 : 0);
  }
  const size_t o = strlen(buf);
  snprintf(buf + o, cap - o, "%s%s", o ? "; " : "", item);
}

static int count_entries(const char *list) {
  int n = *list != 0;
  for (const char *p = list; (p = strstr(p, "; ")); p += 2) n++;
  return n;
}

/* ---- The files ------------------------------------------------------------------------------------------ */

typedef struct {
  char **v;
  int n, cap;
} paths;

static int paths_add(paths *p, const char *path, sc_err *err) {
  if (p->n == p->cap) {
    const int cap = p->cap ? 2 * p->cap : 32;
    char **v = realloc(p->v, (size_t)cap * sizeof *v);
    if (!v) return sc_fail(err, "out of host memory listing result files");
    p->v = v, p->cap = cap;
  }
  return (p->v[p->n] = sc_strdup(path, err)) ? (p->n++, 0) : -1;
}

static void paths_free(paths *p) {
  for (int i = 0; i < p->n; i++) free(p->v[i]);
  free(p->v);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *name, const char *ext) {
  const size_t n = strlen(name), e = strlen(ext);
  return n > e && !strcmp(name + n - e, ext);
}

/* Adds dir's *.json in name order to out and its *.jsonl (peer timings) to peers and, when depth > 0, those of its
 * subdirectories; an unreadable directory is a warning. */
static int list_dir(const char *dir, int depth, paths *out, paths *peers, FILE *warn, sc_err *err) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(warn, "warning: skipped the directory %s: cannot read it\n", dir);
    return 0;
  }
  paths here = {0}, subs = {0};
  int rc = 0;
  const struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (sc_is_file(path) && ends_with(e->d_name, ".json"))
      rc = paths_add(&here, path, err);
    else if (sc_is_file(path) && ends_with(e->d_name, ".jsonl"))
      rc = paths_add(peers, path, err);
    else if (depth > 0 && sc_is_dir(path))
      rc = paths_add(&subs, path, err);
  }
  closedir(d);
  if (here.n) qsort(here.v, (size_t)here.n, sizeof *here.v, cmp_str);
  if (subs.n) qsort(subs.v, (size_t)subs.n, sizeof *subs.v, cmp_str);
  for (int i = 0; !rc && i < here.n; i++) rc = paths_add(out, here.v[i], err);
  for (int i = 0; !rc && i < subs.n; i++) rc = list_dir(subs.v[i], depth - 1, out, peers, warn, err);
  paths_free(&here);
  paths_free(&subs);
  return rc;
}

/* ---- Devices and rows ----------------------------------------------------------------------------------- */

static int find_device(rd_set *s, const cJSON *root, sc_err *err) {
  const char *name = str(root, "device"), *platform = str(root, "platform"), *driver = str(root, "driver_version");
  for (int i = 0; i < s->ndev; i++)
    if (!strcmp(s->devs[i].name, name) && !strcmp(s->devs[i].platform, platform) && !strcmp(s->devs[i].driver, driver))
      return i;
  rd_dev *d = realloc(s->devs, (size_t)(s->ndev + 1) * sizeof *d);
  if (!d) return sc_fail(err, "out of host memory");
  s->devs = d;
  d = &s->devs[s->ndev];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", name);
  snprintf(d->platform, sizeof d->platform, "%s", platform);
  snprintf(d->driver, sizeof d->driver, "%s", driver);
  snprintf(d->type, sizeof d->type, "%s", str(root, "device_type"));
  d->cus = num(root, "compute_units");
  return s->ndev++;
}

static rd_row *new_row(rd_set *s, int dev, int kind, int file, sc_err *err) {
  if (s->nrows == s->cap) {
    const int cap = s->cap ? 2 * s->cap : 64;
    rd_row *r = realloc(s->rows, (size_t)cap * sizeof *r);
    if (!r) {
      sc_fail(err, "out of host memory");
      return NULL;
    }
    s->rows = r, s->cap = cap;
  }
  rd_row *r = &s->rows[s->nrows++];
  memset(r, 0, sizeof *r);
  r->dev = dev, r->kind = kind, r->file = file;
  r->ms = r->thr = r->gflops = r->flops = r->bytes = NAN;
  return r;
}

/* The variant the file's rows of a family ran: the family's recorded pick, else the forced SCALECL_KERNEL_VARIANT,
 * else the one variant of every pick ("mixed" when they differ), else "-" (nothing recorded). */
static void file_variant(const cJSON *root, const char *family, char *out, size_t cap) {
  const cJSON *kv = cJSON_GetObjectItemCaseSensitive(root, "kernel_variants"), *p;
  if (family && (p = cJSON_GetObjectItemCaseSensitive(kv, family)) && *str(p, "variant")) {
    snprintf(out, cap, "%s", str(p, "variant"));
    return;
  }
  const char *forced = str(cJSON_GetObjectItemCaseSensitive(root, "settings"), "SCALECL_KERNEL_VARIANT");
  if (*forced) {
    snprintf(out, cap, "%s", forced);
    return;
  }
  snprintf(out, cap, "-");
  cJSON_ArrayForEach(p, kv) {
    const char *v = str(p, "variant");
    if (!strcmp(out, "-"))
      snprintf(out, cap, "%s", v);
    else if (strcmp(out, v))
      snprintf(out, cap, "mixed");
  }
}

/* The best sgemm[] rate of the file's gemm_api_backend, as the benchmarks' reference GEMM takes it. */
static double peak_gemm(const cJSON *root, char *backend, size_t cap) {
  const char *api = str(root, "gemm_api_backend");
  snprintf(backend, cap, "%s", *api ? api : "clblast");
  char key[48];
  snprintf(key, sizeof key, "%s_gflops", backend);
  double best = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "sgemm")) {
    const double g = num(e, key);
    if (g > best) best = g;
  }
  return best > 0 ? best : NAN;
}

static void take_peak(rd_dev *d, const cJSON *root, const char *file) {
  const double fma = num(root, "fma_gflops"), bw = num(root, "read_bandwidth_gbs");
  char be[16];
  const double gemm = peak_gemm(root, be, sizeof be);
  d->has_peak = 1;
  /* The best of each figure (a missing one, NaN, never wins). */
  if (fma > d->fma) d->fma = fma;
  if (bw > d->bw) d->bw = bw;
  if (gemm > d->gemm) d->gemm = gemm, snprintf(d->gemm_backend, sizeof d->gemm_backend, "%s", be);
  add_distinct(d->peak_files, sizeof d->peak_files, file);
}

static const cJSON *rows_of(const cJSON *root, const char *key) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
  return cJSON_IsArray(a) ? a : NULL;
}

/* Time from the work and the rate when a table gives only the rate. */
static void fill_rates(rd_row *r) {
  if (!isfinite(r->ms) && r->flops > 0 && r->gflops > 0) r->ms = 1e-6 * r->flops / r->gflops;
  if (!isfinite(r->gflops) && r->flops > 0 && r->ms > 0) r->gflops = 1e-6 * r->flops / r->ms;
}

static int add_rows(rd_set *s, int dev, int kind, int file, const cJSON *root, sc_err *err) {
  char variant[24];
  file_variant(root, rd_kinds[kind].family, variant, sizeof variant);
  const cJSON *e;
  static const char *const table_key[RD_KINDS] = {"results", "results", "sequences", "results", "results", "results"};
  cJSON_ArrayForEach(e, rows_of(root, table_key[kind])) {
    if (kind == RD_INFER && !(num(e, "step_ms") > 0)) continue; /* a point that did not fit in memory */
    rd_row *r = new_row(s, dev, kind, file, err);
    if (!r) return -1;
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->ms = num(e, "ms"), r->thr = num(e, "tokens_per_s"), r->gflops = num(e, "gflops");
    r->flops = num(e, "flops"), r->bytes = num(e, "min_bytes");
    const char *pass = str(e, "pass");
    switch (kind) {
      case RD_GEMM:
        snprintf(r->config, sizeof r->config, "%gx%gx%g %s", num(e, "m"), num(e, "n"), num(e, "k"), str(e, "backend"));
        r->thr = r->gflops;
        /* The variants are scalecl's own kernels; CLBlast and the host's BLAS have none. */
        if (strcmp(str(e, "backend"), "own")) snprintf(r->variant, sizeof r->variant, "%s", str(e, "backend"));
        break;
      case RD_MLSTM:
        snprintf(r->config, sizeof r->config, "%s %g:%g L%g S%g H%g %s", str(e, "form"), num(e, "dqk"), num(e, "dv"),
                 num(e, "chunk"), num(e, "seq_len"), num(root, "heads"), pass);
        break;
      case RD_ATTENTION:
        snprintf(r->config, sizeof r->config, "dh %g S%g H%g %s", num(e, "head_dim"), num(e, "seq_len"),
                 num(root, "heads"), pass);
        break;
      case RD_MODEL:
      case RD_TRAIN:
        snprintf(r->config, sizeof r->config, "%s B%g T%g %s", str(root, "model"), num(root, "batch"), num(root, "ctx"),
                 pass);
        if (kind == RD_MODEL) r->gflops = num(e, "model_gflops");
        break;
      default: /* RD_INFER: the step time; the time to first token in the config */
        snprintf(r->config, sizeof r->config, "%s B%g prefill %g%s (TTFT %.4g ms)", str(e, "model"), num(e, "batch"),
                 num(e, "prefill"), rd_kv_note(root), num(e, "ttft_ms"));
        r->ms = num(e, "step_ms");
        break;
    }
    fill_rates(r);
  }
  if (kind == RD_ATTENTION) {
    cJSON_ArrayForEach(e, rows_of(root, "decode")) {
      rd_row *r = new_row(s, dev, kind, file, err);
      if (!r) return -1;
      snprintf(r->config, sizeof r->config, "dh %g decode at cache %g%s", num(e, "head_dim"), num(e, "cache_len"),
               rd_kv_note(root));
      r->decode = 1, r->ms = num(e, "step_ms"), r->thr = num(e, "tokens_per_s");
      r->flops = num(e, "flops"), r->bytes = num(e, "min_bytes");
      snprintf(r->variant, sizeof r->variant, "%s", variant);
      fill_rates(r);
    }
  }
  return 0;
}

/* Reads one file into s; a file that is no scalecl benchmark result is a warning (returns 1), not an error, except
 * the outputs of `scalecl check`, `scalecl devices` and `scalecl tune` and the profiles tune writes (returns 2),
 * which a device's results folder holds too (platforms/device-suite.sh). A check output is handed to *check (the
 * caller deletes it) for its verdict, which joins its device once every device is known. */
static int read_one(rd_set *s, const char *path, int file, FILE *warn, char *versions, size_t vcap, cJSON **check,
                    sc_err *err) {
  *check = NULL;
  char *text = NULL;
  sc_err e = {0};
  if (sc_read_file(path, &text, NULL, &e)) {
    fprintf(warn, "warning: skipped %s: %s\n", path, e.msg);
    return 1;
  }
  cJSON *root = cJSON_Parse(text);
  free(text);
  char why[400] = "";
  int kind = -1;
  const char *bench = cJSON_IsObject(root) ? str(root, "benchmark") : "";
  if (cJSON_IsObject(root) && !*bench &&
      ((cJSON_HasObjectItem(root, "verdict") && cJSON_HasObjectItem(root, "cases")) ||
       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "devices")) ||
       (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "tuned_profile")) &&
        cJSON_HasObjectItem(root, "candidates")) ||
       (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "match")) && cJSON_HasObjectItem(root, "tiles")))) {
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "cases")))
      *check = root;
    else
      cJSON_Delete(root);
    return 2;
  }
  if (!cJSON_IsObject(root))
    snprintf(why, sizeof why, "not a JSON object (truncated, or not JSON)");
  else if (!*bench)
    snprintf(why, sizeof why,
             "no \"benchmark\" field: not written by `scalecl peak` or `scalecl bench gemm|mlstm|attention|model|"
             "train|infer --json FILE` (files from before `report devices` lack it: rerun the benchmark)");
  else if (!*str(root, "device"))
    snprintf(why, sizeof why, "no \"device\" field");
  else if (strcmp(bench, "peak")) {
    for (int k = 0; k < RD_KINDS; k++)
      if (!strcmp(bench, rd_kinds[k].name)) kind = k;
    if (kind < 0) snprintf(why, sizeof why, "benchmark \"%.100s\" is not one this report compares", bench);
  }
  if (*why) {
    fprintf(warn, "warning: skipped %s: %s\n", path, why);
    cJSON_Delete(root);
    return 1;
  }
  int rc = -1;
  const int dev = find_device(s, root, err);
  if (dev >= 0) {
    rd_dev *d = &s->devs[dev];
    d->nfiles++;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "scalecl");
    char v[160];
    snprintf(v, sizeof v, "%s (git %s)", *str(ver, "version") ? str(ver, "version") : "unknown",
             *str(ver, "git_revision") ? str(ver, "git_revision") : "unknown");
    add_distinct(d->versions, sizeof d->versions, v);
    add_distinct(versions, vcap, v);
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(root, "kernel_variants")) {
      char item[400];
      snprintf(item, sizeof item, "%s %s%s%s%s", p->string, str(p, "variant"), *str(p, "tiles") ? " (" : "",
               str(p, "tiles"), *str(p, "tiles") ? ")" : "");
      add_distinct(d->variants, sizeof d->variants, item);
    }
    const char *slash = strrchr(path, '/');
    if (kind < 0) {
      take_peak(d, root, slash ? slash + 1 : path);
      rc = 0;
    } else {
      rc = add_rows(s, dev, kind, file, root, err);
    }
  }
  cJSON_Delete(root);
  return rc;
}

/* ---- Ratios ---------------------------------------------------------------------------------------------- */

double rd_pct_fma(const rd_set *s, const rd_row *r) {
  const rd_dev *d = &s->devs[r->dev];
  return d->has_peak && d->fma > 0 && r->gflops > 0 ? 100 * r->gflops / d->fma : NAN;
}

double rd_pct_gemm(const rd_set *s, const rd_row *r) {
  const rd_dev *d = &s->devs[r->dev];
  return d->has_peak && d->gemm > 0 && r->gflops > 0 && !r->decode ? 100 * r->gflops / d->gemm : NAN;
}

double rd_pct_bw(const rd_set *s, const rd_row *r) {
  const rd_dev *d = &s->devs[r->dev];
  return d->has_peak && d->bw > 0 && r->bytes > 0 && r->ms > 0 ? 100 * 1e-6 * r->bytes / r->ms / d->bw : NAN;
}

double rd_intensity(const rd_row *r) {
  return r->flops > 0 && r->bytes > 0 ? r->flops / r->bytes : NAN;
}

int rd_series_list(const rd_set *s, rd_series **out, int *n, sc_err *err) {
  *out = NULL, *n = 0;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *r = &s->rows[i];
    int j = 0;
    while (j < *n && ((*out)[j].dev != r->dev || strcmp((*out)[j].variant, r->variant))) j++;
    if (j == *n) {
      rd_series *v = realloc(*out, (size_t)(*n + 1) * sizeof *v);
      if (!v) return free(*out), *out = NULL, sc_fail(err, "out of host memory");
      *out = v;
      v[j].dev = r->dev;
      snprintf(v[j].variant, sizeof v[j].variant, "%s", r->variant);
      for (int k = 0; k < RD_KINDS; k++) v[j].best[k] = NAN;
      (*n)++;
    }
    const double p = rd_pct_fma(s, r);
    if (p > 0 && !(p <= (*out)[j].best[r->kind])) (*out)[j].best[r->kind] = p;
  }
  return 0;
}

double rd_speedup(const rd_set *s, int dev, int kind, int *matched) {
  double log_sum = 0;
  *matched = 0;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *c = &s->rows[i];
    if (c->dev != dev || c->kind != kind || strcmp(c->variant, "cpu") || !(c->ms > 0)) continue;
    for (int j = 0; j < s->nrows; j++) {
      const rd_row *g = &s->rows[j];
      if (g->dev == dev && g->kind == kind && !strcmp(g->variant, "gpu") && g->ms > 0 &&
          !strcmp(g->config, c->config)) {
        log_sum += log(c->ms / g->ms);
        (*matched)++;
        break;
      }
    }
  }
  return *matched ? exp(log_sum / *matched) : NAN;
}

/* ---- The report -------------------------------------------------------------------------------------------- */

/* Device labels: the name, with the driver when two devices share a name. */
static void label_devices(rd_set *s) {
  for (int i = 0; i < s->ndev; i++) {
    rd_dev *d = &s->devs[i];
    int dup = 0;
    for (int j = 0; j < s->ndev; j++) dup |= j != i && !strcmp(s->devs[j].name, d->name);
    if (dup)
      snprintf(d->label, sizeof d->label, "%s (%s %s)", d->name, d->platform, d->driver);
    else
      snprintf(d->label, sizeof d->label, "%s", d->name);
  }
}

/* Point labels per device and kind, in row order: G1, G2, ... */
static void label_points(rd_set *s) {
  for (int i = 0; i < s->nrows; i++) {
    rd_row *r = &s->rows[i];
    int n = 1;
    for (int j = 0; j < i; j++) n += s->rows[j].dev == r->dev && s->rows[j].kind == r->kind;
    snprintf(r->point, sizeof r->point, "%c%d", rd_kinds[r->kind].letter, n);
  }
}

static void device_section(FILE *f, const rd_set *s, int i, const char *roofline) {
  const rd_dev *d = &s->devs[i];
  fprintf(f, "### %d. %s\n\n| | |\n|---|---|\n| platform | %s |\n| driver | %s |\n| type | %s |\n", i + 1, d->label,
          d->platform, d->driver, *d->type ? d->type : "-");
  if (isfinite(d->cus)) fprintf(f, "| compute units | %g |\n", d->cus);
  if (d->has_peak) {
    char fma[32], bw[32], gemm[32];
    sc_fmt_sig3(d->fma, fma, sizeof fma), sc_fmt_sig3(d->bw, bw, sizeof bw), sc_fmt_sig3(d->gemm, gemm, sizeof gemm);
    fprintf(f, "| FMA peak (fp32) | %s GFLOP/s |\n| read bandwidth | %s GB/s |\n", fma, bw);
    if (d->gemm > 0) fprintf(f, "| GEMM (%s, the GEMM path scalecl uses) | %s GFLOP/s |\n", d->gemm_backend, gemm);
    fprintf(f, "| peak file | %s |\n", d->peak_files);
  }
  fprintf(f, "| result files | %d |\n| scalecl | %s |\n| kernel variants | %s |\n", d->nfiles, d->versions,
          *d->variants ? d->variants : "none recorded");
  fprintf(f, "| `scalecl check` | %s |\n\n", *d->checks ? d->checks : "no check file (`scalecl check --json FILE`)");
  if (!d->has_peak)
    fprintf(f,
            "> No `peak` file for this device: its rows are listed without percentages and it has no roofline. "
            "Run `scalecl peak --json peak.json` on it and add the file.\n\n");
  if (roofline && *roofline) fprintf(f, "%s\n", roofline);
}

enum { T_POINT, T_DEVICE, T_VARIANT, T_CONFIG, T_MS, T_THR, T_GFLOPS, T_AI, T_PCT_FMA, T_PCT_GEMM, T_PCT_BW, T_N };

static int kind_table(FILE *f, const rd_set *s, int kind, sc_err *err) {
  const sc_col cols[T_N] = {
      {"point", NULL, SC_COL_STR, NULL, 0},
      {"device", NULL, SC_COL_STR, NULL, 0},
      {"variant", NULL, SC_COL_STR, NULL, 0},
      {"shape / pass", NULL, SC_COL_STR, NULL, 0},
      {"ms", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {rd_kinds[kind].thr_unit, NULL, SC_COL_NUM, "%.1f", 0},
      {"GFLOP/s", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"FLOP/B", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"% FMA peak", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"% GEMM", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
      {"% bandwidth", NULL, SC_COL_NUM, SC_FMT_SIG3, 0},
  };
  sc_table *t = sc_table_create("rows", cols, T_N, err);
  if (!t) return -1;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *r = &s->rows[i];
    if (r->kind != kind) continue;
    sc_table_row(t);
    sc_table_str(t, T_POINT, r->point);
    sc_table_str(t, T_DEVICE, s->devs[r->dev].label);
    sc_table_str(t, T_VARIANT, r->variant);
    sc_table_str(t, T_CONFIG, r->config);
    sc_table_num(t, T_MS, r->ms);
    if (kind != RD_GEMM) sc_table_num(t, T_THR, r->thr); /* its throughput is the GFLOP/s column */
    sc_table_num(t, T_GFLOPS, r->gflops);
    sc_table_num(t, T_AI, rd_intensity(r));
    sc_table_num(t, T_PCT_FMA, rd_pct_fma(s, r));
    sc_table_num(t, T_PCT_GEMM, rd_pct_gemm(s, r));
    sc_table_num(t, T_PCT_BW, rd_pct_bw(s, r));
  }
  char intro[160];
  snprintf(intro, sizeof intro, "### %s\n\n", rd_kinds[kind].title);
  return rd_md_table(f, intro, t, err);
}

int rd_md_table(FILE *f, const char *intro, sc_table *t, sc_err *err) {
  int rc = 0;
  if (sc_table_nrows(t)) {
    fputs(intro, f);
    rc = sc_table_print(f, t, SC_FORMAT_MD, err);
    fprintf(f, "\n");
  }
  sc_table_destroy(t);
  return rc;
}

/* The key ratios as text: the best % of FMA peak per kind of each series, and the gpu/cpu speedups. */
static int ratio_tables(FILE *f, const rd_set *s, sc_err *err) {
  rd_series *v;
  int n;
  if (rd_series_list(s, &v, &n, err)) return -1;
  sc_col cols[2 + RD_KINDS] = {{"device", NULL, SC_COL_STR, NULL, 0}, {"variant", NULL, SC_COL_STR, NULL, 0}};
  for (int k = 0; k < RD_KINDS; k++) cols[2 + k] = (sc_col){rd_kinds[k].name, NULL, SC_COL_NUM, "%.1f", 0};
  sc_table *t = sc_table_create("best", cols, 2 + RD_KINDS, err);
  int rc = !t;
  for (int j = 0; !rc && j < n; j++) {
    int any = 0;
    for (int k = 0; k < RD_KINDS; k++) any |= isfinite(v[j].best[k]);
    if (!any) continue; /* a device without a peak file */
    sc_table_row(t);
    sc_table_str(t, 0, s->devs[v[j].dev].label);
    sc_table_str(t, 1, v[j].variant);
    for (int k = 0; k < RD_KINDS; k++) sc_table_num(t, 2 + k, v[j].best[k]);
  }
  if (!rc) {
    fprintf(f, "Best row's %% of its device's FMA peak, per benchmark:\n\n");
    rc = sc_table_print(f, t, SC_FORMAT_MD, err);
    fprintf(f, "\n");
  }
  sc_table_destroy(t);
  free(v);
  sc_col scols[1 + RD_KINDS] = {{"device", NULL, SC_COL_STR, NULL, 0}};
  for (int k = 0; k < RD_KINDS; k++) scols[1 + k] = (sc_col){rd_kinds[k].name, NULL, SC_COL_NUM, "%.2f", 0};
  sc_table *u = rc ? NULL : sc_table_create("speedup", scols, 1 + RD_KINDS, err);
  rc = rc || !u;
  for (int d = 0; !rc && d < s->ndev; d++) {
    int any = 0, m[RD_KINDS];
    double x[RD_KINDS];
    for (int k = 0; k < RD_KINDS; k++) any |= (x[k] = rd_speedup(s, d, k, &m[k]), m[k] > 0);
    if (!any) continue;
    sc_table_row(u);
    sc_table_str(u, 0, s->devs[d].label);
    for (int k = 0; k < RD_KINDS; k++) sc_table_num(u, 1 + k, x[k]);
  }
  if (rc) {
    sc_table_destroy(u);
    return rc;
  }
  return rd_md_table(f,
                     "gpu variant's speedup over the cpu variant (cpu time / gpu time, geometric mean over the rows of "
                     "the same shape and pass):\n\n",
                     u, err);
}

enum {
  C_DEVICE,
  C_PLATFORM,
  C_DRIVER,
  C_TYPE,
  C_BENCH,
  C_VARIANT,
  C_CONFIG,
  C_POINT,
  C_MS,
  C_THR,
  C_THR_UNIT,
  C_GFLOPS,
  C_FLOPS,
  C_BYTES,
  C_AI,
  C_PCT_FMA,
  C_PCT_GEMM,
  C_PCT_BW,
  C_FILE,
  C_N
};

static int write_csv(const char *path, const rd_set *s, char *const *files, sc_err *err) {
  static const sc_col cols[C_N] = {
      {"device", NULL, SC_COL_STR, NULL, 0},
      {"platform", NULL, SC_COL_STR, NULL, 0},
      {"driver", NULL, SC_COL_STR, NULL, 0},
      {"device_type", NULL, SC_COL_STR, NULL, 0},
      {"benchmark", NULL, SC_COL_STR, NULL, 0},
      {"variant", NULL, SC_COL_STR, NULL, 0},
      {"config", NULL, SC_COL_STR, NULL, 0},
      {"point", NULL, SC_COL_STR, NULL, 0},
      {"ms", NULL, SC_COL_NUM, NULL, 0},
      {"throughput", NULL, SC_COL_NUM, NULL, 0},
      {"throughput_unit", NULL, SC_COL_STR, NULL, 0},
      {"gflops", NULL, SC_COL_NUM, NULL, 0},
      {"flops", NULL, SC_COL_NUM, NULL, 0},
      {"min_bytes", NULL, SC_COL_NUM, NULL, 0},
      {"flop_per_byte", NULL, SC_COL_NUM, NULL, 0},
      {"pct_fma_peak", NULL, SC_COL_NUM, NULL, 0},
      {"pct_gemm", NULL, SC_COL_NUM, NULL, 0},
      {"pct_bandwidth", NULL, SC_COL_NUM, NULL, 0},
      {"file", NULL, SC_COL_STR, NULL, 0},
  };
  sc_table *t = sc_table_create("rows", cols, C_N, err);
  if (!t) return -1;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *r = &s->rows[i];
    const rd_dev *d = &s->devs[r->dev];
    sc_table_row(t);
    sc_table_str(t, C_DEVICE, d->name);
    sc_table_str(t, C_PLATFORM, d->platform);
    sc_table_str(t, C_DRIVER, d->driver);
    sc_table_str(t, C_TYPE, d->type);
    sc_table_str(t, C_BENCH, rd_kinds[r->kind].name);
    sc_table_str(t, C_VARIANT, r->variant);
    sc_table_str(t, C_CONFIG, r->config);
    sc_table_str(t, C_POINT, r->point);
    sc_table_num(t, C_MS, r->ms);
    sc_table_num(t, C_THR, r->thr);
    sc_table_str(t, C_THR_UNIT, rd_kinds[r->kind].thr_unit);
    sc_table_num(t, C_GFLOPS, r->gflops);
    sc_table_num(t, C_FLOPS, r->flops);
    sc_table_num(t, C_BYTES, r->bytes);
    sc_table_num(t, C_AI, rd_intensity(r));
    sc_table_num(t, C_PCT_FMA, rd_pct_fma(s, r));
    sc_table_num(t, C_PCT_GEMM, rd_pct_gemm(s, r));
    sc_table_num(t, C_PCT_BW, rd_pct_bw(s, r));
    sc_table_str(t, C_FILE, files[r->file]);
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  int rc = f ? sc_table_print(f, t, SC_FORMAT_CSV, err) : sc_fail(err, "out of host memory");
  if (f && fclose(f) && !rc) rc = sc_fail(err, "out of host memory");
  if (!rc) rc = sc_write_file_atomic(path, text, len, err);
  free(text);
  sc_table_destroy(t);
  return rc;
}

static int write_report(const sc_devrep_opts *o, const rd_set *s, const paths *files, const paths *skipped,
                        const paths *other, const paths *peers, const char *versions, sc_devrep_summary *sum,
                        sc_err *err) {
  char gnuplot[4096];
  sc_err gerr = {0};
  const int have_gnuplot = sc_gnuplot_find(gnuplot, sizeof gnuplot, &gerr);
  char **roof = calloc((size_t)s->ndev, sizeof *roof);
  char *ratios = NULL, *text = NULL;
  size_t rlen = 0, len = 0;
  FILE *rf = open_memstream(&ratios, &rlen);
  int rc = !roof || !rf ? sc_fail(err, "out of host memory") : 0;
  if (!rc && have_gnuplot) {
    char plots[4096];
    snprintf(plots, sizeof plots, "%s/plots", o->out_dir);
    rc = sc_mkdirs(plots, err) || rd_charts(gnuplot, o->out_dir, s, roof, rf, &sum->charts, err);
  } else if (!rc) {
    fprintf(o->warn, "warning: no charts: %s\n", gerr.msg);
    fprintf(rf, "> No charts: %s\n\n", gerr.msg);
  }
  if (rf && fclose(rf) && !rc) rc = sc_fail(err, "out of host memory");
  FILE *f = rc ? NULL : open_memstream(&text, &len);
  if (!rc && !f) rc = sc_fail(err, "out of host memory");
  if (!rc) {
    fprintf(f, "# %s\n\nWritten by `scalecl report devices` from %d result file%s of %d device%s.\n",
            o->title ? o->title : "Devices compared", files->n, files->n == 1 ? "" : "s", s->ndev,
            s->ndev == 1 ? "" : "s");
    if (count_entries(versions) > 1)
      fprintf(f, "\n> Mixed scalecl versions: %s. Builds differ in more than the device; compare with care.\n",
              versions);
    else
      fprintf(f, "All by scalecl %s.\n", versions);
    fprintf(
        f,
        "\nPercentages divide by the device's own `scalecl peak` file: %% FMA peak by its fp32 FMA rate, %% GEMM "
        "by its SGEMM rate through the GEMM path scalecl uses there, %% bandwidth by its global read bandwidth "
        "(the least bytes a row must move, `min_bytes`, over its time). FLOP/B is the row's arithmetic intensity, "
        "its FLOPs over those bytes. ms is the time per timed call (for `infer` per decoding step; its time to first "
        "token is in the shape column). Over 100 %%: the row beat its device's peak measurement (a peak taken under "
        "more load, data served from caches rather than memory, or a FLOP count that includes work the kernel "
        "skips). Variant `-`: the file records no kernel-variant pick.\n");
    if (skipped->n) {
      fprintf(f, "\nSkipped (see the warnings):");
      for (int i = 0; i < skipped->n; i++) fprintf(f, " `%s`", skipped->v[i]);
      fprintf(f, "\n");
    }
    if (other->n) {
      fprintf(f,
              "\nNot compared (outputs of `scalecl check`, whose verdicts are in the device tables, `scalecl "
              "devices` and `scalecl tune` and its profiles, whose tiles are in the kernel-variant rows of the "
              "benchmarks that ran with them):");
      for (int i = 0; i < other->n; i++) fprintf(f, " `%s`", other->v[i]);
      fprintf(f, "\n");
    }
    fprintf(f, "\n## Devices\n\n");
    for (int i = 0; i < s->ndev; i++) device_section(f, s, i, roof[i]);
    fprintf(f, "## Results\n\n");
    for (int k = 0; !rc && k < RD_KINDS; k++) rc = kind_table(f, s, k, err);
    if (!rc) rc = rd_peer_section(f, s, files->v, peers->v, peers->n, o->warn, err);
    fprintf(f, "## Key ratios\n\n%s", ratios ? ratios : "");
    if (!rc) rc = ratio_tables(f, s, err);
    if (fclose(f) && !rc) rc = sc_fail(err, "out of host memory");
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/report.md", o->out_dir);
  if (!rc) rc = sc_write_file_atomic(path, text, len, err);
  snprintf(path, sizeof path, "%s/summary.csv", o->out_dir);
  if (!rc) rc = write_csv(path, s, files->v, err);
  for (int i = 0; roof && i < s->ndev; i++) free(roof[i]);
  free(roof);
  free(ratios);
  free(text);
  return rc;
}

/* A `scalecl check --json` file's verdict joins the checks of its device (name, platform and driver; name alone
 * for files from before check recorded the other two). A check of a device without results, or another
 * non-compared file, stays only in the "not compared" list. */
static void attach_check(rd_set *s, const cJSON *root, const char *path) {
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  const char *name = str(root, "device"), *platform = str(root, "platform"), *driver = str(root, "driver_version");
  const cJSON *settings = cJSON_GetObjectItemCaseSensitive(root, "settings");
  const char *forced = str(settings, "SCALECL_KERNEL_VARIANT"), *slash = strrchr(path, '/');
  const int n = cJSON_GetArraySize(cases), failed = (int)num(root, "failed");
  for (int i = 0; i < s->ndev; i++) {
    rd_dev *d = &s->devs[i];
    if (strcmp(d->name, name) || (*platform && strcmp(d->platform, platform)) || (*driver && strcmp(d->driver, driver)))
      continue;
    char item[400];
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "passed")))
      snprintf(item, sizeof item, "pass, %d cases", n);
    else
      snprintf(item, sizeof item, "**FAIL**, %d of %d cases", failed, n);
    snprintf(item + strlen(item), sizeof item - strlen(item), " (%s variants%s, %s)", *forced ? forced : "default",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "tiny")) ? ", tiny" : "", slash ? slash + 1 : path);
    add_distinct(d->checks, sizeof d->checks, item);
  }
}

int sc_report_devices(const sc_devrep_opts *o, sc_devrep_summary *sum, sc_err *err) {
  memset(sum, 0, sizeof *sum);
  paths in = {0}, used = {0}, skipped = {0}, other = {0}, peers = {0};
  rd_set s = {0};
  char versions[RD_TEXT] = "";
  int rc = 0;
  for (int i = 0; !rc && i < o->n_inputs; i++) {
    if (sc_is_dir(o->inputs[i]))
      rc = list_dir(o->inputs[i], 1, &in, &peers, o->warn, err);
    else
      rc = paths_add(ends_with(o->inputs[i], ".jsonl") ? &peers : &in, o->inputs[i], err);
  }
  /* check outputs, held until every device is known; in.n bounds their count */
  cJSON **checks = in.n ? calloc((size_t)in.n, sizeof *checks) : NULL;
  const char **check_paths = in.n ? calloc((size_t)in.n, sizeof *check_paths) : NULL;
  int nchecks = 0;
  if (in.n && (!checks || !check_paths)) rc = sc_fail(err, "out of host memory");
  for (int i = 0; !rc && i < in.n; i++) {
    cJSON *check;
    const int got = read_one(&s, in.v[i], used.n, o->warn, versions, sizeof versions, &check, err);
    if (got < 0)
      rc = -1;
    else
      rc = paths_add(got == 2 ? &other : got ? &skipped : &used, in.v[i], err);
    if (check) checks[nchecks] = check, check_paths[nchecks++] = in.v[i];
  }
  for (int i = 0; !rc && i < nchecks; i++) attach_check(&s, checks[i], check_paths[i]);
  for (int i = 0; i < nchecks; i++) cJSON_Delete(checks[i]);
  free(checks);
  free(check_paths);
  if (!rc && !used.n)
    rc = sc_fail(err,
                 "no usable result file among %d file%s found in the inputs; give the JSON files (or their "
                 "directories) that `scalecl peak --json FILE` and `scalecl bench ... --json FILE` wrote",
                 in.n, in.n == 1 ? "" : "s");
  if (!rc) {
    label_devices(&s);
    label_points(&s);
    rc = sc_mkdirs(o->out_dir, err) || write_report(o, &s, &used, &skipped, &other, &peers, versions, sum, err);
  }
  sum->files_read = used.n, sum->files_skipped = skipped.n, sum->devices = s.ndev, sum->rows = s.nrows;
  paths_free(&in);
  paths_free(&used);
  paths_free(&skipped);
  paths_free(&other);
  paths_free(&peers);
  free(s.devs);
  free(s.rows);
  return rc;
}
