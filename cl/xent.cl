/* LM-head cross-entropy over blocks of vocabulary columns (ops/xent.h). The host's GEMM fills a block of raw
 * logits z = x W_blockᵀ, (N, nb) with leading dimension ldz; these kernels cap it, fold it into per-row running
 * statistics and turn it into the gradient of the raw logits in place.
 *
 * Row r = b*T + t predicts token tok[r + 1] when t < T - 1; the last position of each sequence has no target.
 * Each row keeps LANES running (max, sum of exp(z - max)) pairs, lane g owning columns g, g + LANES, ... of
 * every block, so adjacent work-items read adjacent columns and no reduction crosses work-items; xent_finish
 * merges the lanes in a fixed order (results are reproducible run to run; no atomics on floats). An id outside
 * [0, V) never indexes memory: it only raises the flag, which the host reads back.
 *
 * Cap: cap > 0 applies cap * tanh(z / cap) (inv_cap = 1 / cap); cap <= 0 leaves the logits as they are. */
#ifndef LANES
#define LANES 16
#endif

static inline float capped(float raw, float cap, float inv_cap) {
  return cap > 0.0f ? cap * tanh(raw * inv_cap) : raw;
}

/* sech²(u) = 4e / (1 + e)² with e = exp(-2|u|): no cancellation near |u| = 0 (unlike 1 - tanh²) and no
 * overflow for large |u| (unlike 1 / cosh²). */
static inline float sech2(float u) {
  const float e = exp(-2.0f * fabs(u)), d = 1.0f + e;
  return 4.0f * e / (d * d);
}

/* Caps one block (in place when capping), folds it into the lanes' running max (mx) and sum (sm), (N, LANES),
 * and gathers the capped logit of each row's target into zt (N). first: the block at column 0, which starts the
 * statistics. Global (LANES, N). */
__kernel void xent_block(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                         __global const int *restrict tok, const ulong tok_off, const int N, const int T,
                         const float cap, const float inv_cap, __global float *restrict mx, __global float *restrict sm,
                         __global float *restrict zt, const int first) {
  const int g = (int)get_global_id(0), r = (int)get_global_id(1);
  if (g >= LANES || r >= N) return;
  z += z_off + (size_t)r * ldz, tok += tok_off;
  const int tc = r % T < T - 1 ? tok[r + 1] - v0 : -1;
  float bm = -INFINITY;
  for (int c = g; c < nb; c += LANES) {
    const float v = capped(z[c], cap, inv_cap);
    if (cap > 0.0f) z[c] = v;
    if (c == tc) zt[r] = v;
    bm = fmax(bm, v);
  }
  const size_t i = (size_t)r * LANES + g;
  const float m0 = first ? -INFINITY : mx[i], s0 = first ? 0.0f : sm[i];
  if (g >= nb) {
    mx[i] = m0, sm[i] = s0;
    return;
  }
  const float m = fmax(m0, bm);
  float s = 0.0f;
  for (int c = g; c < nb; c += LANES) s += exp(z[c] - m);
  mx[i] = m, sm[i] = s0 * exp(m0 - m) + s;
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
    if (!(sm[i] > 0.0f)) continue; /* a lane that never owned a column */
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
 * last position of each sequence. coef = scale / (B * (T - 1)). Global (nb, N). */
__kernel void xent_dlogits(__global float *restrict z, const ulong z_off, const int ldz, const int nb, const int v0,
                           __global const int *restrict tok, const ulong tok_off, __global const float *restrict lse,
                           const ulong lse_off, const int N, const int T, const float cap, const float inv_cap,
                           const float coef) {
  const int c = (int)get_global_id(0), r = (int)get_global_id(1);
  if (c >= nb || r >= N) return;
  z += z_off + (size_t)r * ldz, tok += tok_off, lse += lse_off;
  float g = 0.0f;
  if (r % T < T - 1) {
    const float raw = z[c], p = exp(capped(raw, cap, inv_cap) - lse[r]);
    g = (p - (v0 + c == tok[r + 1] ? 1.0f : 0.0f)) * coef;
    if (cap > 0.0f) g *= sech2(raw * inv_cap);
  }
  z[c] = g;
}
