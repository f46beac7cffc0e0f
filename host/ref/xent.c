#include "ref/xent.h"

#include <math.h>
#include <stdlib.h>

#include "ref/embed.h"
#include "ref/linear.h"
#include "ref/softcap.h"

/* Capped logits z of row x (raw pre-cap values in raw) and their log-sum-exp. */
static double row_logits(const sc_ref_xent_dims *d, const double *x, const double *W, double *raw, double *z) {
  sc_ref_linear_forward(1, d->C, d->V, x, W, NULL, raw);
  sc_ref_softcap_forward(d->V, d->cap, raw, z);
  double mx = -INFINITY, sum = 0;
  for (size_t v = 0; v < d->V; v++) mx = fmax(mx, z[v]);
  for (size_t v = 0; v < d->V; v++) sum += exp(z[v] - mx);
  return mx + log(sum);
}

int sc_ref_xent_forward(const sc_ref_xent_dims *d, const double *x, const double *W, const int32_t *tokens,
                        double *loss, double *losses, double *logits, sc_err *err) {
  if (sc_ref_tokens_check(d->B * d->T, d->V, tokens, err) != 0) return -1;
  double *raw = sc_malloc(2 * d->V * sizeof *raw, "cross-entropy reference logits", err);
  if (!raw) return -1;
  double *z = raw + d->V, sum = 0;
  for (size_t b = 0; b < d->B; b++)
    for (size_t t = 0; t < d->T; t++) {
      const size_t r = b * d->T + t;
      const double lse = row_logits(d, x + r * d->C, W, raw, z);
      if (logits)
        for (size_t v = 0; v < d->V; v++) logits[r * d->V + v] = z[v];
      if (t + 1 == d->T) continue;
      const double l = lse - z[tokens[r + 1]];
      if (losses) losses[b * (d->T - 1) + t] = l;
      sum += l;
    }
  *loss = d->T > 1 ? sum / (double)(d->B * (d->T - 1)) : 0;
  free(raw);
  return 0;
}

int sc_ref_xent_backward(const sc_ref_xent_dims *d, const double *x, const double *W, const int32_t *tokens, double *dx,
                         double *dW, sc_err *err) {
  if (d->T < 2) return 0;
  if (sc_ref_tokens_check(d->B * d->T, d->V, tokens, err) != 0) return -1;
  double *raw = sc_malloc(3 * d->V * sizeof *raw, "cross-entropy reference gradients", err);
  if (!raw) return -1;
  double *z = raw + d->V, *dz = z + d->V;
  const double inv_n = 1 / (double)(d->B * (d->T - 1));
  for (size_t b = 0; b < d->B; b++)
    for (size_t t = 0; t + 1 < d->T; t++) {
      const size_t r = b * d->T + t;
      const double lse = row_logits(d, x + r * d->C, W, raw, z);
      for (size_t v = 0; v < d->V; v++) {
        const double p = exp(z[v] - lse) - (v == (size_t)tokens[r + 1]);
        dz[v] = p * inv_n * sc_ref_softcap_grad(raw[v], d->cap);
      }
      sc_ref_linear_backward(1, d->C, d->V, x + r * d->C, W, dz, dx ? dx + r * d->C : NULL, dW, NULL);
    }
  free(raw);
  return 0;
}
