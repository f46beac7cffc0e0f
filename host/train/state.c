#include "train/state.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/paths.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

#define FORMAT "scalecl-trainer-1"
#define TMP_PREFIX ".tmp-step-"

void sc_train_ckpt_path(char *buf, size_t n, const char *ckdir, int64_t step) {
  snprintf(buf, n, "%s/step-%08" PRId64, ckdir, step);
}

/* ---- trainer.json ---- */

static void add_u64(cJSON *o, const char *name, uint64_t v) {
  char hex[24];
  snprintf(hex, sizeof hex, "%016" PRIx64, v);
  cJSON_AddStringToObject(o, name, hex);
}

static char *state_json(const sc_train_state *st, sc_err *err) {
  cJSON *o = cJSON_CreateObject(), *l = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "format", FORMAT);
  cJSON_AddNumberToObject(o, "step", (double)st->step);
  cJSON_AddNumberToObject(o, "updates", (double)st->updates);
  cJSON_AddNumberToObject(o, "tokens", (double)st->tokens);
  cJSON_AddNumberToObject(o, "skipped", (double)st->skipped);
  cJSON_AddNumberToObject(o, "skipped_in_row", (double)st->skipped_in_row);
  cJSON_AddNumberToObject(o, "metrics_bytes", (double)st->metrics_bytes);
  cJSON_AddNumberToObject(o, "elapsed_s", st->elapsed_s);
  if (isfinite(st->last_val_loss))
    cJSON_AddNumberToObject(o, "last_val_loss", st->last_val_loss);
  else
    cJSON_AddNullToObject(o, "last_val_loss");
  add_u64(o, "run_hash", st->run_hash);
  add_u64(l, "seed", st->loader.seed);
  add_u64(l, "epoch", st->loader.epoch);
  add_u64(l, "index", st->loader.index);
  add_u64(l, "fingerprint", st->loader.fingerprint);
  add_u64(l, "T", st->loader.T);
  add_u64(l, "shuffle", st->loader.shuffle);
  cJSON_AddItemToObject(o, "loader", l);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (!s) sc_fail(err, "out of memory writing trainer state");
  return s;
}

static int get_i64(const cJSON *o, const char *name, const char *path, int64_t *out, sc_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) || v->valuedouble > 9e15)
    return sc_fail(err, "%s: \"%s\" is missing or not a non-negative whole number", path, name);
  *out = (int64_t)v->valuedouble;
  return 0;
}

static int get_u64(const cJSON *o, const char *name, const char *path, uint64_t *out, sc_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  char *end = NULL;
  if (cJSON_IsString(v) && strlen(v->valuestring) == 16) {
    errno = 0;
    *out = strtoull(v->valuestring, &end, 16);
    if (!errno && end && !*end) return 0;
  }
  return sc_fail(err, "%s: \"%s\" is missing or not 16 hex digits", path, name);
}

int sc_train_state_parse(const char *path, const char *text, sc_train_state *st, sc_err *err) {
  cJSON *o = cJSON_Parse(text);
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return sc_fail(err, "%s: not a JSON object (truncated or damaged)", path);
  }
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "loader");
  const cJSON *el = cJSON_GetObjectItemCaseSensitive(o, "elapsed_s");
  const cJSON *vl = cJSON_GetObjectItemCaseSensitive(o, "last_val_loss");
  int rc = 0;
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, FORMAT))
    rc = sc_fail(err, "%s: \"format\" is not \"%s\"", path, FORMAT);
  else if (!cJSON_IsObject(l))
    rc = sc_fail(err, "%s: \"loader\" is missing", path);
  else if (!cJSON_IsNumber(el) || !(el->valuedouble >= 0))
    rc = sc_fail(err, "%s: \"elapsed_s\" is missing or negative", path);
  else if (!cJSON_IsNumber(vl) && !cJSON_IsNull(vl))
    rc = sc_fail(err, "%s: \"last_val_loss\" must be a number or null", path);
  if (!rc)
    rc = get_i64(o, "step", path, &st->step, err) || get_i64(o, "updates", path, &st->updates, err) ||
         get_i64(o, "tokens", path, &st->tokens, err) || get_i64(o, "skipped", path, &st->skipped, err) ||
         get_i64(o, "skipped_in_row", path, &st->skipped_in_row, err) ||
         get_i64(o, "metrics_bytes", path, &st->metrics_bytes, err) ||
         get_u64(o, "run_hash", path, &st->run_hash, err) || get_u64(l, "seed", path, &st->loader.seed, err) ||
         get_u64(l, "epoch", path, &st->loader.epoch, err) || get_u64(l, "index", path, &st->loader.index, err) ||
         get_u64(l, "fingerprint", path, &st->loader.fingerprint, err) || get_u64(l, "T", path, &st->loader.T, err) ||
         get_u64(l, "shuffle", path, &st->loader.shuffle, err);
  if (!rc) {
    st->elapsed_s = el->valuedouble;
    st->last_val_loss = cJSON_IsNumber(vl) ? vl->valuedouble : NAN;
  }
  cJSON_Delete(o);
  return rc ? -1 : 0;
}

/* ---- moments ---- */

static int write_moments(const char *path, const sc_params *p, const float *m, const float *v, sc_err *err) {
  const int n = 2 * p->n;
  sc_st_entry *e = sc_calloc((size_t)n, sizeof *e, "moment tensor list", err);
  char(*names)[128] = sc_calloc((size_t)n, sizeof *names, "moment names", err);
  int rc = -1;
  if (e && names) {
    for (int i = 0; i < p->n; i++) {
      const sc_param *t = &p->t[i];
      for (int k = 0; k < 2; k++) {
        snprintf(names[2 * i + k], sizeof *names, "%s.%s", k ? "exp_avg_sq" : "exp_avg", t->key);
        e[2 * i + k] =
            (sc_st_entry){names[2 * i + k], SC_ST_F32, t->ndim, {t->shape[0], t->shape[1]}, (k ? v : m) + t->offset};
      }
    }
    static const char *const meta[] = {"format", "pt", "scalecl", "AdamW moments; rows as in scalecl's arena"};
    rc = sc_st_write(path, e, n, meta, 2, err);
  }
  free(e), free(names);
  return rc;
}

static int read_moments(const char *path, const sc_params *p, float *m, float *v, sc_err *err) {
  sc_st_file f;
  if (sc_st_open(&f, path, err)) return -1;
  int rc = 0;
  char name[128];
  if (f.n != 2 * p->n)
    rc = sc_fail(err, "%s holds %d tensors; the model's moments are %d (exp_avg and exp_avg_sq per parameter)", path,
                 f.n, 2 * p->n);
  for (int i = 0; !rc && i < p->n; i++) {
    const sc_param *t = &p->t[i];
    for (int k = 0; !rc && k < 2; k++) {
      snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", t->key);
      const sc_st_tensor *x = sc_st_find(&f, name);
      if (!x)
        rc = sc_fail(err, "%s: tensor %s is missing", path, name);
      else if (x->dtype != SC_ST_F32 || x->ndim != t->ndim || x->shape[0] != t->shape[0] ||
               (t->ndim == 2 && x->shape[1] != t->shape[1]))
        rc = sc_fail(err, "%s: tensor %s must be F32 of shape (%lld%s%lld)", path, name, (long long)t->shape[0],
                     t->ndim == 2 ? ", " : "", t->ndim == 2 ? (long long)t->shape[1] : 0LL);
      else
        memcpy((k ? v : m) + t->offset, x->data, t->numel * sizeof(float));
    }
  }
  sc_st_close(&f);
  return rc;
}

/* ---- checkpoint directories ---- */

int sc_train_ckpt_write(const char *ckdir, const sc_model_config *cfg, const sc_params *p, const sc_train_arenas *a,
                        const sc_train_state *st, sc_err *err) {
  char tmp[4200], path[4400], final[4200];
  if (sc_mkdirs(ckdir, err)) return sc_wrap(err, "creating the checkpoint directory: ");
  snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "%08" PRId64 "-XXXXXX", ckdir, st->step);
  if (!mkdtemp(tmp)) return sc_fail(err, "cannot create a temporary directory %s: %s", tmp, strerror(errno));
  const mode_t mask = umask(0);
  umask(mask);
  chmod(tmp, 0777 & ~mask);
  char *json = state_json(st, err);
  int rc = !json || sc_checkpoint_write_into(tmp, cfg, p, a->params, err);
  if (!rc) {
    snprintf(path, sizeof path, "%s/%s", tmp, SC_TRAINER_TENSORS);
    rc = write_moments(path, p, a->m, a->v, err);
  }
  if (!rc) {
    snprintf(path, sizeof path, "%s/%s", tmp, SC_TRAINER_JSON);
    rc = sc_write_file_atomic(path, json, strlen(json), err) || sc_fsync_dir(tmp, err);
  }
  free(json);
  sc_train_ckpt_path(final, sizeof final, ckdir, st->step);
  /* A directory of this step exists only when an earlier one was found damaged and training went back. */
  if (!rc) rc = sc_remove_flat_dir(final, err);
  if (!rc && rename(tmp, final) != 0) rc = sc_fail(err, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
  if (!rc) rc = sc_fsync_dir(ckdir, err);
  if (rc) {
    sc_err ignored;
    sc_remove_flat_dir(tmp, &ignored);
    return sc_wrap(err, "writing checkpoint %s: ", final);
  }
  return 0;
}

static int parse_step_name(const char *name, int64_t *step) {
  if (strncmp(name, "step-", 5) || strlen(name) < 13) return 0;
  char *end = NULL;
  errno = 0;
  const long long s = strtoll(name + 5, &end, 10);
  if (errno || !end || *end || s < 0) return 0;
  *step = s;
  return 1;
}

static int cmp_desc(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

int sc_train_ckpt_list(const char *ckdir, int64_t **steps, int *n, sc_err *err) {
  *steps = NULL, *n = 0;
  DIR *d = opendir(ckdir);
  if (!d) return errno == ENOENT ? 0 : sc_fail(err, "cannot read %s: %s", ckdir, strerror(errno));
  const struct dirent *ent;
  int cap = 0, rc = 0;
  while (!rc && (ent = readdir(d))) {
    int64_t s;
    if (!parse_step_name(ent->d_name, &s)) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *grown = realloc(*steps, (size_t)cap * sizeof *grown);
      if (!grown) {
        rc = sc_fail(err, "out of memory listing %s", ckdir);
        break;
      }
      *steps = grown;
    }
    (*steps)[(*n)++] = s;
  }
  closedir(d);
  if (rc) {
    free(*steps), *steps = NULL, *n = 0;
    return -1;
  }
  if (*n) qsort(*steps, (size_t)*n, sizeof **steps, cmp_desc);
  return 0;
}

int sc_train_ckpt_read(const char *ckdir, int64_t step, const sc_model_config *cfg, const sc_params *p,
                       uint64_t run_hash, const sc_train_arenas *a, sc_train_state *st, sc_err *err) {
  char dir[4200], path[4400];
  sc_train_ckpt_path(dir, sizeof dir, ckdir, step);
  sc_checkpoint ck = {0};
  if (sc_checkpoint_read(dir, &ck, err)) return -1;
  int rc = 0;
  if (ck.cfg.arch != cfg->arch || ck.params.n_params != p->n_params || ck.params.arena_floats != p->arena_floats)
    rc = sc_fail(err, "%s holds a %s model of %lld parameters; this run trains a %s model of %lld", dir,
                 sc_arch_name(ck.cfg.arch), (long long)ck.params.n_params, sc_arch_name(cfg->arch),
                 (long long)p->n_params);
  else
    memcpy(a->params, ck.arena, p->arena_floats * sizeof(float));
  sc_checkpoint_free(&ck);
  snprintf(path, sizeof path, "%s/%s", dir, SC_TRAINER_TENSORS);
  if (!rc) rc = read_moments(path, p, a->m, a->v, err);
  char *text = NULL;
  size_t len = 0;
  snprintf(path, sizeof path, "%s/%s", dir, SC_TRAINER_JSON);
  if (!rc) rc = sc_read_file(path, &text, &len, err) || sc_train_state_parse(path, text, st, err);
  free(text);
  if (!rc && st->step != step)
    rc =
        sc_fail(err, "%s: \"step\" is %lld but the directory is step %lld", path, (long long)st->step, (long long)step);
  if (!rc && st->run_hash != run_hash)
    rc = sc_fail(err, "%s belongs to another run (its settings hash differs from run.json's)", path);
  return rc ? -1 : 0;
}

int sc_train_ckpt_prune(const char *ckdir, int keep, sc_err *err) {
  int64_t *steps;
  int n;
  if (keep <= 0 || sc_train_ckpt_list(ckdir, &steps, &n, err)) return keep <= 0 ? 0 : -1;
  char dir[4200];
  int rc = 0;
  for (int i = keep; !rc && i < n; i++) {
    sc_train_ckpt_path(dir, sizeof dir, ckdir, steps[i]);
    rc = sc_remove_flat_dir(dir, err);
  }
  free(steps);
  return rc;
}

int sc_train_ckpt_clean(const char *ckdir, sc_err *err) {
  DIR *d = opendir(ckdir);
  if (!d) return errno == ENOENT ? 0 : sc_fail(err, "cannot read %s: %s", ckdir, strerror(errno));
  const struct dirent *ent;
  char path[4400];
  int rc = 0;
  while (!rc && (ent = readdir(d))) {
    if (strncmp(ent->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) continue;
    snprintf(path, sizeof path, "%s/%s", ckdir, ent->d_name);
    rc = sc_remove_flat_dir(path, err);
  }
  closedir(d);
  return rc;
}
