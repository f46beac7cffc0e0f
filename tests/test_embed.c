/* Token embedding (ops/embed.h) on the test device against the float64 reference (ref/embed.h), through the
 * op-case table: one id, odd widths, a few ids repeated hundreds of times, the full GPT-NeoX vocabulary with most
 * rows untouched, view offsets; then a backward that gives the same bits on every run and ids outside the
 * vocabulary reported by position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/embed.h"
#include "ref/embed.h"

/* n ids drawn from [0, distinct) with the row's seed. */
static int32_t *draw_ids(sc_rng *rng, int n, int distinct) {
  int32_t *tok = th_calloc((size_t)n, sizeof *tok);
  for (int r = 0; r < n; r++) tok[r] = (int32_t)(sc_rng_uniform(rng) * distinct);
  return tok;
}

static void test_embed_cases(void **state) {
  (void)state;
  th_run_op_cases(&th_ctx, "embed");
}

/* 4096 positions over 5 ids, values of mixed magnitudes (so the order of a sum shows in its bits): two backwards
 * from zero, the second on a fresh op, give identical dW bits. */
static void test_embed_backward_same_bits(void **state) {
  (void)state;
  enum { N = 4096, V = 40, D = 33 };
  sc_rng rng;
  sc_rng_seed(&rng, 7);
  int32_t *tok = draw_ids(&rng, N, 5);
  float *dy = th_falloc((size_t)N * D), *dW[2] = {th_falloc((size_t)V * D), th_falloc((size_t)V * D)};
  sc_fill_values(&rng, SC_VAL_MIXED, dy, (size_t)N * D);
  for (int run = 0; run < 2; run++) {
    sc_embed *e;
    TH_CHECK(sc_embed_create(&th_ctx, &(sc_embed_cfg){V, D}, &e, TH_ERR));
    th_tensors ts;
    th_tensors_init(&ts, &th_ctx, 1);
    const sc_view bdy = th_tensor(&ts, dy, sizeof(float) * N * D), bdW = th_tensor(&ts, NULL, sizeof(float) * V * D);
    TH_CHECK(sc_embed_set_tokens(e, N, tok, TH_ERR));
    TH_CHECK(sc_embed_backward(e, bdy, bdW, TH_ERR));
    th_tensor_read(&ts, bdW, dW[run], sizeof(float) * V * D);
    th_tensors_release(&ts);
    sc_embed_destroy(e);
  }
  assert_memory_equal(dW[0], dW[1], sizeof(float) * V * D);
  free(tok), free(dy), free(dW[0]), free(dW[1]);
}

/* An id outside [0, V) fails naming its position, and leaves the op without a batch. */
static void test_embed_bad_ids(void **state) {
  (void)state;
  int32_t tok[8] = {0, 1, 2, 3, 4, 9, 1, 0};
  sc_embed *e;
  sc_err err;
  TH_CHECK(sc_embed_create(&th_ctx, &(sc_embed_cfg){9, 4}, &e, TH_ERR));
  assert_int_equal(sc_embed_set_tokens(e, 8, tok, &err), -1);
  assert_non_null(strstr(err.msg, "id 9 at position 5"));
  tok[5] = 8, tok[2] = -1;
  assert_int_equal(sc_embed_set_tokens(e, 8, tok, &err), -1);
  assert_non_null(strstr(err.msg, "id -1 at position 2"));
  cl_mem b;
  TH_CHECK(sc_buffer_create(&th_ctx, 64 * sizeof(float), "table", &b, TH_ERR));
  assert_int_equal(sc_embed_forward(e, sc_view_of(b), sc_view_of(b), &err), -1);
  assert_non_null(strstr(err.msg, "sc_embed_set_tokens"));
  sc_buffer_release(&th_ctx, b);
  sc_embed_destroy(e);
  assert_int_equal(sc_embed_create(&th_ctx, &(sc_embed_cfg){0, 4}, &e, &err), -1);
  assert_null(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embed_cases),
      cmocka_unit_test(test_embed_backward_same_bits),
      cmocka_unit_test(test_embed_bad_ids),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
