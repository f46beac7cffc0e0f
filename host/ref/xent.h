/* Float64 reference of the LM head fused with soft-capped cross-entropy. x (B, T, C) is the final-normed
 * residual, W (V, C) the head stored (out, in), tokens (B, T) int32. logits = cap·tanh(x Wᵀ / cap) (cap <= 0:
 * no cap). Following the Hugging Face causal-LM convention, logits at position t predict token t+1, so the
 * loss is the mean over the B·(T−1) positions t < T−1 of −log softmax(logits[b,t])[tokens[b,t+1]]; with
 * T = 1 there is no position and the loss is 0. The backward gives the gradient of that mean, added into
 * dx and dW. */
#ifndef SCALECL_REF_XENT_H
#define SCALECL_REF_XENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
  size_t B, T; /* batch, sequence length */
  size_t C, V; /* input width, vocabulary */
  double cap;  /* logit soft-cap (30 for xLSTM), <= 0 for none */
} sc_ref_xent_dims;

/* Writes the mean loss, and when non-NULL the per-position losses (B, T−1) and the logits (B, T, V). */
int sc_ref_xent_forward(const sc_ref_xent_dims *d, const double *x, const double *W, const int32_t *tokens,
                        double *loss, double *losses, double *logits, sc_err *err);
/* dx += ∂loss/∂x, dW += ∂loss/∂W (either may be NULL). */
int sc_ref_xent_backward(const sc_ref_xent_dims *d, const double *x, const double *W, const int32_t *tokens, double *dx,
                         double *dW, sc_err *err);

#endif
