#include "ref/embed.h"

#include <string.h>

int sc_ref_tokens_check(size_t n, size_t V, const int32_t *tok, sc_err *err) {
  for (size_t r = 0; r < n; r++)
    if (tok[r] < 0 || (size_t)tok[r] >= V)
      return sc_fail(err, "token %d at position %zu is outside the vocabulary [0, %zu)", (int)tok[r], r, V);
  return 0;
}

int sc_ref_embed_forward(size_t n, size_t V, size_t d, const double *W, const int32_t *tok, double *y, sc_err *err) {
  if (sc_ref_tokens_check(n, V, tok, err) != 0) return -1;
  for (size_t r = 0; r < n; r++) memcpy(y + r * d, W + (size_t)tok[r] * d, d * sizeof *y);
  return 0;
}

void sc_ref_embed_backward(size_t n, size_t d, const int32_t *tok, const double *dy, double *dW) {
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < d; j++) dW[(size_t)tok[r] * d + j] += dy[r * d + j];
}
