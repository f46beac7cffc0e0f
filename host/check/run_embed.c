/* Token embedding (ops/embed.h): the forward against a copy of the table's rows (exact), and the backward added
 * onto a random dW (rows of absent ids must keep their values; repeated ids sum in float32). */
#include <stdio.h>

#include "check/runners.h"
#include "ops/embed.h"
#include "ref/embed.h"

static void destroy_embed(void *e) {
  sc_embed_destroy(e);
}

void ck_run_embed(ck_scope *cs, const sc_check_row *row) {
  const sc_check_embed sh = row->embed;
  const size_t n = (size_t)sh.n, V = (size_t)sh.V, d = (size_t)sh.d;
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  int32_t *tok = ck_calloc(cs, n, sizeof *tok);
  for (size_t r = 0; r < n; r++) tok[r] = (int32_t)(sc_rng_uniform(&rng) * sh.distinct);
  float *W = ck_falloc(cs, V * d), *dy = ck_falloc(cs, n * d), *dW = ck_falloc(cs, V * d), *y = ck_falloc(cs, n * d);
  sc_fill_values(&rng, row->values, W, V * d);
  sc_fill_values(&rng, row->values, dy, n * d);
  sc_rng_fill_normal(&rng, dW, V * d, 0, 1);
  double *Wd = ck_widen(cs, W, V * d), *dyd = ck_widen(cs, dy, n * d), *dWd = ck_widen(cs, dW, V * d);
  double *yd = ck_dalloc(cs, n * d);
  sc_embed *e;
  CK(cs, sc_embed_create(cs->ctx, &(sc_embed_cfg){sh.V, sh.d}, &e, cs->err));
  ck_own(cs, destroy_embed, e);
  const sc_view bW = ck_tensor(cs, W, V * d * 4), by = ck_tensor(cs, NULL, n * d * 4);
  const sc_view bdy = ck_tensor(cs, dy, n * d * 4), bdW = ck_tensor(cs, dW, V * d * 4);
  CK(cs, sc_embed_set_tokens(e, sh.n, tok, cs->err));
  CK(cs, sc_embed_forward(e, bW, by, cs->err));
  CK(cs, sc_embed_backward(e, bdy, bdW, cs->err));
  ck_read(cs, by, y, n * d * 4);
  ck_read(cs, bdW, dW, V * d * 4);
  CK(cs, sc_ref_embed_forward(n, V, d, Wd, tok, yd, cs->err));
  sc_ref_embed_backward(n, d, tok, dyd, dWd);
  char variant[96];
  snprintf(variant, sizeof variant, "n%d V%d d%d ids<%d", sh.n, sh.V, sh.d, sh.distinct);
  ck_begin(cs, variant);
  ck_compare(cs, "forward", y, yd, n * d, row->tol);
  ck_compare(cs, "dW", dW, dWd, V * d, row->tol_grad);
  ck_end(cs);
}
