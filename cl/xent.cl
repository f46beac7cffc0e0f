/* LM-head cross-entropy over blocks of vocabulary columns (ops/xent.h). The host's GEMM fills a block of raw
 * logits z = x W_blockᵀ, (N, nb) with leading dimension ldz; these kernels cap it, fold it into per-row running
 * statistics and turn it into the gradient of the raw logits in place.
 *
 * Row r = b*T + t predicts token tok[r + 1] when t < T - 1; the last position of each sequence has no target.
 * Each row keeps LANES running (max, sum of exp(z - max)) pairs, lane g owning the 16-column vectors g, g + LANES,
 * ... of every block, so adjacent work-items read adjacent memory and no reduction crosses work-items; xent_finish
 * merges the lanes in a fixed order (results are reproducible run to run; no atomics on floats). An id outside
 * [0, V) never indexes memory: it only raises the flag, which the host reads back.
 *
 * Cap: cap > 0 applies cap * tanh(z / cap) (inv_cap = 1 / cap); cap <= 0 leaves the logits as they are. */
#include "common.clh"

#ifndef LANES
#define LANES 16
#endif

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

static inline float16 capped(float16 raw, float cap, float inv_cap) {
  return cap > 0.0f ? cap * tanh(raw * inv_cap) : raw;
}

/* sech²(u) = 4e / (1 + e)² with e = exp(-2|u|): no cancellation near |u| = 0 (unlike 1 - tanh²) and no
 * overflow for large |u| (unlike 1 / cosh²). */
static inline float16 sech2(float16 u) {
  const float16 e = exp(-2.0f * fabs(u)), d = 1.0f + e;
  return 4.0f * e / (d * d);
}

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
  float m = -INFINITY, s = 0.0f;
  for (int g = 0; g < LANES; g++) {
    const size_t i = (size_t)r * LANES + g;
    if (sm[i] == 0.0f) continue; /* a lane that never owned a column (a NaN sum is kept: NaN logits show) */
    const float nm = fmax(m, mx[i]);
    s = s * exp(m - nm) + sm[i] * exp(mx[i] - nm);
    m = nm;
  }
  const float l = m + log(s);
  lse[r] = l;
  const int t = r % T;
  if (has_losses && t < T - 1) losses[(size_t)(r / T) * (T - 1) + t] = l - zt[r];
  const int id = tok[r];
  if (id < 0 || id >= V) atomic_max(flag, N - r);
}

/* The mean loss over the B * (T - 1) positions into loss[0] (0 when T = 1), summed in row order with Kahan
 * compensation. One work-item: N is a few thousand rows. */
__kernel void xent_mean(__global const float *restrict lse, const ulong lse_off, __global const float *restrict zt,
                        __global float *restrict loss, const ulong loss_off, const int N, const int T) {
  if (get_global_id(0) > 0) return;
  lse += lse_off, loss += loss_off;
  float sum = 0.0f, comp = 0.0f;
  for (int r = 0; r < N; r++) {
    if (r % T == T - 1) continue;
    const float y = (lse[r] - zt[r]) - comp, t = sum + y;
    comp = (t - sum) - y;
    sum = t;
  }
  const int count = N / T * (T - 1);
  loss[0] = count ? sum / (float)count : 0.0f;
}

/* Turns a block of raw logits into the gradient of the objective w.r.t. them, in place:
 * coef * (softmax - onehot(target)) * sech²(raw / cap), with softmax from the forward's lse (N), and 0 at the
 * last position of each sequence. coef = scale / (B * (T - 1)). Global (ceil(nb / 16), N): 16 columns an item. */
__kernel void xent_dlogits(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                           __global const int *restrict tok, const ulong tok_off, __global const float *restrict lse,
                           const ulong lse_off, const int N, const int T, const float cap, const float inv_cap,
                           const float coef) {
  const int c0 = 16 * (int)get_global_id(0), r = (int)get_global_id(1);
  if (c0 >= nb || r >= N) return;
  z += z_off + (size_t)r * ldz, tok += tok_off, lse += lse_off;
  float16 g = 0.0f;
  if (r % T < T - 1) {
    const float16 raw = load16(z, c0, nb), p = exp(capped(raw, cap, inv_cap) - lse[r]);
    g = (p - select((float16)0.0f, (float16)1.0f, IOTA16 + c0 == tok[r + 1] - v0)) * coef;
    if (cap > 0.0f) g *= sech2(raw * inv_cap);
  }
  store16(g, z, c0, nb);
}
