#include "ref/attention.h"

#include <math.h>
#include <stdlib.h>

/* Row-normalised probabilities P (S x S) of one head; lse of each row when lse != NULL. */
static void probs(int S, int dh, const double *q, const double *k, const int32_t *seg, double *P, double *lse) {
  const double scale = 1.0 / sqrt((double)dh);
  for (int i = 0; i < S; i++) {
    double *row = P + (size_t)i * S, mx = -INFINITY;
    for (int j = 0; j < S; j++) {
      const int visible = j <= i && (!seg || seg[i] == seg[j]);
      double s = -INFINITY;
      if (visible) {
        s = 0;
        for (int d = 0; d < dh; d++) s += q[(size_t)i * dh + d] * k[(size_t)j * dh + d];
        s *= scale;
      }
      row[j] = s;
      if (s > mx) mx = s;
    }
    double sum = 0;
    for (int j = 0; j < S; j++) sum += row[j] = exp(row[j] - mx);
    for (int j = 0; j < S; j++) row[j] /= sum;
    if (lse) lse[i] = mx + log(sum);
  }
}

int sc_ref_attention_forward(int B, int NH, int S, int dh, const double *q, const double *k, const double *v,
                             const int32_t *seg, double *o, double *lse, sc_err *err) {
  double *P = sc_malloc((size_t)S * S * sizeof *P, "reference attention probabilities", err);
  if (!P) return -1;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      const size_t off = ((size_t)b * NH + h) * S * dh;
      probs(S, dh, q + off, k + off, seg ? seg + (size_t)b * S : NULL, P, lse + ((size_t)b * NH + h) * S);
      for (int i = 0; i < S; i++)
        for (int d = 0; d < dh; d++) {
          double acc = 0;
          for (int j = 0; j < S; j++) acc += P[(size_t)i * S + j] * v[off + (size_t)j * dh + d];
          o[off + (size_t)i * dh + d] = acc;
        }
    }
  free(P);
  return 0;
}

int sc_ref_attention_backward(int B, int NH, int S, int dh, const double *q, const double *k, const double *v,
                              const int32_t *seg, const double *dout, double *dq, double *dk, double *dv, sc_err *err) {
  double *P = sc_malloc((size_t)S * S * sizeof *P, "reference attention probabilities", err);
  double *dS = sc_malloc((size_t)S * S * sizeof *dS, "reference attention score gradients", err);
  if (!P || !dS) {
    free(P);
    free(dS);
    return -1;
  }
  const double scale = 1.0 / sqrt((double)dh);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      const size_t off = ((size_t)b * NH + h) * S * dh;
      const double *Q = q + off, *K = k + off, *V = v + off, *dO = dout + off;
      probs(S, dh, Q, K, seg ? seg + (size_t)b * S : NULL, P, NULL);
      for (int i = 0; i < S; i++) {
        double rs = 0;
        for (int j = 0; j < S; j++) {
          double dp = 0;
          for (int d = 0; d < dh; d++) dp += dO[(size_t)i * dh + d] * V[(size_t)j * dh + d];
          dS[(size_t)i * S + j] = dp;
          rs += P[(size_t)i * S + j] * dp;
        }
        for (int j = 0; j < S; j++) dS[(size_t)i * S + j] = P[(size_t)i * S + j] * (dS[(size_t)i * S + j] - rs);
      }
      for (int i = 0; i < S; i++)
        for (int d = 0; d < dh; d++) {
          double aq = 0, ak = 0, av = 0;
          for (int j = 0; j < S; j++) {
            aq += dS[(size_t)i * S + j] * K[(size_t)j * dh + d];
            ak += dS[(size_t)j * S + i] * Q[(size_t)j * dh + d];
            av += P[(size_t)j * S + i] * dO[(size_t)j * dh + d];
          }
          dq[off + (size_t)i * dh + d] = scale * aq;
          dk[off + (size_t)i * dh + d] = scale * ak;
          dv[off + (size_t)i * dh + d] = av;
        }
    }
  free(P);
  free(dS);
  return 0;
}
