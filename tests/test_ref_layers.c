/* Every float64 layer reference's backward matches central finite differences of a random linear functional
 * of its output (or of the loss itself for xent), at odd shapes (T = 1, widths that are no power of two) and
 * extreme inputs (large magnitudes for the caps, the gates and the loss; zero rows and constant heads for the
 * norms with their eps). The backwards add into their outputs, which one test checks directly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref/embed.h"
#include "ref/linear.h"
#include "ref/norm.h"
#include "ref/softcap.h"
#include "ref/swiglu.h"
#include "ref/xent.h"

/* Worst error allowed between a backward and five-point central differences (float64). */
static const double FD_TOL = 1e-7;
/* Finite-difference step relative to max(1, |x|); the norms near a zero row use a smaller one because their
 * higher derivatives there grow like powers of 1/eps. */
static const double STEP = 1e-4, STEP_NORM = 1e-5;

#define OK(call)                             \
  do {                                       \
    sc_err e_;                               \
    if ((call) != 0) fail_msg("%s", e_.msg); \
  } while (0)
#define ERR (&e_)

static double *normal(sc_rng *r, size_t n, double std) {
  double *x = th_dalloc(n);
  for (size_t j = 0; j < n; j++) x[j] = std * sc_rng_normal(r);
  return x;
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t j = 0; j < n; j++) s += a[j] * b[j];
  return s;
}

/* R_j /= max(1, |y_j|): every term of Σ y·R is O(1), so huge outputs do not swamp the differences. */
static void flatten(double *R, const double *y, size_t n) {
  for (size_t j = 0; j < n; j++) R[j] /= fmax(1, fabs(y[j]));
}

/* One layer under test: its inputs, the output y and the random cotangent R of the loss Σ y·R. */
typedef struct {
  size_t n, a, b, c; /* rows and widths; meaning per layer */
  double eps, cap;
  double *x, *w, *bias, *y, *R;
  int32_t *tok;
} layer;

static double linear_loss(void *p) {
  layer *L = p;
  sc_ref_linear_forward(L->n, L->a, L->b, L->x, L->w, L->bias, L->y);
  return dot(L->y, L->R, L->n * L->b);
}

static void check_linear(size_t n, size_t in, size_t out, int with_bias) {
  sc_rng r;
  sc_rng_seed(&r, 100 + n + with_bias);
  layer L = {n,
             in,
             out,
             0,
             0,
             0,
             normal(&r, n * in, 1),
             normal(&r, out * in, 1),
             with_bias ? normal(&r, out, 1) : NULL,
             th_dalloc(n * out),
             normal(&r, n * out, 1),
             NULL};
  double *dx = th_dalloc(n * in), *dW = th_dalloc(out * in), *db = th_dalloc(out);
  sc_ref_linear_backward(n, in, out, L.x, L.w, L.R, dx, dW, with_bias ? db : NULL);
  char label[96];
  printf(" linear n=%zu in=%zu out=%zu bias=%d\n", n, in, out, with_bias);
  snprintf(label, sizeof label, "dx");
  th_assert_fd(label, th_fd_check(linear_loss, &L, L.x, dx, n * in, 1000, 1, STEP), FD_TOL);
  th_assert_fd("dW", th_fd_check(linear_loss, &L, L.w, dW, out * in, 1000, 2, STEP), FD_TOL);
  if (with_bias) th_assert_fd("db", th_fd_check(linear_loss, &L, L.bias, db, out, 1000, 3, STEP), FD_TOL);
  free(L.x), free(L.w), free(L.bias), free(L.y), free(L.R), free(dx), free(dW), free(db);
}

static void test_linear_backward_matches_fd(void **state) {
  (void)state;
  check_linear(1, 7, 5, 1);
  check_linear(6, 13, 3, 0);
  check_linear(6, 13, 3, 1);
}

/* Backwards add: a second call doubles the gradient. */
static void test_backward_accumulates(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 7);
  const size_t n = 3, in = 5, out = 4;
  double *x = normal(&r, n * in, 1), *W = normal(&r, out * in, 1), *dy = normal(&r, n * out, 1);
  double *dx = th_dalloc(n * in), *dW = th_dalloc(out * in), *once = th_dalloc(n * in);
  sc_ref_linear_backward(n, in, out, x, W, dy, once, NULL, NULL);
  sc_ref_linear_backward(n, in, out, x, W, dy, dx, dW, NULL);
  sc_ref_linear_backward(n, in, out, x, W, dy, dx, dW, NULL);
  for (size_t j = 0; j < n * in; j++) once[j] *= 2;
  th_assert_close_d("two linear backwards = 2x one", dx, once, n * in, (sc_tol){0, 1e-15, 1e-28, 0});
  free(x), free(W), free(dy), free(dx), free(dW), free(once);
}

static double rmsnorm_loss(void *p) {
  layer *L = p;
  sc_ref_rmsnorm_forward(L->n, L->a, L->eps, L->x, L->w, L->y);
  return dot(L->y, L->R, L->n * L->a);
}

/* Row 0 is zeros when zero_row, row 1 (if any) is large. */
static void check_rmsnorm(size_t n, size_t C, double eps, int zero_row) {
  sc_rng r;
  sc_rng_seed(&r, 200 + n + C);
  layer L = {n,   C, 0, 0, eps, 0, normal(&r, n * C, 1), normal(&r, C, 1), NULL, th_dalloc(n * C), normal(&r, n * C, 1),
             NULL};
  if (zero_row) memset(L.x, 0, C * sizeof *L.x);
  for (size_t j = 0; n > 1 && j < C; j++) L.x[C + j] *= 1e3;
  double *dx = th_dalloc(n * C), *dw = th_dalloc(C);
  sc_ref_rmsnorm_backward(n, C, eps, L.x, L.w, L.R, dx, dw);
  printf(" rmsnorm n=%zu C=%zu eps=%g zero row=%d\n", n, C, eps, zero_row);
  th_assert_fd("dx", th_fd_check(rmsnorm_loss, &L, L.x, dx, n * C, 1000, 1, STEP_NORM), FD_TOL);
  th_assert_fd("dw", th_fd_check(rmsnorm_loss, &L, L.w, dw, C, 1000, 2, STEP_NORM), FD_TOL);
  free(L.x), free(L.w), free(L.y), free(L.R), free(dx), free(dw);
}

static void test_rmsnorm_backward_matches_fd(void **state) {
  (void)state;
  check_rmsnorm(1, 13, 1e-6, 0);
  check_rmsnorm(5, 13, 1e-6, 1);
  check_rmsnorm(4, 6, 1e-5, 1);
}

static double headnorm_loss(void *p) {
  layer *L = p;
  sc_ref_headnorm_forward(L->n, L->a, L->b, L->eps, L->x, L->w, L->y);
  return dot(L->y, L->R, L->n * L->a * L->b);
}

/* Row 0 is zeros, head 1 of row 1 is a constant, row 2 is large. */
static void check_headnorm(size_t n, size_t NH, size_t dh, double eps) {
  sc_rng r;
  sc_rng_seed(&r, 300 + n + NH + dh);
  const size_t w = NH * dh;
  layer L = {
      n, NH, dh, 0, eps, 0, normal(&r, n * w, 1), normal(&r, w, 1), NULL, th_dalloc(n * w), normal(&r, n * w, 1), NULL};
  memset(L.x, 0, w * sizeof *L.x);
  for (size_t j = 0; n > 1 && NH > 1 && j < dh; j++) L.x[w + dh + j] = 0.75;
  for (size_t j = 0; n > 2 && j < w; j++) L.x[2 * w + j] = 1e3 * L.x[2 * w + j] + 5e3;
  double *dx = th_dalloc(n * w), *dw = th_dalloc(w);
  sc_ref_headnorm_backward(n, NH, dh, eps, L.x, L.w, L.R, dx, dw);
  printf(" multi-head layernorm n=%zu NH=%zu dh=%zu eps=%g\n", n, NH, dh, eps);
  th_assert_fd("dx", th_fd_check(headnorm_loss, &L, L.x, dx, n * w, 1000, 1, STEP_NORM), FD_TOL);
  th_assert_fd("dw", th_fd_check(headnorm_loss, &L, L.w, dw, w, 1000, 2, STEP_NORM), FD_TOL);
  free(L.x), free(L.w), free(L.y), free(L.R), free(dx), free(dw);
}

static void test_headnorm_backward_matches_fd(void **state) {
  (void)state;
  check_headnorm(1, 1, 7, 1e-6);
  check_headnorm(4, 3, 5, 1e-6);
  check_headnorm(3, 2, 12, 1e-5);
}

static double swiglu_loss(void *p) {
  layer *L = p;
  sc_ref_swiglu_forward(L->n, L->x, L->w, L->y);
  return dot(L->y, L->R, L->n);
}

static void test_swiglu_backward_matches_fd(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 400);
  const size_t n = 15;
  layer L = {n, 0, 0, 0, 0, 0, normal(&r, n, 2), normal(&r, n, 2), NULL, th_dalloc(n), normal(&r, n, 1), NULL};
  const double extreme[] = {-800, -60, -20, 0, 1e-9, 20, 60, 800};
  for (size_t j = 0; j < 8; j++) L.x[j] = extreme[j], L.w[j + 7] = extreme[j]; /* extreme gates, then ups */
  swiglu_loss(&L);
  flatten(L.R, L.y, n);
  double *dg = th_dalloc(n), *du = th_dalloc(n);
  sc_ref_swiglu_backward(n, L.x, L.w, L.R, dg, du);
  printf(" swiglu n=%zu with gates and ups in ±800\n", n);
  th_assert_fd("dg", th_fd_check(swiglu_loss, &L, L.x, dg, n, 1000, 1, STEP), FD_TOL);
  th_assert_fd("du", th_fd_check(swiglu_loss, &L, L.w, du, n, 1000, 2, STEP), FD_TOL);
  for (size_t j = 0; j < n; j++) assert_true(isfinite(L.y[j]) && isfinite(dg[j]));
  free(L.x), free(L.w), free(L.y), free(L.R), free(dg), free(du);
}

static double softcap_loss(void *p) {
  layer *L = p;
  sc_ref_softcap_forward(L->n, L->cap, L->x, L->y);
  return dot(L->y, L->R, L->n);
}

static void test_softcap_backward_matches_fd(void **state) {
  (void)state;
  static const double xs[] = {-1e6, -1e3, -40, -15, -1, 0, 0.5, 14.9, 40, 300, 1e3, 1e6};
  const size_t n = sizeof xs / sizeof xs[0];
  const double caps[] = {15, 30, 0};
  sc_rng r;
  sc_rng_seed(&r, 500);
  for (size_t c = 0; c < 3; c++) {
    layer L = {n, 0, 0, 0, 0, caps[c], th_dalloc(n), NULL, NULL, th_dalloc(n), normal(&r, n, 1), NULL};
    memcpy(L.x, xs, sizeof xs);
    softcap_loss(&L);
    flatten(L.R, L.y, n);
    double *dx = th_dalloc(n);
    sc_ref_softcap_backward(n, L.cap, L.x, L.R, dx);
    printf(" softcap c=%g, x in ±1e6\n", caps[c]);
    th_assert_fd("dx", th_fd_check(softcap_loss, &L, L.x, dx, n, 1000, 1, STEP), FD_TOL);
    for (size_t j = 0; j < n; j++) {
      assert_true(fabs(L.y[j]) <= (caps[c] > 0 ? caps[c] : INFINITY));
      assert_true(isfinite(dx[j]));
    }
    free(L.x), free(L.y), free(L.R), free(dx);
  }
  /* The gradient stays accurate where tanh rounds to 1: sech²(40/15) ≈ 1.9e-2, sech²(300/15) ≈ 1.7e-17. */
  assert_true(fabs(sc_ref_softcap_grad(300, 15) / (4 * exp(-40.0)) - 1) < 1e-12);
}

static double embed_loss(void *p) {
  layer *L = p;
  static sc_err e;
  if (sc_ref_embed_forward(L->n, L->a, L->b, L->w, L->tok, L->y, &e) != 0) fail_msg("%s", e.msg);
  return dot(L->y, L->R, L->n * L->b);
}

static void test_embed_backward_matches_fd(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 600);
  const size_t V = 11, d = 6, n = 9;
  int32_t tok[9] = {0, 10, 3, 3, 7, 0, 3, 10, 5}; /* repeats accumulate; the ends of the range */
  layer L = {n, V, d, 0, 0, 0, NULL, normal(&r, V * d, 1), NULL, th_dalloc(n * d), normal(&r, n * d, 1), tok};
  double *dW = th_dalloc(V * d);
  sc_ref_embed_backward(n, d, tok, L.R, dW);
  printf(" embed n=%zu V=%zu d=%zu\n", n, V, d);
  th_assert_fd("dW", th_fd_check(embed_loss, &L, L.w, dW, V * d, 1000, 1, STEP), FD_TOL);
  sc_err e;
  tok[4] = (int32_t)V;
  assert_int_equal(sc_ref_embed_forward(n, V, d, L.w, tok, L.y, &e), -1);
  assert_non_null(strstr(e.msg, "position 4"));
  tok[4] = -1;
  assert_int_equal(sc_ref_embed_forward(n, V, d, L.w, tok, L.y, &e), -1);
  free(L.w), free(L.y), free(L.R), free(dW);
}

static double xent_loss(void *p) {
  layer *L = p;
  const sc_ref_xent_dims xd = {L->n, L->a, L->b, L->c, L->cap};
  double loss;
  OK(sc_ref_xent_forward(&xd, L->x, L->w, L->tok, &loss, NULL, NULL, ERR));
  return loss;
}

static void check_xent(size_t B, size_t T, size_t C, size_t V, double cap, double scale) {
  sc_rng r;
  sc_rng_seed(&r, 700 + T + (size_t)cap);
  layer L = {B,
             T,
             C,
             V,
             0,
             cap,
             normal(&r, B * T * C, scale),
             normal(&r, V * C, 1),
             NULL,
             NULL,
             NULL,
             th_calloc(B * T, sizeof(int32_t))};
  for (size_t j = 0; j < B * T; j++) L.tok[j] = (int32_t)(sc_rng_uniform(&r) * (double)V);
  const sc_ref_xent_dims xd = {B, T, C, V, cap};
  double *dx = th_dalloc(B * T * C), *dW = th_dalloc(V * C), *logits = th_dalloc(B * T * V),
         *losses = th_dalloc(B * (T - 1)), loss;
  OK(sc_ref_xent_backward(&xd, L.x, L.w, L.tok, dx, dW, ERR));
  OK(sc_ref_xent_forward(&xd, L.x, L.w, L.tok, &loss, losses, logits, ERR));
  printf(" xent B=%zu T=%zu C=%zu V=%zu cap=%g |x|~%g: loss %.6g\n", B, T, C, V, cap, scale, loss);
  th_assert_fd("dx", th_fd_check(xent_loss, &L, L.x, dx, B * T * C, 1000, 1, STEP), FD_TOL);
  th_assert_fd("dW", th_fd_check(xent_loss, &L, L.w, dW, V * C, 1000, 2, STEP), FD_TOL);
  /* The outputs agree with each other: logits are cap(x Wᵀ), the loss is the mean of the per-position ones. */
  double mean = 0;
  for (size_t j = 0; j < B * (T - 1); j++) mean += losses[j] / (double)(B * (T - 1));
  assert_true(isfinite(loss) && fabs(mean - loss) <= 1e-14 * fmax(1, loss));
  for (size_t v = 0; v < V; v++)
    assert_true(fabs(logits[v] - sc_ref_softcap(dot(L.x, L.w + v * C, C), cap)) <= 1e-12 * fmax(1, fabs(logits[v])));
  free(L.x), free(L.w), free(L.tok), free(dx), free(dW), free(logits), free(losses);
}

static void test_xent_backward_matches_fd(void **state) {
  (void)state;
  check_xent(2, 3, 7, 13, 30, 1);
  check_xent(2, 3, 7, 13, 0, 1);
  check_xent(1, 2, 5, 17, 30, 40); /* logits far past the cap */
  check_xent(3, 2, 5, 17, 0, 40);  /* uncapped logits in the hundreds: a saturated softmax */
}

/* T = 1 has no position to predict: loss 0 and no gradient. */
static void test_xent_single_token(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 800);
  const size_t B = 2, C = 3, V = 5;
  double *x = normal(&r, B * C, 1), *W = normal(&r, V * C, 1), *dx = th_dalloc(B * C), *dW = th_dalloc(V * C), loss = 1;
  const int32_t tok[2] = {1, 4};
  const sc_ref_xent_dims xd = {B, 1, C, V, 30};
  OK(sc_ref_xent_forward(&xd, x, W, tok, &loss, NULL, NULL, ERR));
  OK(sc_ref_xent_backward(&xd, x, W, tok, dx, dW, ERR));
  assert_true(loss == 0);
  for (size_t j = 0; j < V * C; j++) assert_true(dW[j] == 0);
  free(x), free(W), free(dx), free(dW);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_backward_matches_fd),  cmocka_unit_test(test_backward_accumulates),
      cmocka_unit_test(test_rmsnorm_backward_matches_fd), cmocka_unit_test(test_headnorm_backward_matches_fd),
      cmocka_unit_test(test_swiglu_backward_matches_fd),  cmocka_unit_test(test_softcap_backward_matches_fd),
      cmocka_unit_test(test_embed_backward_matches_fd),   cmocka_unit_test(test_xent_backward_matches_fd),
      cmocka_unit_test(test_xent_single_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
