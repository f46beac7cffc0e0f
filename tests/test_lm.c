/* The device language model (model/lm.h), both architectures, against the float64 reference models (ref/xlstm.h,
 * ref/llama.h) with the same parameters, copied tensor by tensor by HF key: logits and loss with and without
 * documents, the gradient of every parameter tensor; xLSTM logits independent of the chunk length; a document
 * packed after another gives the numbers it gives alone; and the memory plan refusing a (B, T) too large for an
 * injected device limit. Tiny configs: d = 32, 2 blocks, 2 heads, vocab 67, T = 13 (not a multiple of a chunk). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/init.h"
#include "model/lm.h"
#include "ref/llama.h"
#include "ref/xlstm.h"

static const char *const XLSTM_JSON =
    "{\"model_type\": \"xlstm\", \"vocab_size\": 67, \"embedding_dim\": 32, \"num_blocks\": 2, \"num_heads\": 2, "
    "\"chunk_size\": 64}";
static const char *const LLAMA_JSON =
    "{\"model_type\": \"llama\", \"vocab_size\": 67, \"hidden_size\": 32, \"intermediate_size\": 64, "
    "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"rope_theta\": 10000}";

/* float32 against float64 through two blocks; the gradients are means over B·(T−1) positions (~1e-2..1e-4). */
static const th_tol TOL_LOGITS = {.atol = 5e-5, .rtol = 1e-4, .nmse = 1e-9};
static const th_tol TOL_LOSS = {.atol = 1e-5, .rtol = 1e-5, .nmse = 1e-10};
static const th_tol TOL_GRAD = {.atol = 5e-6, .rtol = 2e-3, .nmse = 1e-7};
/* xLSTM's reset leaves exp(−25) of the previous document's state: equal to float32 rounding in practice. */
static const th_tol TOL_RESET = {.atol = 1e-5, .rtol = 1e-4, .nmse = 1e-9};

/* A config, its device model's parameter arena from the training init plus noise (so zero-initialised gate and
 * output-gate weights take part), and the reference's table and parameters with the same values. */
typedef struct {
  sc_model_config cfg;
  sc_params p;
  float *arena;
  sc_ref_xlstm_shape xs;
  sc_ref_llama_shape ls;
  sc_ref_params rp;
  double *rparams;
} model;

static void model_make(model *m, const char *json) {
  memset(m, 0, sizeof *m);
  TH_CHECK(sc_model_config_parse(json, "test config", &m->cfg, TH_ERR));
  TH_CHECK(sc_params_build(&m->cfg, &m->p, TH_ERR));
  static sc_err err;
  if (!(m->arena = sc_params_alloc(&m->p, &err))) fail_msg("%s", err.msg);
  TH_CHECK(sc_init_params(&m->p, m->arena, 7, 1, TH_ERR));
  th_rng rng;
  th_rng_seed(&rng, 11);
  for (int j = 0; j < m->p.n; j++)
    for (size_t e = 0; e < m->p.t[j].numel; e++) m->arena[m->p.t[j].offset + e] += (float)(0.1 * th_normal(&rng));
  const sc_model_config *c = &m->cfg;
  if (c->arch == SC_ARCH_XLSTM) {
    sc_ref_xlstm_shape_default(&m->xs, (size_t)c->d_model, (size_t)c->n_layers, (size_t)c->n_heads,
                               (size_t)c->vocab_size);
    m->xs.d_qk = (size_t)c->d_qk, m->xs.d_v = (size_t)c->d_v, m->xs.d_ff = (size_t)c->d_ff;
    m->xs.norm_eps = m->xs.cell_norm_eps = c->norm_eps, m->xs.eps = c->cell_eps;
    m->xs.gate_cap = c->gate_soft_cap, m->xs.logit_cap = c->output_logit_soft_cap;
    TH_CHECK(sc_ref_xlstm_layout(&m->xs, &m->rp, TH_ERR));
  } else {
    sc_ref_llama_shape_default(&m->ls, (size_t)c->d_model, (size_t)c->n_layers, (size_t)c->n_heads,
                               (size_t)c->vocab_size);
    m->ls.head_dim = (size_t)c->d_qk, m->ls.d_ff = (size_t)c->d_ff, m->ls.norm_eps = c->norm_eps;
    m->ls.rope_theta = c->rope_theta, m->ls.logit_cap = 0;
    TH_CHECK(sc_ref_llama_layout(&m->ls, &m->rp, TH_ERR));
  }
  assert_int_equal(m->rp.n, m->p.n);
  m->rparams = th_dalloc(m->rp.total);
  for (size_t j = 0; j < m->rp.n; j++) {
    const sc_ref_tensor *r = &m->rp.t[j];
    const sc_param *t = sc_params_find(&m->p, r->name);
    if (!t) fail_msg("device model has no tensor %s", r->name);
    assert_int_equal(t->numel, r->size);
    for (size_t e = 0; e < r->size; e++) m->rparams[r->offset + e] = m->arena[t->offset + e];
  }
}

static void model_free(model *m) {
  free(m->arena), free(m->rparams);
  sc_params_free(&m->p);
  sc_ref_params_free(&m->rp);
}

static int ref_forward(const model *m, const int32_t *tok, const uint8_t *doc, size_t B, size_t T, double *loss,
                       double *logits, sc_err *err) {
  if (m->cfg.arch == SC_ARCH_XLSTM)
    return sc_ref_xlstm_forward(&m->xs, m->rparams, tok, doc, B, T, loss, NULL, logits, err);
  return sc_ref_llama_forward(&m->ls, m->rparams, tok, doc, B, T, loss, NULL, logits, err);
}

static int ref_backward(const model *m, const int32_t *tok, const uint8_t *doc, size_t B, size_t T, double *dparams,
                        sc_err *err) {
  if (m->cfg.arch == SC_ARCH_XLSTM)
    return sc_ref_xlstm_backward(&m->xs, m->rparams, tok, doc, B, T, NULL, dparams, err);
  return sc_ref_llama_backward(&m->ls, m->rparams, tok, doc, B, T, NULL, dparams, err);
}

/* The device model's logits (B, T, V) and loss at chunk length `chunk` (0: the config's). */
static float run_device(const model *m, int B, int T, int chunk, const int32_t *tok, const uint8_t *doc,
                        float *logits) {
  sc_lm *lm;
  const sc_lm_opts o = {.chunk = chunk};
  float loss;
  TH_CHECK(sc_lm_create(&th_ctx, &m->cfg, B, T, &o, &lm, TH_ERR));
  TH_CHECK(sc_lm_upload_params(lm, m->arena, TH_ERR));
  TH_CHECK(sc_lm_forward(lm, tok, doc, &loss, logits, TH_ERR));
  sc_lm_destroy(lm);
  return loss;
}

enum { B = 2, T = 13 };

static void batch(int V, int32_t *tok, uint8_t *doc) {
  th_rng rng;
  th_rng_seed(&rng, 5);
  for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(th_uniform(&rng) * V);
  memset(doc, 0, B * T);
  doc[0] = doc[4] = doc[9] = 1;         /* row 0: documents of 4, 5 and 4 tokens */
  doc[T] = doc[T + 1] = doc[T + 7] = 1; /* row 1: one of 1 token, then 6, then 6 */
}

/* Logits, loss and every parameter's gradient against the reference, with and without documents. */
static void check_against_reference(const char *json) {
  model m;
  model_make(&m, json);
  const int V = (int)m.cfg.vocab_size;
  int32_t tok[B * T];
  uint8_t doc[B * T];
  batch(V, tok, doc);
  sc_lm *lm;
  TH_CHECK(sc_lm_create(&th_ctx, &m.cfg, B, T, NULL, &lm, TH_ERR));
  TH_CHECK(sc_lm_upload_params(lm, m.arena, TH_ERR));
  float *logits = th_falloc((size_t)B * T * V), *grads = th_falloc(m.p.arena_floats);
  double *rlogits = th_dalloc((size_t)B * T * V), *rgrads = th_dalloc(m.rp.total);
  for (int docs = 0; docs < 2; docs++) {
    const uint8_t *ds = docs ? doc : NULL;
    const char *arch = sc_arch_name(m.cfg.arch), *with = docs ? "documents" : "one document per row";
    float loss;
    double rloss;
    TH_CHECK(sc_lm_forward(lm, tok, ds, &loss, logits, TH_ERR));
    TH_CHECK(ref_forward(&m, tok, ds, B, T, &rloss, rlogits, TH_ERR));
    char label[160];
    snprintf(label, sizeof label, "%s logits (%s)", arch, with);
    th_assert_close(label, logits, rlogits, (size_t)B * T * V, TOL_LOGITS);
    snprintf(label, sizeof label, "%s loss (%s)", arch, with);
    th_assert_close(label, &loss, &rloss, 1, TOL_LOSS);
    TH_CHECK(sc_lm_zero_grads(lm, TH_ERR));
    TH_CHECK(sc_lm_backward(lm, TH_ERR));
    TH_CHECK(sc_lm_download_grads(lm, grads, TH_ERR));
    TH_CHECK(ref_backward(&m, tok, ds, B, T, rgrads, TH_ERR));
    double worst = 0, worst_nmse = 0;
    for (size_t j = 0; j < m.rp.n; j++) {
      const sc_ref_tensor *r = &m.rp.t[j];
      const sc_param *t = sc_params_find(&m.p, r->name);
      snprintf(label, sizeof label, "%s d%s (%s)", arch, r->name, with);
      th_assert_close(label, grads + t->offset, rgrads + r->offset, r->size, TOL_GRAD);
      const th_cmp cmp = th_compare(grads + t->offset, rgrads + r->offset, r->size, TOL_GRAD);
      if (cmp.max_abs > worst) worst = cmp.max_abs;
      if (cmp.nmse > worst_nmse) worst_nmse = cmp.nmse;
    }
    printf("%s (%s): loss %.7f vs %.7f; worst gradient |err| %.2e, worst NMSE %.2e over %zu tensors\n", arch, with,
           loss, rloss, worst, worst_nmse, m.rp.n);
  }
  free(logits), free(grads), free(rlogits), free(rgrads);
  sc_lm_destroy(lm);
  model_free(&m);
}

static void xlstm_matches_reference(void **state) {
  (void)state;
  check_against_reference(XLSTM_JSON);
}

static void llama_matches_reference(void **state) {
  (void)state;
  check_against_reference(LLAMA_JSON);
}

/* The chunk length changes the numbers only through eps and rounding (spec xlstm.md §1.5). */
static void xlstm_logits_independent_of_chunk(void **state) {
  (void)state;
  enum { S = 40 };
  model m;
  model_make(&m, XLSTM_JSON);
  const int V = (int)m.cfg.vocab_size;
  int32_t tok[S];
  for (int t = 0; t < S; t++) tok[t] = (t * 29 + 3) % V;
  float *a = th_falloc((size_t)S * V), *b = th_falloc((size_t)S * V);
  run_device(&m, 1, S, 16, tok, NULL, a);
  run_device(&m, 1, S, 64, tok, NULL, b);
  double *bd = th_dalloc((size_t)S * V);
  for (size_t i = 0; i < (size_t)S * V; i++) bd[i] = b[i];
  th_assert_close("xLSTM logits, chunk 16 vs 64", a, bd, (size_t)S * V, TOL_RESET);
  free(a), free(b), free(bd);
  model_free(&m);
}

/* Row = [doc A (5 tokens) | doc B (8 tokens)]: the logits of B's positions equal B's logits alone. */
static void packed_document_equals_alone(const char *json, th_tol tol) {
  enum { LA = 5, LB = 8 };
  model m;
  model_make(&m, json);
  const int V = (int)m.cfg.vocab_size;
  int32_t tok[LA + LB];
  uint8_t doc[LA + LB] = {0};
  for (int t = 0; t < LA + LB; t++) tok[t] = (t * 17 + 5) % V;
  doc[0] = doc[LA] = 1;
  float *packed = th_falloc((size_t)(LA + LB) * V), *alone = th_falloc((size_t)LB * V);
  run_device(&m, 1, LA + LB, 0, tok, doc, packed);
  run_device(&m, 1, LB, 0, tok + LA, NULL, alone);
  double *ad = th_dalloc((size_t)LB * V);
  for (size_t i = 0; i < (size_t)LB * V; i++) ad[i] = alone[i];
  char label[96];
  snprintf(label, sizeof label, "%s packed second document vs alone", sc_arch_name(m.cfg.arch));
  th_assert_close(label, packed + (size_t)LA * V, ad, (size_t)LB * V, tol);
  free(packed), free(alone), free(ad);
  model_free(&m);
}

static void llama_packed_document_equals_alone(void **state) {
  (void)state;
  packed_document_equals_alone(LLAMA_JSON, TOL_LOGITS);
}

static void xlstm_packed_document_within_reset(void **state) {
  (void)state;
  packed_document_equals_alone(XLSTM_JSON, TOL_RESET);
}

/* A (B, T) beyond an injected device limit is refused before anything is allocated, naming the sizes. */
static void plan_refuses_too_large(void **state) {
  (void)state;
  sc_model_config cfg;
  TH_CHECK(sc_model_config_parse(XLSTM_JSON, "test config", &cfg, TH_ERR));
  sc_lm_plan plan;
  TH_CHECK(sc_lm_plan_make(&cfg, 64, 4096, 0, &plan, TH_ERR));
  assert_true(plan.total == plan.params + plan.grads + plan.acts + plan.scratch + plan.ops);
  assert_true(plan.acts > plan.params);
  const size_t before = th_ctx.bytes_allocated;
  sc_lm *lm = NULL;
  sc_err err;
  const sc_lm_opts small = {.mem_limit = (size_t)64 << 20};
  assert_int_equal(sc_lm_create(&th_ctx, &cfg, 64, 4096, &small, &lm, &err), -1);
  assert_null(lm);
  assert_int_equal(th_ctx.bytes_allocated, before);
  assert_non_null(strstr(err.msg, "batch 64 x context 4096"));
  assert_non_null(strstr(err.msg, "64.0 MiB"));
  assert_non_null(strstr(err.msg, "smaller --batch or --ctx"));
  const sc_lm_opts one_buffer = {.alloc_limit = (size_t)1 << 20};
  assert_int_equal(sc_lm_create(&th_ctx, &cfg, 64, 4096, &one_buffer, &lm, &err), -1);
  assert_non_null(strstr(err.msg, "1.0 MiB"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(xlstm_matches_reference),
      cmocka_unit_test(llama_matches_reference),
      cmocka_unit_test(xlstm_logits_independent_of_chunk),
      cmocka_unit_test(llama_packed_document_equals_alone),
      cmocka_unit_test(xlstm_packed_document_within_reset),
      cmocka_unit_test(plan_refuses_too_large),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
