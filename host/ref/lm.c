#include "ref/lm.h"

#include <stdlib.h>
#include <string.h>

#include "ref/embed.h"
#include "ref/linear.h"
#include "ref/norm.h"
#include "ref/swiglu.h"
#include "ref/xent.h"

int sc_ref_lm_layout(sc_ref_lm *lm, const char *embed_key, const char *layer_prefix, const sc_ref_lm_tensor *block,
                     size_t n_block, const char *out_norm_key, const char *head_key, size_t *rel, sc_ref_params *p,
                     sc_err *err) {
  lm->layer_size = 0;
  for (size_t j = 0; j < n_block; j++) {
    rel[j] = lm->layer_size;
    lm->layer_size += block[j].rows * (block[j].cols ? block[j].cols : 1);
  }
  if (sc_ref_params_add(p, lm->vocab, lm->d, err, "%s", embed_key) < 0) goto fail;
  lm->embed = 0, lm->layer0 = p->total;
  for (size_t l = 0; l < lm->n_layers; l++)
    for (size_t j = 0; j < n_block; j++)
      if (sc_ref_params_add(p, block[j].rows, block[j].cols, err, "%s%zu.%s", layer_prefix, l, block[j].key) < 0)
        goto fail;
  lm->out_norm = p->total;
  if (sc_ref_params_add(p, lm->d, 0, err, "%s", out_norm_key) < 0) goto fail;
  lm->head = p->total;
  if (sc_ref_params_add(p, lm->vocab, lm->d, err, "%s", head_key) < 0) goto fail;
  lm->n_params = p->total;
  return 0;
fail:
  sc_ref_params_free(p);
  return -1;
}

/* Activations: residual snapshots xs[0..2L] ((n, d) each: before every mixer, before every FFN, final), and
 * per-layer scratch that the backward reuses. */
typedef struct {
  double *xs, *xn, *y, *dxn, *dx, *xf, *dxf; /* (n, d) */
  double *g, *u, *z, *dg, *du, *dz;          /* (n, d_ff) */
} work;

static double *alloc_work(const sc_ref_lm *lm, size_t n, work *w, sc_err *err) {
  const size_t nd = n * lm->d, nf = n * lm->d_ff;
  double *m = sc_calloc((2 * lm->n_layers + 7) * nd + 6 * nf, sizeof *m, "reference model activations", err);
  if (!m) return NULL;
  double *p = m;
  w->xs = p, p += (2 * lm->n_layers + 1) * nd;
  w->xn = p, w->y = p + nd, w->dxn = p + 2 * nd, w->dx = p + 3 * nd, w->xf = p + 4 * nd, w->dxf = p + 5 * nd;
  p += 6 * nd;
  w->g = p, w->u = p + nf, w->z = p + 2 * nf, w->dg = p + 3 * nf, w->du = p + 4 * nf, w->dz = p + 5 * nf;
  return m;
}

static void ffn_forward(const sc_ref_lm *lm, const double *P, size_t n, work *w) {
  sc_ref_linear_forward(n, lm->d, lm->d_ff, w->xn, P + lm->ffn_gate, NULL, w->g);
  sc_ref_linear_forward(n, lm->d, lm->d_ff, w->xn, P + lm->ffn_up, NULL, w->u);
  sc_ref_swiglu_forward(n * lm->d_ff, w->g, w->u, w->z);
  sc_ref_linear_forward(n, lm->d_ff, lm->d, w->z, P + lm->ffn_down, NULL, w->y);
}

/* Gradient of the FFN for dy = w->dx: into w->dxn (zeroed here) and the layer's gradients dP. */
static void ffn_backward(const sc_ref_lm *lm, const double *P, size_t n, work *w, double *dP) {
  const size_t nf = n * lm->d_ff;
  ffn_forward(lm, P, n, w);
  memset(w->dz, 0, nf * sizeof *w->dz);
  memset(w->dg, 0, nf * sizeof *w->dg);
  memset(w->du, 0, nf * sizeof *w->du);
  memset(w->dxn, 0, n * lm->d * sizeof *w->dxn);
  sc_ref_linear_backward(n, lm->d_ff, lm->d, w->z, P + lm->ffn_down, w->dx, w->dz, dP + lm->ffn_down, NULL);
  sc_ref_swiglu_backward(nf, w->g, w->u, w->dz, w->dg, w->du);
  sc_ref_linear_backward(n, lm->d, lm->d_ff, w->xn, P + lm->ffn_gate, w->dg, w->dxn, dP + lm->ffn_gate, NULL);
  sc_ref_linear_backward(n, lm->d, lm->d_ff, w->xn, P + lm->ffn_up, w->du, w->dxn, dP + lm->ffn_up, NULL);
}

/* The forward up to the final norm: fills w->xs and w->xf. */
static int trunk_forward(const sc_ref_lm *lm, const double *params, const sc_ref_lm_batch *in, work *w, sc_err *err) {
  const size_t n = in->B * in->T, nd = n * lm->d;
  if (sc_ref_embed_forward(n, lm->vocab, lm->d, params + lm->embed, in->tokens, w->xs, err) != 0) return -1;
  for (size_t s = 0; s < 2 * lm->n_layers; s++) {
    const double *P = params + lm->layer0 + s / 2 * lm->layer_size, *x = w->xs + s * nd;
    sc_ref_rmsnorm_forward(n, lm->d, lm->norm_eps, x, P + (s % 2 ? lm->norm_ffn : lm->norm_mix), w->xn);
    if (s % 2)
      ffn_forward(lm, P, n, w);
    else if (lm->mix_forward(lm, P, in, w->xn, w->y, err) != 0)
      return sc_wrap(err, "layer %zu: ", s / 2);
    for (size_t j = 0; j < nd; j++) w->xs[(s + 1) * nd + j] = x[j] + w->y[j];
  }
  sc_ref_rmsnorm_forward(n, lm->d, lm->norm_eps, w->xs + 2 * lm->n_layers * nd, params + lm->out_norm, w->xf);
  return 0;
}

static sc_ref_xent_dims xent_dims(const sc_ref_lm *lm, const sc_ref_lm_batch *in) {
  return (sc_ref_xent_dims){in->B, in->T, lm->d, lm->vocab, lm->logit_cap};
}

static int check_batch(const sc_ref_lm_batch *in, sc_err *err) {
  if (in->B == 0 || in->T == 0) return sc_fail(err, "empty batch (B = %zu, T = %zu)", in->B, in->T);
  return 0;
}

int sc_ref_lm_forward(const sc_ref_lm *lm, const double *params, const sc_ref_lm_batch *in, double *loss,
                      double *losses, double *logits, sc_err *err) {
  if (check_batch(in, err) != 0) return -1;
  work w;
  double *mem = alloc_work(lm, in->B * in->T, &w, err);
  if (!mem) return -1;
  const sc_ref_xent_dims xd = xent_dims(lm, in);
  int rc = trunk_forward(lm, params, in, &w, err);
  if (rc == 0) rc = sc_ref_xent_forward(&xd, w.xf, params + lm->head, in->tokens, loss, losses, logits, err);
  free(mem);
  return rc;
}

int sc_ref_lm_backward(const sc_ref_lm *lm, const double *params, const sc_ref_lm_batch *in, double *loss,
                       double *dparams, sc_err *err) {
  if (check_batch(in, err) != 0) return -1;
  const size_t n = in->B * in->T, nd = n * lm->d;
  work w;
  double *mem = alloc_work(lm, n, &w, err);
  if (!mem) return -1;
  const sc_ref_xent_dims xd = xent_dims(lm, in);
  double l;
  memset(dparams, 0, lm->n_params * sizeof *dparams);
  int rc = trunk_forward(lm, params, in, &w, err);
  if (rc == 0) rc = sc_ref_xent_forward(&xd, w.xf, params + lm->head, in->tokens, &l, NULL, NULL, err);
  if (rc == 0) rc = sc_ref_xent_backward(&xd, w.xf, params + lm->head, in->tokens, w.dxf, dparams + lm->head, err);
  if (rc != 0) {
    free(mem);
    return -1;
  }
  sc_ref_rmsnorm_backward(n, lm->d, lm->norm_eps, w.xs + 2 * lm->n_layers * nd, params + lm->out_norm, w.dxf, w.dx,
                          dparams + lm->out_norm);
  /* w.dx holds the residual gradient; each branch adds its input gradient through its pre-norm. */
  for (size_t s = 2 * lm->n_layers; s-- > 0;) {
    const size_t off = lm->layer0 + s / 2 * lm->layer_size, norm = s % 2 ? lm->norm_ffn : lm->norm_mix;
    const double *P = params + off, *x = w.xs + s * nd;
    double *dP = dparams + off;
    sc_ref_rmsnorm_forward(n, lm->d, lm->norm_eps, x, P + norm, w.xn);
    if (s % 2) {
      ffn_backward(lm, P, n, &w, dP);
    } else {
      memset(w.dxn, 0, nd * sizeof *w.dxn);
      if (lm->mix_backward(lm, P, in, w.xn, w.dx, w.dxn, dP, err) != 0) {
        free(mem);
        return sc_wrap(err, "layer %zu backward: ", s / 2);
      }
    }
    sc_ref_rmsnorm_backward(n, lm->d, lm->norm_eps, x, P + norm, w.dxn, w.dx, dP + norm);
  }
  sc_ref_embed_backward(n, lm->d, in->tokens, w.dx, dparams + lm->embed);
  if (loss) *loss = l;
  free(mem);
  return 0;
}
