/* Parameter tables and the seeded init: every preset's table counts what model/flops.h counts, keys and
 * shapes are hf-checkpoints.md's, the arena is aligned and packed by family, every tensor's values follow its
 * rule (xlstm.md §2.7, §3), and the bits depend on the seed alone (not the thread count or fill order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/flops.h"
#include "model/init.h"
#include "model/params.h"
#include "model/presets.h"

static sc_model_config preset(const char *name) {
  sc_model_config c;
  TH_CHECK(sc_model_config_resolve(name, &c, TH_ERR));
  return c;
}

static sc_params table(const sc_model_config *c) {
  sc_params p;
  TH_CHECK(sc_params_build(c, &p, TH_ERR));
  return p;
}

static void test_count_matches_flops_for_every_preset(void **state) {
  (void)state;
  char dir[4096];
  sc_model_config *cfgs;
  int n;
  TH_CHECK(sc_models_dir(dir, sizeof dir, TH_ERR));
  TH_CHECK(sc_preset_configs(dir, &cfgs, &n, TH_ERR));
  assert_true(n > 100);
  for (int i = 0; i < n; i++) {
    sc_params p = table(&cfgs[i]);
    if (p.n_params != sc_model_params(&cfgs[i]))
      fail_msg("%s: table %lld parameters, flops.h %lld", cfgs[i].name, (long long)p.n_params,
               (long long)sc_model_params(&cfgs[i]));
    assert_int_equal(p.n, (cfgs[i].arch == SC_ARCH_XLSTM ? 15 : 9) * cfgs[i].n_layers + 3);
    /* Families follow each other, aligned, each tensor inside its family's slot. */
    size_t at = 0;
    for (int f = 0; f < p.n_fam; f++) {
      assert_int_equal(p.fam[f].offset, at);
      assert_true(p.fam[f].stride >= p.fam[f].numel && p.fam[f].stride % SC_PARAM_ALIGN == 0);
      at += p.fam[f].stride * (size_t)p.fam[f].count;
    }
    assert_int_equal(at, p.arena_floats);
    for (int j = 0; j < p.n; j++) {
      const sc_param *t = &p.t[j];
      const sc_param_family *f = &p.fam[t->family];
      assert_int_equal(t->offset % SC_PARAM_ALIGN, 0);
      assert_int_equal(t->offset, f->offset + (size_t)(t->layer < 0 ? 0 : t->layer) * f->stride);
      assert_int_equal(t->numel, (size_t)(t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1)));
    }
    sc_params_free(&p);
  }
  free(cfgs);
}

static void expect(const sc_params *p, const char *key, int64_t rows, int64_t cols, int decay, const char *init) {
  const sc_param *t = sc_params_find(p, key);
  if (!t) fail_msg("no tensor %s", key);
  if (t->shape[0] != rows || t->shape[1] != cols || t->ndim != (cols ? 2 : 1))
    fail_msg("%s: shape [%lld, %lld], want [%lld, %lld]", key, (long long)t->shape[0], (long long)t->shape[1],
             (long long)rows, (long long)cols);
  assert_int_equal(t->decay, decay);
  assert_string_equal(t->init.name, init);
}

/* hf-checkpoints.md's tables at xlstm-cpu-1m (d 128, 4 blocks, 2 heads, qk 64, v 128, d_ff 384, V 320) and
 * llama-cpu-1m (d 128, 4 layers, 2 heads of 64, d_ff 384). */
static void test_keys_and_shapes(void **state) {
  (void)state;
  sc_model_config c = preset("xlstm-cpu-1m");
  assert_int_equal(c.d_ff, 384);
  sc_params p = table(&c);
  assert_string_equal(p.t[0].key, "backbone.embeddings.weight");
  assert_string_equal(p.t[1].key, "backbone.blocks.0.norm_mlstm.weight");
  assert_string_equal(p.t[p.n - 2].key, "backbone.out_norm.weight");
  assert_string_equal(p.t[p.n - 1].key, "lm_head.weight");
  expect(&p, "backbone.embeddings.weight", 320, 128, 0, "small_init");
  expect(&p, "backbone.blocks.0.norm_mlstm.weight", 128, 0, 0, "ones");
  expect(&p, "backbone.blocks.3.mlstm_layer.q.weight", 64, 128, 1, "small_init");
  expect(&p, "backbone.blocks.3.mlstm_layer.k.weight", 64, 128, 1, "small_init");
  expect(&p, "backbone.blocks.2.mlstm_layer.v.weight", 128, 128, 1, "small_init");
  expect(&p, "backbone.blocks.2.mlstm_layer.ogate_preact.weight", 128, 128, 1, "zeros");
  expect(&p, "backbone.blocks.1.mlstm_layer.igate_preact.weight", 2, 128, 1, "zeros");
  expect(&p, "backbone.blocks.1.mlstm_layer.igate_preact.bias", 2, 0, 0, "-10");
  expect(&p, "backbone.blocks.1.mlstm_layer.fgate_preact.weight", 2, 128, 1, "zeros");
  expect(&p, "backbone.blocks.1.mlstm_layer.fgate_preact.bias", 2, 0, 0, "linspace(3, 6)");
  expect(&p, "backbone.blocks.0.mlstm_layer.multihead_norm.weight", 128, 0, 0, "ones");
  expect(&p, "backbone.blocks.0.mlstm_layer.out_proj.weight", 128, 128, 1, "wang_init");
  expect(&p, "backbone.blocks.0.norm_ffn.weight", 128, 0, 0, "ones");
  expect(&p, "backbone.blocks.0.ffn.proj_up_gate.weight", 384, 128, 1, "small_init");
  expect(&p, "backbone.blocks.0.ffn.proj_up.weight", 384, 128, 1, "small_init");
  expect(&p, "backbone.blocks.0.ffn.proj_down.weight", 128, 384, 1, "wang_init");
  expect(&p, "backbone.out_norm.weight", 128, 0, 0, "ones");
  expect(&p, "lm_head.weight", 320, 128, 1, "small_init");
  assert_null(sc_params_find(&p, "backbone.blocks.4.norm_mlstm.weight"));
  assert_string_equal(sc_params_find(&p, "backbone.blocks.0.mlstm_layer.q.weight")->dims, "(qk_dim, embedding_dim)");
  sc_params_free(&p);

  c = preset("llama-cpu-1m");
  p = table(&c);
  assert_string_equal(p.t[0].key, "model.embed_tokens.weight");
  assert_string_equal(p.t[p.n - 1].key, "lm_head.weight");
  expect(&p, "model.embed_tokens.weight", 320, 128, 0, "small_init");
  expect(&p, "model.layers.0.input_layernorm.weight", 128, 0, 0, "ones");
  expect(&p, "model.layers.3.self_attn.q_proj.weight", 128, 128, 1, "small_init");
  expect(&p, "model.layers.3.self_attn.k_proj.weight", 128, 128, 1, "small_init");
  expect(&p, "model.layers.3.self_attn.v_proj.weight", 128, 128, 1, "small_init");
  expect(&p, "model.layers.3.self_attn.o_proj.weight", 128, 128, 1, "wang_init");
  expect(&p, "model.layers.1.post_attention_layernorm.weight", 128, 0, 0, "ones");
  expect(&p, "model.layers.1.mlp.gate_proj.weight", 384, 128, 1, "small_init");
  expect(&p, "model.layers.1.mlp.up_proj.weight", 384, 128, 1, "small_init");
  expect(&p, "model.layers.1.mlp.down_proj.weight", 128, 384, 1, "wang_init");
  expect(&p, "model.norm.weight", 128, 0, 0, "ones");
  expect(&p, "lm_head.weight", 320, 128, 1, "small_init");
  sc_params_free(&p);
}

static float *arena(const sc_params *p) {
  sc_err err;
  float *a = sc_params_alloc(p, &err);
  if (!a) fail_msg("%s", err.msg);
  return a;
}

static float *init(const sc_params *p, uint64_t seed, int threads) {
  float *a = arena(p);
  TH_CHECK(sc_init_params(p, a, seed, threads, TH_ERR));
  return a;
}

/* Normal tensors: mean within 5 standard errors of 0, sample std within 5 standard errors of the rule's, and
 * the share within one std near 68.27%; constants and linspace exact. */
static void check_rules(const char *name, double small, double wang) {
  sc_model_config c = preset(name);
  sc_params p = table(&c);
  float *a = init(&p, 11, 0);
  int normals = 0;
  for (int j = 0; j < p.n; j++) {
    const sc_param *t = &p.t[j];
    const float *x = a + t->offset;
    const double n = (double)t->numel;
    if (t->init.kind == SC_INIT_NORMAL) {
      const double want = !strcmp(t->init.name, "small_init") ? small : wang;
      assert_true(fabs(t->init.a - want) <= 1e-15 * want);
      double s = 0, s2 = 0, inside = 0;
      for (size_t e = 0; e < t->numel; e++) {
        s += x[e], s2 += (double)x[e] * x[e];
        inside += fabs(x[e]) < want;
      }
      const double mean = s / n, sd = sqrt(s2 / n - mean * mean);
      if (fabs(mean) > 5 * want / sqrt(n) || fabs(sd / want - 1) > 5 / sqrt(2 * n) ||
          fabs(inside / n - 0.682689) > 5 * sqrt(0.2166 / n))
        fail_msg("%s %s: mean %g, std %g (rule %g), %.4f within one std (n %.0f)", name, t->key, mean, sd, want,
                 inside / n, n);
      normals++;
    } else {
      for (size_t e = 0; e < t->numel; e++) {
        const double want = t->init.kind == SC_INIT_CONST ? t->init.a : 3 + 3 * (double)e / (n > 1 ? n - 1 : 1);
        if (x[e] != (float)want) fail_msg("%s %s[%zu] = %g, want %g", name, t->key, e, x[e], want);
      }
    }
  }
  assert_true(normals > 4);
  free(a);
  sc_params_free(&p);
}

static void test_init_follows_the_recipe(void **state) {
  (void)state;
  /* xlstm-cpu-5m: d 256, 6 blocks; llama-cpu-5m: d 256, 6 layers (wang over 2 x 6). */
  sc_model_config x = preset("xlstm-cpu-5m"), l = preset("llama-cpu-5m");
  const double dx = (double)x.d_model, dl = (double)l.d_model;
  check_rules("xlstm-cpu-5m", sqrt(2 / (5 * dx)), 2 / ((double)x.n_layers * sqrt(dx)));
  check_rules("llama-cpu-5m", sqrt(2 / (5 * dl)), 2 / (2 * (double)l.n_layers * sqrt(dl)));

  /* The gate biases by hand at 4 heads: b_i = -10, b_f = 3, 4, 5, 6. */
  sc_model_config c = x;
  c.n_heads = 4, c.d_qk = c.qk_dim / 4, c.d_v = c.v_dim / 4;
  sc_params p = table(&c);
  float *a = init(&p, 1, 1);
  const float *bi = a + sc_params_find(&p, "backbone.blocks.5.mlstm_layer.igate_preact.bias")->offset;
  const float *bf = a + sc_params_find(&p, "backbone.blocks.5.mlstm_layer.fgate_preact.bias")->offset;
  for (int h = 0; h < 4; h++) {
    assert_true(bi[h] == -10.0f);
    assert_true(bf[h] == (float)(3 + h));
  }
  free(a);
  sc_params_free(&p);
}

/* The same seed gives the same bits on 1 or 3 threads and when tensors are filled one by one in reverse;
 * another seed changes every normal tensor. */
static void test_same_bits_for_the_same_seed(void **state) {
  (void)state;
  static const char *const names[] = {"xlstm-cpu-2m", "llama-cpu-2m"};
  for (int k = 0; k < 2; k++) {
    sc_model_config c = preset(names[k]);
    sc_params p = table(&c);
    float *one = init(&p, 42, 1), *three = init(&p, 42, 3), *other = init(&p, 43, 2);
    float *rev = arena(&p);
    for (int j = p.n - 1; j >= 0; j--) sc_init_tensor(&p, j, rev, 42);
    const size_t bytes = p.arena_floats * sizeof(float);
    assert_memory_equal(one, three, bytes);
    assert_memory_equal(one, rev, bytes);
    for (int j = 0; j < p.n; j++)
      if (p.t[j].init.kind == SC_INIT_NORMAL)
        assert_memory_not_equal(one + p.t[j].offset, other + p.t[j].offset, p.t[j].numel * sizeof(float));
    /* Tensors with the same rule and shape still get their own streams. */
    const sc_param *q = &p.t[2], *k2 = &p.t[3];
    assert_int_equal(q->numel, k2->numel);
    assert_memory_not_equal(one + q->offset, one + k2->offset, q->numel * sizeof(float));
    free(one), free(three), free(other), free(rev);
    sc_params_free(&p);
  }
}

static void test_rejects_odd_llama_head_dim(void **state) {
  (void)state;
  sc_model_config c = preset("llama-cpu-1m");
  c.d_qk = c.d_v = 63;
  sc_params p;
  sc_err err;
  assert_int_equal(sc_params_build(&c, &p, &err), -1);
  assert_non_null(strstr(err.msg, "head_dim = 63 must be even"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_count_matches_flops_for_every_preset),
      cmocka_unit_test(test_keys_and_shapes),
      cmocka_unit_test(test_init_follows_the_recipe),
      cmocka_unit_test(test_same_bits_for_the_same_seed),
      cmocka_unit_test(test_rejects_odd_llama_head_dim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
