/* Rotary position embedding on adjacent pairs (2j, 2j+1) of each head row, Meta layout:
 * y[2j] = x[2j] cos - x[2j+1] sin, y[2j+1] = x[2j] sin + x[2j+1] cos with angle pos * theta^(-2j/dh).
 * cos and sin come from a host-computed float64 table, factorised as pos = hi * LO + lo: LO rows of angle
 * lo * freq, then rows of angle hi * LO * freq (an angle of pos * freq in float32 would be off by ~1e-3 rad at
 * pos ~ 16k); one angle addition combines them. sign = -1 applies the transposed rotation (backward).
 * x and y may alias. Global (S, B*NH); positions are (B, S), shared by the heads. */
#define LO 1024 /* keep in step with host/ops/rope.c */

__kernel void rope(__global const float *x, const ulong x_off, __global float *y, const ulong y_off,
                   __global const int *restrict pos, const ulong pos_off, __global const float2 *restrict table,
                   const int S, const int NH, const int BH, const int DH, const int maxpos, const float sign) {
  const int s = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (s >= S || bh >= BH) return;
  x += x_off, y += y_off, pos += pos_off;
  const int p = clamp(pos[(size_t)(bh / NH) * S + s], 0, maxpos);
  __global const float2 *lo = table + (size_t)(p % LO) * (DH / 2), *hi = table + (size_t)(LO + p / LO) * (DH / 2);
  const size_t row = ((size_t)bh * S + s) * DH;
  for (int j = 0; j < DH / 2; j++) {
    const float2 a = vload2(j, x + row), u = lo[j], v = hi[j];
    const float2 t = (float2)(u.x * v.x - u.y * v.y, u.y * v.x + u.x * v.y);
    const float sn = sign * t.y;
    vstore2((float2)(a.x * t.x - a.y * sn, a.x * sn + a.y * t.x), j, y + row);
  }
}
