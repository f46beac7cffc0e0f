#include "ref/norm.h"

#include <math.h>

static double rms_scale(size_t C, double eps, const double *x) {
  double ss = 0;
  for (size_t j = 0; j < C; j++) ss += x[j] * x[j];
  return 1 / sqrt(ss / (double)C + eps);
}

void sc_ref_rmsnorm_forward(size_t n, size_t C, double eps, const double *x, const double *w, double *y) {
  for (size_t r = 0; r < n; r++) {
    const double *X = x + r * C, s = rms_scale(C, eps, X);
    for (size_t j = 0; j < C; j++) y[r * C + j] = X[j] * s * w[j];
  }
}

void sc_ref_rmsnorm_backward(size_t n, size_t C, double eps, const double *x, const double *w, const double *dy,
                             double *dx, double *dw) {
  for (size_t r = 0; r < n; r++) {
    const double *X = x + r * C, *DY = dy + r * C, s = rms_scale(C, eps, X);
    double gx = 0;
    for (size_t j = 0; j < C; j++) gx += DY[j] * w[j] * X[j];
    for (size_t j = 0; j < C; j++) {
      if (dx) dx[r * C + j] += s * DY[j] * w[j] - s * s * s * X[j] * gx / (double)C;
      if (dw) dw[j] += DY[j] * X[j] * s;
    }
  }
}

/* Mean and 1/sqrt(var + eps) of one head. */
static void head_stats(size_t dh, double eps, const double *x, double *mean, double *inv) {
  double mu = 0, var = 0;
  for (size_t j = 0; j < dh; j++) mu += x[j];
  mu /= (double)dh;
  for (size_t j = 0; j < dh; j++) var += (x[j] - mu) * (x[j] - mu);
  *mean = mu;
  *inv = 1 / sqrt(var / (double)dh + eps);
}

void sc_ref_headnorm_forward(size_t n, size_t NH, size_t dh, double eps, const double *x, const double *w, double *y) {
  for (size_t r = 0; r < n * NH; r++) {
    const double *X = x + r * dh, *W = w + (r % NH) * dh;
    double mu, inv;
    head_stats(dh, eps, X, &mu, &inv);
    for (size_t j = 0; j < dh; j++) y[r * dh + j] = (X[j] - mu) * inv * W[j];
  }
}

void sc_ref_headnorm_backward(size_t n, size_t NH, size_t dh, double eps, const double *x, const double *w,
                              const double *dy, double *dx, double *dw) {
  for (size_t r = 0; r < n * NH; r++) {
    const double *X = x + r * dh, *DY = dy + r * dh, *W = w + (r % NH) * dh;
    double mu, inv, mg = 0, mgx = 0;
    head_stats(dh, eps, X, &mu, &inv);
    for (size_t j = 0; j < dh; j++) {
      mg += DY[j] * W[j];
      mgx += DY[j] * W[j] * (X[j] - mu) * inv;
    }
    mg /= (double)dh, mgx /= (double)dh;
    for (size_t j = 0; j < dh; j++) {
      const double xh = (X[j] - mu) * inv;
      if (dx) dx[r * dh + j] += inv * (DY[j] * W[j] - mg - xh * mgx);
      if (dw) dw[(r % NH) * dh + j] += DY[j] * xh;
    }
  }
}
