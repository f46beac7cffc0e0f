/* Float64 references for causal attention: plain softmax over an explicit mask, one head at a time
 * (an S x S matrix per head; for tests, not for long sequences). Shapes as in ops/attention.h. */
#ifndef SCALECL_REF_ATTENTION_H
#define SCALECL_REF_ATTENTION_H

#include <stdint.h>

#include "base/err.h"

/* Key j is visible to query i iff j <= i and (seg == NULL or seg[b,i] == seg[b,j]). */
int sc_ref_attention_forward(int B, int NH, int S, int dh, const double *q, const double *k, const double *v,
                             const int32_t *seg, double *o, double *lse, sc_err *err);

/* dq, dk, dv from dout (B, NH, S, dh): dV = P^T dO, dS = P (dP - rowsum(P dP)), dQ = s dS K, dK = s dS^T Q. */
int sc_ref_attention_backward(int B, int NH, int S, int dh, const double *q, const double *k, const double *v,
                              const int32_t *seg, const double *dout, double *dq, double *dk, double *dv, sc_err *err);

#endif
