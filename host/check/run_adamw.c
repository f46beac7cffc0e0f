/* The optimizer (ops/adamw.h) against its float64 reference (ref/adamw.h): the squared gradient norm, and three
 * AdamW updates in a row (moments carried, lr and bias corrections of each step, tiny gradients at the second so
 * the eps term matters). */
#include <math.h>
#include <stdio.h>

#include "check/runners.h"
#include "ops/adamw.h"
#include "ref/adamw.h"

static void destroy_adamw(void *a) {
  sc_adamw_destroy(a);
}

/* Float32 sums of up to millions of squares, compensated per slice: a few ulps relative. */
static const sc_tol SUMSQ_TOL = {0, 1e-6, 1e-12, 0};

void ck_run_adamw(ck_scope *cs, const sc_check_row *row) {
  const sc_check_adamw sh = row->adamw;
  const size_t n = (size_t)sh.n;
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  float *p = ck_falloc(cs, n), *g = ck_falloc(cs, n), *m = ck_falloc(cs, n), *v = ck_falloc(cs, n);
  sc_rng_fill_normal(&rng, p, n, 0, sh.pscale);
  double *pd = ck_widen(cs, p, n), *md = ck_dalloc(cs, n), *vd = ck_dalloc(cs, n), *gd = ck_dalloc(cs, n);
  sc_adamw *a;
  CK(cs, sc_adamw_create(cs->ctx, &a, cs->err));
  ck_own(cs, destroy_adamw, a);
  const sc_view bp = ck_tensor(cs, p, n * 4), bg = ck_tensor(cs, NULL, n * 4);
  const sc_view bm = ck_tensor(cs, NULL, n * 4), bv = ck_tensor(cs, NULL, n * 4);
  double sumsq = 0, sumsq_ref = 0;
  for (int t = 1; t <= 3; t++) {
    sc_fill_values(&rng, row->values, g, n);
    if (t == 2)
      for (size_t i = 0; i < n; i++) g[i] *= 1e-6f;
    for (size_t i = 0; i < n; i++) gd[i] = g[i];
    CK(cs, sc_buffer_write(cs->ctx, bg.buf, bg.off, n * 4, g, cs->err));
    if (t == 1) {
      CK(cs, sc_adamw_sumsq(a, n, bg, &sumsq, cs->err));
      sumsq_ref = sc_ref_sumsq(n, gd);
    }
    const double lr = 1e-3 * t, b1 = 0.9, b2 = 0.95;
    const sc_ref_adamw_hparams hd = {lr, b1, b2, 1e-8, sh.wd, sh.gscale, 1 - pow(b1, t), 1 - pow(b2, t)};
    const sc_adamw_hparams h = {(float)hd.lr, (float)hd.beta1,  (float)hd.beta2, (float)hd.eps,
                                (float)hd.wd, (float)hd.gscale, (float)hd.bc1,   (float)hd.bc2};
    CK(cs, sc_adamw_update(a, n, bp, bg, bm, bv, &h, cs->err));
    sc_ref_adamw_update(n, pd, gd, md, vd, &hd);
  }
  ck_read(cs, bp, p, n * 4);
  ck_read(cs, bm, m, n * 4);
  ck_read(cs, bv, v, n * 4);
  char variant[96];
  snprintf(variant, sizeof variant, "n%d wd %g gscale %g", sh.n, sh.wd, sh.gscale);
  ck_begin(cs, variant);
  const float s = (float)sumsq;
  ck_compare(cs, "sumsq", &s, &sumsq_ref, 1, SUMSQ_TOL);
  ck_compare(cs, "params", p, pd, n, row->tol);
  ck_compare(cs, "m", m, md, n, row->tol_grad);
  const sc_tol vt = {row->tol_grad.atol * sh.gscale, row->tol_grad.rtol, row->tol_grad.nmse, 0};
  ck_compare(cs, "v", v, vd, n, vt);
  ck_end(cs);
}
