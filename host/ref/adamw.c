#include "ref/adamw.h"

#include <math.h>

double sc_ref_sumsq(size_t n, const double *g) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += g[i] * g[i];
  return s;
}

void sc_ref_adamw_update(size_t n, double *p, const double *g, double *m, double *v, const sc_ref_adamw_hparams *h) {
  for (size_t i = 0; i < n; i++) {
    const double gi = h->gscale * g[i];
    m[i] = h->beta1 * m[i] + (1 - h->beta1) * gi;
    v[i] = h->beta2 * v[i] + (1 - h->beta2) * gi * gi;
    p[i] -= h->lr * ((m[i] / h->bc1) / (sqrt(v[i] / h->bc2) + h->eps) + h->wd * p[i]);
  }
}
