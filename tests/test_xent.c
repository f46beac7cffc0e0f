/* The LM head fused with soft-capped cross-entropy (ops/xent.h) on the test device against the float64 reference
 * (ref/xent.h), through the op-case table: loss, per-position losses, lse and logits of the forward (with block
 * scratch and into a full logits buffer), dx and dW of the backward (overwriting NaN, then accumulating), at odd
 * shapes, block widths from 1 column to the whole vocabulary, cap on and off, extreme logits and view offsets.
 * Then the memory the op allocates against sc_xent_memory, out-of-vocabulary tokens, NaN logits, the same bits on a
 * second run, and argument errors; everything that runs kernels does so under both kernel variants. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/xent.h"
#include "ref/xent.h"

static sc_ctx ctx;
static sc_gemm *gemm; /* shared by the rows, as a model shares its GEMM op */

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  static sc_err err;
  if (sc_gemm_create(&ctx, &gemm, &err)) fail_msg("%s", err.msg);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_gemm_destroy(gemm);
  sc_ctx_close(&ctx);
  return 0;
}

/* Inputs of a case: x ~ N(0, 1), W ~ N(0, 1/d) so that raw logits are about N(0, 1); SC_VAL_LARGE scales W by 300 so
 * that they reach +-1e3. Tokens uniform over the vocabulary. */
typedef struct {
  int B, T, N, d, V;
  float *x, *W;
  int32_t *tok;
  double *xd, *Wd;
} inputs;

static void inputs_make(inputs *in, const sc_check_row *row) {
  const sc_check_xent sh = row->xent;
  in->B = sh.B, in->T = sh.T, in->N = sh.B * sh.T, in->d = sh.d, in->V = sh.V;
  const size_t nx = (size_t)in->N * in->d, nw = (size_t)in->V * in->d;
  in->x = th_falloc(nx), in->W = th_falloc(nw), in->xd = th_dalloc(nx), in->Wd = th_dalloc(nw);
  in->tok = th_calloc((size_t)in->N, sizeof *in->tok);
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  const double wstd = (row->values == SC_VAL_LARGE ? 300.0 : 1.0) / sqrt((double)in->d);
  sc_rng_fill_normal(&rng, in->x, nx, 0, 1);
  sc_rng_fill_normal(&rng, in->W, nw, 0, wstd);
  for (int r = 0; r < in->N; r++) in->tok[r] = (int32_t)(sc_rng_uniform(&rng) * in->V);
  for (size_t i = 0; i < nx; i++) in->xd[i] = in->x[i];
  for (size_t i = 0; i < nw; i++) in->Wd[i] = in->W[i];
}

static void inputs_free(inputs *in) {
  free(in->x), free(in->W), free(in->xd), free(in->Wd), free(in->tok);
}

static void test_xent_cases(void **state) {
  (void)state;
  th_run_op_cases_variants(&ctx, "xent");
}

/* Device bytes one forward + backward allocates (GEMM scratch included, on both GEMM backends) stay within
 * sc_xent_memory, far below one (N, V) logits buffer. */
static void test_xent_memory(void **state) {
  (void)state;
  static const char *const backends[] = {"own", "clblast"};
  const int B = 2, T = 33, N = B * T, d = 40, V = 5000, block = 64;
  const sc_check_row row = {.op = "xent", .values = SC_VAL_NORMAL, .seed = 7, .xent = {B, T, d, V, 30.0, block}};
  inputs in;
  inputs_make(&in, &row);
  const size_t bound = sc_xent_memory((size_t)N, (size_t)d, (size_t)V, (size_t)block);
  for (int k = 0; k < 2 * TH_NVARIANTS; k++) {
    const int b = k % 2;
    th_setenv("SCALECL_GEMM", backends[b]);
    th_variant_set(k / 2);
    th_tensors ts;
    th_tensors_init(&ts, &ctx, 0);
    const sc_view bx = th_tensor(&ts, in.x, (size_t)N * d * 4), bW = th_tensor(&ts, in.W, (size_t)V * d * 4);
    const sc_view btok = th_tensor(&ts, in.tok, (size_t)N * 4), blse = th_tensor(&ts, NULL, (size_t)N * 4);
    const sc_view bloss = th_tensor(&ts, NULL, 4), bdx = th_tensor(&ts, NULL, (size_t)N * d * 4);
    const sc_view bdW = th_tensor(&ts, NULL, (size_t)V * d * 4);
    const size_t base = ctx.bytes_allocated;
    ctx.bytes_peak = base;
    sc_xent *op;
    const sc_xent_cfg cfg = {.d = d, .V = V, .cap = 30.0f, .block = block};
    TH_CHECK(sc_xent_create(&ctx, &cfg, &op, TH_ERR));
    const sc_xent_fwd_io io = {.x = bx, .W = bW, .tokens = btok, .lse = blse, .loss = bloss};
    const sc_xent_bwd_io bio = {.x = bx, .W = bW, .tokens = btok, .lse = blse, .dx = bdx, .dW = bdW};
    TH_CHECK(sc_xent_forward(op, B, T, &io, TH_ERR));
    TH_CHECK(sc_xent_backward(op, B, T, 1.0f, &bio, TH_ERR));
    TH_CHECK(sc_finish(&ctx, TH_ERR));
    const size_t used = ctx.bytes_peak - base;
    printf(
        "  xent memory (%s GEMM, %s variant) N=%d d=%d V=%d block=%d: %zu bytes allocated <= %zu (formula); N*V "
        "logits: %zu\n",
        backends[b], th_variants[k / 2], N, d, V, block, used, bound, (size_t)N * V * 4);
    sc_xent_destroy(op);
    th_tensors_release(&ts);
    if (used > bound) fail_msg("xent allocated %zu bytes, above sc_xent_memory's %zu", used, bound);
  }
  th_setenv("SCALECL_GEMM", NULL);
  th_variant_set(-1);
  if (bound * 4 > (size_t)N * V * 4) fail_msg("sc_xent_memory %zu is not well below N*V floats", bound);
  inputs_free(&in);
}

/* A token outside [0, V) fails the forward naming the first bad position; the next good call succeeds. */
static void bad_tokens(void) {
  const int B = 2, T = 4, d = 8, V = 10;
  float x[2 * 4 * 8] = {0}, W[10 * 8] = {0};
  int32_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  sc_xent *op;
  const sc_xent_cfg cfg = {.d = d, .V = V, .cap = 30.0f, .block = 4, .gemm = gemm};
  TH_CHECK(sc_xent_create(&ctx, &cfg, &op, TH_ERR));
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 1);
  const sc_view bx = th_tensor(&ts, x, sizeof x), bW = th_tensor(&ts, W, sizeof W);
  const sc_view blse = th_tensor(&ts, NULL, (size_t)B * T * 4), bloss = th_tensor(&ts, NULL, 4);
  const sc_view bgood = th_tensor(&ts, tok, sizeof tok);
  tok[6] = V, tok[7] = -1;
  const sc_view bbad = th_tensor(&ts, tok, sizeof tok);
  sc_xent_fwd_io io = {.x = bx, .W = bW, .tokens = bbad, .lse = blse, .loss = bloss};
  sc_err err;
  assert_int_equal(sc_xent_forward(op, B, T, &io, &err), -1);
  assert_non_null(strstr(err.msg, "token 10 at position (b=1, t=2)"));
  io.tokens = bgood;
  TH_CHECK(sc_xent_forward(op, B, T, &io, TH_ERR));
  float loss;
  th_tensor_read(&ts, bloss, &loss, 4);
  assert_float_equal(loss, log(10.0), 1e-6); /* all logits 0: uniform over V */
  io.loss = (sc_view){0};
  assert_int_equal(sc_xent_forward(op, B, T, &io, &err), -1);
  assert_non_null(strstr(err.msg, "required tensor 'loss'"));
  assert_int_equal(sc_xent_forward(op, 0, T, &io, &err), -1);
  assert_non_null(strstr(err.msg, "B=0"));
  th_tensors_release(&ts);
  sc_xent_destroy(op);
}

/* Block 0 takes the widest multiple of 64 columns whose (N, nb) floats fit the budget, at least 64, at most V. */
static void test_xent_block_width(void **state) {
  (void)state;
  sc_xent *op;
  const sc_xent_cfg cfg = {.d = 8, .V = 50304, .block_bytes = 1 << 20, .gemm = gemm};
  TH_CHECK(sc_xent_create(&ctx, &cfg, &op, TH_ERR));
  assert_int_equal(sc_xent_block(op, 4096), 64);
  assert_int_equal(sc_xent_block(op, 100), 2560);
  assert_int_equal(sc_xent_block(op, 1 << 20), 64);
  assert_int_equal(sc_xent_block(op, 1), 50304);
  sc_xent_destroy(op);
}

/* A NaN in x makes its position's loss and the mean NaN (not silently dropped by the max or the lane merge); the
 * other positions stay finite. */
static void nan_shows(void) {
  const int B = 1, T = 6, d = 4, V = 40;
  float x[6 * 4], W[40 * 4], losses[5], loss;
  int32_t tok[6] = {1, 2, 3, 4, 5, 6};
  sc_rng rng;
  sc_rng_seed(&rng, 3);
  sc_rng_fill_normal(&rng, x, 6 * 4, 0, 1);
  sc_rng_fill_normal(&rng, W, 40 * 4, 0, 0.5);
  x[2 * d + 1] = NAN;
  sc_xent *op;
  const sc_xent_cfg cfg = {.d = d, .V = V, .cap = 30.0f, .block = 16, .gemm = gemm};
  TH_CHECK(sc_xent_create(&ctx, &cfg, &op, TH_ERR));
  th_tensors ts;
  th_tensors_init(&ts, &ctx, 0);
  const sc_xent_fwd_io io = {.x = th_tensor(&ts, x, sizeof x),
                             .W = th_tensor(&ts, W, sizeof W),
                             .tokens = th_tensor(&ts, tok, sizeof tok),
                             .lse = th_tensor(&ts, NULL, T * 4),
                             .loss = th_tensor(&ts, NULL, 4),
                             .losses = th_tensor(&ts, NULL, sizeof losses)};
  TH_CHECK(sc_xent_forward(op, B, T, &io, TH_ERR));
  th_tensor_read(&ts, io.losses, losses, sizeof losses);
  th_tensor_read(&ts, io.loss, &loss, 4);
  th_tensors_release(&ts);
  sc_xent_destroy(op);
  for (int t = 0; t < T - 1; t++)
    if (isnan(losses[t]) != (t == 2)) fail_msg("position %d: loss %g", t, losses[t]);
  assert_true(isnan(loss));
}

/* The checks above under each kernel variant. */
static void test_xent_bad_tokens(void **state) {
  (void)state;
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    bad_tokens();
  }
  th_variant_set(-1);
}

static void test_xent_nan_shows(void **state) {
  (void)state;
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    nan_shows();
  }
  th_variant_set(-1);
}

/* A forward and a backward at a model-like shape (several blocks, rows longer than a work-group) on two fresh ops
 * of the same variant give the same bits: loss, lse, dx and dW. */
static void test_xent_same_bits(void **state) {
  (void)state;
  const sc_check_row row = {.op = "xent", .values = SC_VAL_NORMAL, .seed = 8, .xent = {2, 40, 24, 1500, 30.0, 640}};
  inputs in;
  inputs_make(&in, &row);
  const int B = in.B, T = in.T, N = in.N, d = in.d, V = in.V;
  float *out[2];
  const size_t nout = 1 + (size_t)N + (size_t)N * d + (size_t)V * d;
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    for (int k = 0; k < 2; k++) {
      out[k] = th_falloc(nout);
      sc_xent *op;
      const sc_xent_cfg cfg = {.d = d, .V = V, .cap = 30.0f, .block = row.xent.block, .gemm = gemm};
      TH_CHECK(sc_xent_create(&ctx, &cfg, &op, TH_ERR));
      th_tensors ts;
      th_tensors_init(&ts, &ctx, 1);
      const sc_view bx = th_tensor(&ts, in.x, (size_t)N * d * 4), bW = th_tensor(&ts, in.W, (size_t)V * d * 4);
      const sc_view btok = th_tensor(&ts, in.tok, (size_t)N * 4), blse = th_tensor(&ts, NULL, (size_t)N * 4);
      const sc_view bloss = th_tensor(&ts, NULL, 4), bdx = th_tensor(&ts, NULL, (size_t)N * d * 4);
      const sc_view bdW = th_tensor(&ts, NULL, (size_t)V * d * 4);
      TH_CHECK(sc_xent_forward(
          op, B, T, &(sc_xent_fwd_io){.x = bx, .W = bW, .tokens = btok, .lse = blse, .loss = bloss}, TH_ERR));
      const sc_xent_bwd_io bio = {.x = bx, .W = bW, .tokens = btok, .lse = blse, .dx = bdx, .dW = bdW};
      TH_CHECK(sc_xent_backward(op, B, T, 1.0f, &bio, TH_ERR));
      th_tensor_read(&ts, bloss, out[k], 4);
      th_tensor_read(&ts, blse, out[k] + 1, (size_t)N * 4);
      th_tensor_read(&ts, bdx, out[k] + 1 + N, (size_t)N * d * 4);
      th_tensor_read(&ts, bdW, out[k] + 1 + N + (size_t)N * d, (size_t)V * d * 4);
      th_tensors_release(&ts);
      sc_xent_destroy(op);
    }
    if (memcmp(out[0], out[1], nout * sizeof(float)))
      fail_msg("%s variant: a second run gave different bits", th_variants[v]);
    if (!(out[0][0] > 0 && isfinite(out[0][0]))) fail_msg("%s variant: loss %g", th_variants[v], out[0][0]);
    free(out[0]), free(out[1]);
  }
  th_variant_set(-1);
  inputs_free(&in);
}

/* Forward and backward times of both variants (print only), GEMMs included (the same in both; d = 16 keeps them
 * small next to the row work): 4096 tokens, V = 256, 8192 and 50304 with SCALECL_TEST_TIMES=model, else 64 tokens
 * and V = 300. */
typedef struct {
  sc_xent *op;
  int B, T;
  sc_xent_fwd_io f;
  sc_xent_bwd_io b;
} xent_timed;

static void xent_timed_fwd(void *u) {
  xent_timed *t = u;
  TH_CHECK(sc_xent_forward(t->op, t->B, t->T, &t->f, TH_ERR));
}

static void xent_timed_bwd(void *u) {
  xent_timed *t = u;
  TH_CHECK(sc_xent_backward(t->op, t->B, t->T, 1.0f, &t->b, TH_ERR));
}

static void test_xent_variant_times(void **state) {
  (void)state;
  const int model = th_time_model_shapes(), samples = model ? 3 : 2;
  static const int vocab_model[] = {256, 8192, 50304}, vocab_tiny[] = {300};
  const int *vocab = model ? vocab_model : vocab_tiny, nv = model ? 3 : 1;
  for (int k = 0; k < nv; k++) {
    const sc_check_row row = {.op = "xent", .seed = 9, .xent = {4, model ? 1024 : 16, 16, vocab[k], 30.0, 0}};
    inputs in;
    inputs_make(&in, &row);
    const int N = in.N, d = in.d, V = in.V;
    printf("  xent N %d d %d V %d cap 30:", N, d, V);
    for (int v = 0; v < TH_NVARIANTS; v++) {
      th_variant_set(v);
      xent_timed t = {.B = in.B, .T = in.T};
      TH_CHECK(sc_xent_create(&ctx, &(sc_xent_cfg){.d = d, .V = V, .cap = 30.0f, .gemm = gemm}, &t.op, TH_ERR));
      th_tensors ts;
      th_tensors_init(&ts, &ctx, 0);
      const sc_view bx = th_tensor(&ts, in.x, (size_t)N * d * 4), bW = th_tensor(&ts, in.W, (size_t)V * d * 4);
      const sc_view btok = th_tensor(&ts, in.tok, (size_t)N * 4), blse = th_tensor(&ts, NULL, (size_t)N * 4);
      t.f = (sc_xent_fwd_io){.x = bx, .W = bW, .tokens = btok, .lse = blse, .loss = th_tensor(&ts, NULL, 4)};
      t.b = (sc_xent_bwd_io){.x = bx,
                             .W = bW,
                             .tokens = btok,
                             .lse = blse,
                             .dx = th_tensor(&ts, NULL, (size_t)N * d * 4),
                             .dW = th_tensor(&ts, NULL, (size_t)V * d * 4)};
      const double fwd = th_time_ms(&ctx, xent_timed_fwd, &t, samples);
      const double bwd = th_time_ms(&ctx, xent_timed_bwd, &t, samples);
      printf(" %s fwd %.2f ms bwd %.2f ms (block %d);", th_variants[v], fwd, bwd, sc_xent_block(t.op, N));
      th_tensors_release(&ts);
      sc_xent_destroy(t.op);
    }
    printf("\n");
    inputs_free(&in);
  }
  th_variant_set(-1);
}

static void test_xent_create_errors(void **state) {
  (void)state;
  sc_err err;
  sc_xent *op = NULL;
  sc_xent_cfg cfg = {.d = 0, .V = 10, .gemm = gemm};
  assert_int_equal(sc_xent_create(&ctx, &cfg, &op, &err), -1);
  assert_non_null(strstr(err.msg, "d=0"));
  cfg = (sc_xent_cfg){.d = 4, .V = 10, .cap = -1.0f, .gemm = gemm};
  assert_int_equal(sc_xent_create(&ctx, &cfg, &op, &err), -1);
  assert_non_null(strstr(err.msg, "cap"));
  cfg = (sc_xent_cfg){.d = 4, .V = 10, .block = -3, .gemm = gemm};
  assert_int_equal(sc_xent_create(&ctx, &cfg, &op, &err), -1);
  assert_non_null(strstr(err.msg, "block width -3"));
  assert_null(op);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xent_cases),         cmocka_unit_test(test_xent_memory),
      cmocka_unit_test(test_xent_bad_tokens),    cmocka_unit_test(test_xent_block_width),
      cmocka_unit_test(test_xent_nan_shows),     cmocka_unit_test(test_xent_same_bits),
      cmocka_unit_test(test_xent_variant_times), cmocka_unit_test(test_xent_create_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
