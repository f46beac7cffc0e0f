#include "ref/heads.h"

#include <string.h>

/* Copies between (B, T, NH, dh) at index bthd and (B, NH, T, dh) at index bhtd; to_heads picks the direction. */
static void transpose(size_t B, size_t T, size_t NH, size_t dh, const double *x, double *y, int to_heads) {
  for (size_t b = 0; b < B; b++)
    for (size_t t = 0; t < T; t++)
      for (size_t h = 0; h < NH; h++) {
        const size_t bt = ((b * T + t) * NH + h) * dh, bh = ((b * NH + h) * T + t) * dh;
        if (to_heads)
          memcpy(y + bh, x + bt, dh * sizeof *y);
        else
          memcpy(y + bt, x + bh, dh * sizeof *y);
      }
}

void sc_ref_heads_split(size_t B, size_t T, size_t NH, size_t dh, const double *x, double *y) {
  transpose(B, T, NH, dh, x, y, 1);
}

void sc_ref_heads_merge(size_t B, size_t T, size_t NH, size_t dh, const double *x, double *y) {
  transpose(B, T, NH, dh, x, y, 0);
}
