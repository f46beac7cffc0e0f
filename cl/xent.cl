/* LM-head cross-entropy over blocks of vocabulary columns (ops/xent.h). The host's GEMM fills a block of raw
 * logits z = x W_blockᵀ, (N, nb) with leading dimension ldz; these kernels cap it, fold it into per-row running
 * statistics and turn it into the gradient of the raw logits in place.
 *
 * Row r = b*T + t predicts token tok[r + 1] when t < T - 1; the last position of each sequence has no target.
 * Each row keeps LANES running (max, sum of exp(z - max)) pairs; xent_finish merges them in a fixed order. No
 * atomics on floats: results are the same bits run to run. An id outside [0, V) never indexes memory: it only
 * raises the flag, which the host reads back.
 *   cpu variant: LANES = 16 work-items per row, lane g owning the 16-column vectors g, g + LANES, ... of every
 *                block (vector exp and tanh are what make this fast on CPUs); one item per 16 columns in the
 *                backward, one item for the mean;
 *   gpu variant (GPU=1, LANES=1): a work-group of LS items per row, item l owning columns l, l + LS, ... (loads
 *                coalesced), each folding its columns in one pass (online max and sum), merged by a fixed tree in
 *                __local memory; one item per column in the backward; one work-group for the mean.
 *
 * Cap: cap > 0 applies cap * tanh(z / cap) (inv_cap = 1 / cap); cap <= 0 leaves the logits as they are. */
#include "common.clh"

#ifndef GPU
#define GPU 0
#endif
#ifndef LANES
#define LANES (GPU ? 1 : 16)
#endif
#ifndef LS
#define LS 256
#endif
#if GPU && ((LS & (LS - 1)) != 0 || LANES != 1)
#error "the gpu variant takes LS a power of two and LANES=1"
#endif

/* Columns per work-item in the backward, and their vector type. */
#if GPU
typedef float floatv;
#define IOTAV 0
#else
typedef float16 floatv;
#define IOTAV IOTA16
#endif
#define VW (sizeof(floatv) / sizeof(float))

/* Columns are handled as float16 vectors (vector exp and tanh are what make this fast on CPUs); a row's last vector
 * may hang past nb, its missing lanes padded on load and dropped on store. */
static inline float16 load16(__global const float *z, int c0, int nb) {
  if (c0 + 16 <= nb) return vload16(0, z + c0);
  float t[16];
  for (int j = 0; j < 16; j++) t[j] = c0 + j < nb ? z[c0 + j] : 0.0f;
  return vload16(0, t);
}

static inline void store16(float16 v, __global float *z, int c0, int nb) {
  if (c0 + 16 <= nb) {
    vstore16(v, 0, z + c0);
    return;
  }
  float t[16];
  vstore16(v, 0, t);
  for (int j = 0; j < 16; j++)
    if (c0 + j < nb) z[c0 + j] = t[j];
}

static inline floatv loadv(__global const float *z, int c0, int nb) {
#if GPU
  return z[c0];
#else
  return load16(z, c0, nb);
#endif
}

static inline void storev(floatv v, __global float *z, int c0, int nb) {
#if GPU
  z[c0] = v;
#else
  store16(v, z, c0, nb);
#endif
}

static inline floatv capped(floatv raw, float cap, float inv_cap) {
  return cap > 0.0f ? cap * tanh(raw * inv_cap) : raw;
}

/* sech²(u) = 4e / (1 + e)² with e = exp(-2|u|): no cancellation near |u| = 0 (unlike 1 - tanh²) and no
 * overflow for large |u| (unlike 1 / cosh²). */
static inline floatv sech2(floatv u) {
  const floatv e = exp(-2.0f * fabs(u)), d = 1.0f + e;
  return 4.0f * e / (d * d);
}

/* (max, sum of exp(z - max)) pairs: a ⊕ b. A pair with sum 0 holds no column (its max is -inf) and leaves the
 * other as it is; a NaN sum is kept, so NaN logits show. */
static inline float2 lse_merge(float2 a, float2 b) {
  if (b.y == 0.0f) return a;
  if (a.y == 0.0f) return b;
  const float m = fmax(a.x, b.x);
  return (float2)(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

#if GPU
/* Caps one block (in place when capping), folds it into each row's running (max, sum) in mx, sm (N) and gathers
 * the capped logit of the row's target into zt (N). first: the block at column 0, which starts the statistics.
 * Global (LS, N), local (LS, 1): a work-group per row. */
__kernel void xent_block(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                         __global const int *restrict tok, const ulong tok_off, const int N, const int T,
                         const float cap, const float inv_cap, __global float *restrict mx, __global float *restrict sm,
                         __global float *restrict zt, const int first) {
  __local float2 buf[LS];
  const int l = (int)get_local_id(0), r = (int)get_global_id(1);
  z += z_off + (size_t)r * ldz, tok += tok_off;
  const int tc = r % T < T - 1 ? tok[r + 1] - v0 : -1;
  float2 ms = (float2)(-INFINITY, 0.0f);
  for (int c0 = 0; c0 < nb; c0 += LS) { /* the same trip count for every item */
    const int c = c0 + l;
    if (c >= nb) continue;
    const float v = capped(z[c], cap, inv_cap);
    if (cap > 0.0f) z[c] = v;
    if (c == tc) zt[r] = v;
    /* One exp a column: rescale the sum when the max moves. */
    if (v > ms.x)
      ms = (float2)(v, ms.y * exp(ms.x - v) + 1.0f);
    else
      ms.y += exp(v - ms.x);
  }
  buf[l] = ms;
  LOCAL_TREE(buf, l, LS, lse_merge);
  if (l == 0) {
    const float2 run = first ? (float2)(-INFINITY, 0.0f) : (float2)(mx[r], sm[r]), total = lse_merge(run, buf[0]);
    mx[r] = total.x, sm[r] = total.y;
  }
}
#else
/* Caps one block (in place when capping), folds it into the lanes' running max (mx) and sum (sm), (N, LANES),
 * and gathers the capped logit of each row's target into zt (N). Lane g owns the vectors g, g + LANES, ... of the
 * row. first: the block at column 0, which starts the statistics. Global (LANES, N). */
__kernel void xent_block(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                         __global const int *restrict tok, const ulong tok_off, const int N, const int T,
                         const float cap, const float inv_cap, __global float *restrict mx, __global float *restrict sm,
                         __global float *restrict zt, const int first) {
  const int g = (int)get_global_id(0), r = (int)get_global_id(1);
  if (g >= LANES || r >= N) return;
  z += z_off + (size_t)r * ldz, tok += tok_off;
  const size_t i = (size_t)r * LANES + g;
  const float m0 = first ? -INFINITY : mx[i], s0 = first ? 0.0f : sm[i];
  const int nv = (nb + 15) / 16;
  if (g >= nv) {
    mx[i] = m0, sm[i] = s0;
    return;
  }
  float16 bm = (float16)(-INFINITY);
  for (int q = g; q < nv; q += LANES) {
    const float16 v = capped(load16(z, 16 * q, nb), cap, inv_cap);
    if (cap > 0.0f) store16(v, z, 16 * q, nb);
    bm = fmax(bm, select(v, (float16)(-INFINITY), IOTA16 + 16 * q >= nb));
  }
  const int tc = r % T < T - 1 ? tok[r + 1] - v0 : -1;
  if (tc >= 0 && tc < nb && (tc / 16) % LANES == g) zt[r] = z[tc];
  const float m = fmax(m0, hmax16(bm));
  float16 s = 0.0f;
  for (int q = g; q < nv; q += LANES)
    s += select(exp(load16(z, 16 * q, nb) - m), (float16)0.0f, IOTA16 + 16 * q >= nb);
  mx[i] = m, sm[i] = s0 * exp(m0 - m) + hsum16(s);
}
#endif

/* Merges each row's lanes into lse (N), writes the per-position losses (B, T - 1) when has_losses, and raises
 * flag to N - r for the first row r whose own token lies outside [0, V) (atomic_max keeps the smallest r).
 * Global (N). */
__kernel void xent_finish(__global const float *restrict mx, __global const float *restrict sm,
                          __global const float *restrict zt, __global float *restrict lse, const ulong lse_off,
                          __global float *restrict losses, const ulong losses_off, const int has_losses,
                          __global const int *restrict tok, const ulong tok_off, const int N, const int T, const int V,
                          __global int *restrict flag) {
  const int r = (int)get_global_id(0);
  if (r >= N) return;
  lse += lse_off, losses += losses_off, tok += tok_off;
  float2 ms = (float2)(-INFINITY, 0.0f);
  for (int g = 0; g < LANES; g++) {
    const size_t i = (size_t)r * LANES + g;
    ms = lse_merge(ms, (float2)(mx[i], sm[i]));
  }
  const float l = ms.x + log(ms.y);
  lse[r] = l;
  const int t = r % T;
  if (has_losses && t < T - 1) losses[(size_t)(r / T) * (T - 1) + t] = l - zt[r];
  const int id = tok[r];
  if (id < 0 || id >= V) atomic_max(flag, N - r);
}

/* s += y with Kahan compensation comp. */
static inline void kahan_add(float *s, float *comp, float y) {
  const float a = y - *comp, t = *s + a;
  *comp = (t - *s) - a;
  *s = t;
}

/* The mean loss over the B * (T - 1) positions into loss[0] (0 when T = 1). cpu: one work-item sums in row order
 * with Kahan compensation (N is a few thousand rows). gpu: item l of one work-group sums rows l, l + LS, ... so,
 * then a fixed tree in __local memory. Global and local (1) on cpu, (LS) on gpu. */
__kernel void xent_mean(__global const float *restrict lse, const ulong lse_off, __global const float *restrict zt,
                        __global float *restrict loss, const ulong loss_off, const int N, const int T) {
  lse += lse_off, loss += loss_off;
  const int l = (int)get_local_id(0), count = N / T * (T - 1);
#if GPU
  __local float buf[LS];
  float sum = 0.0f, comp = 0.0f;
  for (int r0 = 0; r0 < N; r0 += LS) {
    const int r = r0 + l;
    if (r < N && r % T != T - 1) kahan_add(&sum, &comp, lse[r] - zt[r]);
  }
  buf[l] = sum;
  LOCAL_TREE(buf, l, LS, TREE_ADD);
  sum = buf[0];
#else
  if (get_global_id(0) > 0) return;
  float sum = 0.0f, comp = 0.0f;
  for (int r = 0; r < N; r++)
    if (r % T != T - 1) kahan_add(&sum, &comp, lse[r] - zt[r]);
#endif
  if (l == 0) loss[0] = count ? sum / (float)count : 0.0f;
}

/* Turns a block of raw logits into the gradient of the objective w.r.t. them, in place:
 * coef * (softmax - onehot(target)) * sech²(raw / cap), with softmax from the forward's lse (N), and 0 at the
 * last position of each sequence. coef = scale / (B * (T - 1)). Global (ceil(nb / VW), N): VW columns an item. */
__kernel void xent_dlogits(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                           __global const int *restrict tok, const ulong tok_off, __global const float *restrict lse,
                           const ulong lse_off, const int N, const int T, const float cap, const float inv_cap,
                           const float coef) {
  const int c0 = (int)VW * (int)get_global_id(0), r = (int)get_global_id(1);
  if (c0 >= nb || r >= N) return;
  z += z_off + (size_t)r * ldz, tok += tok_off, lse += lse_off;
  floatv g = 0.0f;
  if (r % T < T - 1) {
    const floatv raw = loadv(z, c0, nb), p = exp(capped(raw, cap, inv_cap) - lse[r]);
    g = (p - select((floatv)0.0f, (floatv)1.0f, IOTAV + c0 == tok[r + 1] - v0)) * coef;
    if (cap > 0.0f) g *= sech2(raw * inv_cap);
  }
  storev(g, z, c0, nb);
}
