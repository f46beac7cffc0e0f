/* The LM head fused with soft-capped cross-entropy (ops/xent.h) against the float64 reference (ref/xent.h): loss,
 * per-position losses, lse and logits of the forward (with block scratch and into a full logits buffer), dx and
 * dW of the backward (overwriting NaN, then accumulating). Inputs: x ~ N(0, 1), W ~ N(0, 1/d) so that raw logits
 * are about N(0, 1); large values scale W by 300 so that they reach +-1e3. Tokens uniform over the vocabulary. */
#include <math.h>
#include <stdio.h>

#include "check/runners.h"
#include "ops/xent.h"
#include "ref/xent.h"

static void destroy_gemm(void *g) {
  sc_gemm_destroy(g);
}
static void destroy_xent(void *x) {
  sc_xent_destroy(x);
}

typedef struct {
  int B, T, N, d, V;
  float *x, *W;
  int32_t *tok;
  double *xd, *Wd;
} inputs;

static void inputs_make(ck_scope *cs, inputs *in, const sc_check_row *row) {
  const sc_check_xent sh = row->xent;
  in->B = sh.B, in->T = sh.T, in->N = sh.B * sh.T, in->d = sh.d, in->V = sh.V;
  const size_t nx = (size_t)in->N * in->d, nw = (size_t)in->V * in->d;
  in->x = ck_falloc(cs, nx), in->W = ck_falloc(cs, nw);
  in->tok = ck_calloc(cs, (size_t)in->N, sizeof *in->tok);
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  const double wstd = (row->values == SC_VAL_LARGE ? 300.0 : 1.0) / sqrt((double)in->d);
  sc_rng_fill_normal(&rng, in->x, nx, 0, 1);
  sc_rng_fill_normal(&rng, in->W, nw, 0, wstd);
  for (int r = 0; r < in->N; r++) in->tok[r] = (int32_t)(sc_rng_uniform(&rng) * in->V);
  in->xd = ck_widen(cs, in->x, nx), in->Wd = ck_widen(cs, in->W, nw);
}

void ck_run_xent(ck_scope *cs, const sc_check_row *row) {
  const sc_check_xent sh = row->xent;
  inputs in;
  inputs_make(cs, &in, row);
  const int N = in.N, d = in.d, V = in.V, npos = sh.B * (sh.T - 1);
  const size_t nx = (size_t)N * d, nw = (size_t)V * d, nl = (size_t)N * V;
  /* Float64 reference: loss, losses, logits, lse from the logits, gradients. */
  const sc_ref_xent_dims dims = {(size_t)sh.B, (size_t)sh.T, (size_t)d, (size_t)V, sh.cap};
  double loss_ref, *losses_ref = ck_dalloc(cs, (size_t)npos), *logits_ref = ck_dalloc(cs, nl),
                   *lse_ref = ck_dalloc(cs, (size_t)N);
  double *dx_ref = ck_dalloc(cs, nx), *dW_ref = ck_dalloc(cs, nw);
  CK(cs, sc_ref_xent_forward(&dims, in.xd, in.Wd, in.tok, &loss_ref, losses_ref, logits_ref, cs->err));
  CK(cs, sc_ref_xent_backward(&dims, in.xd, in.Wd, in.tok, dx_ref, dW_ref, cs->err));
  for (int r = 0; r < N; r++) {
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, logits_ref[(size_t)r * V + v]);
    for (int v = 0; v < V; v++) s += exp(logits_ref[(size_t)r * V + v] - mx);
    lse_ref[r] = mx + log(s);
  }
  /* Device: forward with block scratch, forward into full logits, backward overwriting NaN, backward accumulating
   * half of the gradient on top (so the second result is 1.5 times the reference). */
  sc_xent *op;
  sc_gemm *gemm;
  CK(cs, sc_gemm_create(cs->ctx, &gemm, cs->err));
  ck_own(cs, destroy_gemm, gemm);
  const sc_xent_cfg cfg = {.d = d, .V = V, .cap = (float)sh.cap, .block = sh.block, .gemm = gemm};
  CK(cs, sc_xent_create(cs->ctx, &cfg, &op, cs->err));
  ck_own(cs, destroy_xent, op);
  float *nan_init = ck_falloc(cs, nx > nw ? nx : nw);
  for (size_t i = 0; i < (nx > nw ? nx : nw); i++) nan_init[i] = NAN;
  const sc_view bx = ck_tensor(cs, in.x, nx * 4), bW = ck_tensor(cs, in.W, nw * 4);
  const sc_view btok = ck_tensor(cs, in.tok, (size_t)N * 4);
  sc_view blse[2], bloss[2], blosses[2];
  for (int j = 0; j < 2; j++) {
    blse[j] = ck_tensor(cs, NULL, (size_t)N * 4), bloss[j] = ck_tensor(cs, NULL, 4);
    blosses[j] = ck_tensor(cs, NULL, (size_t)npos * 4);
  }
  const sc_view blogits = ck_tensor(cs, NULL, nl * 4);
  const sc_view bdx = ck_tensor(cs, nan_init, nx * 4), bdW = ck_tensor(cs, nan_init, nw * 4);
  for (int j = 0; j < 2; j++) {
    const sc_xent_fwd_io io = {.x = bx,
                               .W = bW,
                               .tokens = btok,
                               .lse = blse[j],
                               .loss = bloss[j],
                               .losses = blosses[j],
                               .logits = j ? blogits : (sc_view){0}};
    CK(cs, sc_xent_forward(op, sh.B, sh.T, &io, cs->err));
  }
  sc_xent_bwd_io bio = {.x = bx, .W = bW, .tokens = btok, .lse = blse[0], .dx = bdx, .dW = bdW};
  float *dx = ck_falloc(cs, nx), *dW = ck_falloc(cs, nw), *dx2 = ck_falloc(cs, nx), *dW2 = ck_falloc(cs, nw);
  CK(cs, sc_xent_backward(op, sh.B, sh.T, 1.0f, &bio, cs->err));
  ck_read(cs, bdx, dx, nx * 4), ck_read(cs, bdW, dW, nw * 4);
  bio.accumulate = 1;
  CK(cs, sc_xent_backward(op, sh.B, sh.T, 0.5f, &bio, cs->err));
  ck_read(cs, bdx, dx2, nx * 4), ck_read(cs, bdW, dW2, nw * 4);
  float loss[2], *lse = ck_falloc(cs, 2 * (size_t)N), *losses = ck_falloc(cs, 2 * (size_t)npos),
                 *logits = ck_falloc(cs, nl);
  for (int j = 0; j < 2; j++) {
    ck_read(cs, bloss[j], &loss[j], 4);
    ck_read(cs, blse[j], lse + (size_t)j * N, (size_t)N * 4);
    ck_read(cs, blosses[j], losses + (size_t)j * npos, (size_t)npos * 4);
  }
  ck_read(cs, blogits, logits, nl * 4);
  char variant[96];
  snprintf(variant, sizeof variant, "B%d T%d d%d V%d cap %g block %d", sh.B, sh.T, d, V, sh.cap, sc_xent_block(op, N));
  ck_begin(cs, variant);
  for (int j = 0; j < 2; j++) {
    ck_compare(cs, j ? "loss (logits out)" : "loss", &loss[j], &loss_ref, 1, row->tol);
    ck_compare(cs, j ? "lse (logits out)" : "lse", lse + (size_t)j * N, lse_ref, (size_t)N, row->tol);
    ck_compare(cs, j ? "losses (logits out)" : "losses", losses + (size_t)j * npos, losses_ref, (size_t)npos, row->tol);
  }
  ck_compare(cs, "logits", logits, logits_ref, nl, row->tol);
  ck_compare(cs, "dx", dx, dx_ref, nx, row->tol_grad);
  ck_compare(cs, "dW", dW, dW_ref, nw, row->tol_grad);
  for (size_t i = 0; i < nx; i++) dx_ref[i] *= 1.5;
  for (size_t i = 0; i < nw; i++) dW_ref[i] *= 1.5;
  ck_compare(cs, "dx accumulated", dx2, dx_ref, nx, row->tol_grad);
  ck_compare(cs, "dW accumulated", dW2, dW_ref, nw, row->tol_grad);
  if (sh.T == 1 && loss[0] != 0.0f) sc_check_result_fail(&cs->res, "T = 1: loss %g, expected exactly 0", loss[0]);
  ck_end(cs);
}
