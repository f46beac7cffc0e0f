/* Float64 reference of the SwiGLU product z = SiLU(g) ⊙ u, elementwise over n values: g comes from the
 * FFN's gate projection (HF proj_up_gate / gate_proj), u from its up projection. The backward adds into dg
 * and du. */
#ifndef SCALECL_REF_SWIGLU_H
#define SCALECL_REF_SWIGLU_H

#include <stddef.h>

/* σ(x) without overflow for any finite x (also the xLSTM output gate). */
double sc_ref_sigmoid(double x);

void sc_ref_swiglu_forward(size_t n, const double *g, const double *u, double *z);
/* dg += dz · u · σ(g)(1 + g(1 − σ(g))),  du += dz · SiLU(g). */
void sc_ref_swiglu_backward(size_t n, const double *g, const double *u, const double *dz, double *dg, double *du);

#endif
