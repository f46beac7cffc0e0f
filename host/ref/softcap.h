/* Float64 reference of the soft-cap c·tanh(x/c) (gates use c = 15, logits c = 30; spec xlstm.md §2.2).
 * A cap c <= 0 means no cap (identity). Elementwise over n values; the backward adds into dx. */
#ifndef SCALECL_REF_SOFTCAP_H
#define SCALECL_REF_SOFTCAP_H

#include <stddef.h>

double sc_ref_softcap(double x, double c);
/* d/dx c·tanh(x/c) = sech²(x/c), exact to the last bit also where tanh(x/c) rounds to ±1. */
double sc_ref_softcap_grad(double x, double c);

void sc_ref_softcap_forward(size_t n, double c, const double *x, double *y);
/* dx += dy · sech²(x/c). */
void sc_ref_softcap_backward(size_t n, double c, const double *x, const double *dy, double *dx);

#endif
