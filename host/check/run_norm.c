/* RMSNorm (heads 0) and the multi-head LayerNorm (ops/norm.h) against the float64 references (ref/norm.h):
 * forward, the saved statistics (mean, 1/rms), backward dx and a dw that accumulates onto a random start; x of
 * the row's values (every third row zero when asked), w ~ N(1, 0.5), dy ~ N(0, 1); in place when asked. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check/runners.h"
#include "ops/norm.h"
#include "ref/norm.h"

static const double eps = 1e-6;

static void destroy_norm(void *n) {
  sc_norm_destroy(n);
}

void ck_run_norm(ck_scope *cs, const sc_check_row *row) {
  const sc_check_norm sh = row->norm;
  const size_t NG = sh.heads ? (size_t)sh.heads : 1, dh = (size_t)sh.dh, C = NG * dh, rows = (size_t)sh.rows;
  const size_t n = rows * C, ns = rows * NG * 2;
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  float *hx = ck_falloc(cs, n), *hdy = ck_falloc(cs, n), *hy = ck_falloc(cs, n), *hdx = ck_falloc(cs, n);
  float *hw = ck_falloc(cs, C), *hdw = ck_falloc(cs, C), *hst = ck_falloc(cs, ns);
  sc_fill_values(&rng, row->values, hx, n);
  for (size_t i = 0; sh.zero_rows && i < rows; i += 3) memset(hx + i * C, 0, C * sizeof(float));
  sc_rng_fill_normal(&rng, hw, C, 1, 0.5);
  sc_rng_fill_normal(&rng, hdy, n, 0, 1);
  sc_rng_fill_normal(&rng, hdw, C, 0, 1);
  double *x = ck_widen(cs, hx, n), *w = ck_widen(cs, hw, C), *dy = ck_widen(cs, hdy, n), *dw = ck_widen(cs, hdw, C);
  double *y = ck_dalloc(cs, n), *dx = ck_dalloc(cs, n), *st = ck_dalloc(cs, ns);

  sc_norm *nm;
  const sc_norm_cfg cfg = {sh.heads ? SC_NORM_HEADS : SC_NORM_RMS, (int)C, sh.heads, (float)eps, 0};
  CK(cs, sc_norm_create(cs->ctx, &cfg, &nm, cs->err));
  ck_own(cs, destroy_norm, nm);
  const sc_view bx = ck_tensor(cs, hx, n * 4), bw = ck_tensor(cs, hw, C * 4);
  const sc_view by = sh.inplace ? bx : ck_tensor(cs, NULL, n * 4), bst = ck_tensor(cs, NULL, ns * 4);
  const sc_view bdy = ck_tensor(cs, hdy, n * 4), bdw = ck_tensor(cs, hdw, C * 4);
  const sc_view bdx = sh.inplace ? bdy : ck_tensor(cs, NULL, n * 4);
  /* In place, the backward needs the forward's input: keep a copy. */
  const sc_view bxb = sh.inplace ? ck_tensor(cs, hx, n * 4) : bx;
  CK(cs, sc_norm_forward(nm, sh.rows, &(sc_norm_fwd_io){bx, bw, by, bst}, cs->err));
  CK(cs, sc_norm_backward(nm, sh.rows, &(sc_norm_bwd_io){bxb, bw, bst, bdy, bdx, bdw}, cs->err));
  ck_read(cs, by, hy, n * 4);
  ck_read(cs, bst, hst, ns * 4);
  ck_read(cs, bdx, hdx, n * 4);
  ck_read(cs, bdw, hdw, C * 4);

  if (sh.heads) {
    sc_ref_headnorm_forward(rows, NG, dh, eps, x, w, y);
    sc_ref_headnorm_backward(rows, NG, dh, eps, x, w, dy, dx, dw);
  } else {
    sc_ref_rmsnorm_forward(rows, C, eps, x, w, y);
    sc_ref_rmsnorm_backward(rows, C, eps, x, w, dy, dx, dw);
  }
  for (size_t g = 0; g < rows * NG; g++) {
    double mu = 0, var = 0;
    for (size_t j = 0; sh.heads && j < dh; j++) mu += x[g * dh + j] / (double)dh;
    for (size_t j = 0; j < dh; j++) var += (x[g * dh + j] - mu) * (x[g * dh + j] - mu) / (double)dh;
    st[2 * g] = mu, st[2 * g + 1] = 1 / sqrt(var + eps);
  }
  char variant[96];
  snprintf(variant, sizeof variant, "%s rows%d C%zu%s%s", sh.heads ? "headnorm" : "rmsnorm", sh.rows, C,
           sh.zero_rows ? " zero rows" : "", sh.inplace ? " in place" : "");
  ck_begin(cs, variant);
  ck_compare(cs, "y", hy, y, n, row->tol);
  ck_compare(cs, "stats", hst, st, ns, row->tol);
  ck_compare(cs, "dx", hdx, dx, n, row->tol_grad);
  ck_compare(cs, "dw", hdw, dw, C, row->tol_grad);
  ck_end(cs);
}
