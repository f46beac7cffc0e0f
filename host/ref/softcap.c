#include "ref/softcap.h"

#include <math.h>

double sc_ref_softcap(double x, double c) {
  return c > 0 ? c * tanh(x / c) : x;
}

double sc_ref_softcap_grad(double x, double c) {
  if (c <= 0) return 1;
  /* 1 - tanh² would cancel to 0 long before sech² underflows. */
  const double ch = cosh(x / c);
  return 1 / (ch * ch);
}

void sc_ref_softcap_forward(size_t n, double c, const double *x, double *y) {
  for (size_t j = 0; j < n; j++) y[j] = sc_ref_softcap(x[j], c);
}

void sc_ref_softcap_backward(size_t n, double c, const double *x, const double *dy, double *dx) {
  for (size_t j = 0; j < n; j++) dx[j] += dy[j] * sc_ref_softcap_grad(x[j], c);
}
