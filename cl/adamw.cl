/* AdamW and the gradient norm (ops/adamw.h). The norm is reduced in two fixed-order passes without atomics or
 * work-group collectives: SUMSQ_PARTS parts each sum a contiguous slice, then the parts are added up.
 *   cpu variant: a part is one work-item summing its slice in 16 lanes (compensated, so a slice of millions of
 *                squares keeps float32 accuracy), and one work-item adds the parts;
 *   gpu variant (GPU=1): a part is a work-group of LS items reading its slice coalesced (item l takes elements
 *                l, l + LS, ..., compensated), reduced by a fixed tree in __local memory; one work-group adds the
 *                parts the same way. */
#include "common.clh"

#ifndef SUMSQ_PARTS
#define SUMSQ_PARTS 256
#endif
#ifndef GPU
#define GPU 0
#endif
#ifndef LS
#define LS 256
#endif
#if GPU && (LS & (LS - 1)) != 0
#error "LS must be a power of two"
#endif

/* s += y with Kahan compensation comp; for one value and for 16 lanes (kahan_add16). */
#define KAHAN_ADD(T, S)                                 \
  static inline void kahan_add##S(T *s, T *comp, T y) { \
    const T a = y - *comp, t = *s + a;                  \
    *comp = (t - *s) - a;                               \
    *s = t;                                             \
  }
KAHAN_ADD(float, )
KAHAN_ADD(float16, 16)

/* The values [lo, hi) of part p: contiguous slices of equal length, the last ones shorter or empty. */
static inline void slice_of(size_t p, ulong n, ulong *lo, ulong *hi) {
  const ulong per = (n + SUMSQ_PARTS - 1) / SUMSQ_PARTS;
  *lo = min(n, (ulong)p * per);
  *hi = min(n, *lo + per);
}

#if GPU
/* Sum of every item's v over the work-group in a fixed tree; item 0 gets it. */
static float group_sum(float v, __local float *buf) {
  const int l = (int)get_local_id(0);
  buf[l] = v;
  LOCAL_TREE(buf, l, LS, TREE_ADD);
  return buf[0];
}

/* Global (SUMSQ_PARTS·LS), local (LS): work-group p sums slice p. */
__kernel void sumsq_parts(__global const float *g, const ulong g_off, const ulong n, __global float *parts) {
  __local float buf[LS];
  const size_t p = get_group_id(0);
  const int l = (int)get_local_id(0);
  ulong lo, hi;
  slice_of(p, n, &lo, &hi);
  g += g_off;
  float s = 0, comp = 0;
  for (ulong i0 = lo; i0 < hi; i0 += LS) { /* the same trip count for every item of the group */
    const ulong i = i0 + l;
    if (i < hi) kahan_add(&s, &comp, g[i] * g[i]);
  }
  s = group_sum(s, buf);
  if (l == 0 && p < SUMSQ_PARTS) parts[p] = s;
}

/* Global (LS), local (LS). */
__kernel void sumsq_total(__global float *parts) {
  __local float buf[LS];
  const int l = (int)get_local_id(0);
  float s = 0, comp = 0;
  for (int p0 = 0; p0 < SUMSQ_PARTS; p0 += LS)
    if (p0 + l < SUMSQ_PARTS) kahan_add(&s, &comp, parts[p0 + l]);
  s = group_sum(s, buf);
  if (l == 0) parts[SUMSQ_PARTS] = s;
}
#else
/* Global (SUMSQ_PARTS). The slice is summed in 16 lanes of float16s (one scalar chain was latency-bound: 8 ms for
 * 5 M values on PoCL), then its tail, then the lanes in order. */
__kernel void sumsq_parts(__global const float *g, const ulong g_off, const ulong n, __global float *parts) {
  const size_t p = get_global_id(0);
  if (p >= SUMSQ_PARTS) return;
  ulong lo, hi;
  slice_of(p, n, &lo, &hi);
  g += g_off;
  float16 s16 = 0, c16 = 0;
  ulong i = lo;
  for (; i + 16 <= hi; i += 16) {
    const float16 x = vload16(0, g + i);
    kahan_add16(&s16, &c16, x * x);
  }
  float s = 0, comp = 0;
  for (; i < hi; i++) kahan_add(&s, &comp, g[i] * g[i]);
  float lane[16], lane_comp[16];
  vstore16(s16, 0, lane);
  vstore16(c16, 0, lane_comp);
  for (int j = 0; j < 16; j++) kahan_add(&s, &comp, lane[j] - lane_comp[j]);
  parts[p] = s;
}

/* Global (1). */
__kernel void sumsq_total(__global float *parts) {
  if (get_global_id(0) != 0) return;
  float s = 0, comp = 0;
  for (int p = 0; p < SUMSQ_PARTS; p++) kahan_add(&s, &comp, parts[p]);
  parts[SUMSQ_PARTS] = s;
}
#endif

/* Global (n rounded up): one item per element in both variants. */
__kernel void adamw_update(__global float *p, const ulong p_off, __global const float *g, const ulong g_off,
                           __global float *m, const ulong m_off, __global float *v, const ulong v_off, const ulong n,
                           const float lr, const float beta1, const float beta2, const float eps, const float wd,
                           const float gscale, const float bc1, const float bc2) {
  const size_t i = get_global_id(0);
  if (i >= n) return;
  const float gi = gscale * g[g_off + i];
  const float mi = beta1 * m[m_off + i] + (1.0f - beta1) * gi;
  const float vi = beta2 * v[v_off + i] + (1.0f - beta2) * gi * gi;
  m[m_off + i] = mi;
  v[v_off + i] = vi;
  const float pi = p[p_off + i];
  p[p_off + i] = pi - lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + wd * pi);
}
