#include "base/half.h"

#include <math.h>
#include <string.h>

float sc_half_to_float(uint16_t h) {
  const int ex = (h >> 10) & 31, man = h & 1023;
  const float v = ex == 0    ? ldexpf((float)man, -24)
                  : ex == 31 ? (man ? NAN : INFINITY)
                             : ldexpf((float)(man | 1024), ex - 25);
  return h >> 15 ? -v : v;
}

uint16_t sc_half_from_float(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  const uint32_t ex = (u >> 23) & 0xff, man = u & 0x7fffff;
  if (ex == 0xff) return sign | (man ? 0x7e00 : 0x7c00);
  if (fabsf(x) >= SC_HALF_MAX) return sign | 0x7bff;
  /* The float's significand m (24 bits with the hidden one) counts units of 2^(ex-150); a half counts units of
   * 2^(e-25) for a normal exponent e = ex-112 >= 1, and of 2^-24 below. */
  const int e = (int)ex - 112;
  const uint32_t m = ex ? man | 0x800000 : man;
  const int shift = e >= 1 ? 13 : 14 - e;
  if (shift > 31) return sign;
  const uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), tie = 1u << (shift - 1);
  /* A normal half keeps its exponent above the 10 stored bits; a carry out of the mantissa moves it up by one. */
  uint32_t h = e >= 1 ? ((uint32_t)e << 10) + (q & 0x3ff) : q;
  if (rem > tie || (rem == tie && (h & 1))) h++;
  return sign | (uint16_t)h;
}
