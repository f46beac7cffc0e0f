/* Device probes in the manner of clpeak. Defines: VW (vector width 1/2/4/8/16), ITERS, REPS. The FMA probe uses
 * MULADD, the multiply-add every kernel uses (common.clh), so the peak is the rate the kernels can reach. */
#include "common.clh"

#ifndef REPS
#define REPS 4
#endif
#ifndef VW
#define VW 8
#endif
#if VW == 1
#define VEC float
#else
#define VEC_(n) float##n
#define VEC__(n) VEC_(n)
#define VEC VEC__(VW)
#define VSTORE_(n) vstore##n
#define VSTORE__(n) VSTORE_(n)
#define VSTORE VSTORE__(VW)
#endif

/* Eight independent dependent chains of multiply-adds per work-item, so latency is hidden and the
 * compiler cannot fold them (the result is stored). */
__kernel void fma_peak(__global float *out, const float a, const float b) {
  VEC x0 = (VEC)((float)get_global_id(0) * 1e-9f), x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f;
  VEC x4 = x0 + 0.4f, x5 = x0 + 0.5f, x6 = x0 + 0.6f, x7 = x0 + 0.7f;
  for (int i = 0; i < ITERS; i++) {
    x0 = MULADD(x0, a, b);
    x1 = MULADD(x1, a, b);
    x2 = MULADD(x2, a, b);
    x3 = MULADD(x3, a, b);
    x4 = MULADD(x4, a, b);
    x5 = MULADD(x5, a, b);
    x6 = MULADD(x6, a, b);
    x7 = MULADD(x7, a, b);
  }
  VEC s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
#if VW == 1
  out[get_global_id(0)] = s;
#else
  float t = 0.0f, tmp[VW];
  VSTORE(s, 0, tmp);
  for (int j = 0; j < VW; j++) t += tmp[j];
  out[get_global_id(0)] = t;
#endif
}

/* Streaming read of REPS float4 per work-item, neighbours reading neighbours; the store is
 * data-dependent so the loads cannot be dropped, and never taken on a zeroed buffer. */
__kernel void read_bw(__global const float4 *in, __global float *out, const uint n) {
  const uint g = (uint)get_global_id(0);
  if (g >= n) return;
  float4 s = (float4)(0.0f);
  for (uint r = 0; r < REPS; r++) s += in[g + r * n];
  const float t = s.x + s.y + s.z + s.w;
  if (t == -1.0f) out[g] = t;
}

__kernel void empty(__global float *out) {
  if (get_global_id(0) == 0xffffffffu) out[0] = 0.0f;
}
