/* RMSNorm and the multi-head LayerNorm (ops/norm.h) on the test device against the float64 references
 * (ref/norm.h), through the op-case table: one value, widths that are not multiples of 4 or 16 and wider than the
 * reducing work-group, rows past one block of the dw sum, all-zero rows, extreme values, view offsets, in place;
 * the saved statistics, a dw that accumulates, the same bits on a second run, given local sizes, and argument
 * errors; each under both kernel variants. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_cases.h"
#include "ops/norm.h"
#include "ref/norm.h"

static const double eps = 1e-6;
/* The check table's norm tolerances (check/cases.c). */
static const sc_tol fw_tol = {1e-5, 1e-4, 1e-10, 0}, bw_tol = {1e-4, 1e-3, 1e-9, 0};

typedef struct {
  float *x, *w, *dy, *y, *stats, *dx, *dw;
} norm_run;

/* Forward then backward of one shape on the device with `local` items per (row, head) (0: the op's choice); dw
 * starts from r->dw and is read back into it. */
static void norm_device(sc_ctx *c, const sc_check_norm *sh, int offsets, int local, norm_run *r) {
  const int NG = sh->heads ? sh->heads : 1, C = NG * sh->dh;
  const size_t n = (size_t)sh->rows * C, ns = (size_t)sh->rows * NG * 2;
  sc_norm *nm;
  const sc_norm_cfg cfg = {sh->heads ? SC_NORM_HEADS : SC_NORM_RMS, C, sh->heads, (float)eps, local};
  TH_CHECK(sc_norm_create(c, &cfg, &nm, TH_ERR));
  th_tensors ts;
  th_tensors_init(&ts, c, offsets);
  const sc_view x = th_tensor(&ts, r->x, n * 4), w = th_tensor(&ts, r->w, (size_t)C * 4);
  const sc_view y = sh->inplace ? x : th_tensor(&ts, NULL, n * 4), st = th_tensor(&ts, NULL, ns * 4);
  const sc_view dy = th_tensor(&ts, r->dy, n * 4), dw = th_tensor(&ts, r->dw, (size_t)C * 4);
  const sc_view dx = sh->inplace ? dy : th_tensor(&ts, NULL, n * 4);
  /* In place, the backward needs the forward's input: keep a copy. */
  const sc_view xb = sh->inplace ? th_tensor(&ts, r->x, n * 4) : x;
  TH_CHECK(sc_norm_forward(nm, sh->rows, &(sc_norm_fwd_io){x, w, y, st}, TH_ERR));
  TH_CHECK(sc_norm_backward(nm, sh->rows, &(sc_norm_bwd_io){xb, w, st, dy, dx, dw}, TH_ERR));
  th_tensor_read(&ts, y, r->y, n * 4);
  th_tensor_read(&ts, st, r->stats, ns * 4);
  th_tensor_read(&ts, dx, r->dx, n * 4);
  th_tensor_read(&ts, dw, r->dw, (size_t)C * 4);
  th_tensors_release(&ts);
  sc_norm_destroy(nm);
}

/* Inputs of a shape: x of the row's values (every third row zero when asked), w ~ N(1, 0.5), dy ~ N(0, 1),
 * a starting dw ~ N(0, 1). */
static void norm_inputs(const sc_check_norm *sh, sc_values v, uint64_t seed, norm_run *r) {
  const int C = (sh->heads ? sh->heads : 1) * sh->dh;
  const size_t n = (size_t)sh->rows * C;
  sc_rng rng;
  sc_rng_seed(&rng, seed);
  r->x = th_falloc(n), r->dy = th_falloc(n), r->y = th_falloc(n), r->dx = th_falloc(n);
  r->w = th_falloc((size_t)C), r->dw = th_falloc((size_t)C);
  r->stats = th_falloc((size_t)sh->rows * (sh->heads ? sh->heads : 1) * 2);
  sc_fill_values(&rng, v, r->x, n);
  for (int i = 0; sh->zero_rows && i < sh->rows; i += 3) memset(r->x + (size_t)i * C, 0, (size_t)C * sizeof(float));
  sc_rng_fill_normal(&rng, r->w, (size_t)C, 1, 0.5);
  sc_rng_fill_normal(&rng, r->dy, n, 0, 1);
  sc_rng_fill_normal(&rng, r->dw, (size_t)C, 0, 1);
}

static void norm_free(norm_run *r) {
  free(r->x), free(r->w), free(r->dy), free(r->y), free(r->stats), free(r->dx), free(r->dw);
}

static void test_norm_cases(void **state) {
  (void)state;
  th_run_op_cases_variants(&th_ctx, "norm");
}

/* 300 rows (five blocks of the dw sum) of 4 heads of 33, values of mixed magnitudes: a second run on a fresh op
 * gives the same bits in every output, in each variant. */
static void test_norm_same_bits(void **state) {
  (void)state;
  const sc_check_norm sh = {4, 300, 33, 1, 0};
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    norm_run r[2];
    for (int k = 0; k < 2; k++) {
      norm_inputs(&sh, SC_VAL_MIXED, 9, &r[k]);
      norm_device(&th_ctx, &sh, 1, 0, &r[k]);
    }
    const size_t n = (size_t)sh.rows * 4 * 33 * sizeof(float);
    if (memcmp(r[0].y, r[1].y, n) || memcmp(r[0].dx, r[1].dx, n) || memcmp(r[0].dw, r[1].dw, 4 * 33 * sizeof(float)))
      fail_msg("%s variant: a second run gave different bits", th_variants[v]);
    norm_free(&r[0]), norm_free(&r[1]);
  }
  th_variant_set(-1);
}

/* Given local sizes in each variant against the reference: 1 (on gpu a work-group of single-item heads, each
 * item past the values it keeps in registers), 4 (several heads a work-group, rows not filling the last) and 256
 * (more items than values). 7 rows of 3 heads of 37, every third row zero. */
static void test_norm_local_sizes(void **state) {
  (void)state;
  const sc_check_norm sh = {3, 7, 37, 1, 0};
  const size_t NG = 3, dh = 37, C = NG * dh, n = 7 * C;
  static const int locals[] = {1, 4, 256};
  for (int v = 0; v < TH_NVARIANTS; v++) {
    th_variant_set(v);
    for (int k = 0; k < 3; k++) {
      norm_run r;
      norm_inputs(&sh, SC_VAL_NORMAL, 10, &r);
      double *x = th_dalloc(n), *w = th_dalloc(C), *dy = th_dalloc(n), *dw = th_dalloc(C), *y = th_dalloc(n),
             *dx = th_dalloc(n);
      for (size_t i = 0; i < n; i++) x[i] = r.x[i], dy[i] = r.dy[i];
      for (size_t i = 0; i < C; i++) w[i] = r.w[i], dw[i] = r.dw[i];
      norm_device(&th_ctx, &sh, 1, locals[k], &r);
      sc_ref_headnorm_forward(7, NG, dh, eps, x, w, y);
      sc_ref_headnorm_backward(7, NG, dh, eps, x, w, dy, dx, dw);
      char label[64];
      snprintf(label, sizeof label, "%s variant, local %d", th_variants[v], locals[k]);
      printf("  %s\n", label);
      th_assert_close(label, r.y, y, n, fw_tol);
      th_assert_close(label, r.dx, dx, n, bw_tol);
      th_assert_close(label, r.dw, dw, C, bw_tol);
      free(x), free(w), free(dy), free(dw), free(y), free(dx);
      norm_free(&r);
    }
  }
  th_variant_set(-1);
}

/* Forward and backward times of both variants (print only): RMSNorm and the multi-head LayerNorm over 4096 rows
 * of 512 (4 heads of 128) with SCALECL_TEST_TIMES=model, else 64 rows of 64. */
typedef struct {
  sc_norm *op;
  int rows;
  sc_norm_fwd_io f;
  sc_norm_bwd_io b;
} norm_timed;

static void norm_timed_fwd(void *u) {
  norm_timed *t = u;
  TH_CHECK(sc_norm_forward(t->op, t->rows, &t->f, TH_ERR));
}

static void norm_timed_bwd(void *u) {
  norm_timed *t = u;
  TH_CHECK(sc_norm_backward(t->op, t->rows, &t->b, TH_ERR));
}

static void test_norm_variant_times(void **state) {
  (void)state;
  const int model = th_time_model_shapes(), rows = model ? 4096 : 64, C = model ? 512 : 64, samples = model ? 7 : 2;
  const size_t n = (size_t)rows * C;
  float *x = th_falloc(n);
  sc_rng rng;
  sc_rng_seed(&rng, 12);
  sc_rng_fill_normal(&rng, x, n, 0, 1);
  for (int kind = 0; kind < 2; kind++) {
    const int heads = kind ? 4 : 0;
    printf("  %s rows %d C %d%s:", kind ? "headnorm" : "rmsnorm", rows, C, kind ? " (4 heads)" : "");
    for (int v = 0; v < TH_NVARIANTS; v++) {
      th_variant_set(v);
      norm_timed t = {.rows = rows};
      TH_CHECK(sc_norm_create(&th_ctx, &(sc_norm_cfg){kind ? SC_NORM_HEADS : SC_NORM_RMS, C, heads, 1e-6f, 0}, &t.op,
                              TH_ERR));
      th_tensors ts;
      th_tensors_init(&ts, &th_ctx, 0);
      const sc_view bx = th_tensor(&ts, x, n * 4), bw = th_tensor(&ts, x, (size_t)C * 4);
      const sc_view by = th_tensor(&ts, NULL, n * 4), bst = th_tensor(&ts, NULL, (size_t)rows * 4 * 2 * 4);
      const sc_view bdx = th_tensor(&ts, NULL, n * 4), bdw = th_tensor(&ts, NULL, (size_t)C * 4);
      t.f = (sc_norm_fwd_io){bx, bw, by, bst};
      t.b = (sc_norm_bwd_io){bx, bw, bst, by, bdx, bdw};
      const double fwd = th_time_ms(&th_ctx, norm_timed_fwd, &t, samples);
      const double bwd = th_time_ms(&th_ctx, norm_timed_bwd, &t, samples);
      printf(" %s fwd %.3f ms bwd %.3f ms;", th_variants[v], fwd, bwd);
      th_tensors_release(&ts);
      sc_norm_destroy(t.op);
    }
    printf("\n");
  }
  th_variant_set(-1);
  free(x);
}

static void test_norm_errors(void **state) {
  (void)state;
  sc_err err;
  sc_norm *n = NULL;
  assert_int_equal(sc_norm_create(&th_ctx, &(sc_norm_cfg){SC_NORM_HEADS, 100, 3, 1e-6f, 0}, &n, &err), -1);
  assert_non_null(strstr(err.msg, "width 100"));
  assert_int_equal(sc_norm_create(&th_ctx, &(sc_norm_cfg){SC_NORM_RMS, 64, 4, 1e-6f, 0}, &n, &err), -1);
  assert_non_null(strstr(err.msg, "SC_NORM_HEADS"));
  assert_int_equal(sc_norm_create(&th_ctx, &(sc_norm_cfg){SC_NORM_RMS, 64, 0, 1e-6f, 48}, &n, &err), -1);
  assert_non_null(strstr(err.msg, "power of two"));
  assert_null(n);
  TH_CHECK(sc_norm_create(&th_ctx, &(sc_norm_cfg){SC_NORM_RMS, 64, 0, 1e-6f, 0}, &n, TH_ERR));
  assert_int_equal(sc_norm_forward(n, 0, &(sc_norm_fwd_io){0}, &err), -1);
  assert_non_null(strstr(err.msg, "0 rows"));
  sc_norm_destroy(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_norm_cases),       cmocka_unit_test(test_norm_same_bits),
      cmocka_unit_test(test_norm_local_sizes), cmocka_unit_test(test_norm_variant_times),
      cmocka_unit_test(test_norm_errors),
  };
  return cmocka_run_group_tests(tests, th_ctx_setup, th_ctx_teardown);
}
