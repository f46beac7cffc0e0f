#include "ref/params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sc_ref_params_add(sc_ref_params *p, size_t rows, size_t cols, sc_err *err, const char *fmt, ...) {
  if (p->n == p->cap) {
    const size_t cap = p->cap ? 2 * p->cap : 32;
    sc_ref_tensor *t = realloc(p->t, cap * sizeof *t);
    if (!t) return sc_fail(err, "out of host memory growing a parameter table to %zu tensors", cap);
    p->t = t, p->cap = cap;
  }
  sc_ref_tensor *t = &p->t[p->n];
  va_list ap;
  va_start(ap, fmt);
  const int len = vsnprintf(t->name, sizeof t->name, fmt, ap);
  va_end(ap);
  if (len < 0 || (size_t)len >= sizeof t->name) return sc_fail(err, "parameter name too long: %s...", t->name);
  t->rows = rows, t->cols = cols, t->offset = p->total, t->size = rows * (cols ? cols : 1);
  p->total += t->size;
  return (int)p->n++;
}

const sc_ref_tensor *sc_ref_params_find(const sc_ref_params *p, const char *name) {
  for (size_t j = 0; j < p->n; j++)
    if (strcmp(p->t[j].name, name) == 0) return &p->t[j];
  return NULL;
}

void sc_ref_params_free(sc_ref_params *p) {
  free(p->t);
  *p = (sc_ref_params){0};
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void sc_ref_fill_normal(double *x, size_t n, double std, uint64_t *rng) {
  for (size_t j = 0; j < n; j++) {
    /* Box-Muller on (0, 1]: the +1 keeps log away from 0. */
    const double u1 = ((double)(splitmix(rng) >> 11) + 1) * 0x1p-53, u2 = (double)(splitmix(rng) >> 11) * 0x1p-53;
    x[j] = std * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
  }
}
