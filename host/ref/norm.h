/* Float64 references of the two norms of spec xlstm.md §2.2, over n rows, row-major, no bias:
 * RMSNorm y = x · rsqrt(mean(x²) + eps) · w on rows of width C (pre-norms and final norm of both models),
 * and the multi-head LayerNorm of the mLSTM output on rows of NH heads of width dh: each head subtracts its
 * mean and divides by sqrt(biased variance + eps), then the row is multiplied by w (NH·dh). The backwards
 * add into dx and dw; either may be NULL. */
#ifndef SCALECL_REF_NORM_H
#define SCALECL_REF_NORM_H

#include <stddef.h>

void sc_ref_rmsnorm_forward(size_t n, size_t C, double eps, const double *x, const double *w, double *y);
void sc_ref_rmsnorm_backward(size_t n, size_t C, double eps, const double *x, const double *w, const double *dy,
                             double *dx, double *dw);

void sc_ref_headnorm_forward(size_t n, size_t NH, size_t dh, double eps, const double *x, const double *w, double *y);
void sc_ref_headnorm_backward(size_t n, size_t NH, size_t dh, double eps, const double *x, const double *w,
                              const double *dy, double *dx, double *dw);

#endif
