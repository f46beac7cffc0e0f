/* Checkpoints (hf-checkpoints.md): write -> read gives the same bits, config.json carries what HF needs, Llama
 * q/k rows are permuted to HF's RoPE layout and back, F16/BF16, fused, xlstm_large and older names read, the
 * FFN width comes from the tensors, every bad checkpoint is rejected naming the tensor and the file, and
 * `scalecl init` writes the same checkpoint as the library. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "harness.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "model/params.h"
#include "model/presets.h"
#include "model/safetensors.h"

/* A tiny xLSTM (d 64, 2 blocks, 2 heads, d_ff 192) and Llama (d 16, 2 heads of 8, d_ff 32). */
static const char XLSTM[] =
    "{\"model_type\": \"xlstm\", \"vocab_size\": 48, \"embedding_dim\": 64, \"num_blocks\": 2, \"num_heads\": 2}";
static const char LLAMA[] =
    "{\"model_type\": \"llama\", \"vocab_size\": 40, \"hidden_size\": 16, \"intermediate_size\": 32, "
    "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"rope_theta\": 500000, \"pad_token_id\": 3}";

static char root[4096];

static const char *path_in(const char *dir, const char *name) {
  static char buf[2][4400];
  static int k;
  k ^= 1;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

typedef struct {
  sc_model_config cfg;
  sc_params p;
  float *arena;
} model;

static model make_from(const sc_model_config *c, uint64_t seed) {
  model m = {.cfg = *c};
  TH_CHECK(sc_params_build(&m.cfg, &m.p, TH_ERR));
  sc_err err;
  if (!(m.arena = sc_params_alloc(&m.p, &err))) fail_msg("%s", err.msg);
  TH_CHECK(sc_init_params(&m.p, m.arena, seed, 2, TH_ERR));
  return m;
}

static sc_model_config parse(const char *json) {
  sc_model_config c;
  TH_CHECK(sc_model_config_parse(json, "test config", &c, TH_ERR));
  return c;
}

static model make(const char *json, uint64_t seed) {
  const sc_model_config c = parse(json);
  return make_from(&c, seed);
}

static void drop(model *m) {
  free(m->arena);
  sc_params_free(&m->p);
}

/* Writes m as checkpoint `name` under the test's directory. */
static const char *save(const model *m, const char *name) {
  static char dir[4200];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  TH_CHECK(sc_checkpoint_write(dir, &m->cfg, &m->p, m->arena, TH_ERR));
  return dir;
}

static void assert_same_params(const model *m, const sc_checkpoint *ck) {
  assert_int_equal(ck->params.n, m->p.n);
  assert_int_equal(ck->params.arena_floats, m->p.arena_floats);
  assert_memory_equal(ck->arena, m->arena, m->p.arena_floats * sizeof(float));
}

static sc_checkpoint load(const char *dir) {
  sc_checkpoint ck;
  TH_CHECK(sc_checkpoint_read(dir, &ck, TH_ERR));
  return ck;
}

/* ---- editing a checkpoint's files the way other writers lay them out ---- */

typedef struct {
  int n;
  sc_st_entry e[64];
  char names[64][160];
  void *data[64];
} entries;

static void read_entries(const char *dir, entries *E) {
  sc_st_file f;
  TH_CHECK(sc_st_open(&f, path_in(dir, SC_CKPT_WEIGHTS), TH_ERR));
  assert_true(f.n <= 64);
  E->n = f.n;
  for (int i = 0; i < f.n; i++) {
    const sc_st_tensor *t = &f.tensors[i];
    snprintf(E->names[i], sizeof E->names[i], "%s", t->name);
    E->data[i] = th_calloc(t->nbytes + 1, 1);
    memcpy(E->data[i], t->data, t->nbytes);
    E->e[i] = (sc_st_entry){.name = E->names[i], .dtype = t->dtype, .ndim = t->ndim, .data = E->data[i]};
    memcpy(E->e[i].shape, t->shape, sizeof t->shape);
  }
  sc_st_close(&f);
}

static void write_entries(const char *dir, entries *E) {
  TH_CHECK(sc_st_write(path_in(dir, SC_CKPT_WEIGHTS), E->e, E->n, NULL, 0, TH_ERR));
  for (int i = 0; i < E->n; i++) free(E->data[i]);
  E->n = 0;
}

static int find(const entries *E, const char *name) {
  for (int i = 0; i < E->n; i++)
    if (!strcmp(E->names[i], name)) return i;
  fail_msg("no tensor %s", name);
  return -1;
}

static void rename_entry(entries *E, const char *from, const char *to) {
  snprintf(E->names[find(E, from)], sizeof E->names[0], "%s", to);
}

static void remove_entry(entries *E, const char *name) {
  const int i = find(E, name);
  free(E->data[i]);
  E->n--;
  memmove(&E->e[i], &E->e[i + 1], (size_t)(E->n - i) * sizeof E->e[0]);
  memmove(&E->names[i], &E->names[i + 1], (size_t)(E->n - i) * sizeof E->names[0]);
  memmove(&E->data[i], &E->data[i + 1], (size_t)(E->n - i) * sizeof E->data[0]);
  for (int k = 0; k < E->n; k++) E->e[k].name = E->names[k], E->e[k].data = E->data[k];
}

/* Appends the named F32 tensors' rows (equal column counts) as one tensor. */
static void fuse(entries *E, const char *name, const char *const *parts, int n) {
  int64_t rows = 0, cols = 1;
  for (int k = 0; k < n; k++) {
    const sc_st_entry *e = &E->e[find(E, parts[k])];
    rows += e->shape[0];
    cols = e->ndim == 2 ? e->shape[1] : 1;
  }
  float *data = th_falloc((size_t)(rows * cols)), *at = data;
  const int ndim = E->e[find(E, parts[0])].ndim;
  for (int k = 0; k < n; k++) {
    const int i = find(E, parts[k]);
    const size_t count = (size_t)(E->e[i].shape[0] * cols);
    memcpy(at, E->data[i], count * sizeof *at);
    at += count;
    remove_entry(E, parts[k]);
  }
  const int j = E->n++;
  snprintf(E->names[j], sizeof E->names[j], "%s", name);
  E->data[j] = data;
  E->e[j] = (sc_st_entry){.name = E->names[j], .dtype = SC_ST_F32, .ndim = ndim, .data = data};
  E->e[j].shape[0] = rows;
  E->e[j].shape[1] = ndim == 2 ? cols : 0;
}

/* Rewrites config.json with one field set (value: JSON text) or removed (value NULL). */
static void edit_config(const char *dir, const char *field, const char *value) {
  char *text;
  size_t len;
  TH_CHECK(sc_read_file(path_in(dir, SC_CKPT_CONFIG), &text, &len, TH_ERR));
  cJSON *o = cJSON_Parse(text);
  free(text);
  assert_non_null(o);
  cJSON_DeleteItemFromObjectCaseSensitive(o, field);
  if (value) cJSON_AddItemToObject(o, field, cJSON_Parse(value));
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  TH_CHECK(sc_write_file_atomic(path_in(dir, SC_CKPT_CONFIG), s, strlen(s), TH_ERR));
  free(s);
}

static cJSON *config_of(const char *dir) {
  char *text;
  size_t len;
  TH_CHECK(sc_read_file(path_in(dir, SC_CKPT_CONFIG), &text, &len, TH_ERR));
  cJSON *o = cJSON_Parse(text);
  free(text);
  assert_non_null(o);
  return o;
}

/* HF's strict config classes reject 1 where they declare a float: the text must have a point or exponent. */
static void assert_float_text(const char *dir, const char *const *fields) {
  char *text;
  size_t len;
  TH_CHECK(sc_read_file(path_in(dir, SC_CKPT_CONFIG), &text, &len, TH_ERR));
  for (int i = 0; fields[i]; i++) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", fields[i]);
    const char *at = strstr(text, key);
    if (!at) fail_msg("config.json has no %s", fields[i]);
    at += strlen(key) + strspn(at + strlen(key), " \t");
    const size_t n = strcspn(at, ",\n}");
    if (!memchr(at, '.', n) && !memchr(at, 'e', n))
      fail_msg("config.json: %s = %.*s is not a float", fields[i], (int)n, at);
  }
  free(text);
}

static double num(const cJSON *o, const char *field) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  if (!cJSON_IsNumber(v)) fail_msg("config.json: %s is not a number", field);
  return v->valuedouble;
}

/* ---- tests ---- */

static void test_xlstm_round_trip(void **state) {
  (void)state;
  model m = make(XLSTM, 7);
  const char *dir = save(&m, "xlstm");
  cJSON *o = config_of(dir);
  /* Both names of width and depth, the width HF rounds to d_ff, no tying. */
  assert_true(num(o, "hidden_size") == 64 && num(o, "embedding_dim") == 64);
  assert_true(num(o, "num_hidden_layers") == 2 && num(o, "num_blocks") == 2);
  assert_true(num(o, "ffn_proj_factor") == 3.0 && m.cfg.d_ff == 192);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings")));
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "model_type")->valuestring, "xlstm");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "weight_mode")->valuestring, "single");
  assert_null(cJSON_GetObjectItemCaseSensitive(o, "chunkwise_kernel"));
  cJSON_Delete(o);
  assert_float_text(dir, (const char *const[]){"qk_dim_factor", "v_dim_factor", "ffn_proj_factor", "gate_soft_cap",
                                               "output_logit_soft_cap", "norm_eps", "eps", NULL});

  sc_st_file f;
  TH_CHECK(sc_st_open(&f, path_in(dir, SC_CKPT_WEIGHTS), TH_ERR));
  assert_int_equal(f.n, m.p.n);
  assert_non_null(f.metadata_json);
  cJSON *meta = cJSON_Parse(f.metadata_json);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(meta, "format")->valuestring, "pt");
  cJSON_Delete(meta);
  for (int i = 0; i < m.p.n; i++) {
    const sc_st_tensor *t = sc_st_find(&f, m.p.t[i].key);
    assert_non_null(t);
    assert_int_equal(t->dtype, SC_ST_F32);
    assert_memory_equal(t->data, m.arena + m.p.t[i].offset, m.p.t[i].numel * sizeof(float));
  }
  sc_st_close(&f);

  sc_checkpoint ck = load(dir);
  assert_int_equal(ck.cfg.d_ff, 192);
  assert_int_equal(ck.cfg.d_model, 64);
  assert_same_params(&m, &ck);
  sc_checkpoint_free(&ck);

  /* Writing again replaces the checkpoint, and leaves no temporary directory behind. */
  TH_CHECK(sc_init_params(&m.p, m.arena, 8, 1, TH_ERR));
  save(&m, "xlstm");
  ck = load(dir);
  assert_same_params(&m, &ck);
  sc_checkpoint_free(&ck);
  assert_int_equal(th_count_glob(path_in(root, "xlstm.*")), 0);
  drop(&m);
}

static void test_refuses_to_replace_other_files(void **state) {
  (void)state;
  model m = make(XLSTM, 1);
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/busy", root);
  assert_int_equal(mkdir(dir, 0755), 0);
  TH_CHECK(sc_write_file_atomic(path_in(dir, "notes.txt"), "keep", 4, TH_ERR));
  sc_err err;
  assert_int_equal(sc_checkpoint_write(dir, &m.cfg, &m.p, m.arena, &err), -1);
  printf("  expected error: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "notes.txt"));
  assert_int_equal(th_count_glob(path_in(dir, "*")), 1);
  assert_int_equal(th_count_glob(path_in(root, "busy.*")), 0);
  drop(&m);
}

/* Values = element index, so the file's row order can be read off. */
static void test_llama_rope_permutation(void **state) {
  (void)state;
  model m = make(LLAMA, 3);
  for (size_t i = 0; i < m.p.arena_floats; i++) m.arena[i] = (float)i;
  const char *dir = save(&m, "llama");
  cJSON *o = config_of(dir);
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "pad_token_id")));
  assert_true(num(o, "head_dim") == 8 && num(o, "num_key_value_heads") == 2 && num(o, "rope_theta") == 500000);
  cJSON_Delete(o);
  assert_float_text(dir, (const char *const[]){"rope_theta", "rms_norm_eps", NULL});

  sc_st_file f;
  TH_CHECK(sc_st_open(&f, path_in(dir, SC_CKPT_WEIGHTS), TH_ERR));
  const sc_param *q = sc_params_find(&m.p, "model.layers.1.self_attn.q_proj.weight");
  const sc_param *k = sc_params_find(&m.p, "model.layers.0.self_attn.k_proj.weight");
  const sc_param *v = sc_params_find(&m.p, "model.layers.0.self_attn.v_proj.weight");
  const float *fq = sc_st_find(&f, q->key)->data, *fk = sc_st_find(&f, k->key)->data;
  /* By hand (head_dim 8): adjacent-pair row 3 = head 0, pair 1, second element -> HF row 4 + 1 = 5; row 10 =
   * head 1, pair 1, first element -> HF row 8 + 0 + 1 = 9. Element (5, 2) of the file is element (3, 2). */
  assert_int_equal(sc_rope_hf_row(3, 8), 5);
  assert_int_equal(sc_rope_hf_row(10, 8), 9);
  assert_true(fq[5 * 16 + 2] == m.arena[q->offset + 3 * 16 + 2]);
  assert_true(fk[9 * 16] == m.arena[k->offset + 10 * 16]);
  /* The numpy formula: W_hf = W_adj.reshape(NH, hd/2, 2, d).transpose(0, 2, 1, 3).reshape(NH*hd, d). */
  for (int h = 0; h < 2; h++)
    for (int j = 0; j < 4; j++)
      for (int t = 0; t < 2; t++)
        for (int c = 0; c < 16; c++)
          assert_true(fq[((h * 2 + t) * 4 + j) * 16 + c] ==
                      m.arena[q->offset + (size_t)((h * 4 + j) * 2 + t) * 16 + c]);
  assert_memory_equal(sc_st_find(&f, v->key)->data, m.arena + v->offset, v->numel * sizeof(float));
  sc_st_close(&f);

  sc_checkpoint ck = load(dir);
  assert_same_params(&m, &ck);
  assert_int_equal(ck.cfg.pad_token_id, -1);
  sc_checkpoint_free(&ck);
  drop(&m);
}

static void test_llama_nested_rope_parameters(void **state) {
  (void)state;
  model m = make(LLAMA, 4);
  const char *dir = save(&m, "llama-nested");
  edit_config(dir, "rope_theta", NULL);
  edit_config(dir, "rope_parameters", "{\"rope_theta\": 10000.0, \"rope_type\": \"default\"}");
  sc_checkpoint ck = load(dir);
  assert_true(ck.cfg.rope_theta == 10000.0);
  assert_same_params(&m, &ck);
  sc_checkpoint_free(&ck);
  edit_config(dir, "rope_theta", "500000");
  sc_err err;
  assert_int_equal(sc_checkpoint_read(dir, &ck, &err), -1);
  assert_non_null(strstr(err.msg, "disagrees with rope_parameters.rope_theta"));
  drop(&m);
}

static uint16_t to_bf16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return (uint16_t)(u >> 16);
}

/* Normal numbers only, exact: the tests use values that F16 holds. */
static uint16_t to_f16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if (!(u & 0x7fffffff)) return (uint16_t)(u >> 16);
  const int ex = (int)((u >> 23) & 255) - 127 + 15;
  assert_true(ex > 0 && ex < 31 && !(u & 0x1fff));
  return (uint16_t)(((u >> 16) & 0x8000) | (uint32_t)ex << 10 | ((u >> 13) & 0x3ff));
}

static void test_reads_f16_and_bf16(void **state) {
  (void)state;
  for (int bf = 0; bf < 2; bf++) {
    model m = make(XLSTM, 5);
    /* Multiples of 1/64 up to 4 in magnitude are exact in both. */
    for (int j = 0; j < m.p.n; j++)
      for (size_t e = 0; e < m.p.t[j].numel; e++)
        m.arena[m.p.t[j].offset + e] = (float)((int)((e * 7 + (size_t)j) % 257) - 128) / 64;
    const char *dir = save(&m, bf ? "bf16" : "f16");
    entries E;
    read_entries(dir, &E);
    for (int i = 0; i < E.n; i++) {
      size_t n = E.e[i].ndim == 2 ? (size_t)(E.e[i].shape[0] * E.e[i].shape[1]) : (size_t)E.e[i].shape[0];
      const float *x = E.data[i];
      uint16_t *h = th_calloc(n + 1, sizeof *h);
      for (size_t e = 0; e < n; e++) h[e] = bf ? to_bf16(x[e]) : to_f16(x[e]);
      free(E.data[i]);
      E.data[i] = h;
      E.e[i].data = h;
      E.e[i].dtype = bf ? SC_ST_BF16 : SC_ST_F16;
    }
    write_entries(dir, &E);
    sc_checkpoint ck = load(dir);
    assert_same_params(&m, &ck);
    sc_checkpoint_free(&ck);
    drop(&m);
  }
}

/* NX-AI weight_mode "fused": qkv_opreact = [q; k; v; o], ifgate_preact = [i; f], proj_up_gate_z = [gate; up]. */
static void test_reads_fused_xlstm(void **state) {
  (void)state;
  model m = make(XLSTM, 9);
  const char *dir = save(&m, "fused");
  entries E;
  read_entries(dir, &E);
  for (int b = 0; b < 2; b++) {
    char n[8][160], fused[160];
    static const char *const qkvo[] = {"q", "k", "v", "ogate_preact"};
    for (int k = 0; k < 4; k++) snprintf(n[k], sizeof n[k], "backbone.blocks.%d.mlstm_layer.%s.weight", b, qkvo[k]);
    snprintf(fused, sizeof fused, "backbone.blocks.%d.mlstm_layer.qkv_opreact.weight", b);
    fuse(&E, fused, (const char *const[]){n[0], n[1], n[2], n[3]}, 4);
    for (int w = 0; w < 2; w++) {
      const char *kind = w ? "bias" : "weight";
      snprintf(n[0], sizeof n[0], "backbone.blocks.%d.mlstm_layer.igate_preact.%s", b, kind);
      snprintf(n[1], sizeof n[1], "backbone.blocks.%d.mlstm_layer.fgate_preact.%s", b, kind);
      snprintf(fused, sizeof fused, "backbone.blocks.%d.mlstm_layer.ifgate_preact.%s", b, kind);
      fuse(&E, fused, (const char *const[]){n[0], n[1]}, 2);
    }
    snprintf(n[0], sizeof n[0], "backbone.blocks.%d.ffn.proj_up_gate.weight", b);
    snprintf(n[1], sizeof n[1], "backbone.blocks.%d.ffn.proj_up.weight", b);
    snprintf(fused, sizeof fused, "backbone.blocks.%d.ffn.proj_up_gate_z.weight", b);
    fuse(&E, fused, (const char *const[]){n[0], n[1]}, 2);
  }
  write_entries(dir, &E);
  edit_config(dir, "weight_mode", "\"fused\"");
  sc_checkpoint ck = load(dir);
  assert_int_equal(ck.cfg.weight_fused, 0);
  assert_int_equal(ck.cfg.d_ff, 192);
  assert_same_params(&m, &ck);
  sc_checkpoint_free(&ck);
  drop(&m);
}

/* xlstm_large names the embedding `embedding.weight`; older HF names q/k/v query/key/value. Also the 7B hub
 * config's kernel names. */
static void test_reads_other_xlstm_names(void **state) {
  (void)state;
  model m = make(XLSTM, 10);
  const char *dir = save(&m, "names");
  entries E;
  read_entries(dir, &E);
  rename_entry(&E, "backbone.embeddings.weight", "embedding.weight");
  rename_entry(&E, "backbone.blocks.1.mlstm_layer.q.weight", "backbone.blocks.1.mlstm_layer.query.weight");
  rename_entry(&E, "backbone.blocks.1.mlstm_layer.k.weight", "backbone.blocks.1.mlstm_layer.key.weight");
  rename_entry(&E, "backbone.blocks.0.mlstm_layer.v.weight", "backbone.blocks.0.mlstm_layer.value.weight");
  write_entries(dir, &E);
  edit_config(dir, "chunkwise_kernel", "\"chunkwise--triton_limit_chunk\"");
  edit_config(dir, "step_kernel", "\"triton_fused\"");
  sc_checkpoint ck = load(dir);
  assert_same_params(&m, &ck);
  sc_checkpoint_free(&ck);
  drop(&m);
}

/* d = 24 at the paper's factor 2.667: x = 64.008, the paper's width 128, HF's 64. A file of either width reads
 * with the config's factor; scalecl writes factor d_ff/d, which both roundings read as d_ff. */
static void test_ffn_width_from_tensors(void **state) {
  (void)state;
  static const char D24[] =
      "{\"model_type\": \"xlstm\", \"vocab_size\": 32, \"embedding_dim\": 24, \"num_blocks\": 1, \"num_heads\": 2, "
      "\"ffn_proj_factor\": 2.667}";
  for (int hf = 0; hf < 2; hf++) {
    sc_model_config c = parse(D24);
    assert_int_equal(c.d_ff, 128);
    if (hf) c.d_ff = 64;
    model m = make_from(&c, 2);
    const char *dir = save(&m, hf ? "d24-hf" : "d24");
    cJSON *o = config_of(dir);
    assert_true(num(o, "ffn_proj_factor") == (hf ? 64.0 : 128.0) / 24);
    cJSON_Delete(o);
    sc_checkpoint ck = load(dir);
    assert_int_equal(ck.cfg.d_ff, hf ? 64 : 128);
    assert_same_params(&m, &ck);
    sc_checkpoint_free(&ck);
    edit_config(dir, "ffn_proj_factor", "2.667");
    ck = load(dir);
    assert_int_equal(ck.cfg.d_ff, hf ? 64 : 128);
    sc_checkpoint_free(&ck);
    drop(&m);
  }
}

/* An error that names every needle (the tensor, the file, the expected shape). */
static void expect_reject(const char *dir, const char *const *needles) {
  sc_checkpoint ck;
  sc_err err;
  assert_int_equal(sc_checkpoint_read(dir, &ck, &err), -1);
  printf("  expected error: %s\n", err.msg);
  for (int i = 0; needles[i]; i++)
    if (!strstr(err.msg, needles[i])) fail_msg("error '%s' lacks '%s'", err.msg, needles[i]);
  assert_null(ck.arena);
}

static void test_rejects_bad_checkpoints(void **state) {
  (void)state;
  model m = make(XLSTM, 12);
  const char *dir = save(&m, "bad");
  char st[4400];
  snprintf(st, sizeof st, "%s", path_in(dir, SC_CKPT_WEIGHTS));
  entries E;

  read_entries(dir, &E);
  remove_entry(&E, "backbone.blocks.1.ffn.proj_down.weight");
  write_entries(dir, &E);
  expect_reject(dir, (const char *const[]){"'backbone.blocks.1.ffn.proj_down.weight'", "missing", st, "[64, 192]",
                                           "(embedding_dim, d_ff)", NULL});

  save(&m, "bad");
  read_entries(dir, &E);
  E.data[E.n] = th_calloc(4, 1);
  snprintf(E.names[E.n], sizeof E.names[0], "backbone.blocks.0.mlstm_layer.extra.weight");
  E.e[E.n] = (sc_st_entry){.name = E.names[E.n], .dtype = SC_ST_F32, .ndim = 1, .shape = {1}, .data = E.data[E.n]};
  E.n++;
  write_entries(dir, &E);
  expect_reject(dir, (const char *const[]){"unexpected tensor 'backbone.blocks.0.mlstm_layer.extra.weight'", st, NULL});

  save(&m, "bad");
  read_entries(dir, &E);
  E.e[find(&E, "backbone.blocks.1.mlstm_layer.q.weight")].shape[0] = 16;
  E.e[find(&E, "backbone.blocks.1.mlstm_layer.q.weight")].shape[1] = 128;
  write_entries(dir, &E);
  expect_reject(dir, (const char *const[]){"'backbone.blocks.1.mlstm_layer.q.weight'", st, "[16, 128]",
                                           "expected [32, 64]", "(qk_dim, embedding_dim)", NULL});

  save(&m, "bad");
  read_entries(dir, &E);
  E.e[find(&E, "backbone.out_norm.weight")].dtype = SC_ST_I32;
  write_entries(dir, &E);
  expect_reject(dir, (const char *const[]){"'backbone.out_norm.weight'", st, "dtype I32", "F32", NULL});

  save(&m, "bad");
  edit_config(dir, "model_type", "\"gpt2\"");
  expect_reject(dir, (const char *const[]){path_in(dir, SC_CKPT_CONFIG), "model_type", "gpt2", NULL});

  save(&m, "bad");
  edit_config(dir, "ffn_proj_factor", "4.0");
  expect_reject(dir,
                (const char *const[]){"'backbone.blocks.0.ffn.proj_up.weight'", st, "d_ff = 192", "d_ff = 256", NULL});

  save(&m, "bad");
  assert_int_equal(remove(st), 0);
  expect_reject(dir, (const char *const[]){dir, "no " SC_CKPT_WEIGHTS, NULL});
  drop(&m);
}

static int run_init(const char *args, char *out, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s init %s 2>&1", th_scalecl_bin(), args);
  return th_run_capture(cmd, out, cap);
}

/* The command writes the library's checkpoint: same bits as sc_init_params with the seed, on any threads. */
static void test_init_command(void **state) {
  (void)state;
  static const char *const presets[] = {"xlstm-cpu-50k", "llama-cpu-50k"};
  char out[16384], args[4600], dir[4200];
  for (int k = 0; k < 2; k++) {
    snprintf(dir, sizeof dir, "%s/cli-%d", root, k);
    snprintf(args, sizeof args, "--model %s --seed 31 --out %s", presets[k], dir);
    assert_int_equal(run_init(args, out, sizeof out), 0);
    printf("%s", out);
    assert_non_null(strstr(out, "seed        31"));
    assert_non_null(strstr(out, dir));
    assert_non_null(strstr(out, k ? "model.embed_tokens.weight" : "backbone.embeddings.weight"));
    sc_model_config c;
    TH_CHECK(sc_model_config_resolve(presets[k], &c, TH_ERR));
    model m = make_from(&c, 31);
    sc_checkpoint ck = load(dir);
    assert_same_params(&m, &ck);
    char num_text[64];
    snprintf(num_text, sizeof num_text, "parameters  %lld", (long long)m.p.n_params);
    assert_non_null(strstr(out, num_text));
    sc_checkpoint_free(&ck);
    drop(&m);
  }
  /* Usage errors exit 2; a model that does not exist, or a directory holding other files, 1. */
  assert_int_equal(run_init("--model xlstm-cpu-50k", out, sizeof out), 2);
  assert_non_null(strstr(out, "--out"));
  assert_int_equal(run_init("--out x", out, sizeof out), 2);
  snprintf(args, sizeof args, "--model xlstm-cpu-50k --seed -1 --out %s/x", root);
  assert_int_equal(run_init(args, out, sizeof out), 2);
  snprintf(args, sizeof args, "--model xlstm-cpu-50k --sed 1 --out %s/x", root);
  assert_int_equal(run_init(args, out, sizeof out), 2);
  assert_non_null(strstr(out, "--seed"));
  snprintf(args, sizeof args, "--model no-such-model --out %s/x", root);
  assert_int_equal(run_init(args, out, sizeof out), 1);
  snprintf(args, sizeof args, "--model xlstm-cpu-50k --out %s", root);
  assert_int_equal(run_init(args, out, sizeof out), 1);
  assert_non_null(strstr(out, "not part of a checkpoint"));
  assert_int_equal(run_init("--help", out, sizeof out), 0);
}

static int setup(void **state) {
  (void)state;
  th_tmpdir("ckpt", root, sizeof root);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xlstm_round_trip),        cmocka_unit_test(test_refuses_to_replace_other_files),
      cmocka_unit_test(test_llama_rope_permutation),  cmocka_unit_test(test_llama_nested_rope_parameters),
      cmocka_unit_test(test_reads_f16_and_bf16),      cmocka_unit_test(test_reads_fused_xlstm),
      cmocka_unit_test(test_reads_other_xlstm_names), cmocka_unit_test(test_ffn_width_from_tensors),
      cmocka_unit_test(test_rejects_bad_checkpoints), cmocka_unit_test(test_init_command),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
