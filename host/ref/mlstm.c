#include "ref/mlstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double logsigmoid(double x) {
  return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}
static double sigmoid(double x) {
  return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}
static double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t j = 0; j < n; j++) s += a[j] * b[j];
  return s;
}

int sc_ref_mlstm_parallel(const sc_ref_mlstm_dims *d, const double *q, const double *k, const double *v,
                          const double *i, const double *f, double *h, double *n, double *m, sc_err *err) {
  const size_t S = d->S, dqk = d->dqk, dv = d->dv;
  const double s = 1 / sqrt((double)dqk);
  double *logd = sc_malloc(S * sizeof *logd, "parallel reference row", err);
  if (!logd) return -1;
  for (size_t bh = 0; bh < d->BH; bh++) {
    const double *Q = q + bh * S * dqk, *K = k + bh * S * dqk, *V = v + bh * S * dv, *I = i + bh * S, *F = f + bh * S;
    for (size_t t = 0; t < S; t++) {
      /* Stable forget: the decay from j to t is summed directly, never as a difference of prefix sums. */
      double decay = 0, mt = -INFINITY;
      for (size_t j = t + 1; j-- > 0;) {
        logd[j] = decay + I[j];
        if (logd[j] > mt) mt = logd[j];
        decay += logsigmoid(F[j]);
      }
      double *H = h + (bh * S + t) * dv, den = 0;
      memset(H, 0, dv * sizeof *H);
      for (size_t j = 0; j <= t; j++) {
        double c = s * dot(Q + t * dqk, K + j * dqk, dqk) * exp(logd[j] - mt);
        den += c;
        for (size_t e = 0; e < dv; e++) H[e] += c * V[j * dv + e];
      }
      double nt = fmax(fabs(den), exp(-mt));
      for (size_t e = 0; e < dv; e++) H[e] /= nt + d->eps;
      if (n) n[bh * S + t] = nt;
      if (m) m[bh * S + t] = mt;
    }
  }
  free(logd);
  return 0;
}

void sc_ref_mlstm_step(size_t dqk, size_t dv, double eps, double *C, double *n, double *m, const double *q,
                       const double *k, const double *v, double i, double f, double *h) {
  const double s = 1 / sqrt((double)dqk), lf = logsigmoid(f);
  const double mt = fmax(lf + *m, i), fa = exp(lf + *m - mt), ia = exp(i - mt);
  double den = 0;
  for (size_t e = 0; e < dv; e++) h[e] = 0;
  for (size_t a = 0; a < dqk; a++) {
    n[a] = fa * n[a] + ia * k[a];
    den += n[a] * q[a] * s;
    for (size_t e = 0; e < dv; e++) {
      C[a * dv + e] = fa * C[a * dv + e] + ia * k[a] * v[e];
      h[e] += C[a * dv + e] * q[a] * s;
    }
  }
  const double nt = fmax(fabs(den), exp(-mt));
  for (size_t e = 0; e < dv; e++) h[e] /= nt + eps;
  *m = mt;
}

/* Copies the initial state of head bh (zeros where absent) into C, n, m. */
static void init_state(const sc_ref_mlstm_dims *d, size_t bh, const double *c0, const double *n0, const double *m0,
                       double *C, double *n, double *m) {
  const size_t cs = d->dqk * d->dv;
  if (c0)
    memcpy(C, c0 + bh * cs, cs * sizeof *C);
  else
    memset(C, 0, cs * sizeof *C);
  if (n0)
    memcpy(n, n0 + bh * d->dqk, d->dqk * sizeof *n);
  else
    memset(n, 0, d->dqk * sizeof *n);
  *m = m0 ? m0[bh] : 0;
}

static void store_state(const sc_ref_mlstm_dims *d, size_t bh, const double *C, const double *n, double m,
                        double *c_last, double *n_last, double *m_last) {
  if (c_last) memcpy(c_last + bh * d->dqk * d->dv, C, d->dqk * d->dv * sizeof *C);
  if (n_last) memcpy(n_last + bh * d->dqk, n, d->dqk * sizeof *n);
  if (m_last) m_last[bh] = m;
}

int sc_ref_mlstm_recurrent(const sc_ref_mlstm_dims *d, const double *q, const double *k, const double *v,
                           const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                           double *h, double *c_last, double *n_last, double *m_last, sc_err *err) {
  const size_t S = d->S, dqk = d->dqk, dv = d->dv;
  double *C = sc_malloc((dqk * dv + dqk) * sizeof *C, "recurrent reference state", err);
  if (!C) return -1;
  double *n = C + dqk * dv, m;
  for (size_t bh = 0; bh < d->BH; bh++) {
    init_state(d, bh, c0, n0, m0, C, n, &m);
    for (size_t t = 0; t < S; t++) {
      size_t r = bh * S + t;
      sc_ref_mlstm_step(dqk, dv, d->eps, C, n, &m, q + r * dqk, k + r * dqk, v + r * dv, i[r], f[r], h + r * dv);
    }
    store_state(d, bh, C, n, m, c_last, n_last, m_last);
  }
  free(C);
  return 0;
}

/* Gate quantities of one chunk of length len starting at row r (head-local arrays I, F): b (inclusive
 * cumulative log forget), mc (combined row stabilizer given the carried m), and the next stabilizer. */
static void chunk_gates(const double *I, const double *F, size_t len, double m, double *b, double *mc, double *g,
                        double *m_next) {
  double acc = 0, pref = -INFINITY;
  for (size_t t = 0; t < len; t++) {
    acc += logsigmoid(F[t]);
    b[t] = acc;
    /* Intra row max max_{s<=t} (b_t - b_s + i_s) = b_t + prefix max of (i_s - b_s). */
    pref = fmax(pref, I[t] - b[t]);
    mc[t] = b[t] + fmax(m, pref);
  }
  *g = acc;
  double amax = -INFINITY;
  for (size_t t = 0; t < len; t++) amax = fmax(amax, acc - b[t] + I[t]);
  *m_next = fmax(acc + m, amax);
}

int sc_ref_mlstm_chunkwise(const sc_ref_mlstm_dims *d, size_t L, const double *q, const double *k, const double *v,
                           const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                           double *h, double *n_out, double *m_out, double *c_last, double *n_last, double *m_last,
                           sc_err *err) {
  const size_t S = d->S, dqk = d->dqk, dv = d->dv;
  const double s = 1 / sqrt((double)dqk);
  double *C = sc_malloc((dqk * dv + dqk + 2 * L) * sizeof *C, "chunkwise reference state", err);
  if (!C) return -1;
  double *n = C + dqk * dv, *b = n + dqk, *mc = b + L, m;
  for (size_t bh = 0; bh < d->BH; bh++) {
    init_state(d, bh, c0, n0, m0, C, n, &m);
    for (size_t t0 = 0; t0 < S; t0 += L) {
      const size_t len = S - t0 < L ? S - t0 : L, r0 = bh * S + t0;
      const double *Q = q + r0 * dqk, *K = k + r0 * dqk, *V = v + r0 * dv, *I = i + r0;
      double g, m_next;
      chunk_gates(I, f + r0, len, m, b, mc, &g, &m_next);
      for (size_t t = 0; t < len; t++) {
        double *H = h + (r0 + t) * dv;
        const double beta = exp(b[t] + m - mc[t]) * s;
        double den = beta * dot(Q + t * dqk, n, dqk);
        for (size_t e = 0; e < dv; e++) H[e] = 0;
        for (size_t a = 0; a < dqk; a++)
          for (size_t e = 0; e < dv; e++) H[e] += beta * Q[t * dqk + a] * C[a * dv + e];
        for (size_t u = 0; u <= t; u++) {
          double c = s * dot(Q + t * dqk, K + u * dqk, dqk) * exp(b[t] - b[u] + I[u] - mc[t]);
          den += c;
          for (size_t e = 0; e < dv; e++) H[e] += c * V[u * dv + e];
        }
        const double nt = fmax(fabs(den), exp(-mc[t]));
        for (size_t e = 0; e < dv; e++) H[e] /= nt + d->eps;
        if (n_out) n_out[r0 + t] = nt;
        if (m_out) m_out[r0 + t] = mc[t];
      }
      const double alpha = exp(g + m - m_next);
      for (size_t a = 0; a < dqk; a++) {
        n[a] *= alpha;
        for (size_t e = 0; e < dv; e++) C[a * dv + e] *= alpha;
      }
      for (size_t t = 0; t < len; t++) {
        const double w = exp(g - b[t] + I[t] - m_next);
        for (size_t a = 0; a < dqk; a++) {
          n[a] += w * K[t * dqk + a];
          for (size_t e = 0; e < dv; e++) C[a * dv + e] += w * K[t * dqk + a] * V[t * dv + e];
        }
      }
      m = m_next;
    }
    store_state(d, bh, C, n, m, c_last, n_last, m_last);
  }
  free(C);
  return 0;
}

int sc_ref_mlstm_chunkwise_bwd(const sc_ref_mlstm_dims *d, size_t L, const double *q, const double *k, const double *v,
                               const double *i, const double *f, const double *c0, const double *n0, const double *m0,
                               const double *n_out, const double *dh, double *dq, double *dk, double *dvv, double *di,
                               double *df, double *dc0, sc_err *err) {
  const size_t S = d->S, dqk = d->dqk, dv = d->dv, NC = (S + L - 1) / L, cs = dqk * dv;
  const double s = 1 / sqrt((double)dqk);
  /* Chunk-boundary states C_0..C_NC and stabilizers m_0..m_NC, recomputed as in the forward. */
  double *Cs = sc_malloc(((NC + 1) * cs + 2 * cs + dqk + (NC + 1) + 2 * L + L * L) * sizeof *Cs,
                         "chunkwise backward reference scratch", err);
  if (!Cs) return -1;
  double *dC = Cs + (NC + 1) * cs, *dCn = dC + cs, *n = dCn + cs, *ms = n + dqk, *b = ms + NC + 1, *mc = b + L,
         *Dp = mc + L;
  for (size_t bh = 0; bh < d->BH; bh++) {
    const size_t base = bh * S;
    init_state(d, bh, c0, n0, m0, Cs, n, &ms[0]);
    for (size_t c = 0; c < NC; c++) {
      const size_t t0 = c * L, len = S - t0 < L ? S - t0 : L, r0 = base + t0;
      double g, m_next;
      chunk_gates(i + r0, f + r0, len, ms[c], b, mc, &g, &m_next);
      const double alpha = exp(g + ms[c] - m_next);
      double *Cn = Cs + (c + 1) * cs;
      for (size_t x = 0; x < cs; x++) Cn[x] = alpha * Cs[c * cs + x];
      for (size_t t = 0; t < len; t++) {
        const double w = exp(g - b[t] + i[r0 + t] - m_next);
        for (size_t a = 0; a < dqk; a++)
          for (size_t e = 0; e < dv; e++) Cn[a * dv + e] += w * k[(r0 + t) * dqk + a] * v[(r0 + t) * dv + e];
      }
      ms[c + 1] = m_next;
    }
    memset(dC, 0, cs * sizeof *dC);
    for (size_t c = NC; c-- > 0;) {
      const size_t t0 = c * L, len = S - t0 < L ? S - t0 : L, r0 = base + t0;
      const double *Q = q + r0 * dqk, *K = k + r0 * dqk, *V = v + r0 * dv, *I = i + r0, *Ck = Cs + c * cs;
      double *DQ = dq + r0 * dqk, *DK = dk + r0 * dqk, *DV = dvv + r0 * dv;
      double g, m_next;
      chunk_gates(I, f + r0, len, ms[c], b, mc, &g, &m_next);
      memset(DQ, 0, len * dqk * sizeof *DQ);
      memset(DK, 0, len * dqk * sizeof *DK);
      memset(DV, 0, len * dv * sizeof *DV);
      /* Inter-chunk part through C_{c+1} (dC holds its gradient). */
      for (size_t t = 0; t < len; t++) {
        const double w = exp(g - b[t] + I[t] - m_next);
        for (size_t a = 0; a < dqk; a++)
          for (size_t e = 0; e < dv; e++) {
            DV[t * dv + e] += w * K[t * dqk + a] * dC[a * dv + e];
            DK[t * dqk + a] += w * V[t * dv + e] * dC[a * dv + e];
          }
      }
      /* dC_c = alpha dC_{c+1} + sum_t beta_t s q_t dHt_t^T; the same Qbar gives dq's inter part through C_c. */
      const double alpha = exp(g + ms[c] - m_next);
      for (size_t x = 0; x < cs; x++) dCn[x] = alpha * dC[x];
      for (size_t t = 0; t < len; t++) {
        const double inv = 1 / (n_out[r0 + t] + d->eps), beta = exp(b[t] + ms[c] - mc[t]) * s;
        const double *DH = dh + (r0 + t) * dv;
        for (size_t a = 0; a < dqk; a++)
          for (size_t e = 0; e < dv; e++) {
            dCn[a * dv + e] += beta * Q[t * dqk + a] * DH[e] * inv;
            DQ[t * dqk + a] += beta * DH[e] * inv * Ck[a * dv + e];
          }
      }
      memcpy(dC, dCn, cs * sizeof *dC);
      /* Intra-chunk part. */
      for (size_t t = 0; t < len; t++)
        for (size_t u = 0; u <= t; u++) Dp[t * L + u] = exp(b[t] - b[u] + I[u] - mc[t]);
      for (size_t t = 0; t < len; t++) {
        const double inv = 1 / (n_out[r0 + t] + d->eps);
        const double *DH = dh + (r0 + t) * dv;
        for (size_t u = 0; u <= t; u++) {
          const double Mtu = s * dot(Q + t * dqk, K + u * dqk, dqk) * Dp[t * L + u];
          const double dM = dot(DH, V + u * dv, dv) * inv * Dp[t * L + u] * s;
          for (size_t e = 0; e < dv; e++) DV[u * dv + e] += Mtu * DH[e] * inv;
          for (size_t a = 0; a < dqk; a++) {
            DQ[t * dqk + a] += dM * K[u * dqk + a];
            DK[u * dqk + a] += dM * Q[t * dqk + a];
          }
        }
      }
    }
    if (dc0) memcpy(dc0 + bh * cs, dC, cs * sizeof *dC);
    /* Gates: di = v.dv; the log-forget gradient is the reverse cumulative sum of q.dq - k.dk. */
    double acc = 0;
    for (size_t t = S; t-- > 0;) {
      const size_t r = base + t;
      di[r] = dot(v + r * dv, dvv + r * dv, dv);
      acc += dot(q + r * dqk, dq + r * dqk, dqk) - dot(k + r * dqk, dk + r * dqk, dqk);
      df[r] = acc * sigmoid(-f[r]);
    }
  }
  free(Cs);
  return 0;
}
