#include "model/presets.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/paths.h"
#include "base/settings.h"

int sc_models_dir(char *buf, size_t n, sc_err *err) {
  const char *env = sc_settings_get()->models_dir;
  if (*env) {
    if (!sc_is_dir(env)) return sc_fail(err, "SCALECL_MODELS_DIR=%s is not a directory", env);
    snprintf(buf, n, "%s", env);
    return 0;
  }
  char exe[4096], cand[4200];
  sc_exe_dir(exe, sizeof exe);
  snprintf(cand, sizeof cand, "%s/models", exe);
  if (sc_is_dir(cand)) {
    snprintf(buf, n, "%s", cand);
    return 0;
  }
  if (sc_is_dir(SCALECL_SOURCE_DIR "/models")) {
    snprintf(buf, n, "%s", SCALECL_SOURCE_DIR "/models");
    return 0;
  }
  return sc_fail(err,
                 "no models directory: set SCALECL_MODELS_DIR, or put models/ next to the executable (%s) or in %s",
                 cand, SCALECL_SOURCE_DIR);
}

/* Calls fn for every configuration of isoflop/<stem>.tsv: the base isoflop/<stem>.json with the row's fields
 * set. One column may hold a comma-separated list (one config per value). Columns named expect_d_ff,
 * expect_d_qk and expect_d_v check derived dimensions. fn returns 0 to go on, 1 to stop. */
typedef int (*row_fn)(const sc_model_config *cfg, void *user);

#define MAX_COLS 16
#define MAX_LIST 32

static int split(char *line, char sep, char **cells, int max) {
  int n = 0;
  for (char *s = line;; s++) {
    if (n == max) return -1;
    cells[n++] = s;
    s = strchr(s, sep);
    if (!s) return n;
    *s = '\0';
  }
}

static int parse_number(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return errno || end == s || *end || !isfinite(*out) ? -1 : 0;
}

static int expand_row(const cJSON *base, const char *path, int lineno, char **hdr, int ncol, char **cells,
                      const char *stem, row_fn fn, void *user, sc_err *err) {
  double vals[MAX_COLS][MAX_LIST];
  int nvals[MAX_COLS], list_col = -1;
  for (int j = 0; j < ncol; j++) {
    char *parts[MAX_LIST];
    nvals[j] = split(cells[j], ',', parts, MAX_LIST);
    if (nvals[j] < 0)
      return sc_fail(err, "%s line %d: column '%s' lists more than %d values", path, lineno, hdr[j], MAX_LIST);
    if (nvals[j] > 1) {
      if (list_col >= 0)
        return sc_fail(err, "%s line %d: only one column may hold a list ('%s' and '%s' both do)", path, lineno,
                       hdr[list_col], hdr[j]);
      list_col = j;
    }
    for (int k = 0; k < nvals[j]; k++)
      if (parse_number(parts[k], &vals[j][k]))
        return sc_fail(err, "%s line %d: column '%s' value '%s' is not a number", path, lineno, hdr[j], parts[k]);
  }
  int nrows = list_col >= 0 ? nvals[list_col] : 1;
  for (int r = 0; r < nrows; r++) {
    cJSON *o = cJSON_Duplicate(base, 1);
    if (!o) return sc_fail(err, "out of host memory expanding %s", path);
    for (int j = 0; j < ncol; j++) {
      if (!strncmp(hdr[j], "expect_", 7)) continue;
      cJSON_DeleteItemFromObjectCaseSensitive(o, hdr[j]);
      cJSON_AddNumberToObject(o, hdr[j], vals[j][j == list_col ? r : 0]);
    }
    char origin[1100];
    if (list_col >= 0)
      snprintf(origin, sizeof origin, "%.1000s line %d (%s %g)", path, lineno, hdr[list_col], vals[list_col][r]);
    else
      snprintf(origin, sizeof origin, "%.1000s line %d", path, lineno);
    sc_model_config cfg;
    int rc = sc_model_config_parse_object(o, origin, &cfg, err);
    cJSON_Delete(o);
    if (rc) return -1;
    if (cfg.n_warnings) return sc_fail(err, "%s", cfg.warnings);
    for (int j = 0; j < ncol; j++) {
      long want = (long)vals[j][0], got;
      if (!strcmp(hdr[j], "expect_d_ff"))
        got = cfg.d_ff;
      else if (!strcmp(hdr[j], "expect_d_qk"))
        got = cfg.d_qk;
      else if (!strcmp(hdr[j], "expect_d_v"))
        got = cfg.d_v;
      else if (!strncmp(hdr[j], "expect_", 7))
        return sc_fail(err, "%s: unknown check column '%s' (use expect_d_ff, expect_d_qk or expect_d_v)", path, hdr[j]);
      else
        continue;
      if (got != want) return sc_fail(err, "%s: %s is %ld but the table expects %ld", origin, hdr[j] + 7, got, want);
    }
    snprintf(cfg.name, sizeof cfg.name, "%s-iso-d%ld-l%ld", stem, cfg.d_model, cfg.n_layers);
    rc = fn(&cfg, user);
    if (rc) return rc;
  }
  return 0;
}

static int expand_table(const char *dir, const char *stem, row_fn fn, void *user, sc_err *err) {
  char path[4200], base_path[4200];
  snprintf(path, sizeof path, "%s/isoflop/%s.tsv", dir, stem);
  snprintf(base_path, sizeof base_path, "%s/isoflop/%s.json", dir, stem);
  char *base_text = NULL, *text = NULL;
  size_t len;
  if (sc_read_file(base_path, &base_text, &len, err)) return sc_wrap(err, "base config of %s: ", path);
  cJSON *base = cJSON_Parse(base_text);
  free(base_text);
  if (!cJSON_IsObject(base)) {
    cJSON_Delete(base);
    return sc_fail(err, "%s: invalid JSON (must be one object)", base_path);
  }
  int rc = sc_read_file(path, &text, &len, err);
  char *hdr[MAX_COLS];
  int ncol = 0, lineno = 0;
  for (char *line = text, *next; rc == 0 && line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    lineno++;
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[l - 1] = '\0';
    if (!line[0] || line[0] == '#') continue;
    char *cells[MAX_COLS];
    int n = split(line, '\t', cells, MAX_COLS);
    if (!ncol) {
      if (n < 0) rc = sc_fail(err, "%s line %d: more than %d columns", path, lineno, MAX_COLS);
      for (int j = 0; j < n; j++) hdr[j] = cells[j];
      ncol = n;
      continue;
    }
    if (n != ncol)
      rc = sc_fail(err, "%s line %d: %d tab-separated cells, the header has %d", path, lineno, n, ncol);
    else
      rc = expand_row(base, path, lineno, hdr, ncol, cells, stem, fn, user, err);
  }
  free(text);
  cJSON_Delete(base);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted file stems with `ext` in dir (none when dir is absent). */
static int list_stems(const char *dir, const char *ext, char ***out, int *n, sc_err *err) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int cap = 0;
  size_t el = strlen(ext);
  for (struct dirent *e; (e = readdir(d));) {
    size_t l = strlen(e->d_name);
    if (l <= el || strcmp(e->d_name + l - el, ext) || e->d_name[0] == '.') continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(*out, (size_t)cap * sizeof *grown);
      if (!grown) {
        closedir(d);
        return sc_fail(err, "out of host memory listing %s", dir);
      }
      *out = grown;
    }
    char *s = sc_malloc(l - el + 1, "preset name", err);
    if (!s) {
      closedir(d);
      return -1;
    }
    memcpy(s, e->d_name, l - el);
    s[l - el] = '\0';
    (*out)[(*n)++] = s;
  }
  closedir(d);
  if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_str);
  return 0;
}

void sc_preset_names_free(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* Presets as they are found: names, and the configs themselves when `load` is set. */
typedef struct {
  char **names;
  sc_model_config *cfgs;
  int n, cap, load;
  sc_err *err;
} preset_list;

static int push_preset(preset_list *l, const char *name, const sc_model_config *cfg) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 128;
    char **names = realloc(l->names, (size_t)cap * sizeof *names);
    if (!names) return sc_fail(l->err, "out of host memory listing presets");
    l->names = names;
    if (l->load) {
      sc_model_config *cfgs = realloc(l->cfgs, (size_t)cap * sizeof *cfgs);
      if (!cfgs) return sc_fail(l->err, "out of host memory loading presets");
      l->cfgs = cfgs;
    }
    l->cap = cap;
  }
  char *s = sc_strdup(name, l->err);
  if (!s) return -1;
  if (l->load) l->cfgs[l->n] = *cfg;
  l->names[l->n++] = s;
  return 0;
}

static int collect_row(const sc_model_config *cfg, void *user) {
  return push_preset(user, cfg->name, cfg);
}

/* The *.json files of dir (loaded only with l->load), then every row of isoflop/<stem>.tsv; each file is read
 * once. Fails when a name is defined twice. */
static int collect_presets(const char *dir, preset_list *l, sc_err *err) {
  char **stems;
  int ns, rc = list_stems(dir, ".json", &stems, &ns, err);
  for (int i = 0; rc == 0 && i < ns; i++) {
    if (!l->load) {
      rc = push_preset(l, stems[i], NULL);
      continue;
    }
    char path[4300];
    sc_model_config cfg;
    snprintf(path, sizeof path, "%s/%s.json", dir, stems[i]);
    rc = sc_model_config_load(path, &cfg, err) || push_preset(l, stems[i], &cfg) ? -1 : 0;
  }
  sc_preset_names_free(stems, ns);
  char iso[4200];
  snprintf(iso, sizeof iso, "%s/isoflop", dir);
  stems = NULL;
  ns = 0;
  if (rc == 0) rc = list_stems(iso, ".tsv", &stems, &ns, err);
  for (int i = 0; rc == 0 && i < ns; i++) rc = expand_table(dir, stems[i], collect_row, l, err);
  sc_preset_names_free(stems, ns);
  for (int i = 0; rc == 0 && i < l->n; i++)
    for (int j = i + 1; j < l->n; j++)
      if (!strcmp(l->names[i], l->names[j])) {
        rc = sc_fail(err, "preset '%s' is defined twice in %s (a .json file and an IsoFLOP table row?)", l->names[i],
                     dir);
        break;
      }
  return rc;
}

int sc_preset_names(const char *dir, char ***names, int *n, sc_err *err) {
  preset_list l = {.err = err};
  if (collect_presets(dir, &l, err)) {
    sc_preset_names_free(l.names, l.n);
    return -1;
  }
  *names = l.names;
  *n = l.n;
  return 0;
}

int sc_preset_configs(const char *dir, sc_model_config **cfgs, int *n, sc_err *err) {
  preset_list l = {.load = 1, .err = err};
  int rc = collect_presets(dir, &l, err);
  sc_preset_names_free(l.names, l.n);
  if (rc) {
    free(l.cfgs);
    return -1;
  }
  *cfgs = l.cfgs;
  *n = l.n;
  return 0;
}

typedef struct {
  const char *want;
  sc_model_config *out;
} find_ctx;

static int find_row(const sc_model_config *cfg, void *user) {
  find_ctx *f = user;
  if (strcmp(cfg->name, f->want)) return 0;
  *f->out = *cfg;
  return 1;
}

int sc_model_config_resolve(const char *spec, sc_model_config *cfg, sc_err *err) {
  size_t sl = strlen(spec);
  char dir[4096], path[4300];
  if (sc_is_dir(spec)) {
    /* A Hugging Face checkpoint directory carries its config.json. */
    snprintf(path, sizeof path, "%.4000s/config.json", spec);
    if (sc_is_file(path)) return sc_model_config_load(path, cfg, err);
    return sc_fail(err, "%s is a directory without a config.json; pass a config.json, a checkpoint directory or a "
                   "preset name ('scalecl flops --table' lists them)", spec);
  }
  if (strchr(spec, '/') || (sl > 5 && !strcmp(spec + sl - 5, ".json"))) return sc_model_config_load(spec, cfg, err);
  if (sc_models_dir(dir, sizeof dir, err)) return sc_wrap(err, "looking up preset '%s': ", spec);
  snprintf(path, sizeof path, "%s/%s.json", dir, spec);
  if (sc_is_file(path)) return sc_model_config_load(path, cfg, err);
  /* Not a file: an IsoFLOP table row. The table's stem is the name's prefix up to "-iso-". */
  const char *iso = strstr(spec, "-iso-");
  if (iso && iso > spec) {
    char stem[128];
    snprintf(stem, sizeof stem, "%.*s", (int)(iso - spec < 127 ? iso - spec : 127), spec);
    snprintf(path, sizeof path, "%s/isoflop/%s.tsv", dir, stem);
    if (sc_is_file(path)) {
      find_ctx f = {spec, cfg};
      int rc = expand_table(dir, stem, find_row, &f, err);
      if (rc < 0) return -1;
      if (rc == 1) return 0;
    }
  }
  char **names;
  int n;
  if (sc_preset_names(dir, &names, &n, err)) return sc_wrap(err, "looking up preset '%s': ", spec);
  int near = sc_nearest(spec, (const char *const *)names, n);
  char hint[200] = "";
  if (near >= 0) snprintf(hint, sizeof hint, " (did you mean '%s'?)", names[near]);
  sc_preset_names_free(names, n);
  return sc_fail(err,
                 "no model preset '%s' in %s%s; 'scalecl flops --table' lists the presets, or pass the path of a "
                 "config.json",
                 spec, dir, hint);
}

