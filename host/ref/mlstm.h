/* Float64 CPU references of the mLSTM cell (exponential input gate, max-state stabilizer), the oracles
 * for cl/mlstm.cl. Layout per head: q, k (S, dqk), v (S, dv), i, f (S); heads are contiguous, so a
 * (B, NH, S, d) tensor is BH = B*NH heads. q is scaled by dqk^-1/2 inside; eps is added after the max of
 * the normalizer, in stabilized units, as the upstream references do. */
#ifndef SCALECL_REF_MLSTM_H
#define SCALECL_REF_MLSTM_H

#include <stddef.h>

#include "base/err.h"

typedef struct {
  size_t BH;      /* batch * heads */
  size_t S;       /* sequence length */
  size_t dqk, dv; /* head dims */
  double eps;     /* 1e-6 upstream */
} sc_ref_mlstm_dims;

/* Parallel (quadratic) form with stable forget sums (the upstream test baseline; effectively m_0 = -inf).
 * Writes h (BH,S,dv), and n, m (BH,S) (may be NULL). No initial state. */
int sc_ref_mlstm_parallel(const sc_ref_mlstm_dims *d, const double *q, const double *k, const double *v,
                          const double *i, const double *f, double *h, double *n, double *m, sc_err *err);

/* One recurrent step for one head: updates C (dqk,dv), n (dqk), *m in place and writes h (dv). */
void sc_ref_mlstm_step(size_t dqk, size_t dv, double eps, double *C, double *n, double *m, const double *q,
                       const double *k, const double *v, double i, double f, double *h);

/* Recurrent form over the sequence from the initial state (c0 (BH,dqk,dv), n0 (BH,dqk), m0 (BH); NULL =
 * zeros). Functions that need scratch memory return 0, or -1 with err set. Writes h and, when non-NULL, the final
 * state. */
int sc_ref_mlstm_recurrent(const sc_ref_mlstm_dims *d, const double *q, const double *k, const double *v,
                           const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                           double *h, double *c_last, double *n_last, double *m_last, sc_err *err);

/* Chunkwise form with chunk L (S need not be a multiple: the last chunk is shorter). Writes h, the per-row
 * normalizer n_out = max(|den|, exp(-m_out)) and stabilizer m_out (BH,S), and the final state; outputs
 * other than h may be NULL. */
int sc_ref_mlstm_chunkwise(const sc_ref_mlstm_dims *d, size_t L, const double *q, const double *k, const double *v,
                           const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                           double *h, double *n_out, double *m_out, double *c_last, double *n_last, double *m_last,
                           sc_err *err);

/* Custom chunkwise backward (normalizer and stabilizers treated as constants; states recomputed): from
 * dh (BH,S,dv) and the forward's n_out, writes dq, dk, dv, di, df and dc0 (BH,dqk,dv; may be NULL). */
int sc_ref_mlstm_chunkwise_bwd(const sc_ref_mlstm_dims *d, size_t L, const double *q, const double *k, const double *v,
                               const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                               const double *n_out, const double *dh, double *dq, double *dk, double *dvv, double *di,
                               double *df, double *dc0, sc_err *err);

#endif
