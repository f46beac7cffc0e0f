/* Model config loading: every preset round-trips (load, validate, count, write, reload); invalid configs are
 * rejected with the field (and file) named; unknown fields are reported; presets resolve by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/presets.h"

static const char XLSTM_OK[] =
    "{\"model_type\": \"xlstm\", \"vocab_size\": 50304, \"embedding_dim\": 768, \"num_blocks\": 12, \"num_heads\": 6}";
static const char LLAMA_OK[] =
    "{\"model_type\": \"llama\", \"vocab_size\": 50304, \"hidden_size\": 768, \"intermediate_size\": 2048,"
    " \"num_hidden_layers\": 12, \"num_attention_heads\": 12, \"rope_theta\": 500000}";

/* `base` with `field` set to raw JSON `value`, inserted first when absent, removed when value is NULL.
 * Rotating buffers so calls nest. */
static char *edit(const char *base, const char *field, const char *value) {
  static char bufs[4][4096];
  static int next = 0;
  char *buf = bufs[next++ & 3];
  char key[96];
  snprintf(key, sizeof key, "\"%s\": ", field);
  const char *at = strstr(base, key);
  if (!at) {
    snprintf(buf, 4096, "{\"%s\": %s, %s", field, value, base + 1);
    return buf;
  }
  const char *end = at + strlen(key);
  while (*end && *end != ',' && *end != '}') end++;
  if (value) {
    snprintf(buf, 4096, "%.*s%s%s%s", (int)(at - base), base, key, value, end);
  } else if (*end == ',') {
    snprintf(buf, 4096, "%.*s%s", (int)(at - base), base, end + 2);
  } else { /* the last field: drop the ", " before it */
    snprintf(buf, 4096, "%.*s%s", (int)(at - base - 2), base, end);
  }
  return buf;
}

/* Parsing must fail with a message naming `field` (and `extra` when given). */
static void expect_reject(const char *json, const char *field, const char *extra) {
  sc_model_config c;
  sc_err err = {{0}};
  if (sc_model_config_parse(json, "case.json", &c, &err) == 0) fail_msg("accepted: %s", json);
  char quoted[128];
  snprintf(quoted, sizeof quoted, "'%s'", field);
  if (!strstr(err.msg, quoted) || !strstr(err.msg, "case.json"))
    fail_msg("message does not name %s and the file: %s", quoted, err.msg);
  if (extra && !strstr(err.msg, extra)) fail_msg("message lacks '%s': %s", extra, err.msg);
}

static sc_model_config parse_ok(const char *json) {
  sc_model_config c;
  sc_err err;
  if (sc_model_config_parse(json, "case.json", &c, &err)) fail_msg("%s\n(for %s)", err.msg, json);
  return c;
}

static void test_defaults_and_aliases(void **state) {
  (void)state;
  sc_model_config x = parse_ok(XLSTM_OK);
  assert_int_equal(x.arch, SC_ARCH_XLSTM);
  assert_int_equal(x.qk_dim, 384);
  assert_int_equal(x.d_qk, 64);
  assert_int_equal(x.d_v, 128);
  assert_int_equal(x.d_ff, 2112); /* 64*ceil(768*2.667/64), §2.4 */
  assert_int_equal(x.chunk_size, 64);
  assert_int_equal(x.n_warnings, 0);
  assert_int_equal(x.bos_token_id, -1);
  /* HF's alias names and ffn rounding of §2.4's examples. */
  static const long widths[][2] = {{1024, 2752}, {2048, 5504}, {4096, 10944}};
  for (int i = 0; i < 3; i++) {
    char json[256];
    snprintf(json, sizeof json,
             "{\"model_type\": \"xlstm\", \"vocab_size\": 50304, \"hidden_size\": %ld, \"num_hidden_layers\": 2,"
             " \"num_heads\": 8, \"embedding_dim\": null}",
             widths[i][0]);
    sc_model_config c = parse_ok(json);
    assert_int_equal(c.d_model, widths[i][0]);
    assert_int_equal(c.n_layers, 2);
    assert_int_equal(c.d_ff, widths[i][1]);
  }
  sc_model_config l = parse_ok(LLAMA_OK);
  assert_int_equal(l.arch, SC_ARCH_LLAMA);
  assert_int_equal(l.d_qk, 64);
  assert_int_equal(l.d_ff, 2048);
  assert_true(l.norm_eps == 1e-6);
  assert_int_equal(sc_model_params(&l), 162220800);
}

static void test_missing_fields(void **state) {
  (void)state;
  static const char *const xl[] = {"model_type", "vocab_size", "embedding_dim", "num_blocks", "num_heads"};
  for (size_t i = 0; i < sizeof xl / sizeof xl[0]; i++) expect_reject(edit(XLSTM_OK, xl[i], NULL), xl[i], "missing");
  static const char *const ll[] = {"vocab_size",        "hidden_size",         "intermediate_size",
                                   "num_hidden_layers", "num_attention_heads", "rope_theta"};
  for (size_t i = 0; i < sizeof ll / sizeof ll[0]; i++) expect_reject(edit(LLAMA_OK, ll[i], NULL), ll[i], "missing");
}

static void test_divisibility(void **state) {
  (void)state;
  expect_reject(edit(XLSTM_OK, "num_heads", "5"), "num_heads", "must divide");
  expect_reject(edit(XLSTM_OK, "num_heads", "256"), "num_heads", "must divide"); /* 768 / 256 = 3 but qk 384 */
  expect_reject(edit(LLAMA_OK, "num_attention_heads", "7"), "num_attention_heads", "must divide");
  expect_reject(edit(LLAMA_OK, "head_dim", "48"), "head_dim", "hidden_size");
  expect_reject(edit(XLSTM_OK, "qk_dim_factor", "0.3"), "qk_dim_factor", "whole number");
  expect_reject(edit(LLAMA_OK, "num_key_value_heads", "4"), "num_key_value_heads", "grouped-query");
}

static void test_ranges(void **state) {
  (void)state;
  expect_reject(edit(XLSTM_OK, "embedding_dim", "-768"), "embedding_dim", "out of range");
  expect_reject(edit(XLSTM_OK, "num_blocks", "-3"), "num_blocks", "out of range");
  expect_reject(edit(XLSTM_OK, "num_heads", "0"), "num_heads", "out of range");
  expect_reject(edit(XLSTM_OK, "vocab_size", "-1"), "vocab_size", "out of range");
  expect_reject(edit(XLSTM_OK, "chunk_size", "0"), "chunk_size", "out of range");
  expect_reject(edit(XLSTM_OK, "ffn_proj_factor", "-2.667"), "ffn_proj_factor", "out of range");
  expect_reject(edit(XLSTM_OK, "norm_eps", "0"), "norm_eps", "out of range");
  expect_reject(edit(LLAMA_OK, "intermediate_size", "-5"), "intermediate_size", "out of range");
  expect_reject(edit(LLAMA_OK, "num_hidden_layers", "-12"), "num_hidden_layers", "out of range");
  expect_reject(edit(LLAMA_OK, "rope_theta", "-1"), "rope_theta", "out of range");
  expect_reject(edit(XLSTM_OK, "eos_token_id", "50304"), "eos_token_id", "out of range");
}

static void test_wrong_types(void **state) {
  (void)state;
  expect_reject(edit(XLSTM_OK, "num_heads", "\"6\""), "num_heads", "a string");
  expect_reject(edit(XLSTM_OK, "embedding_dim", "768.5"), "embedding_dim", "integer");
  expect_reject(edit(XLSTM_OK, "num_blocks", "true"), "num_blocks", "a boolean");
  expect_reject(edit(XLSTM_OK, "qk_dim_factor", "\"0.5\""), "qk_dim_factor", "number");
  expect_reject(edit(XLSTM_OK, "use_bias", "\"no\""), "use_bias", "true or false");
  expect_reject(edit(XLSTM_OK, "weight_mode", "[1]"), "weight_mode", "string");
  expect_reject(edit(XLSTM_OK, "chunkwise_kernel", "3"), "chunkwise_kernel", "string");
  expect_reject(edit(LLAMA_OK, "rope_theta", "\"500000\""), "rope_theta", "a string");
  expect_reject(edit(LLAMA_OK, "hidden_size", "{}"), "hidden_size", "an object");
  expect_reject(edit(XLSTM_OK, "model_type", "\"mamba\""), "model_type", "xlstm");
}

static void test_unsupported_and_conflicts(void **state) {
  (void)state;
  expect_reject(edit(XLSTM_OK, "use_bias", "true"), "use_bias", "not supported");
  expect_reject(edit(XLSTM_OK, "tie_word_embeddings", "true"), "tie_word_embeddings", "not supported");
  expect_reject(edit(XLSTM_OK, "add_out_norm", "false"), "add_out_norm", "not supported");
  expect_reject(edit(LLAMA_OK, "hidden_act", "\"gelu\""), "hidden_act", "silu");
  expect_reject(edit(LLAMA_OK, "attention_bias", "true"), "attention_bias", "not supported");
  expect_reject(edit(LLAMA_OK, "rope_scaling", "{\"type\": \"linear\"}"), "rope_scaling", "not supported");
  expect_reject(edit(XLSTM_OK, "hidden_size", "512"), "hidden_size", "disagrees");
}

static void test_bytes_vocab(void **state) {
  (void)state;
  /* A byte-tokenizer config needs at least 259 ids. */
  sc_model_config c = parse_ok(edit(XLSTM_OK, "scalecl_tokenizer", "\"bytes\""));
  assert_string_equal(c.tokenizer, "bytes");
  char json[4096];
  snprintf(json, sizeof json, "%s", edit(XLSTM_OK, "vocab_size", "256"));
  expect_reject(edit(json, "scalecl_tokenizer", "\"bytes\""), "vocab_size", "byte tokenizer");
}

static void test_syntax_and_duplicates(void **state) {
  (void)state;
  sc_model_config c;
  sc_err err;
  assert_int_equal(sc_model_config_parse("{\"model_type\": \"xlstm\",\n \"vocab_size\": }", "bad.json", &c, &err), -1);
  assert_non_null(strstr(err.msg, "bad.json"));
  assert_non_null(strstr(err.msg, "line 2"));
  expect_reject(
      "{\"model_type\": \"xlstm\", \"vocab_size\": 50304, \"embedding_dim\": 768, \"num_blocks\": 12,"
      " \"num_heads\": 6, \"num_heads\": 4}",
      "num_heads", "more than once");
  assert_int_equal(sc_model_config_parse("[1, 2]", "arr.json", &c, &err), -1);
  assert_non_null(strstr(err.msg, "object"));
}

static void test_unknown_fields_reported(void **state) {
  (void)state;
  sc_model_config c = parse_ok(edit(edit(XLSTM_OK, "num_head", "6"), "frobnicate", "1"));
  assert_int_equal(c.n_warnings, 2);
  assert_non_null(strstr(c.warnings, "unknown field 'num_head'"));
  assert_non_null(strstr(c.warnings, "did you mean 'num_heads'"));
  assert_non_null(strstr(c.warnings, "unknown field 'frobnicate'"));
  assert_non_null(strstr(c.warnings, "case.json"));
  /* HF bookkeeping and kernel choices are known, not reported. */
  c = parse_ok(edit(edit(XLSTM_OK, "chunkwise_kernel", "\"chunkwise--triton_xl_chunk\""), "use_cache", "false"));
  assert_int_equal(c.n_warnings, 0);
}

/* 60,000 unknown fields (a fuzzed input that used to hang in a pairwise check): the first 16 are named, the
 * rest counted; a duplicate among many fields is still found. */
static void test_many_unknown_fields(void **state) {
  (void)state;
  enum { N = 60000 };
  const size_t cap = sizeof XLSTM_OK + (size_t)N * 24;
  char *json = th_calloc(cap, 1);
  size_t off = (size_t)snprintf(json, cap, "{");
  for (int i = 0; i < N; i++) off += (size_t)snprintf(json + off, cap - off, "\"zz%d\": %d, ", i, i);
  snprintf(json + off, cap - off, "%s", XLSTM_OK + 1);
  sc_model_config c = parse_ok(json);
  assert_int_equal(c.n_warnings, 17);
  assert_non_null(strstr(c.warnings, "unknown field 'zz0'"));
  assert_non_null(strstr(c.warnings, "59984 more unknown fields ignored"));
  memcpy(strstr(json, "\"zz59999\""), "\"zz12345\"", 9);
  expect_reject(json, "zz12345", "more than once");
  free(json);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) fail_msg("cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

static void test_file_errors_name_file(void **state) {
  (void)state;
  char dir[512], path[600];
  th_tmpdir("cfg", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/broken.json", dir);
  write_text(path, edit(XLSTM_OK, "num_heads", "5"));
  sc_model_config c;
  sc_err err;
  assert_int_equal(sc_model_config_resolve(path, &c, &err), -1);
  assert_non_null(strstr(err.msg, path));
  assert_non_null(strstr(err.msg, "'num_heads'"));
  snprintf(path, sizeof path, "%s/absent.json", dir);
  assert_int_equal(sc_model_config_resolve(path, &c, &err), -1);
  assert_non_null(strstr(err.msg, path));
}

/* Fields that define the model must survive write + reparse. */
static void assert_same(const sc_model_config *a, const sc_model_config *b) {
  assert_int_equal(a->arch, b->arch);
  assert_int_equal(a->vocab_size, b->vocab_size);
  assert_int_equal(a->d_model, b->d_model);
  assert_int_equal(a->n_layers, b->n_layers);
  assert_int_equal(a->n_heads, b->n_heads);
  assert_int_equal(a->d_qk, b->d_qk);
  assert_int_equal(a->d_v, b->d_v);
  assert_int_equal(a->d_ff, b->d_ff);
  assert_int_equal(a->chunk_size, b->chunk_size);
  assert_int_equal(a->bos_token_id, b->bos_token_id);
  assert_int_equal(a->eos_token_id, b->eos_token_id);
  assert_int_equal(a->pad_token_id, b->pad_token_id);
  assert_true(a->norm_eps == b->norm_eps && a->cell_eps == b->cell_eps && a->rope_theta == b->rope_theta);
  assert_true(a->gate_soft_cap == b->gate_soft_cap && a->output_logit_soft_cap == b->output_logit_soft_cap);
  assert_true(a->ffn_proj_factor == b->ffn_proj_factor && a->qk_dim_factor == b->qk_dim_factor);
  assert_string_equal(a->tokenizer, b->tokenizer);
  assert_string_equal(a->description, b->description);
  assert_int_equal(sc_model_params(a), sc_model_params(b));
}

static int count_prefix(char **names, int n, const char *prefix) {
  int k = 0;
  for (int i = 0; i < n; i++) k += !strncmp(names[i], prefix, strlen(prefix));
  return k;
}

static void test_every_preset_round_trips(void **state) {
  (void)state;
  char dir[4096];
  char **names;
  int n;
  sc_err err;
  if (sc_models_dir(dir, sizeof dir, &err) || sc_preset_names(dir, &names, &n, &err)) fail_msg("%s", err.msg);
  static const char *const paper[] = {"xlstm-164m", "xlstm-406m", "xlstm-841m", "xlstm-1.4b", "xlstm-2.7b", "xlstm-7b",
                                      "llama-162m", "llama-406m", "llama-834m", "llama-1.4b", "llama-2.7b", "llama-7b"};
  for (size_t k = 0; k < sizeof paper / sizeof paper[0]; k++) {
    int found = 0;
    for (int i = 0; i < n; i++) found |= !strcmp(names[i], paper[k]);
    if (!found) fail_msg("preset %s missing from %s", paper[k], dir);
  }
  assert_int_equal(count_prefix(names, n, "xlstm-iso-"), 62); /* §4.3: 62 xLSTM IsoFLOP shapes */
  assert_int_equal(count_prefix(names, n, "llama-iso-"), 43);
  for (int i = 0; i < n; i++) {
    sc_model_config a, b;
    if (sc_model_config_resolve(names[i], &a, &err)) fail_msg("%s", err.msg);
    if (a.n_warnings) fail_msg("preset %s: %s", names[i], a.warnings);
    assert_string_equal(a.name, names[i]);
    assert_true(sc_model_params(&a) > 0);
    sc_flops fw;
    sc_flops_opts o = sc_flops_paper_opts();
    assert_int_equal(sc_flops_forward(&a, 8192, &o, &fw, &err), 0);
    assert_true(fw.total > 0 && fw.linear > 0 && fw.seq_mix > 0 && fw.other > 0);
    char *json = sc_model_config_to_json(&a, &err);
    assert_non_null(json);
    if (sc_model_config_parse(json, names[i], &b, &err)) fail_msg("rewritten %s: %s", names[i], err.msg);
    free(json);
    assert_int_equal(b.n_warnings, 0);
    assert_same(&a, &b);
  }
  sc_preset_names_free(names, n);
}

/* The CPU ladder: byte tokenizer ids (bytes 0..255, EOS 256, BOS 257, PAD 258) padded to 320, ~50k to ~20M
 * params, increasing, both architectures at each rung. */
static void test_cpu_ladder(void **state) {
  (void)state;
  static const char *const rungs[] = {"50k", "150k", "250k", "1m", "2m", "5m", "11m", "20m"};
  static const char *const archs[] = {"xlstm", "llama"};
  for (int a = 0; a < 2; a++) {
    int64_t prev = 0;
    for (int r = 0; r < 8; r++) {
      char name[64];
      snprintf(name, sizeof name, "%s-cpu-%s", archs[a], rungs[r]);
      sc_model_config c;
      sc_err err;
      if (sc_model_config_resolve(name, &c, &err)) fail_msg("%s", err.msg);
      assert_string_equal(c.tokenizer, "bytes");
      assert_int_equal(c.vocab_size, 320);
      assert_int_equal(c.eos_token_id, 256);
      assert_int_equal(c.bos_token_id, 257);
      assert_int_equal(c.pad_token_id, 258);
      int64_t p = sc_model_params(&c);
      assert_true(p > prev);
      if (r == 0) assert_true(p >= 45000 && p <= 60000);
      if (r == 7) assert_true(p >= 18000000 && p <= 21000000);
      prev = p;
    }
  }
}

/* SCALECL_MODELS_DIR, name suggestions and IsoFLOP table checks, on a scratch models directory. */
static void test_models_dir_and_tables(void **state) {
  (void)state;
  char dir[512], path[700];
  th_tmpdir("models", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/isoflop", dir);
  sc_err err;
  assert_int_equal(sc_mkdirs(path, &err), 0);
  snprintf(path, sizeof path, "%s/tiny-a.json", dir);
  write_text(path, XLSTM_OK);
  snprintf(path, sizeof path, "%s/isoflop/xlstm.json", dir);
  write_text(path, "{\"model_type\": \"xlstm\", \"vocab_size\": 50304}");
  snprintf(path, sizeof path, "%s/isoflop/xlstm.tsv", dir);
  write_text(path, "# comment\nembedding_dim\tnum_heads\tnum_blocks\texpect_d_ff\n512\t4\t2,3\t1408\n");
  th_setenv("SCALECL_MODELS_DIR", dir);
  char got[4096];
  assert_int_equal(sc_models_dir(got, sizeof got, &err), 0);
  assert_string_equal(got, dir);
  char **names;
  int n;
  assert_int_equal(sc_preset_names(dir, &names, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_string_equal(names[0], "tiny-a");
  assert_string_equal(names[1], "xlstm-iso-d512-l2");
  assert_string_equal(names[2], "xlstm-iso-d512-l3");
  sc_preset_names_free(names, n);
  sc_model_config c;
  assert_int_equal(sc_model_config_resolve("xlstm-iso-d512-l3", &c, &err), 0);
  assert_int_equal(c.n_layers, 3);
  assert_int_equal(c.d_qk, 64);
  assert_int_equal(sc_model_config_resolve("tiny-b", &c, &err), -1);
  assert_non_null(strstr(err.msg, "did you mean 'tiny-a'"));

  /* A wrong check value, two list columns and an unknown column are table errors naming the line. */
  write_text(path, "embedding_dim\tnum_heads\tnum_blocks\texpect_d_ff\n512\t4\t2\t1400\n");
  assert_int_equal(sc_model_config_resolve("xlstm-iso-d512-l2", &c, &err), -1);
  assert_non_null(strstr(err.msg, "line 2"));
  assert_non_null(strstr(err.msg, "d_ff"));
  write_text(path, "embedding_dim\tnum_heads\tnum_blocks\n512\t4,8\t2,3\n");
  assert_int_equal(sc_preset_names(dir, &names, &n, &err), -1);
  assert_non_null(strstr(err.msg, "only one column"));
  write_text(path, "embedding_dim\tnum_heads\tnum_blocks\tnum_blockz\n512\t4\t2\t2\n");
  assert_int_equal(sc_preset_names(dir, &names, &n, &err), -1);
  assert_non_null(strstr(err.msg, "unknown field 'num_blockz'"));

  th_setenv("SCALECL_MODELS_DIR", "/nonexistent/scalecl-models");
  assert_int_equal(sc_model_config_resolve("xlstm-164m", &c, &err), -1);
  assert_non_null(strstr(err.msg, "SCALECL_MODELS_DIR"));
  th_setenv("SCALECL_MODELS_DIR", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_aliases),
      cmocka_unit_test(test_missing_fields),
      cmocka_unit_test(test_divisibility),
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_unsupported_and_conflicts),
      cmocka_unit_test(test_bytes_vocab),
      cmocka_unit_test(test_syntax_and_duplicates),
      cmocka_unit_test(test_unknown_fields_reported),
      cmocka_unit_test(test_many_unknown_fields),
      cmocka_unit_test(test_file_errors_name_file),
      cmocka_unit_test(test_every_preset_round_trips),
      cmocka_unit_test(test_cpu_ladder),
      cmocka_unit_test(test_models_dir_and_tables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
