/* Inference (model/infer.h) against the full forward (model/lm.h) of the same tokens, both architectures: the
 * logits of a prefill's last position and of every decoding step after it equal the forward's at those positions,
 * for prefills of 0 (the first step starts from the empty state), a length that is not a multiple of the chunk,
 * and the whole sequence; batch 2 equals batch 1 row by row; a step past the state's length, a prefill longer
 * than planned and a plan larger than the device are errors that say so. Tiny configs of check/cases.h (d = 32, 2
 * blocks, 2 heads). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/infer.h"
#include "model/init.h"
#include "op_cases.h"

/* float32 logits of the chunkwise or flash forward against the recurrent step or decode kernel; with the KV cache
 * in halves, whose rounding (2^-11 of each k and v) moves the logits by up to a few 1e-3. */
static const sc_tol TOL = {.atol = 1e-4, .rtol = 1e-3, .nmse = 1e-9},
                    HALF_TOL = {.atol = 5e-3, .rtol = 5e-3, .nmse = 2e-6};

enum { S = 21, B = 2 };

typedef struct {
  sc_model_config cfg;
  sc_params p;
  float *arena;
  int V;
  int32_t tok[B * S];
  float *full; /* (B, S, V) */
} fixture;

static void fixture_make(fixture *f, const char *json) {
  memset(f, 0, sizeof *f);
  TH_CHECK(sc_model_config_parse(json, "test config", &f->cfg, TH_ERR));
  TH_CHECK(sc_params_build(&f->cfg, &f->p, TH_ERR));
  static sc_err err;
  if (!(f->arena = sc_params_alloc(&f->p, &err))) fail_msg("%s", err.msg);
  TH_CHECK(sc_init_params(&f->p, f->arena, 5, 1, TH_ERR));
  sc_rng rng;
  sc_rng_seed(&rng, 3);
  for (int j = 0; j < f->p.n; j++)
    for (size_t e = 0; e < f->p.t[j].numel; e++) f->arena[f->p.t[j].offset + e] += (float)(0.1 * sc_rng_normal(&rng));
  f->V = (int)f->cfg.vocab_size;
  for (int i = 0; i < B * S; i++) f->tok[i] = (int32_t)(sc_rng_uniform(&rng) * f->V);
  f->full = th_falloc((size_t)B * S * f->V);
  sc_lm *lm;
  TH_CHECK(sc_lm_create(&th_ctx, &f->cfg, B, S, NULL, &lm, TH_ERR));
  TH_CHECK(sc_lm_upload_params(lm, f->arena, TH_ERR));
  TH_CHECK(sc_lm_forward(lm, f->tok, NULL, NULL, f->full, TH_ERR));
  sc_lm_destroy(lm);
}

static void fixture_free(fixture *f) {
  free(f->arena), free(f->full);
  sc_params_free(&f->p);
}

/* Row `row` of the full forward at position t, as doubles. */
static void expect_at(const fixture *f, int row, int t, double *out) {
  for (int v = 0; v < f->V; v++) out[v] = f->full[((size_t)row * S + t) * f->V + v];
}

/* Rows `first`..first+nb-1 of the fixture: prefill P, then step to the end, every logit against the forward; the
 * Llama KV cache in halves with kv_half. */
static void decode_matches_forward(const fixture *f, int first, int nb, int P, int kv_half, float *got_all) {
  sc_infer *inf;
  TH_CHECK(sc_infer_create(&th_ctx, &f->cfg, nb, P, S, &(sc_lm_opts){.kv_half = kv_half}, &inf, TH_ERR));
  TH_CHECK(sc_infer_upload_params(inf, f->arena, TH_ERR));
  int32_t prompt[B * S], next[B];
  for (int b = 0; b < nb; b++) memcpy(prompt + b * P, f->tok + (first + b) * S, (size_t)P * sizeof *prompt);
  float *got = th_falloc((size_t)nb * f->V);
  double *want = th_dalloc((size_t)f->V);
  TH_CHECK(sc_infer_prefill(inf, P, prompt, got, TH_ERR));
  for (int t = P > 0 ? P - 1 : 0; t < S; t++) {
    if (t >= P) {
      for (int b = 0; b < nb; b++) next[b] = f->tok[(first + b) * S + t];
      TH_CHECK(sc_infer_step(inf, next, got, TH_ERR));
    }
    for (int b = 0; b < nb; b++) {
      char label[128];
      snprintf(label, sizeof label, "%s batch %d row %d, prefill %d, position %d%s", sc_arch_name(f->cfg.arch), nb, b,
               P, t, kv_half ? ", f16 cache" : "");
      expect_at(f, first + b, t, want);
      th_assert_close(label, got + (size_t)b * f->V, want, (size_t)f->V, kv_half ? HALF_TOL : TOL);
      if (got_all) memcpy(got_all + ((size_t)b * S + t) * f->V, got + (size_t)b * f->V, (size_t)f->V * sizeof *got);
    }
  }
  assert_int_equal(sc_infer_position(inf), S);
  sc_err err;
  assert_int_equal(sc_infer_step(inf, next, got, &err), -1);
  assert_non_null(strstr(err.msg, "holds 21 positions"));
  assert_int_equal(sc_infer_prefill(inf, P + 1, prompt, got, &err), -1);
  assert_non_null(strstr(err.msg, "longer prefill"));
  free(got), free(want);
  sc_infer_destroy(inf);
}

static void arch_matches_forward(const char *json) {
  fixture f;
  fixture_make(&f, json);
  const int prefills[] = {0, 1, 9, S};
  for (size_t i = 0; i < sizeof prefills / sizeof *prefills; i++)
    decode_matches_forward(&f, 0, B, prefills[i], 0, NULL);
  fixture_free(&f);
}

static void xlstm_matches_forward(void **state) {
  (void)state;
  arch_matches_forward(sc_check_xlstm_tiny);
}

static void llama_matches_forward(void **state) {
  (void)state;
  arch_matches_forward(sc_check_llama_tiny);
}

/* Batch 2 gives each row the logits batch 1 gives it alone. */
static void batch_equals_rows(const char *json) {
  fixture f;
  fixture_make(&f, json);
  const size_t n = (size_t)S * f.V;
  float *both = th_falloc(B * n), *one = th_falloc(n);
  decode_matches_forward(&f, 0, B, 5, 0, both);
  for (int b = 0; b < B; b++) {
    decode_matches_forward(&f, b, 1, 5, 0, one);
    double *ref = th_dalloc(n - 4 * (size_t)f.V);
    for (size_t i = 0; i < n - 4 * (size_t)f.V; i++) ref[i] = one[4 * (size_t)f.V + i];
    char label[96];
    snprintf(label, sizeof label, "%s batch 2 row %d vs batch 1", sc_arch_name(f.cfg.arch), b);
    th_assert_close(label, both + b * n + 4 * (size_t)f.V, ref, n - 4 * (size_t)f.V,
                    (sc_tol){.atol = 1e-5, .rtol = 1e-5, .nmse = 1e-12});
    free(ref);
  }
  free(both), free(one);
  fixture_free(&f);
}

static void xlstm_batch_equals_rows(void **state) {
  (void)state;
  batch_equals_rows(sc_check_xlstm_tiny);
}

static void llama_batch_equals_rows(void **state) {
  (void)state;
  batch_equals_rows(sc_check_llama_tiny);
}

/* A KV cache in halves keeps the logits within HALF_TOL of the forward, prefilled and stepped, yet moves them: the
 * cache really holds halves. */
static void llama_half_cache(void **state) {
  (void)state;
  fixture f;
  fixture_make(&f, sc_check_llama_tiny);
  const size_t n = (size_t)B * S * f.V;
  float *full = th_falloc(n), *half = th_falloc(n);
  decode_matches_forward(&f, 0, B, 9, 0, full);
  decode_matches_forward(&f, 0, B, 9, 1, half);
  double moved = 0;
  for (size_t i = (size_t)8 * f.V; i < n; i++) moved = fmax(moved, fabs((double)full[i] - half[i]));
  printf("f16 cache: logits moved by up to %.3g\n", moved);
  assert_true(moved > 0);
  free(full), free(half);
  fixture_free(&f);
}

/* The plan counts the KV cache and no gradients, and a device too small for it is refused before any
 * allocation, naming the state. */
static void plan_refuses_too_large(void **state) {
  (void)state;
  sc_model_config cfg;
  TH_CHECK(sc_model_config_parse(sc_check_llama_tiny, "test config", &cfg, TH_ERR));
  sc_lm_plan plan;
  TH_CHECK(sc_infer_plan(&cfg, 4, 1000, 100000, NULL, &plan, TH_ERR));
  assert_true(plan.grads == 0 && plan.state > (size_t)2 * 2 * 4 * 2 * 100000 * 16 * 4);
  assert_true(plan.total == plan.params + plan.acts + plan.scratch + plan.ops + plan.state);
  sc_lm_plan half;
  TH_CHECK(sc_infer_plan(&cfg, 4, 1000, 100000, &(sc_lm_opts){.kv_half = 1}, &half, TH_ERR));
  assert_true(plan.state - half.state == (size_t)2 * 2 * 4 * 2 * 100000 * 16 * 2);
  const size_t before = th_ctx.bytes_allocated;
  sc_infer *inf = NULL;
  sc_err err;
  const sc_lm_opts small = {.mem_limit = plan.total - 1};
  assert_int_equal(sc_infer_create(&th_ctx, &cfg, 4, 1000, 100000, &small, &inf, &err), -1);
  assert_null(inf);
  assert_int_equal(th_ctx.bytes_allocated, before);
  assert_non_null(strstr(err.msg, "inference state"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(xlstm_matches_forward),   cmocka_unit_test(llama_matches_forward),
      cmocka_unit_test(xlstm_batch_equals_rows), cmocka_unit_test(llama_batch_equals_rows),
      cmocka_unit_test(llama_half_cache),        cmocka_unit_test(plan_refuses_too_large),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
