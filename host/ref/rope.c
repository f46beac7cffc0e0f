#include "ref/rope.h"

#include <math.h>
#include <stddef.h>

void sc_ref_rope(int B, int NH, int S, int dh, double theta, const int32_t *pos, const double *x, double *y,
                 int backward) {
  const double sign = backward ? -1.0 : 1.0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int s = 0; s < S; s++) {
        const double p = pos ? pos[(size_t)b * S + s] : s;
        const size_t row = (((size_t)b * NH + h) * S + s) * dh;
        for (int j = 0; j < dh / 2; j++) {
          const double ang = p * pow(theta, -2.0 * j / dh), c = cos(ang), sn = sign * sin(ang);
          const double a0 = x[row + 2 * j], a1 = x[row + 2 * j + 1];
          y[row + 2 * j] = a0 * c - a1 * sn;
          y[row + 2 * j + 1] = a0 * sn + a1 * c;
        }
      }
}
