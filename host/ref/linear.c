#include "ref/linear.h"

void sc_ref_linear_forward(size_t n, size_t in, size_t out, const double *x, const double *W, const double *b,
                           double *y) {
  for (size_t r = 0; r < n; r++)
    for (size_t o = 0; o < out; o++) {
      double acc = b ? b[o] : 0;
      for (size_t j = 0; j < in; j++) acc += x[r * in + j] * W[o * in + j];
      y[r * out + o] = acc;
    }
}

void sc_ref_linear_backward(size_t n, size_t in, size_t out, const double *x, const double *W, const double *dy,
                            double *dx, double *dW, double *db) {
  for (size_t r = 0; r < n; r++)
    for (size_t o = 0; o < out; o++) {
      const double g = dy[r * out + o];
      if (db) db[o] += g;
      for (size_t j = 0; j < in; j++) {
        if (dx) dx[r * in + j] += g * W[o * in + j];
        if (dW) dW[o * in + j] += g * x[r * in + j];
      }
    }
}
