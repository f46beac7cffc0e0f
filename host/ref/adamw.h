/* Float64 oracle of ops/adamw.h: the squared norm and one AdamW update with the same formula (optax's adamw
 * with a gradient scale). */
#ifndef SCALECL_REF_ADAMW_H
#define SCALECL_REF_ADAMW_H

#include <stddef.h>

typedef struct {
  double lr, beta1, beta2, eps, wd, gscale, bc1, bc2;
} sc_ref_adamw_hparams;

double sc_ref_sumsq(size_t n, const double *g);
void sc_ref_adamw_update(size_t n, double *p, const double *g, double *m, double *v, const sc_ref_adamw_hparams *h);

#endif
