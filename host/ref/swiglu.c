#include "ref/swiglu.h"

#include <math.h>

double sc_ref_sigmoid(double x) {
  if (x >= 0) return 1 / (1 + exp(-x));
  const double e = exp(x);
  return e / (1 + e);
}

void sc_ref_swiglu_forward(size_t n, const double *g, const double *u, double *z) {
  for (size_t j = 0; j < n; j++) z[j] = g[j] * sc_ref_sigmoid(g[j]) * u[j];
}

void sc_ref_swiglu_backward(size_t n, const double *g, const double *u, const double *dz, double *dg, double *du) {
  for (size_t j = 0; j < n; j++) {
    const double s = sc_ref_sigmoid(g[j]);
    dg[j] += dz[j] * u[j] * s * (1 + g[j] * (1 - s));
    du[j] += dz[j] * g[j] * s;
  }
}
