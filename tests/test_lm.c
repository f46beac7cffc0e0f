/* The device language model (model/lm.h), both architectures, against the float64 reference models (ref/xlstm.h,
 * ref/llama.h) with the same parameters, copied tensor by tensor by HF key: logits and loss with and without
 * documents, the gradient of every parameter tensor; xLSTM logits independent of the chunk length; a document
 * packed after another gives the numbers it gives alone; and the memory plan refusing a (B, T) too large for an
 * injected device limit. Tiny configs: d = 32, 2 blocks, 2 heads, vocab 67, T = 13 (not a multiple of a chunk). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/init.h"
#include "model/lm.h"
#include "op_cases.h"

#define XLSTM_JSON sc_check_xlstm_tiny
#define LLAMA_JSON sc_check_llama_tiny

/* float32 logits of two runs of the same model. */
static const sc_tol TOL_LOGITS = {.atol = 5e-5, .rtol = 1e-4, .nmse = 1e-9};
/* xLSTM's reset leaves exp(−25) of the previous document's state: equal to float32 rounding in practice. */
static const sc_tol TOL_RESET = {.atol = 1e-5, .rtol = 1e-4, .nmse = 1e-9};

/* A config and its device model's parameter arena from the training init plus noise. */
typedef struct {
  sc_model_config cfg;
  sc_params p;
  float *arena;
} model;

static void model_make(model *m, const char *json) {
  memset(m, 0, sizeof *m);
  TH_CHECK(sc_model_config_parse(json, "test config", &m->cfg, TH_ERR));
  TH_CHECK(sc_params_build(&m->cfg, &m->p, TH_ERR));
  static sc_err err;
  if (!(m->arena = sc_params_alloc(&m->p, &err))) fail_msg("%s", err.msg);
  TH_CHECK(sc_init_params(&m->p, m->arena, 7, 1, TH_ERR));
  sc_rng rng;
  sc_rng_seed(&rng, 11);
  for (int j = 0; j < m->p.n; j++)
    for (size_t e = 0; e < m->p.t[j].numel; e++) m->arena[m->p.t[j].offset + e] += (float)(0.1 * sc_rng_normal(&rng));
}

static void model_free(model *m) {
  free(m->arena);
  sc_params_free(&m->p);
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

/* Logits, loss and every parameter's gradient against the reference, with and without documents: the check
 * table's lm rows (check/cases.h). */
static void models_match_reference(void **state) {
  (void)state;
  th_run_op_cases(&th_ctx, "lm");
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
static void packed_document_equals_alone(const char *json, sc_tol tol) {
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
      cmocka_unit_test(models_match_reference),
      cmocka_unit_test(xlstm_logits_independent_of_chunk),
      cmocka_unit_test(llama_packed_document_equals_alone),
      cmocka_unit_test(xlstm_packed_document_within_reset),
      cmocka_unit_test(plan_refuses_too_large),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
