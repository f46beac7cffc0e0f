/* Rotary position embedding on adjacent pairs (2j, 2j+1) of each head row, Meta layout:
 * y[2j] = x[2j] cos - x[2j+1] sin, y[2j+1] = x[2j] sin + x[2j+1] cos with angle pos * theta^(-2j/dh).
 * cos and sin come from a host-computed float64 table, factorised as pos = hi * LO + lo: LO rows of angle
 * lo * freq, then rows of angle hi * LO * freq (an angle of pos * freq in float32 would be off by ~1e-3 rad at
 * pos ~ 16k); one angle addition combines them. sign = -1 applies the transposed rotation (backward).
 * x and y may alias. Rows are head-major (B, NH, S, DH), or token-major (B, S, NH, DH) with tokens = 1 (the
 * models' layout).
 * Global (S, B): an item rotates the NH head rows of one token, as the position and the angles are theirs alike
 * (one item per head row ran the strided token-major rows 1.5-2x slower on PoCL). Positions are (B, S). */
#define LO 1024 /* keep in step with host/ops/rope.c */

/* RV values (RV/2 pairs) a step, the widest of 16, 8, 4, 2 dividing DH (set by the host): as float16s PoCL runs
 * a row 3x faster than pair by pair. INTERLEAVE puts the even and odd results back in pair order. */
#ifndef RV
#define RV 2
#endif
#if RV == 2
#define RVEC float2
#define RHALF float
#define INTERLEAVE(e, o) ((float2)(e, o))
#elif RV == 4
#define RVEC float4
#define RHALF float2
#define INTERLEAVE(e, o) shuffle2(e, o, (uint4)(0, 2, 1, 3))
#elif RV == 8
#define RVEC float8
#define RHALF float4
#define INTERLEAVE(e, o) shuffle2(e, o, (uint8)(0, 4, 1, 5, 2, 6, 3, 7))
#elif RV == 16
#define RVEC float16
#define RHALF float8
#define INTERLEAVE(e, o) shuffle2(e, o, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15))
#else
#error "RV must be 2, 4, 8 or 16"
#endif
#define RPASTE(a, b) a##b
#define RNAME(a, b) RPASTE(a, b)
#define RLOAD(p) RNAME(vload, RV)(0, p)
#define RSTORE(v, p) RNAME(vstore, RV)(v, 0, p)

__kernel void rope(__global const float *x, const ulong x_off, __global float *y, const ulong y_off,
                   __global const int *restrict pos, const ulong pos_off, __global const float *restrict table,
                   const int S, const int NH, const int B, const int DH, const int maxpos, const float sign,
                   const int tokens) {
  const int s = (int)get_global_id(0), b = (int)get_global_id(1);
  if (s >= S || b >= B) return;
  x += x_off, y += y_off, pos += pos_off;
  const int p = clamp(pos[(size_t)b * S + s], 0, maxpos);
  /* rows of DH/2 (cos, sin) pairs */
  __global const float *lo = table + (size_t)(p % LO) * DH, *hi = table + (size_t)(LO + p / LO) * DH;
  /* head 0's row, and the distance to the next head's */
  const size_t r0 = tokens ? ((size_t)b * S + s) * NH * DH : ((size_t)b * NH * S + s) * DH;
  const size_t hs = tokens ? (size_t)DH : (size_t)S * DH;
  for (int j = 0; j < DH; j += RV) {
    const RVEC u = RLOAD(lo + j), v = RLOAD(hi + j);
    const RHALF c = u.even * v.even - u.odd * v.odd, sn = sign * (u.odd * v.even + u.even * v.odd);
    for (int h = 0; h < NH; h++) {
      const RVEC a = RLOAD(x + r0 + h * hs + j);
      RSTORE(INTERLEAVE(a.even * c - a.odd * sn, a.even * sn + a.odd * c), y + r0 + h * hs + j);
    }
  }
}
