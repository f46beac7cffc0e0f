#include "model/checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/paths.h"
#include "model/flops.h"
#include "model/safetensors.h"

size_t sc_rope_hf_row(size_t row, size_t head_dim) {
  const size_t h = row / head_dim, i = row % head_dim;
  return h * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

/* Llama q_proj and k_proj: the only tensors whose rows differ between scalecl's RoPE layout and HF's. */
static int is_rope_rows(const sc_params *p, const sc_param *t) {
  const char *f = p->fam[t->family].name;
  return p->arch == SC_ARCH_LLAMA && (!strcmp(f, "self_attn.q_proj.weight") || !strcmp(f, "self_attn.k_proj.weight"));
}

static size_t row_len(const sc_param *t) {
  return t->ndim == 2 ? (size_t)t->shape[1] : 1;
}

/* ---- config.json ---- */

char *sc_checkpoint_config_json(const sc_model_config *c, sc_err *err) {
  sc_model_config w = *c;
  /* HF rounds d·ffn_proj_factor down where the paper rounds up; the exact ratio builds d_ff in both. The arena
   * holds single-mode tensors. HF gives the pad id's embedding row a zero gradient, and every Llama token here is
   * a real one. */
  w.ffn_proj_factor = (double)c->d_ff / (double)c->d_model;
  w.weight_fused = 0;
  if (c->arch == SC_ARCH_LLAMA) w.pad_token_id = -1;
  return sc_model_config_to_json(&w, err);
}

/* ---- writing ---- */

/* Removes the checkpoint files of dir and dir itself (what a failed or replaced write leaves). */
static void remove_checkpoint_dir(const char *dir) {
  char path[4400];
  static const char *const files[] = {SC_CKPT_CONFIG, SC_CKPT_WEIGHTS};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

static int write_weights(const char *path, const sc_model_config *c, const sc_params *p, const float *arena,
                         sc_err *err) {
  size_t rope = 0;
  for (int i = 0; i < p->n; i++) rope += is_rope_rows(p, &p->t[i]) ? p->t[i].numel : 0;
  sc_st_entry *e = sc_calloc((size_t)p->n, sizeof *e, "checkpoint tensor list", err);
  float *perm = rope ? sc_malloc(rope * sizeof *perm, "q/k weights in HF's RoPE layout", err) : NULL;
  if (!e || (rope && !perm)) {
    free(e);
    return -1;
  }
  float *next = perm;
  for (int i = 0; i < p->n; i++) {
    const sc_param *t = &p->t[i];
    e[i] = (sc_st_entry){.name = t->key, .dtype = SC_ST_F32, .ndim = t->ndim, .data = arena + t->offset};
    e[i].shape[0] = t->shape[0];
    e[i].shape[1] = t->shape[1];
    if (!is_rope_rows(p, t)) continue;
    const size_t cols = row_len(t);
    for (size_t r = 0; r < (size_t)t->shape[0]; r++)
      memcpy(next + sc_rope_hf_row(r, (size_t)c->d_qk) * cols, arena + t->offset + r * cols, cols * sizeof *next);
    e[i].data = next;
    next += t->numel;
  }
  static const char *const meta[] = {"format", "pt"};
  const int rc = sc_st_write(path, e, p->n, meta, 1, err);
  free(perm);
  free(e);
  return rc;
}

int sc_checkpoint_write_into(const char *dir, const sc_model_config *c, const sc_params *p, const float *arena,
                             sc_err *err) {
  char path[4400];
  char *json = sc_checkpoint_config_json(c, err);
  if (!json) return -1;
  snprintf(path, sizeof path, "%s/%s", dir, SC_CKPT_CONFIG);
  int rc = sc_write_file_atomic(path, json, strlen(json), err);
  free(json);
  snprintf(path, sizeof path, "%s/%s", dir, SC_CKPT_WEIGHTS);
  return rc || write_weights(path, c, p, arena, err) || sc_fsync_dir(dir, err) ? -1 : 0;
}

/* An existing directory may be replaced only when it holds checkpoint files alone (or nothing). */
static int replaceable(const char *dir, sc_err *err) {
  DIR *d = opendir(dir);
  if (!d) return sc_fail(err, "cannot read directory %s: %s", dir, strerror(errno));
  const struct dirent *ent;
  int rc = 0;
  while (!rc && (ent = readdir(d)))
    if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..") && strcmp(ent->d_name, SC_CKPT_CONFIG) &&
        strcmp(ent->d_name, SC_CKPT_WEIGHTS))
      rc = sc_fail(err,
                   "%s already exists and holds '%s', which is not part of a checkpoint; choose a new directory or "
                   "empty it",
                   dir, ent->d_name);
  closedir(d);
  return rc;
}

/* Renames the finished tmp into dir, moving an old checkpoint aside first (rename cannot replace a non-empty
 * directory); the old one is removed only once the new one is in place. */
static int move_into_place(const char *tmp, const char *dir, sc_err *err) {
  if (rename(tmp, dir) == 0) return 0;
  if (errno != ENOTEMPTY && errno != EEXIST)
    return sc_fail(err, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
  if (replaceable(dir, err)) return -1;
  char old[4200];
  snprintf(old, sizeof old, "%s.old-XXXXXX", dir);
  if (!mkdtemp(old)) return sc_fail(err, "cannot create %s: %s", old, strerror(errno));
  if (rename(dir, old) != 0) {
    const int e = errno;
    rmdir(old);
    return sc_fail(err, "cannot move the old checkpoint %s aside to %s: %s", dir, old, strerror(e));
  }
  if (rename(tmp, dir) != 0) {
    const int e = errno;
    rename(old, dir);
    return sc_fail(err, "cannot rename %s to %s: %s", tmp, dir, strerror(e));
  }
  remove_checkpoint_dir(old);
  return 0;
}

int sc_checkpoint_write(const char *dir, const sc_model_config *c, const sc_params *p, const float *arena,
                        sc_err *err) {
  if (p->arch != c->arch || p->n_params != sc_model_params(c))
    return sc_fail(err, "writing %s: the parameter table (%s, %lld parameters) does not match the config (%s, %lld)",
                   dir, sc_arch_name(p->arch), (long long)p->n_params, sc_arch_name(c->arch),
                   (long long)sc_model_params(c));
  char clean[4096], parent[4096], tmp[4200];
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (n == 0 || n >= sizeof clean) return sc_fail(err, "checkpoint directory path is empty or too long: '%s'", dir);
  memcpy(clean, dir, n);
  clean[n] = '\0';
  const char *slash = strrchr(clean, '/');
  if (!slash)
    snprintf(parent, sizeof parent, ".");
  else
    snprintf(parent, sizeof parent, "%.*s", slash == clean ? 1 : (int)(slash - clean), clean);
  if (sc_mkdirs(parent, err)) return sc_wrap(err, "creating the parent of checkpoint %s: ", clean);
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", clean);
  if (!mkdtemp(tmp)) return sc_fail(err, "cannot create a temporary directory %s: %s", tmp, strerror(errno));
  /* mkdtemp makes it private; a checkpoint gets the permissions of any new directory. */
  const mode_t mask = umask(0);
  umask(mask);
  chmod(tmp, 0777 & ~mask);
  if (sc_checkpoint_write_into(tmp, c, p, arena, err) || move_into_place(tmp, clean, err) ||
      sc_fsync_dir(parent, err)) {
    remove_checkpoint_dir(tmp);
    return sc_wrap(err, "writing checkpoint %s: ", clean);
  }
  return 0;
}

/* ---- reading ---- */

/* Other names a tensor may have in a file. Fused sources stack the parts listed with the same source, in
 * table order, along the output dimension. */
typedef struct {
  const char *family, *source;
  int fused;
} alias;

static const alias XLSTM_ALIASES[] = {
    {"backbone.embeddings.weight", "embedding.weight", 0},
    {"mlstm_layer.q.weight", "mlstm_layer.query.weight", 0},
    {"mlstm_layer.k.weight", "mlstm_layer.key.weight", 0},
    {"mlstm_layer.v.weight", "mlstm_layer.value.weight", 0},
    {"mlstm_layer.q.weight", "mlstm_layer.qkv_opreact.weight", 1},
    {"mlstm_layer.k.weight", "mlstm_layer.qkv_opreact.weight", 1},
    {"mlstm_layer.v.weight", "mlstm_layer.qkv_opreact.weight", 1},
    {"mlstm_layer.ogate_preact.weight", "mlstm_layer.qkv_opreact.weight", 1},
    {"mlstm_layer.igate_preact.weight", "mlstm_layer.ifgate_preact.weight", 1},
    {"mlstm_layer.fgate_preact.weight", "mlstm_layer.ifgate_preact.weight", 1},
    {"mlstm_layer.igate_preact.bias", "mlstm_layer.ifgate_preact.bias", 1},
    {"mlstm_layer.fgate_preact.bias", "mlstm_layer.ifgate_preact.bias", 1},
    {"ffn.proj_up_gate.weight", "ffn.proj_up_gate_z.weight", 1},
    {"ffn.proj_up.weight", "ffn.proj_up_gate_z.weight", 1},
};
enum { N_ALIASES = (int)(sizeof XLSTM_ALIASES / sizeof *XLSTM_ALIASES) };

/* Rows of one block's tensor of a family (every family named in the alias table is in the params). */
static int64_t family_rows(const sc_params *p, const char *family) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->fam[p->t[i].family].name, family)) return p->t[i].shape[0];
  return 0;
}

/* Where a parameter's values are in the file: a tensor, and the rows [row0, row0 + rows) of its `total`. */
typedef struct {
  const sc_st_tensor *t;
  int64_t row0, total;
  char names[512]; /* every name looked for, for a "missing" message */
} source;

static void source_name(const sc_param *t, const char *name, char *out, size_t n) {
  if (t->layer >= 0)
    snprintf(out, n, "backbone.blocks.%d.%s", t->layer, name);
  else
    snprintf(out, n, "%s", name);
}

static void find_source(const sc_st_file *f, const sc_params *p, const sc_param *t, source *s) {
  *s = (source){.t = sc_st_find(f, t->key), .total = t->shape[0]};
  snprintf(s->names, sizeof s->names, "'%s'", t->key);
  if (s->t || p->arch != SC_ARCH_XLSTM) return;
  const char *family = p->fam[t->family].name;
  for (int a = 0; a < N_ALIASES && !s->t; a++) {
    if (strcmp(XLSTM_ALIASES[a].family, family)) continue;
    char name[160];
    source_name(t, XLSTM_ALIASES[a].source, name, sizeof name);
    const size_t used = strlen(s->names);
    snprintf(s->names + used, sizeof s->names - used, ", '%s'", name);
    if (!(s->t = sc_st_find(f, name)) || !XLSTM_ALIASES[a].fused) continue;
    s->total = s->row0 = 0;
    for (int b = 0; b < N_ALIASES; b++) {
      if (strcmp(XLSTM_ALIASES[b].source, XLSTM_ALIASES[a].source)) continue;
      if (b < a) s->row0 += family_rows(p, XLSTM_ALIASES[b].family);
      s->total += family_rows(p, XLSTM_ALIASES[b].family);
    }
  }
}

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape) {
  size_t at = (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < ndim && at < n; d++)
    at += (size_t)snprintf(buf + at, n - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (at < n) snprintf(buf + at, n - at, "]");
}

/* Finds parameter t's values in the file and checks their shape and dtype, without reading them. */
static int check_tensor(const sc_st_file *f, const sc_model_config *c, const sc_params *p, const sc_param *t, source *s,
                        sc_err *err) {
  find_source(f, p, t, s);
  char want[96], got[96];
  const int64_t expect[2] = {s->total, t->shape[1]};
  shape_text(want, sizeof want, t->ndim, expect);
  if (!s->t)
    return sc_fail(err,
                   "tensor '%s' (shape %s = %s) is missing from %s (looked for %s); is it a checkpoint of this %s "
                   "config?",
                   t->key, want, t->dims, f->path, s->names, sc_arch_name(p->arch));
  const char *fused = s->total != t->shape[0] ? " (fused: this tensor's rows stacked with its partners')" : "";
  if (s->t->ndim != t->ndim || s->t->shape[0] != s->total || (t->ndim == 2 && s->t->shape[1] != t->shape[1])) {
    shape_text(got, sizeof got, s->t->ndim, s->t->shape);
    return sc_fail(err, "tensor '%s' in %s has shape %s; expected %s%s = %s from %s", s->t->name, f->path, got, want,
                   fused, t->dims, c->origin);
  }
  if (!sc_st_is_float(s->t->dtype))
    return sc_fail(err, "tensor '%s' in %s has dtype %s; expected a float tensor (F32, F16, BF16 or F64)", s->t->name,
                   f->path, sc_st_dtype_name(s->t->dtype));
  return 0;
}

/* Copies a checked parameter into the arena (Llama q/k rows into scalecl's RoPE order). */
static void copy_tensor(const sc_model_config *c, const sc_params *p, const sc_param *t, const source *s,
                        float *arena) {
  const size_t cols = row_len(t), rows = (size_t)t->shape[0], row0 = (size_t)s->row0;
  float *dst = arena + t->offset;
  if (!is_rope_rows(p, t)) {
    sc_st_read_f32(s->t, row0 * cols, rows * cols, dst);
    return;
  }
  for (size_t r = 0; r < rows; r++)
    sc_st_read_f32(s->t, (row0 + sc_rope_hf_row(r, (size_t)c->d_qk)) * cols, cols, dst + r * cols);
}

/* xLSTM's FFN width comes from the weights: HF rounds d·ffn_proj_factor down where the paper rounds up
 * (hf-checkpoints.md), so a config alone does not say which width a file holds. */
static int xlstm_ffn_width(const sc_st_file *f, sc_model_config *c, sc_err *err) {
  const sc_st_tensor *t = sc_st_find(f, "backbone.blocks.0.ffn.proj_up.weight");
  const int fused = !t;
  if (fused) t = sc_st_find(f, "backbone.blocks.0.ffn.proj_up_gate_z.weight");
  if (!t || t->ndim != 2) return 0; /* the tensor checks report it */
  const long ff = (long)(t->shape[0] / (fused ? 2 : 1)), m = c->ffn_round_up_to_multiple_of;
  const double x = (double)c->d_model * c->ffn_proj_factor;
  const long hf = (long)(floor((x + (double)m - 1) / (double)m) * (double)m);
  if (ff != c->d_ff && ff != hf)
    return sc_fail(err,
                   "tensor '%s' in %s has d_ff = %ld rows%s, but %s gives d_ff = %ld (embedding_dim %ld x "
                   "ffn_proj_factor %g rounded up to a multiple of %ld; %ld with HF's rounding): the config and the "
                   "weights disagree",
                   t->name, f->path, ff, fused ? " per half" : "", c->origin, c->d_ff, c->d_model, c->ffn_proj_factor,
                   m, hf);
  c->d_ff = ff;
  c->ffn_proj_factor = (double)ff / (double)c->d_model;
  return 0;
}

/* Buffers HF keeps in some older Llama files; not parameters. */
static int ignorable(const char *name) {
  const char *suffix = "rotary_emb.inv_freq";
  const size_t n = strlen(name), k = strlen(suffix);
  return n >= k && !strcmp(name + n - k, suffix);
}

/* Every tensor is checked before the arena is allocated: the config alone could ask for any size (a llama-7b
 * config beside a 5 KB file allocated 27 GB before it reported a missing tensor; the input is in the corpus of
 * tests/fuzz/fuzz_checkpoint). */
static int read_weights(const sc_st_file *f, sc_checkpoint *ck, sc_err *err) {
  if (ck->cfg.arch == SC_ARCH_XLSTM && xlstm_ffn_width(f, &ck->cfg, err)) return -1;
  if (sc_params_build(&ck->cfg, &ck->params, err)) return -1;
  const sc_params *p = &ck->params;
  unsigned char *used = sc_calloc((size_t)(f->n ? f->n : 1), 1, "tensor flags", err);
  source *src = used ? sc_calloc((size_t)p->n, sizeof *src, "tensor sources", err) : NULL;
  int rc = src ? 0 : -1;
  for (int i = 0; !rc && i < p->n; i++) {
    rc = check_tensor(f, &ck->cfg, p, &p->t[i], &src[i], err);
    if (!rc) used[src[i].t - f->tensors] = 1;
  }
  for (int i = 0; !rc && i < f->n; i++)
    if (!used[i] && !ignorable(f->tensors[i].name))
      rc = sc_fail(err, "unexpected tensor '%s' in %s: not a parameter of the %s model in %s (keys look like '%s')",
                   f->tensors[i].name, f->path, sc_arch_name(ck->cfg.arch), ck->cfg.origin, p->t[1].key);
  if (!rc && !(ck->arena = sc_params_alloc(p, err))) rc = -1;
  for (int i = 0; !rc && i < p->n; i++) copy_tensor(&ck->cfg, p, &p->t[i], &src[i], ck->arena);
  free(src);
  free(used);
  return rc;
}

int sc_checkpoint_read(const char *dir, sc_checkpoint *ck, sc_err *err) {
  memset(ck, 0, sizeof *ck);
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, SC_CKPT_CONFIG);
  if (!sc_is_file(path))
    return sc_fail(err, "%s has no %s; a checkpoint directory holds %s and %s", dir, SC_CKPT_CONFIG, SC_CKPT_CONFIG,
                   SC_CKPT_WEIGHTS);
  if (sc_model_config_load(path, &ck->cfg, err)) return -1;
  snprintf(path, sizeof path, "%s/%s", dir, SC_CKPT_WEIGHTS);
  if (!sc_is_file(path)) {
    snprintf(path, sizeof path, "%s/%s.index.json", dir, SC_CKPT_WEIGHTS);
    if (sc_is_file(path))
      return sc_fail(err, "%s holds a sharded checkpoint (%s), which scalecl does not read; save it as one %s", dir,
                     path, SC_CKPT_WEIGHTS);
    return sc_fail(err, "%s has a %s but no %s", dir, SC_CKPT_CONFIG, SC_CKPT_WEIGHTS);
  }
  sc_st_file f;
  if (sc_st_open(&f, path, err)) return -1;
  const int rc = read_weights(&f, ck, err);
  sc_st_close(&f);
  ck->cfg.weight_fused = 0;
  if (rc) sc_checkpoint_free(ck);
  return rc;
}

void sc_checkpoint_free(sc_checkpoint *ck) {
  sc_params_free(&ck->params);
  free(ck->arena);
  ck->arena = NULL;
}
