/* Float64 reference of a linear layer y = x Wᵀ (+ b) over n rows: x (n, in), W (out, in) stored like
 * PyTorch and the Hugging Face checkpoints, b (out) or NULL, y (n, out), all row-major. The backward adds
 * into each gradient it is given; pass NULL for a gradient that is not wanted. */
#ifndef SCALECL_REF_LINEAR_H
#define SCALECL_REF_LINEAR_H

#include <stddef.h>

void sc_ref_linear_forward(size_t n, size_t in, size_t out, const double *x, const double *W, const double *b,
                           double *y);
/* dx += dy W,  dW += dyᵀ x,  db += Σ_rows dy. */
void sc_ref_linear_backward(size_t n, size_t in, size_t out, const double *x, const double *W, const double *dy,
                            double *dx, double *dW, double *db);

#endif
