/* mLSTM forward and backward (cl/mlstm.cl via ops/mlstm.h) against the float64 references: with no initial state
 * the forward is compared with the parallel form, as upstream does; otherwise with the chunkwise reference; the
 * backward with the custom chunkwise backward. Values: normal, large = extreme gates (input pre-activations of
 * +-15 and in [-5, 5], forget ones down to -25: document resets), or tiny = the normalizer near eps (tiny queries,
 * input gates near +15). The stabilizer outputs m_out, m_last and the normalizer n_out have their own tolerances.
 * Rows with token_heads run the token-major layout: the device gets q, k, v, dh permuted to (B, S, NH, D) and its
 * h, dq, dk, dv are permuted back before the comparison. */
#include <stdio.h>

#include "check/runners.h"
#include "ops/mlstm.h"
#include "ref/mlstm.h"

#define EPS 1e-6

enum { Q, K, V, I, F, C0, N0, M0, DH, NIN };

static void destroy_mlstm(void *m) {
  sc_mlstm_destroy(m);
}

static sc_mlstm *make_op(ck_scope *cs, const sc_check_mlstm *sh, size_t workspace) {
  sc_mlstm *m;
  const sc_mlstm_cfg cfg = {.chunk = sh->L,
                            .dqk = (int)sh->dqk,
                            .dv = (int)sh->dv,
                            .workspace_bytes = workspace,
                            .token_heads = sh->token_heads};
  CK(cs, sc_mlstm_create(cs->ctx, &cfg, &m, cs->err));
  ck_own(cs, destroy_mlstm, m);
  return m;
}

void ck_run_mlstm(ck_scope *cs, const sc_check_row *row) {
  const sc_check_mlstm sh = row->mlstm;
  if (row->values == SC_VAL_MIXED) ck_fail(cs, "mlstm rows are normal, large (extreme gates) or tiny (near eps)");
  const size_t BH = sh.BH, S = sh.S, dqk = sh.dqk, dv = sh.dv;
  const size_t n[NIN] = {BH * S * dqk,  BH * S * dqk, BH * S * dv, BH * S,     BH * S,
                         BH * dqk * dv, BH * dqk,     BH,          BH * S * dv};
  float *x[NIN];
  sc_rng r;
  sc_rng_seed(&r, row->seed);
  for (int t = 0; t < NIN; t++) {
    x[t] = ck_falloc(cs, n[t]);
    if (t < C0 || t > M0 || sh.with_state) sc_rng_fill_normal(&r, x[t], n[t], t == F ? sh.f_off : 0, 1);
  }
  if (row->values == SC_VAL_LARGE) {
    sc_rng_seed(&r, row->seed + 1);
    for (size_t j = 0; j < n[I]; j++) {
      const double u = sc_rng_uniform(&r);
      x[I][j] = u < 0.2 ? 15.0f : u < 0.3 ? -15.0f : (float)(10 * sc_rng_uniform(&r) - 5);
      x[F][j] = u > 0.9 ? -25.0f : x[F][j];
    }
  } else if (row->values == SC_VAL_TINY) {
    /* Queries of 1e-5 and input gates near +15: |q.n| and the floor exp(-m) come within 10x of eps, so the eps
     * added to the normalizer changes h by percents, not by a rounding error. */
    for (size_t j = 0; j < n[Q]; j++) x[Q][j] *= 1e-5f;
    for (size_t j = 0; j < n[I]; j++) x[I][j] += 15.0f;
  }
  double *xd[NIN];
  for (int t = 0; t < NIN; t++) xd[t] = ck_widen(cs, x[t], n[t]);
  const size_t NH = (size_t)sh.token_heads;
  ck_relayout(cs, x[Q], BH, NH, S, dqk, 1), ck_relayout(cs, x[K], BH, NH, S, dqk, 1);
  ck_relayout(cs, x[V], BH, NH, S, dv, 1), ck_relayout(cs, x[DH], BH, NH, S, dv, 1);

  /* Device: heads in groups when the row asks for a workspace of ws_heads heads. */
  const size_t ws = sh.ws_heads ? sc_mlstm_head_scratch(make_op(cs, &sh, 0), S, 1) * sh.ws_heads : 0;
  sc_mlstm *m = make_op(cs, &sh, ws);
  sc_view in[NIN];
  for (int t = 0; t < NIN; t++) in[t] = ck_tensor(cs, x[t], n[t] * 4);
  const size_t on[6] = {BH * S * dv, BH * S, BH * S, BH * dqk * dv, BH * dqk, BH}; /* h nout mout C n m last */
  const size_t gn[6] = {BH * S * dqk, BH * S * dqk, BH * S * dv, BH * S, BH * S, BH * dqk * dv};
  sc_view out[6], gm[6];
  float *got[6], *grad[6];
  for (int j = 0; j < 6; j++) {
    out[j] = ck_tensor(cs, NULL, on[j] * 4), gm[j] = ck_tensor(cs, NULL, gn[j] * 4);
    got[j] = ck_falloc(cs, on[j]), grad[j] = ck_falloc(cs, gn[j]);
  }
  const sc_mlstm_fwd_io io = {in[Q],  in[K],  in[V],  in[I],  in[F],  in[C0], in[N0],
                              in[M0], out[0], out[1], out[2], out[3], out[4], out[5]};
  CK(cs, sc_mlstm_forward(m, BH, S, (float)EPS, &io, cs->err));
  const sc_mlstm_bwd_io b = {in[Q],  in[K],  in[V], in[I], in[F], in[C0], in[N0], in[M0],
                             out[1], in[DH], gm[0], gm[1], gm[2], gm[3],  gm[4],  gm[5]};
  CK(cs, sc_mlstm_backward(m, BH, S, (float)EPS, &b, cs->err));
  for (int j = 0; j < 6; j++) ck_read(cs, out[j], got[j], on[j] * 4), ck_read(cs, gm[j], grad[j], gn[j] * 4);
  ck_relayout(cs, got[0], BH, NH, S, dv, 0), ck_relayout(cs, grad[0], BH, NH, S, dqk, 0);
  ck_relayout(cs, grad[1], BH, NH, S, dqk, 0), ck_relayout(cs, grad[2], BH, NH, S, dv, 0);

  /* float64 references. */
  const sc_ref_mlstm_dims d = {BH, S, dqk, dv, EPS};
  const int st = sh.with_state;
  const double *c0 = st ? xd[C0] : NULL, *n0 = st ? xd[N0] : NULL, *m0 = st ? xd[M0] : NULL;
  double *h = ck_dalloc(cs, on[0]), *ref[6], *g[6];
  for (int j = 0; j < 6; j++) ref[j] = ck_dalloc(cs, on[j]), g[j] = ck_dalloc(cs, gn[j]);
  const size_t L = (size_t)sh.L;
  CK(cs, sc_ref_mlstm_chunkwise(&d, L, xd[Q], xd[K], xd[V], xd[I], xd[F], c0, n0, m0, ref[0], ref[1], ref[2], ref[3],
                                ref[4], ref[5], cs->err));
  CK(cs, st ? 0 : sc_ref_mlstm_parallel(&d, xd[Q], xd[K], xd[V], xd[I], xd[F], h, NULL, NULL, cs->err));
  CK(cs, sc_ref_mlstm_chunkwise_bwd(&d, L, xd[Q], xd[K], xd[V], xd[I], xd[F], c0, n0, m0, ref[1], xd[DH], g[0], g[1],
                                    g[2], g[3], g[4], g[5], cs->err));
  char variant[128];
  char layout[48] = "";
  if (NH > 1) snprintf(layout, sizeof layout, " NH=%zu", NH);
  snprintf(variant, sizeof variant, "L=%zu BH=%zu S=%zu dqk=%zu dv=%zu f%+g%s%s", L, BH, S, dqk, dv, sh.f_off,
           st ? " with state" : "", layout);
  /* Large values: n_out's small elements err by up to 4e-6 of its largest (seeds 500-505, 812). */
  const double n_amax = row->values == SC_VAL_LARGE ? 1e-5 : 0;
  const sc_tol fw = row->tol, m_tol = {1e-4, 1e-5, fw.nmse, 0}, n_tol = {1e-5, 1e-4, fw.nmse, n_amax};
  ck_begin(cs, variant);
  ck_compare(cs, st ? "h vs f64 chunkwise" : "h vs f64 parallel", got[0], st ? ref[0] : h, on[0], fw);
  ck_compare(cs, "m_out", got[2], ref[2], on[2], m_tol);
  ck_compare(cs, "n_out", got[1], ref[1], on[1], n_tol);
  ck_compare(cs, "C_last", got[3], ref[3], on[3], fw);
  ck_compare(cs, "n_last", got[4], ref[4], on[4], fw);
  ck_compare(cs, "m_last", got[5], ref[5], on[5], m_tol);
  static const char *const names[6] = {"dq", "dk", "dv", "di", "df", "dc0"};
  for (int j = 0; j < 6; j++) ck_compare(cs, names[j], grad[j], g[j], gn[j], row->tol_grad);
  ck_end(cs);
}
