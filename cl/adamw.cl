/* AdamW and the gradient norm (ops/adamw.h). The norm is reduced in two fixed-order passes without atomics or
 * work-group collectives: SUMSQ_PARTS work-items each sum a contiguous slice (compensated, so a slice of
 * millions of squares keeps float32 accuracy), then one work-item adds the parts. */
#ifndef SUMSQ_PARTS
#define SUMSQ_PARTS 256
#endif

/* Global (SUMSQ_PARTS). */
__kernel void sumsq_parts(__global const float *g, const ulong g_off, const ulong n, __global float *parts) {
  const size_t p = get_global_id(0);
  if (p >= SUMSQ_PARTS) return;
  const ulong per = (n + SUMSQ_PARTS - 1) / SUMSQ_PARTS;
  const ulong lo = min(n, (ulong)p * per), hi = min(n, lo + per);
  g += g_off;
  float s = 0, comp = 0;
  for (ulong i = lo; i < hi; i++) {
    const float y = g[i] * g[i] - comp;
    const float t = s + y;
    comp = (t - s) - y;
    s = t;
  }
  parts[p] = s;
}

/* Global (1). */
__kernel void sumsq_total(__global float *parts) {
  if (get_global_id(0) != 0) return;
  float s = 0, comp = 0;
  for (int p = 0; p < SUMSQ_PARTS; p++) {
    const float y = parts[p] - comp;
    const float t = s + y;
    comp = (t - s) - y;
    s = t;
  }
  parts[SUMSQ_PARTS] = s;
}

/* Global (n rounded up). */
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
