/* Causal multi-head attention for (B, NH, S, DH) float32 tensors, flash style: forward with an online
 * softmax that never holds S x S, backward recomputing probabilities from the saved log-sum-exp, and
 * KV-cache decode. Two variants of the kernels (runtime/variant.h), chosen by VARIANT_GPU:
 *   cpu (default): one work-item per work-group owning a register block, explicit float16 vectors, no __local
 *     memory and no barriers;
 *   gpu (-D VARIANT_GPU): flash kernels as tiled products (see "Flash kernels" below): a work-group owns BR rows
 *     and streams the other side BC rows at a time, register tiles per work-item, both operands and P/dS in
 *     __local memory; dQ is a second pass over the keys, not partials; decode splits a chunk of the cache over
 *     WG work-items and reduces through __local memory.
 * attn_bwd_stats, attn_cache_fill, attn_append and attn_decode_combine are shared; attn_tile_t and attn_dq_reduce are
 * the cpu variant's, attn_bwd_dq the gpu variant's.
 *
 * Defines: DH (head dim, a multiple of 16); KVH (1: the decode cache holds halves); cpu: BQ (query rows per forward
 * work-item), KB (key tiles of 16 per backward block); gpu: BR, BC, WR, WC, TK, TC (flash tiles, below), WG (decode and
 * statistics work-group, a power of two), DCH (decode scores per work-group in __local memory, a multiple of WG).
 *
 * Layouts. "rows": (BH, S, DH) as given, or with NHT > 1 token-major (B, S, NHT, DH) for q, k, v, o and their
 * gradients (the layout of the model's projections; NH = NHT): row r of head bh starts at XBASE(bh) + r * RS. "tiles"
 * (cpu): keys or queries grouped by 16 and transposed, (BH, NT, DH, 16) with NT = ceil(S/16) and zero padding, so that
 * a score tile is DH float16 outer products read from one contiguous block. The forward and the backward compute every
 * score with the same operations in the same order (q scaled by 1/sqrt(DH) first, then one fma per dimension), and lse
 * is the natural-log m + log(l) rounded once: the backward's exp(s - lse) then gives the row maximum exactly the
 * forward's probability. (Scores in the log2 domain with lse converted between the passes drifted by ~1e-4 of
 * |s|, which at |s| ~ 900 put errors of 5e-4 and more into dv and dq.) Decode keeps the log2 domain.
 * Masking: key j is visible to query i iff j <= i and (no segment ids or seg[i] == seg[j]). */
#include "common.clh"

#ifndef DH
#error "DH (head dim) must be defined"
#endif
#if DH % 16 != 0
#error "DH must be a multiple of 16"
#endif
#define NC (DH / 16)

#ifndef NHT
#define NHT 1
#endif
#define RS (NHT * DH) /* floats from one token's row to the next */
#define XBASE(bh) ((((size_t)(bh) / NHT) * (size_t)S * NHT + (size_t)(bh) % NHT) * DH)

#define LN2 0.69314718055994530942f

/* The decode cache's element (KVH): float, or IEEE half through the core vload_half/vstore_half functions, which need
 * no cl_khr_fp16, rounded to nearest even with finite values beyond the half range saturated (base/half.h is the
 * host's copy of the rule). Arithmetic stays float. */
#ifndef KVH
#define KVH 0
#endif
#if KVH
#define KV_T half
#define KV_LOAD16(c, p) vload_half16(c, p)
#define KV_AT(p, i) vload_half(i, p)
static inline void kv_store16(float16 x, int c, __global half *p) {
  const float16 big = (float16)(65504.0f);
  vstore_half16_rte(select(x, copysign(big, x), isfinite(x) & (fabs(x) > big)), c, p);
}
#else
#define KV_T float
#define KV_LOAD16(c, p) vload16(c, p)
#define KV_AT(p, i) ((p)[i])
static inline void kv_store16(float16 x, int c, __global float *p) {
  vstore16(x, c, p);
}
#endif

/* rows -> tiles, zero padded. Global (NT, BH). Four rows at a time in 4 x 4 blocks, transposed by one swizzle
 * (a scalar gather per value ran 3-4x slower on PoCL); the rows past S of the last tile one value at a time. */
__kernel void attn_tile_t(__global const float *restrict src, const ulong src_off, __global float *restrict dst,
                          const int S, const int NT, const int BH) {
  const int t = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (t >= NT || bh >= BH) return;
  src += src_off;
  __global float *d = dst + ((size_t)bh * NT + t) * DH * 16;
  const int r0 = t * 16, n = min(16, S - r0);
  for (int r = 0; r < 16; r += 4) {
    __global const float *a = src + XBASE(bh) + (size_t)(r0 + r) * RS;
    if (r + 4 <= n) {
      for (int k = 0; k < DH; k += 4) transpose4x4(a + k, RS, d + k * 16 + r, 16);
    } else {
      for (int k = 0; k < DH; k++)
        for (int i = 0; i < 4; i++) d[k * 16 + r + i] = r + i < n ? a[i * RS + k] : 0.0f;
    }
  }
}

/* Per-row backward statistics into padded (BH, NT*16) buffers: D = rowsum(dO * O) and lse.
 * Global (NT*16, BH/NHT): an item takes row r of NHT heads (a token's heads, contiguous when token-major). */
__kernel void attn_bwd_stats(__global const float *restrict o, const ulong o_off, __global const float *restrict dout,
                             const ulong dout_off, __global const float *restrict lse, const ulong lse_off,
                             __global float *restrict dp, __global float *restrict lsep, const int S, const int NT,
                             const int BH) {
  const int r = (int)get_global_id(0), g = (int)get_global_id(1);
  if (r >= NT * 16 || g * NHT >= BH) return;
  o += o_off, dout += dout_off, lse += lse_off;
  for (int bh = g * NHT; bh < (g + 1) * NHT; bh++) {
    const size_t out = (size_t)bh * NT * 16 + r;
    if (r >= S) {
      dp[out] = 0.0f;
      lsep[out] = 0.0f;
      continue;
    }
    const size_t row = XBASE(bh) + (size_t)r * RS;
    float16 acc = (float16)(0.0f);
    for (int c = 0; c < NC; c++) acc = MULADD(vload16(c, o + row), vload16(c, dout + row), acc);
    dp[out] = hsum16(acc);
    lsep[out] = lse[(size_t)bh * S + r];
  }
}

/* Prefill: rows 0..S-1 of k and v ("rows" layout, as the forward reads them) into positions 0..S-1 of the decode
 * caches (BH, CAP, DH). Global (S, BH). */
__kernel void attn_cache_fill(__global KV_T *restrict kc, const ulong kc_off, __global KV_T *restrict vc,
                              const ulong vc_off, __global const float *restrict k, const ulong k_off,
                              __global const float *restrict v, const ulong v_off, const int S, const int CAP,
                              const int BH) {
  const int r = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (r >= S || bh >= BH) return;
  kc += kc_off, vc += vc_off, k += k_off, v += v_off;
  const size_t src = XBASE(bh) + (size_t)r * RS, dst = ((size_t)bh * CAP + r) * DH;
  for (int c = 0; c < NC; c++) {
    kv_store16(vload16(c, k + src), c, kc + dst);
    kv_store16(vload16(c, v + src), c, vc + dst);
  }
}

/* Decode, step 1: write the new token's k and v at position pos[b] of the cache (BH, CAP, DH); pos holds the
 * B positions followed by the B starts (step 2 reads both). Global (BH). Its own launch: appending inside step 2 made
 * the caches writable there, which cost PoCL's code for the reads up to half the speed. */
__kernel void attn_append(__global KV_T *restrict kc, const ulong kc_off, __global KV_T *restrict vc,
                          const ulong vc_off, __global const float *restrict kn, const ulong kn_off,
                          __global const float *restrict vn, const ulong vn_off, __global const int *restrict pos,
                          const int CAP, const int NH, const int BH) {
  const int bh = (int)get_global_id(0);
  if (bh >= BH) return;
  kc += kc_off, vc += vc_off, kn += kn_off, vn += vn_off;
  const size_t dst = ((size_t)bh * CAP + pos[bh / NH]) * DH;
  for (int c = 0; c < NC; c++) {
    kv_store16(vload16(c, kn + (size_t)bh * DH), c, kc + dst);
    kv_store16(vload16(c, vn + (size_t)bh * DH), c, vc + dst);
  }
}

/* Decode: the natural-log log-sum-exp of a row from its log2-domain maximum m and sum l. */
static inline float decode_lse(const float m, const float l) {
  return (m + log2(l)) * LN2;
}

/* Decode, with more than one chunk: merge them into o (BH, DH) and, when has_lse, lse (BH). Global (BH). */
__kernel void attn_decode_combine(__global const float *restrict part, __global float *restrict o, const ulong o_off,
                                  __global float *restrict lse, const ulong lse_off, const int has_lse, const int BH,
                                  const int NS) {
  const int bh = (int)get_global_id(0);
  if (bh >= BH) return;
  o += o_off, lse += lse_off;
  __global const float *p = part + (size_t)bh * NS * (DH + 2);
  float m = -FLT_MAX;
  for (int s = 0; s < NS; s++) m = fmax(m, p[s * (DH + 2) + DH]);
  float l = 0.0f;
  float16 acc[NC];
  for (int c = 0; c < NC; c++) acc[c] = (float16)(0.0f);
  for (int s = 0; s < NS; s++) {
    __global const float *ps = p + s * (DH + 2);
    const float w = exp2(ps[DH] - m);
    l += w * ps[DH + 1];
    for (int c = 0; c < NC; c++) acc[c] = MULADD((float16)(w), vload16(c, ps), acc[c]);
  }
  for (int c = 0; c < NC; c++) vstore16(acc[c] / l, c, o + (size_t)bh * DH);
  if (has_lse) lse[bh] = decode_lse(m, l);
}

/* dQ = scale * the sum of the NG partials of the gpu variant's one-pass backward (DQP > 0; part: (NG, BH, S, DH)),
 * in slot order. Global (S * DH / 16, BH). */
__kernel void attn_dq_sum(__global const float *restrict part, __global float *restrict dq, const ulong dq_off,
                          const int S, const int BH, const int NG, const float scale) {
  const int e = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (e >= S * NC || bh >= BH) return;
  dq += dq_off;
  float16 acc = (float16)(0.0f);
  for (int g = 0; g < NG; g++) acc += vload16(e, part + ((size_t)g * BH + bh) * S * DH);
  vstore16(acc * scale, e % NC, dq + XBASE(bh) + (size_t)(e / NC) * RS);
}

/* Decode: cache positions [lo, hi) of chunk sp of sequence b, the chunks of CH keys from its start (pos[B + b],
 * B = BH / NH) through its position pos[b]. */
static inline int2 decode_span(__global const int *pos, const int NH, const int BH, const int CH, const int b,
                               const int sp) {
  const int lo = pos[BH / NH + b] + sp * CH;
  return (int2)(lo, min(lo + CH, pos[b] + 1));
}

#ifndef VARIANT_GPU
#ifndef BQ
#define BQ 16
#endif
#ifndef KB
#define KB 4
#endif

/* Segment ids of rows r0..r0+15 of one sequence, rows past S repeated from S-1 (they are masked anyway). */
static inline int16 seg16(__global const int *seg, int r0, int S) {
  int t[16];
  for (int r = 0; r < 16; r++) t[r] = seg[min(r0 + r, S - 1)];
  return vload16(0, t);
}

/* Forward. Global (ceil(S/BQ), BH); each work-item owns BQ query rows and walks the key tiles up to
 * its last row. Blocks are taken in reverse so the longest (last) rows start first. */
__kernel void attn_fwd(__global const float *restrict q, const ulong q_off, __global const float *restrict kt,
                       const ulong kt_off, __global const float *restrict v, const ulong v_off,
                       __global const int *restrict seg, const ulong seg_off, const int has_seg,
                       __global float *restrict o, const ulong o_off, __global float *restrict lse, const ulong lse_off,
                       const int S, const int NT, const int NH, const int BH, const float scale) {
  const int nqb = (S + BQ - 1) / BQ;
  const int gq = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (gq >= nqb || bh >= BH) return;
  q += q_off, kt += kt_off, v += v_off, seg += seg_off, o += o_off, lse += lse_off;
  const int i0 = (nqb - 1 - gq) * BQ;
  const size_t base = XBASE(bh);
  __global const float *vb = v + base;
  __global const int *sg = seg + (size_t)(bh / NH) * S;

  float qs[BQ * DH];
  for (int i = 0; i < BQ; i++) {
    const int r = min(i0 + i, S - 1);
    for (int k = 0; k < DH; k++) qs[i * DH + k] = q[base + (size_t)r * RS + k] * scale;
  }
  int segi[BQ];
  for (int i = 0; i < BQ; i++) segi[i] = has_seg ? sg[min(i0 + i, S - 1)] : 0;

  float16 oacc[BQ * NC];
  float m[BQ], l[BQ], alpha[BQ], pb[BQ * 16];
  for (int i = 0; i < BQ; i++) {
    m[i] = -FLT_MAX;
    l[i] = 0.0f;
    for (int c = 0; c < NC; c++) oacc[i * NC + c] = (float16)(0.0f);
  }

  const int ntiles = (min(i0 + BQ, S) + 15) / 16;
  for (int t = 0; t < ntiles; t++) {
    const int j0 = t * 16;
    __global const float *kb = kt + ((size_t)bh * NT + t) * DH * 16;
    /* The mask first: a tile no row may see (another document) is skipped without computing it. */
    const int masked = j0 + 15 > i0 || has_seg;
    int16 bad[BQ];
    if (masked) {
      const int16 jv = (int16)(j0) + IOTA16;
      const int16 sj = has_seg ? seg16(sg, j0, S) : (int16)(0);
      int16 ok = (int16)(0);
#pragma unroll
      for (int i = 0; i < BQ; i++) {
        bad[i] = (jv > (int16)(i0 + i)) | (sj != (int16)(segi[i]));
        ok |= ~bad[i];
      }
      if (!any(ok)) continue;
    }
    float16 s[BQ];
#pragma unroll
    for (int i = 0; i < BQ; i++) s[i] = (float16)(0.0f);
    for (int k = 0; k < DH; k++) {
      const float16 kv = vload16(k, kb);
#pragma unroll
      for (int i = 0; i < BQ; i++) s[i] = MULADD((float16)(qs[i * DH + k]), kv, s[i]);
    }
    if (masked) {
#pragma unroll
      for (int i = 0; i < BQ; i++) s[i] = select(s[i], (float16)(-INFINITY), bad[i]);
    }
#pragma unroll
    for (int i = 0; i < BQ; i++) {
      /* m starts at -FLT_MAX, not -inf, so a fully masked tile gives exp(0) = 1 and never NaN. */
      const float mnew = fmax(m[i], hmax16(s[i]));
      const float16 p = exp(s[i] - (float16)(mnew));
      alpha[i] = exp(m[i] - mnew);
      l[i] = l[i] * alpha[i] + hsum16(p);
      m[i] = mnew;
      vstore16(p, i, pb);
    }
    for (int c = 0; c < NC; c++) {
      float16 a[BQ];
#pragma unroll
      for (int i = 0; i < BQ; i++) a[i] = oacc[i * NC + c] * alpha[i];
      for (int j = 0; j < 16; j++) {
        const float16 vv = vload16(c, vb + (size_t)min(j0 + j, S - 1) * RS);
#pragma unroll
        for (int i = 0; i < BQ; i++) a[i] = MULADD((float16)(pb[i * 16 + j]), vv, a[i]);
      }
#pragma unroll
      for (int i = 0; i < BQ; i++) oacc[i * NC + c] = a[i];
    }
  }
  for (int i = 0; i < BQ; i++) {
    const int r = i0 + i;
    if (r >= S) break;
    const float inv = 1.0f / l[i];
    for (int c = 0; c < NC; c++) vstore16(oacc[i * NC + c] * inv, c, o + base + (size_t)r * RS);
    lse[(size_t)bh * S + r] = m[i] + log(l[i]);
  }
}

/* First key block (of KB tiles) of work group g of G: groups split the causal triangle into equal work. */
static inline int group_start(int g, int G, int NB) {
  if (g >= G) return NB;
  return min(NB, (int)((float)NB * (1.0f - sqrt(1.0f - (float)g / (float)G))));
}

/* Backward. Global (G, BH). Work-item g owns the key blocks [group_start(g), group_start(g+1)), a block
 * being KB tiles of 16 keys. For each block it walks the query tiles from the diagonal down and, per query
 * tile, visits the block's key tiles, so the query-side data is read once per block rather than once per
 * key tile. dK and dV are accumulated privately; dQ goes into the group's own partial buffer dqp
 * (G, BH, NT*16, DH), initialised by the group's first block (which covers every row the group touches).
 * No atomics, so results are deterministic. */
__kernel void attn_bwd(__global const float *restrict q, const ulong q_off, __global const float *restrict qt,
                       __global const float *restrict k, const ulong k_off, __global const float *restrict v,
                       const ulong v_off, __global const float *restrict dout, const ulong dout_off,
                       __global const float *restrict dot, __global const float *restrict lsep,
                       __global const float *restrict dp, __global const int *restrict seg, const ulong seg_off,
                       const int has_seg, __global float *restrict dk, const ulong dk_off, __global float *restrict dv,
                       const ulong dv_off, __global float *restrict dqp, const int S, const int NT, const int NH,
                       const int BH, const int G, const float scale) {
  const int g = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (g >= G || bh >= BH) return;
  q += q_off, k += k_off, v += v_off, dout += dout_off, seg += seg_off, dk += dk_off, dv += dv_off;
  const int NB = (NT + KB - 1) / KB;
  const int bb = group_start(g, G, NB), be = group_start(g + 1, G, NB);
  const size_t base = XBASE(bh);
  __global const float *qb = q + base;
  __global const float *dob = dout + base;
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  __global const float *lb = lsep + (size_t)bh * NT * 16;
  __global const float *db = dp + (size_t)bh * NT * 16;
  __global float *dqb = dqp + ((size_t)g * BH + bh) * NT * 16 * DH;

  float kp[KB * 16 * DH], vp[KB * 16 * DH], pb[KB * 256], sb[KB * 256];
  float16 dka[KB * 16 * NC], dva[KB * 16 * NC];
  int segj[KB * 16], live[KB];
  for (int blk = bb; blk < be; blk++) {
    const int t0 = blk * KB, nkt = min(KB, NT - t0);
    for (int j = 0; j < nkt * 16; j++) {
      const int r = t0 * 16 + j;
      segj[j] = has_seg ? sg[min(r, S - 1)] : 0;
      for (int c = 0; c < DH; c++) {
        kp[j * DH + c] = r < S ? k[base + (size_t)r * RS + c] : 0.0f;
        vp[j * DH + c] = r < S ? v[base + (size_t)r * RS + c] : 0.0f;
      }
      for (int c = 0; c < NC; c++) dka[j * NC + c] = dva[j * NC + c] = (float16)(0.0f);
    }
    for (int it = t0; it < NT; it++) {
      const int i0 = it * 16;
      const int16 iv = (int16)(i0) + IOTA16;
      const int16 si = has_seg ? seg16(sg, i0, S) : (int16)(0);
      const float16 lv = vload16(it, lb), dv16 = vload16(it, db);
      __global const float *qtb = qt + ((size_t)bh * NT + it) * DH * 16;
      __global const float *dotb = dot + ((size_t)bh * NT + it) * DH * 16;
      const int nk = min(nkt, it - t0 + 1); /* key tiles of the block at or before this query tile */
      for (int kt = 0; kt < nk; kt++) {
        const int j0 = (t0 + kt) * 16;
        float *kpt = kp + kt * 16 * DH, *vpt = vp + kt * 16 * DH, *pbt = pb + kt * 256, *sbt = sb + kt * 256;
        const int *sj = segj + kt * 16;

        /* Mask first; a tile no pair of which is visible (another document) is skipped. */
        int16 bad[16], ok = (int16)(0);
#pragma unroll
        for (int j = 0; j < 16; j++) {
          bad[j] = (iv < (int16)(j0 + j)) | (iv >= (int16)(S)) | (si != (int16)(sj[j]));
          ok |= ~bad[j];
        }
        live[kt] = any(ok);
        if (!live[kt]) continue;

        /* P^T (rows = keys j, lanes = queries i), recomputed from lse with the forward's exact score: the same
         * scaled q, the same fma order (MULADD(a, b, c) = MULADD(b, a, c) bit for bit). */
        float16 acc[16];
#pragma unroll
        for (int j = 0; j < 16; j++) acc[j] = (float16)(0.0f);
        for (int c = 0; c < DH; c++) {
          const float16 x = vload16(c, qtb) * (float16)(scale);
#pragma unroll
          for (int j = 0; j < 16; j++) acc[j] = MULADD((float16)(kpt[j * DH + c]), x, acc[j]);
        }
#pragma unroll
        for (int j = 0; j < 16; j++) vstore16(select(exp(acc[j] - lv), (float16)(0.0f), bad[j]), j, pbt);
          /* dS^T = P^T * (dP^T - D), dP^T = V dO^T. */
#pragma unroll
        for (int j = 0; j < 16; j++) acc[j] = (float16)(0.0f);
        for (int c = 0; c < DH; c++) {
          const float16 x = vload16(c, dotb);
#pragma unroll
          for (int j = 0; j < 16; j++) acc[j] = MULADD((float16)(vpt[j * DH + c]), x, acc[j]);
        }
#pragma unroll
        for (int j = 0; j < 16; j++) vstore16(vload16(j, pbt) * (acc[j] - dv16), j, sbt);

        /* dV += P^T dO and dK += dS^T Q, one 16-column slab at a time. */
        float16 *dvt = dva + kt * 16 * NC, *dkt = dka + kt * 16 * NC;
        for (int c = 0; c < NC; c++) {
          float16 a[16];
#pragma unroll
          for (int j = 0; j < 16; j++) a[j] = dvt[j * NC + c];
          for (int i = 0; i < 16; i++) {
            const float16 x = vload16(c, dob + (size_t)min(i0 + i, S - 1) * RS);
#pragma unroll
            for (int j = 0; j < 16; j++) a[j] = MULADD((float16)(pbt[j * 16 + i]), x, a[j]);
          }
#pragma unroll
          for (int j = 0; j < 16; j++) dvt[j * NC + c] = a[j];
#pragma unroll
          for (int j = 0; j < 16; j++) a[j] = dkt[j * NC + c];
          for (int i = 0; i < 16; i++) {
            const float16 x = vload16(c, qb + (size_t)min(i0 + i, S - 1) * RS);
#pragma unroll
            for (int j = 0; j < 16; j++) a[j] = MULADD((float16)(sbt[j * 16 + i]), x, a[j]);
          }
#pragma unroll
          for (int j = 0; j < 16; j++) dkt[j * NC + c] = a[j];
        }
      }
      /* dQ partial += sum over the block's key tiles of dS K (unscaled; the reduction applies the scale). */
      const int first = blk == bb;
      for (int c = 0; c < NC; c++) {
        float16 a[16];
#pragma unroll
        for (int i = 0; i < 16; i++) a[i] = first ? (float16)(0.0f) : vload16(c, dqb + (size_t)(i0 + i) * DH);
        for (int kt = 0; kt < nk; kt++) {
          if (!live[kt]) continue;
          for (int j = 0; j < 16; j++) {
            const float16 x = vload16(c, kp + (kt * 16 + j) * DH);
            const float *sr = sb + kt * 256 + j * 16;
#pragma unroll
            for (int i = 0; i < 16; i++) a[i] = MULADD((float16)(sr[i]), x, a[i]);
          }
        }
#pragma unroll
        for (int i = 0; i < 16; i++) vstore16(a[i], c, dqb + (size_t)(i0 + i) * DH);
      }
    }
    for (int j = 0; j < nkt * 16; j++) {
      const int r = t0 * 16 + j;
      if (r >= S) break;
      for (int c = 0; c < NC; c++) {
        vstore16(dka[j * NC + c] * scale, c, dk + base + (size_t)r * RS);
        vstore16(dva[j * NC + c], c, dv + base + (size_t)r * RS);
      }
    }
  }
}

/* dQ = scale * sum of the partials of the groups that cover the row. Global (S, BH/NHT), heads as attn_bwd_stats. */
__kernel void attn_dq_reduce(__global const float *restrict dqp, __global float *restrict dq, const ulong dq_off,
                             const int S, const int NT, const int BH, const int G, const float scale) {
  const int r = (int)get_global_id(0), hg = (int)get_global_id(1);
  if (r >= S || hg * NHT >= BH) return;
  dq += dq_off;
  const int NB = (NT + KB - 1) / KB;
  for (int bh = hg * NHT; bh < (hg + 1) * NHT; bh++) {
    float16 acc[NC];
    for (int c = 0; c < NC; c++) acc[c] = (float16)(0.0f);
    for (int g = 0; g < G; g++) {
      const int b0 = group_start(g, G, NB);
      if (b0 >= group_start(g + 1, G, NB) || r < b0 * KB * 16) continue;
      __global const float *p = dqp + (((size_t)g * BH + bh) * NT * 16 + r) * DH;
      for (int c = 0; c < NC; c++) acc[c] += vload16(c, p);
    }
    for (int c = 0; c < NC; c++) vstore16(acc[c] * scale, c, dq + XBASE(bh) + (size_t)r * RS);
  }
}

/* Decode, step 2: the query of each sequence against cache positions [start[b], pos[b]] (pos: B positions, then B
 * starts), split into chunks of CH keys; each work-item leaves (o[DH], m, l) of its chunk in part (BH, NS, DH + 2),
 * or with one chunk o and lse as attn_decode_combine would. Global (NS, BH). */
__kernel void attn_decode_part(__global const float *restrict qn, const ulong qn_off, __global const KV_T *restrict kc,
                               const ulong kc_off, __global const KV_T *restrict vc, const ulong vc_off,
                               __global const int *restrict pos, __global float *restrict part,
                               __global float *restrict o, const ulong o_off, __global float *restrict lse,
                               const ulong lse_off, const int has_lse, const int CAP, const int NH, const int BH,
                               const int NS, const int CH, const float scale2) {
  const int sp = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (sp >= NS || bh >= BH) return;
  qn += qn_off, kc += kc_off, vc += vc_off, o += o_off, lse += lse_off;
  const int b = bh / NH;
  const int2 span = decode_span(pos, NH, BH, CH, b, sp);
  const int lo = span.x, hi = span.y;
  float16 qv[NC], oa[NC];
  for (int c = 0; c < NC; c++) {
    qv[c] = vload16(c, qn + (size_t)bh * DH) * scale2;
    oa[c] = (float16)(0.0f);
  }
  float m = -FLT_MAX, l = 0.0f, sc[16];
  __global const KV_T *kb = kc + (size_t)bh * CAP * DH;
  __global const KV_T *vb = vc + (size_t)bh * CAP * DH;
  for (int j0 = lo; j0 < hi; j0 += 16) {
    const int n = min(16, hi - j0);
    float mx = -FLT_MAX;
    for (int j = 0; j < n; j++) {
      float16 acc = (float16)(0.0f);
      for (int c = 0; c < NC; c++) acc = MULADD(qv[c], KV_LOAD16(c, kb + (size_t)(j0 + j) * DH), acc);
      sc[j] = hsum16(acc);
      mx = fmax(mx, sc[j]);
    }
    const float mnew = fmax(m, mx), alpha = exp2(m - mnew);
    l *= alpha;
    for (int c = 0; c < NC; c++) oa[c] *= alpha;
    for (int j = 0; j < n; j++) {
      const float p = exp2(sc[j] - mnew);
      l += p;
      for (int c = 0; c < NC; c++) oa[c] = MULADD((float16)(p), KV_LOAD16(c, vb + (size_t)(j0 + j) * DH), oa[c]);
    }
    m = mnew;
  }
  if (NS == 1) {
    for (int c = 0; c < NC; c++) vstore16(oa[c] / l, c, o + (size_t)bh * DH);
    if (has_lse) lse[bh] = decode_lse(m, l);
    return;
  }
  __global float *out = part + ((size_t)bh * NS + sp) * (DH + 2);
  for (int c = 0; c < NC; c++) vstore16(oa[c], c, out);
  out[DH] = m;
  out[DH + 1] = l;
}

#else /* VARIANT_GPU */

/* acc + a.x*b.x + a.y*b.y + a.z*b.z + a.w*b.w, in that order (the score order every kernel shares). */
static inline float muladd4(const float4 a, const float4 b, const float acc) {
  return MULADD(a.w, b.w, MULADD(a.z, b.z, MULADD(a.y, b.y, MULADD(a.x, b.x, acc))));
}

#ifndef WG
#define WG 64
#endif
#ifndef DCH
#define DCH 1024
#endif
#if (WG & (WG - 1)) != 0 || WG < 16
#error "WG must be a power of two of at least 16"
#endif
#if DCH % WG != 0
#error "DCH must be a multiple of WG"
#endif

/* Flash kernels (forward, dK/dV, dQ): a work-group owns a block of BR rows (queries, or keys for dK/dV) and walks
 * the other side BC rows at a time. Its NWG = (BR/WR) x (BC/WC) work-items form a grid: item (ty, tx) holds the
 * WR x WC register tile of the BR x BC score tile at rows ty + i*GRS, columns tx + j*GCS, and the WR x WD tile of
 * the BR x DH output at the same rows and columns OCOL(tx, j). Scores are tile products over DH in steps of TK
 * with both operands staged in __local memory (rows padded to TK+4, read as float4); probabilities (and dS) go
 * to __local memory, and the output product stages the other side TC rows at a time, transposed. Every score is
 * MULADD(qs[d], k[d], acc) over d = 0..DH-1 from acc = 0 with qs = q * scale rounded once, in all three kernels, so
 * the backward's EXPW(s - lse) reproduces the forward's probabilities. Per work-item state is small register
 * tiles (WR x WC, WR x WD), not arrays of DH floats: those broke at head dim 256 on llvmpipe (README, "Attention").
 * LS = 0 reads both operands of the score products and the other side of the output products straight from global
 * memory (rows past S clamped to S - 1: their scores are masked, their probabilities zero), leaving __local memory
 * to P, dS and the row partials: for devices whose __local memory is ordinary cached memory (CPUs under rusticl
 * llvmpipe), where every barrier costs more than the loads it saves. The sums run in the same order either way. */
#ifndef BR
#define BR 32
#endif
#ifndef BC
#define BC 32
#endif
#ifndef WR
#define WR 4
#endif
#ifndef WC
#define WC 4
#endif
#ifndef TK
#define TK 16
#endif
#ifndef TC
#define TC 16
#endif
#ifndef LS
#define LS 1
#endif
#ifndef DQP
#define DQP 0
#endif
#define GRS (BR / WR)
#define GCS (BC / WC)
#define NWG (GRS * GCS)
#define WD (DH / GCS)
#define TKP (TK + 4)
#define TCP (TC + 4)
#define BCP (BC + 4)
#if BR % WR || BC % WC || DH % GCS || DH % TK || TK % 4 || BC % TC || TC % 4
#error "attention gpu tiles: need BR % WR, BC % WC, DH % (BC/WC), DH % TK, TK % 4, BC % TC and TC % 4 all 0"
#endif
#if !LS && DH % 8
#error "attention gpu tiles: LS=0 reads rows in float8s, so DH must be a multiple of 8"
#endif
#if DQP && (LS || DH % GRS)
#error "attention gpu tiles: DQP needs LS=0 and DH a multiple of BR/WR"
#endif
/* __local floats: staging (LS = 1: score operands, or the output product's transposed rows), P and dS, row
 * partials. The host's sc_attention_tiles_check uses the same formula. */
#if LS
#define STG_FLOATS (2 * (BR + BC) * TKP > 2 * DH * TCP ? 2 * (BR + BC) * TKP : 2 * DH * TCP)
#else
#define STG_FLOATS 0
#endif
#define FLASH_FLOATS (STG_FLOATS + 2 * BR * BCP + BR * GCS)

/* The flash kernels' __local memory (kernel scope, as OpenCL 1.2 requires) and its parts. */
#define FLASH_LOCALS                                                               \
  __local float4 lmem4[FLASH_FLOATS / 4 + 1];                                      \
  __local float *const stg = (__local float *)lmem4, *const pl = stg + STG_FLOATS; \
  __local float *const dl = pl + BR * BCP, *const red = dl + BR * BCP;             \
  const int lid = (int)get_local_id(0), ty = lid / GCS, tx = lid % GCS

/* T[x * TKP + kk] = src[(r0 + x) * RS + d0 + kk] * mul for x < X, kk < TK, zero for rows past S: coalesced float4
 * loads spread over the work-group. */
static inline void stage_rows(__local float *T, const int X, __global const float *src, const int r0, const int S,
                              const int d0, const float mul, const int lid) {
  for (int e = lid; e < X * (TK / 4); e += NWG) {
    const int x = e / (TK / 4), k4 = 4 * (e % (TK / 4));
    const float4 v = r0 + x < S ? vload4(0, src + (size_t)(r0 + x) * RS + d0 + k4) * mul : (float4)(0.0f);
    vstore4(v, 0, T + x * TKP + k4);
  }
}

/* T[d * TCP + c] = src[(r0 + c) * RS + d] * mul for c < TC, d < DH (rows transposed), zero past S. */
static inline void stage_cols(__local float *T, __global const float *src, const int r0, const int S, const float mul,
                              const int lid) {
  for (int e = lid; e < TC * (DH / 4); e += NWG) {
    const int c = e / (DH / 4), d = 4 * (e % (DH / 4));
    const float4 v = r0 + c < S ? vload4(0, src + (size_t)(r0 + c) * RS + d) * mul : (float4)(0.0f);
    T[d * TCP + c] = v.x, T[(d + 1) * TCP + c] = v.y, T[(d + 2) * TCP + c] = v.z, T[(d + 3) * TCP + c] = v.w;
  }
}

/* The direct form's step over d..d+7 (row offsets ra, rb): s[i][j] += sum_e A[ra[i] + d + e] * amul * B[rb[j] + d +
 * e] * bmul, in order of e. float8 loads: llvmpipe turns each load into a per-lane loop, so wider ones mean fewer. */
static inline void score_step8(__global const float *a, const float amul, __global const float *b, const float bmul,
                               const int *ra, const int *rb, const int d, float s[WR][WC]) {
  float8 av[WR], bv[WC];
#pragma unroll
  for (int i = 0; i < WR; i++) av[i] = vload8(0, a + ra[i] + d) * amul;
#pragma unroll
  for (int j = 0; j < WC; j++) bv[j] = vload8(0, b + rb[j] + d) * bmul;
#pragma unroll
  for (int i = 0; i < WR; i++)
#pragma unroll
    for (int j = 0; j < WC; j++) s[i][j] = muladd4(av[i].hi, bv[j].hi, muladd4(av[i].lo, bv[j].lo, s[i][j]));
}

/* s[i][j] = sum_d A[ra0 + ty + i*GRS][d] * B[rb0 + tx + j*GCS][d] (A times amul, B times bmul, as staged) and,
 * when two, t[i][j] the same of A2 and B2 (unscaled). Rows past S count as zeros. */
static inline void scores(const int two, __global const float *a, const int ra0, const float amul,
                          __global const float *b, const int rb0, const float bmul, __global const float *a2,
                          __global const float *b2, const int S, __local float *stg, float s[WR][WC], float t[WR][WC]) {
  const int lid = (int)get_local_id(0), ty = lid / GCS, tx = lid % GCS;
#pragma unroll
  for (int i = 0; i < WR; i++)
#pragma unroll
    for (int j = 0; j < WC; j++) s[i][j] = t[i][j] = 0.0f;
#if !LS
  (void)stg;
  barrier(CLK_LOCAL_MEM_FENCE); /* the caller's previous P and dS are consumed */
  int ra[WR], rb[WC];
#pragma unroll
  for (int i = 0; i < WR; i++) ra[i] = min(ra0 + ty + i * GRS, S - 1) * RS;
#pragma unroll
  for (int j = 0; j < WC; j++) rb[j] = min(rb0 + tx + j * GCS, S - 1) * RS;
  for (int d = 0; d < DH; d += 8) {
    score_step8(a, amul, b, bmul, ra, rb, d, s);
    if (two) score_step8(a2, 1.0f, b2, 1.0f, ra, rb, d, t);
  }
#else
  __local float *as = stg, *bs = as + BR * TKP, *as2 = bs + BC * TKP, *bs2 = as2 + BR * TKP;
  for (int d0 = 0; d0 < DH; d0 += TK) {
    barrier(CLK_LOCAL_MEM_FENCE); /* the previous contents are consumed */
    stage_rows(as, BR, a, ra0, S, d0, amul, lid);
    stage_rows(bs, BC, b, rb0, S, d0, bmul, lid);
    if (two) {
      stage_rows(as2, BR, a2, ra0, S, d0, 1.0f, lid);
      stage_rows(bs2, BC, b2, rb0, S, d0, 1.0f, lid);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TK; k += 4) {
      float4 av[WR], bv[WC];
#pragma unroll
      for (int i = 0; i < WR; i++) av[i] = vload4(0, as + (ty + i * GRS) * TKP + k);
#pragma unroll
      for (int j = 0; j < WC; j++) bv[j] = vload4(0, bs + (tx + j * GCS) * TKP + k);
#pragma unroll
      for (int i = 0; i < WR; i++)
#pragma unroll
        for (int j = 0; j < WC; j++) s[i][j] = muladd4(av[i], bv[j], s[i][j]);
      if (two) {
#pragma unroll
        for (int i = 0; i < WR; i++) av[i] = vload4(0, as2 + (ty + i * GRS) * TKP + k);
#pragma unroll
        for (int j = 0; j < WC; j++) bv[j] = vload4(0, bs2 + (tx + j * GCS) * TKP + k);
#pragma unroll
        for (int i = 0; i < WR; i++)
#pragma unroll
          for (int j = 0; j < WC; j++) t[i][j] = muladd4(av[i], bv[j], t[i][j]);
      }
    }
  }
#endif
}

/* Column j of an output register tile (WD columns) of work-item column tx: interleaved where the staged form reads
 * them from __local memory, contiguous in the direct form (LS = 0), which then loads them with wide loads. */
#if LS
#define OCOL(tx, j) ((tx) + (j)*GCS)
#else
#define OCOL(tx, j) ((tx)*WD + (j))
#endif

/* dst[0..WD) = src[0..WD), in float8 or float4 loads where WD allows. */
static inline void load_cols(float *dst, __global const float *src) {
#if WD % 8 == 0
#pragma unroll
  for (int j = 0; j < WD; j += 8) vstore8(vload8(0, src + j), 0, dst + j);
#elif WD % 4 == 0
#pragma unroll
  for (int j = 0; j < WD; j += 4) vstore4(vload4(0, src + j), 0, dst + j);
#else
#pragma unroll
  for (int j = 0; j < WD; j++) dst[j] = src[j];
#endif
}

/* The direct form's step over four rows of X (row offsets xr, P columns c..c+3): o[i][j] += sum_e P[ty + i*GRS][c + e]
 * * X[xr[e] + OCOL(tx, j)] * mul, in order of e. */
static inline void out_step4(__local const float *p, __global const float *x, const float mul, const int c,
                             const int *xr, const int ty, const int tx, float o[WR][WD]) {
  float4 pv[WR], xv[WD];
  float xe[4][WD];
#pragma unroll
  for (int i = 0; i < WR; i++) pv[i] = vload4(0, p + (ty + i * GRS) * BCP + c);
#pragma unroll
  for (int e = 0; e < 4; e++) load_cols(xe[e], x + xr[e] + OCOL(tx, 0));
#pragma unroll
  for (int j = 0; j < WD; j++) xv[j] = (float4)(xe[0][j], xe[1][j], xe[2][j], xe[3][j]) * mul;
#pragma unroll
  for (int i = 0; i < WR; i++)
#pragma unroll
    for (int j = 0; j < WD; j++) o[i][j] = muladd4(pv[i], xv[j], o[i][j]);
}

/* o[i][j] += sum_c P[ty + i*GRS][c] * X[r0 + c][OCOL(tx, j)] over the BC rows of X from r0 (P: BR x BC in __local
 * memory, row stride BCP) and, when two, o2 the same of P2 and X2; X times mul as staged. P must be written before
 * the call: the first barrier publishes it. */
static inline void outputs(const int two, __local const float *p, __global const float *x, const float mul,
                           __local const float *p2, __global const float *x2, const float mul2, const int r0,
                           const int S, __local float *stg, float o[WR][WD], float o2[WR][WD]) {
  const int lid = (int)get_local_id(0), ty = lid / GCS, tx = lid % GCS;
#if !LS
  (void)stg;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int c = 0; c < BC; c += 4) {
    int xr[4];
#pragma unroll
    for (int e = 0; e < 4; e++) xr[e] = min(r0 + c + e, S - 1) * RS;
    out_step4(p, x, mul, c, xr, ty, tx, o);
    if (two) out_step4(p2, x2, mul2, c, xr, ty, tx, o2);
  }
#else
  __local float *xt = stg, *xt2 = stg + DH * TCP;
  for (int c0 = 0; c0 < BC; c0 += TC) {
    barrier(CLK_LOCAL_MEM_FENCE);
    stage_cols(xt, x, r0 + c0, S, mul, lid);
    if (two) stage_cols(xt2, x2, r0 + c0, S, mul2, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int c = 0; c < TC; c += 4) {
      float4 pv[WR], xv[WD];
#pragma unroll
      for (int i = 0; i < WR; i++) pv[i] = vload4(0, p + (ty + i * GRS) * BCP + c0 + c);
#pragma unroll
      for (int j = 0; j < WD; j++) xv[j] = vload4(0, xt + (tx + j * GCS) * TCP + c);
#pragma unroll
      for (int i = 0; i < WR; i++)
#pragma unroll
        for (int j = 0; j < WD; j++) o[i][j] = muladd4(pv[i], xv[j], o[i][j]);
      if (two) {
#pragma unroll
        for (int i = 0; i < WR; i++) pv[i] = vload4(0, p2 + (ty + i * GRS) * BCP + c0 + c);
#pragma unroll
        for (int j = 0; j < WD; j++) xv[j] = vload4(0, xt2 + (tx + j * GCS) * TCP + c);
#pragma unroll
        for (int i = 0; i < WR; i++)
#pragma unroll
          for (int j = 0; j < WD; j++) o2[i][j] = muladd4(pv[i], xv[j], o2[i][j]);
      }
    }
  }
#endif
}

/* Whether query i may see key j (both in range). */
static inline int visible(const int i, const int j, const int S, const int has_seg, __global const int *sg) {
  return j <= i && i < S && (!has_seg || sg[i] == sg[j]);
}

/* Stores rows r0 + ty + i*GRS (< S), columns OCOL(tx, j) of o times mul into dst (rows RS apart). */
static inline void store_rows(__global float *dst, const int r0, const int S, float o[WR][WD], const float mul) {
  const int lid = (int)get_local_id(0), ty = lid / GCS, tx = lid % GCS;
#pragma unroll
  for (int i = 0; i < WR; i++) {
    const int r = r0 + ty + i * GRS;
#pragma unroll
    for (int j = 0; j < WD; j++)
      if (r < S) dst[(size_t)r * RS + OCOL(tx, j)] = o[i][j] * mul;
  }
}

/* Forward. Global (ceil(S/BR)*NWG, BH), local (NWG, 1): a work-group per BR query rows, blocks in reverse so the
 * longest (last) rows start first; online softmax over key tiles of BC, the row maximum and sum merged over the
 * row's GCS items through __local memory. */
__kernel __attribute__((reqd_work_group_size(NWG, 1, 1))) void attn_fwd(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const int *restrict seg, const ulong seg_off,
    const int has_seg, __global float *restrict o, const ulong o_off, __global float *restrict lse, const ulong lse_off,
    const int S, const int NT, const int NH, const int BH, const float scale) {
  (void)NT;
  FLASH_LOCALS;
  const int nqb = (S + BR - 1) / BR, gq = (int)get_group_id(0), bh = (int)get_group_id(1);
  if (gq >= nqb || bh >= BH) return; /* whole groups only: no work-item skips a barrier */
  q += q_off, k += k_off, v += v_off, seg += seg_off, o += o_off, lse += lse_off;
  const int i0 = (nqb - 1 - gq) * BR;
  const size_t base = XBASE(bh);
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  float oa[WR][WD], m[WR], l[WR], s[WR][WC], unused[WR][WC];
#pragma unroll
  for (int i = 0; i < WR; i++) {
    m[i] = -FLT_MAX; /* not -inf: a fully masked tile gives exp(0) = 1, never NaN */
    l[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < WD; j++) oa[i][j] = 0.0f;
  }
  const int kend = min(i0 + BR, S);
  for (int j0 = 0; j0 < kend; j0 += BC) {
    scores(0, q + base, i0, scale, k + base, j0, 1.0f, q, k, S, stg, s, unused);
#pragma unroll
    for (int i = 0; i < WR; i++) {
      float mx = -FLT_MAX;
#pragma unroll
      for (int j = 0; j < WC; j++) {
        if (!visible(i0 + ty + i * GRS, j0 + tx + j * GCS, S, has_seg, sg)) s[i][j] = -INFINITY;
        mx = fmax(mx, s[i][j]);
      }
      red[(ty + i * GRS) * GCS + tx] = mx;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
    for (int i = 0; i < WR; i++) {
      float mx = m[i];
      for (int t = 0; t < GCS; t++) mx = fmax(mx, red[(ty + i * GRS) * GCS + t]);
      const float alpha = EXPW(m[i] - mx);
      m[i] = mx;
      float ls = 0.0f;
#pragma unroll
      for (int j = 0; j < WC; j++) {
        const float p = EXPW(s[i][j] - mx);
        pl[(ty + i * GRS) * BCP + tx + j * GCS] = p;
        ls += p;
      }
      l[i] = l[i] * alpha + ls;
#pragma unroll
      for (int j = 0; j < WD; j++) oa[i][j] *= alpha;
    }
    outputs(0, pl, v + base, 1.0f, pl, v, 1.0f, j0, S, stg, oa, oa);
  }
  /* The row sum over the row's items, in a fixed order. */
  barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
  for (int i = 0; i < WR; i++) red[(ty + i * GRS) * GCS + tx] = l[i];
  barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
  for (int i = 0; i < WR; i++) {
    const int r = i0 + ty + i * GRS;
    float ls = 0.0f;
    for (int t = 0; t < GCS; t++) ls += red[(ty + i * GRS) * GCS + t];
    l[i] = 1.0f / ls;
    if (tx == 0 && r < S) lse[(size_t)bh * S + r] = m[i] + log(ls);
  }
#pragma unroll
  for (int i = 0; i < WR; i++)
#pragma unroll
    for (int j = 0; j < WD; j++) oa[i][j] *= l[i];
  store_rows(o + base, i0, S, oa, 1.0f);
}

#if DQP
#define WQ (DH / GRS) /* dQ partial columns of an item */
/* part[q][d] += sum_k dS[q][k] K[j0 + k][d] for the BC queries from i0 (dS^T in dl as the backward leaves it, keys
 * past S zero there): item (ty, tx) owns the queries of its score columns and WQ contiguous columns. Each (q, d)
 * has one owner, and only its group writes the slot, so the read-modify-write needs no atomics. */
static inline void dq_partial(__local const float *dl, __global const float *kr, const int j0, const int i0,
                              const int S, __global float *part) {
  const int lid = (int)get_local_id(0), ty = lid / GCS, tx = lid % GCS;
  float acc[WC][WQ];
#pragma unroll
  for (int j = 0; j < WC; j++)
#pragma unroll
    for (int d = 0; d < WQ; d++) acc[j][d] = 0.0f;
  for (int r = 0; r < BR; r++) {
    float kv[WQ];
    __global const float *row = kr + (size_t)min(j0 + r, S - 1) * RS + ty * WQ;
#pragma unroll
    for (int d = 0; d < WQ; d++) kv[d] = row[d];
#pragma unroll
    for (int j = 0; j < WC; j++) {
      const float ds = dl[r * BCP + tx + j * GCS];
#pragma unroll
      for (int d = 0; d < WQ; d++) acc[j][d] = MULADD(ds, kv[d], acc[j][d]);
    }
  }
#pragma unroll
  for (int j = 0; j < WC; j++) {
    const int qr = i0 + tx + j * GCS;
    if (qr >= S) continue;
    __global float *out = part + (size_t)qr * DH + ty * WQ;
#pragma unroll
    for (int d = 0; d < WQ; d++) out[d] += acc[j][d];
  }
}
#endif

/* Backward, dK and dV. Global (ceil(S/BR)*NWG, BH), local (NWG, 1): a work-group per BR key rows, over the query
 * tiles of BC from the block's diagonal to the end: S^T = K Qs^T and dP^T = V dO^T as tile products, P^T and
 * dS^T = P^T (dP^T - D) into __local memory, then dV += P^T dO and dK += dS^T Qs (q is scaled, so this is
 * scale * dS^T Q). lsep and dp are attn_bwd_stats' padded (BH, NT*16) rows.
 * DQP > 0 (direct form only): dQ comes from here too, with 5 tile products per pair of tiles instead of the 7 of
 * the two-pass form, into DQP partial slots per head (dqp: (slots, BH, S, DH), zeroed; attn_dq_sum adds them up):
 * global (NG*NWG, BH) with NG = min(DQP, key blocks), group g taking key blocks g, g + NG, ... one after the other,
 * so that no two groups write one slot. For devices whose __local and global memory are the same cache (CPUs under
 * llvmpipe), where the recomputed products of the dQ pass cost more than a partial's read-modify-write. */
__kernel __attribute__((reqd_work_group_size(NWG, 1, 1))) void attn_bwd(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const float *restrict dout, const ulong dout_off,
    __global const float *restrict lsep, __global const float *restrict dp, __global const int *restrict seg,
    const ulong seg_off, const int has_seg, __global float *restrict dk, const ulong dk_off,
    __global float *restrict dv, const ulong dv_off, __global float *restrict dqp, const int NG, const int S,
    const int NT, const int NH, const int BH, const float scale) {
  FLASH_LOCALS;
  const int nkb = (S + BR - 1) / BR, gk = (int)get_group_id(0), bh = (int)get_group_id(1);
  const int stride = DQP ? NG : nkb;    /* the groups of a head; without DQP each takes its one key block */
  if (gk >= stride || bh >= BH) return; /* whole groups only */
  q += q_off, k += k_off, v += v_off, dout += dout_off, seg += seg_off, dk += dk_off, dv += dv_off;
  const size_t base = XBASE(bh);
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  __global const float *lb = lsep + (size_t)bh * NT * 16, *db = dp + (size_t)bh * NT * 16;
#if DQP
  __global float *part = dqp + ((size_t)gk * BH + bh) * S * DH; /* this group's slot */
#else
  (void)dqp;
#endif
  for (int kb = gk; kb < nkb; kb += stride) {
    const int j0 = kb * BR; /* block 0 has the most queries: it starts first */
    float dka[WR][WD], dva[WR][WD], s[WR][WC], t[WR][WC];
#pragma unroll
    for (int i = 0; i < WR; i++)
#pragma unroll
      for (int j = 0; j < WD; j++) dka[i][j] = dva[i][j] = 0.0f;
    for (int i0 = j0 / BC * BC; i0 < S; i0 += BC) {
      scores(1, k + base, j0, 1.0f, q + base, i0, scale, v + base, dout + base, S, stg, s, t);
#pragma unroll
      for (int j = 0; j < WC; j++) {
        const int i = i0 + tx + j * GCS, ic = min(i, S - 1);
        const float li = lb[ic], di = db[ic];
#pragma unroll
        for (int r = 0; r < WR; r++) {
          const float p = visible(i, j0 + ty + r * GRS, S, has_seg, sg) ? EXPW(s[r][j] - li) : 0.0f;
          pl[(ty + r * GRS) * BCP + tx + j * GCS] = p;
          dl[(ty + r * GRS) * BCP + tx + j * GCS] = p * (t[r][j] - di);
        }
      }
      outputs(1, pl, dout + base, 1.0f, dl, q + base, scale, i0, S, stg, dva, dka);
#if DQP
      dq_partial(dl, k + base, j0, i0, S, part);
#endif
    }
    store_rows(dk + base, j0, S, dka, 1.0f);
    store_rows(dv + base, j0, S, dva, 1.0f);
  }
}

/* Backward, dQ: a second pass over the key tiles (no partial buffers, no atomics). Global (ceil(S/BR)*NWG, BH),
 * local (NWG, 1): a work-group per BR query rows; S = Qs K^T and dP = dO V^T as tile products, dS into __local
 * memory, dQ += dS K, scaled at the store. */
__kernel __attribute__((reqd_work_group_size(NWG, 1, 1))) void attn_bwd_dq(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const float *restrict dout, const ulong dout_off,
    __global const float *restrict lsep, __global const float *restrict dp, __global const int *restrict seg,
    const ulong seg_off, const int has_seg, __global float *restrict dq, const ulong dq_off, const int S, const int NT,
    const int NH, const int BH, const float scale) {
  FLASH_LOCALS;
  const int nqb = (S + BR - 1) / BR, gq = (int)get_group_id(0), bh = (int)get_group_id(1);
  if (gq >= nqb || bh >= BH) return; /* whole groups only */
  q += q_off, k += k_off, v += v_off, dout += dout_off, seg += seg_off, dq += dq_off;
  const int i0 = (nqb - 1 - gq) * BR;
  const size_t base = XBASE(bh);
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  float li[WR], di[WR], dqa[WR][WD], s[WR][WC], t[WR][WC];
#pragma unroll
  for (int i = 0; i < WR; i++) {
    const int r = min(i0 + ty + i * GRS, S - 1);
    li[i] = lsep[(size_t)bh * NT * 16 + r], di[i] = dp[(size_t)bh * NT * 16 + r];
#pragma unroll
    for (int j = 0; j < WD; j++) dqa[i][j] = 0.0f;
  }
  const int kend = min(i0 + BR, S);
  for (int j0 = 0; j0 < kend; j0 += BC) {
    scores(1, q + base, i0, scale, k + base, j0, 1.0f, dout + base, v + base, S, stg, s, t);
#pragma unroll
    for (int i = 0; i < WR; i++)
#pragma unroll
      for (int j = 0; j < WC; j++) {
        const int ok = visible(i0 + ty + i * GRS, j0 + tx + j * GCS, S, has_seg, sg);
        pl[(ty + i * GRS) * BCP + tx + j * GCS] = ok ? EXPW(s[i][j] - li[i]) * (t[i][j] - di[i]) : 0.0f;
      }
    outputs(0, pl, k + base, 1.0f, pl, k, 1.0f, j0, S, stg, dqa, dqa);
  }
  store_rows(dq + base, i0, S, dqa, scale);
}

/* Work-group reduction of x (max when is_max, else sum) through red[WG], in a fixed tree order; every work-item
 * gets the result. Ends with a barrier, so red may be reused at once. */
static inline float group_reduce(__local float *red, float x, int is_max, int lid) {
  red[lid] = x;
#define MAX_OR_ADD(a, b) (is_max ? fmax(a, b) : (a) + (b))
  LOCAL_TREE(red, lid, WG, MAX_OR_ADD);
#undef MAX_OR_ADD
  const float r = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

/* Dims of WG keys staged per pass in decode's __local key tile (LS = 1). */
#define DSL (DH % 32 ? 16 : 32)

/* Decode, step 2: the query of each sequence against cache positions [start[b], pos[b]] (pos: B positions,
 * then B starts), split into chunks of CH <= DCH keys (a multiple of WG); the work-group of a chunk leaves
 * (o[DH], m, l) in part (BH, NS, DH + 2). Global (NS*WG, BH), local (WG, 1). Scores, one key per work-item: with
 * LS = 1 WG keys at a time, their rows staged DSL dims per pass into __local memory by contiguous loads (lanes read
 * neighbouring elements of one row, where reading its own row would make a GPU's every load a gather), rows padded by
 * one against bank conflicts; with LS = 0 each work-item reads its key's row itself, 16 values a load (a CPU
 * device's lane streams it from cache, and barriers cost there). Then group max and sum, and o one column per
 * work-item (coalesced value rows). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attn_decode_part(
    __global const float *restrict qn, const ulong qn_off, __global const KV_T *restrict kc, const ulong kc_off,
    __global const KV_T *restrict vc, const ulong vc_off, __global const int *restrict pos,
    __global float *restrict part, __global float *restrict o, const ulong o_off, __global float *restrict lse,
    const ulong lse_off, const int has_lse, const int CAP, const int NH, const int BH, const int NS, const int CH,
    const float scale2) {
  __local float sc[DCH], red[WG], qs[DH];
#if LS
  __local float kt[WG * (DSL + 1)];
#endif
  const int sp = (int)get_group_id(0), bh = (int)get_group_id(1), lid = (int)get_local_id(0);
  if (sp >= NS || bh >= BH) return; /* whole groups only */
  qn += qn_off, kc += kc_off, vc += vc_off, o += o_off, lse += lse_off;
  const int b = bh / NH;
  const int2 span = decode_span(pos, NH, BH, CH, b, sp);
  const int lo = span.x, hi = span.y, n = max(0, min(CH, hi - lo));
  __global const KV_T *kb = kc + (size_t)bh * CAP * DH, *vb = vc + (size_t)bh * CAP * DH;
  for (int c = lid; c < DH; c += WG) qs[c] = qn[(size_t)bh * DH + c] * scale2;
  float mx = -FLT_MAX;
#if LS
  for (int t0 = 0; t0 < n; t0 += WG) {
    float d = 0.0f;
    for (int s0 = 0; s0 < DH; s0 += DSL) {
      barrier(CLK_LOCAL_MEM_FENCE); /* qs written, the previous slice used up */
      for (int e = lid; e < WG * DSL; e += WG) {
        const int r = e / DSL, j = lo + t0 + r;
        kt[r * (DSL + 1) + e % DSL] = j < hi ? KV_AT(kb, (size_t)j * DH + s0 + e % DSL) : 0.0f;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      for (int c = 0; c < DSL; c++) d = MULADD(qs[s0 + c], kt[lid * (DSL + 1) + c], d);
    }
    d = t0 + lid < n ? d : -FLT_MAX;
    sc[t0 + lid] = d;
    mx = fmax(mx, d);
  }
#else
  barrier(CLK_LOCAL_MEM_FENCE); /* qs written */
  for (int t = lid; t < n; t += WG) {
    float16 acc = (float16)(0.0f);
    for (int c = 0; c < NC; c++) acc = MULADD(vload16(c, qs), KV_LOAD16(c, kb + (size_t)(lo + t) * DH), acc);
    const float d = hsum16(acc);
    sc[t] = d;
    mx = fmax(mx, d);
  }
#endif
  const float m = group_reduce(red, mx, 1, lid);
  float ls = 0.0f;
  for (int t = lid; t < n; t += WG) {
    const float p = exp2(sc[t] - m);
    sc[t] = p;
    ls += p;
  }
  const float l = group_reduce(red, ls, 0, lid); /* its barriers also publish sc */
  /* one chunk: o and lse as attn_decode_combine would write them */
  __global float *out = NS == 1 ? o + (size_t)bh * DH : part + ((size_t)bh * NS + sp) * (DH + 2);
  for (int c = lid; c < DH; c += WG) {
    float a = 0.0f;
    for (int t = 0; t < n; t++) a = MULADD(sc[t], KV_AT(vb, (size_t)(lo + t) * DH + c), a);
    out[c] = NS == 1 ? a / l : a;
  }
  if (lid == 0 && NS == 1 && has_lse) lse[bh] = decode_lse(m, l);
  if (lid == 0 && NS > 1) {
    out[DH] = m;
    out[DH + 1] = l;
  }
}

#endif /* VARIANT_GPU */
