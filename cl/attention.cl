/* Causal multi-head attention for (B, NH, S, DH) float32 tensors, flash style: forward with an online
 * softmax that never holds S x S, backward recomputing probabilities from the saved log-sum-exp, and
 * KV-cache decode. Two variants of the kernels (runtime/variant.h), chosen by VARIANT_GPU:
 *   cpu (default): one work-item per work-group owning a register block, explicit float16 vectors, no __local
 *     memory and no barriers;
 *   gpu (-D VARIANT_GPU): work-groups of WG work-items, one query (forward, dQ) or key (dK, dV) row per
 *     work-item, the other side staged through __local memory BT rows at a time and read by every work-item
 *     at the same address (a broadcast); dQ is a second pass over the keys, not partials; decode splits a
 *     chunk of the cache over the group's work-items and reduces through __local memory.
 * attn_bwd_stats, attn_append and attn_decode_combine are shared; attn_tile_t and attn_dq_reduce are the cpu
 * variant's, attn_bwd_dq the gpu variant's.
 *
 * Defines: DH (head dim, a multiple of 16); cpu: BQ (query rows per forward work-item), KB (key tiles of 16 per
 * backward block); gpu: WG (work-group size, a power of two), BT (rows per __local tile; 2*BT*DH floats must
 * fit the device's local memory), DCH (decode scores per work-group in __local memory, a multiple of WG).
 *
 * Layouts. "rows": (BH, S, DH) as given. "tiles" (cpu): keys or queries grouped by 16 and transposed,
 * (BH, NT, DH, 16) with NT = ceil(S/16) and zero padding, so that a score tile is DH float16 outer
 * products read from one contiguous block. The forward and the backward compute every score with the same
 * operations in the same order (q scaled by 1/sqrt(DH) first, then one fma per dimension), and lse is the
 * natural-log m + log(l) rounded once: the backward's exp(s - lse) then gives the row maximum exactly the
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

#define LN2 0.69314718055994530942f

/* rows -> tiles, zero padded. Global (NT, BH). */
__kernel void attn_tile_t(__global const float *restrict src, const ulong src_off, __global float *restrict dst,
                          const int S, const int NT, const int BH) {
  const int t = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (t >= NT || bh >= BH) return;
  src += src_off;
  __global const float *s = src + (size_t)bh * S * DH;
  __global float *d = dst + ((size_t)bh * NT + t) * DH * 16;
  const int r0 = t * 16, n = min(16, S - r0);
  float col[16];
  for (int k = 0; k < DH; k++) {
    for (int r = 0; r < 16; r++) col[r] = r < n ? s[(size_t)(r0 + r) * DH + k] : 0.0f;
    vstore16(vload16(0, col), k, d);
  }
}

/* Per-row backward statistics into padded (BH, NT*16) buffers: D = rowsum(dO * O) and lse.
 * Global (NT*16, BH). */
__kernel void attn_bwd_stats(__global const float *restrict o, const ulong o_off, __global const float *restrict dout,
                             const ulong dout_off, __global const float *restrict lse, const ulong lse_off,
                             __global float *restrict dp, __global float *restrict lsep, const int S, const int NT,
                             const int BH) {
  const int r = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (r >= NT * 16 || bh >= BH) return;
  o += o_off, dout += dout_off, lse += lse_off;
  const size_t out = (size_t)bh * NT * 16 + r;
  if (r >= S) {
    dp[out] = 0.0f;
    lsep[out] = 0.0f;
    return;
  }
  const size_t row = ((size_t)bh * S + r) * DH;
  float16 acc = (float16)(0.0f);
  for (int c = 0; c < NC; c++) acc = fma(vload16(c, o + row), vload16(c, dout + row), acc);
  dp[out] = hsum16(acc);
  lsep[out] = lse[(size_t)bh * S + r];
}

/* Decode, step 1: write the new token's k and v at position pos[b] of the cache (BH, CAP, DH); pos holds the
 * B positions followed by the B starts (step 2 reads both). Global (BH). */
__kernel void attn_append(__global float *restrict kc, const ulong kc_off, __global float *restrict vc,
                          const ulong vc_off, __global const float *restrict kn, const ulong kn_off,
                          __global const float *restrict vn, const ulong vn_off, __global const int *restrict pos,
                          const int CAP, const int NH, const int BH) {
  const int bh = (int)get_global_id(0);
  if (bh >= BH) return;
  kc += kc_off, vc += vc_off, kn += kn_off, vn += vn_off;
  const size_t dst = ((size_t)bh * CAP + pos[bh / NH]) * DH;
  for (int c = 0; c < NC; c++) {
    vstore16(vload16(c, kn + (size_t)bh * DH), c, kc + dst);
    vstore16(vload16(c, vn + (size_t)bh * DH), c, vc + dst);
  }
}

/* Decode, step 3: merge the chunks into o (BH, DH) and, when has_lse, lse (BH). Global (BH). */
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
    for (int c = 0; c < NC; c++) acc[c] = fma((float16)(w), vload16(c, ps), acc[c]);
  }
  for (int c = 0; c < NC; c++) vstore16(acc[c] / l, c, o + (size_t)bh * DH);
  if (has_lse) lse[bh] = (m + log2(l)) * LN2;
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
  const size_t base = (size_t)bh * S * DH;
  __global const float *vb = v + base;
  __global const int *sg = seg + (size_t)(bh / NH) * S;

  float qs[BQ * DH];
  for (int i = 0; i < BQ; i++) {
    const int r = min(i0 + i, S - 1);
    for (int k = 0; k < DH; k++) qs[i * DH + k] = q[base + (size_t)r * DH + k] * scale;
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
      for (int i = 0; i < BQ; i++) s[i] = fma((float16)(qs[i * DH + k]), kv, s[i]);
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
        const float16 vv = vload16(c, vb + (size_t)min(j0 + j, S - 1) * DH);
#pragma unroll
        for (int i = 0; i < BQ; i++) a[i] = fma((float16)(pb[i * 16 + j]), vv, a[i]);
      }
#pragma unroll
      for (int i = 0; i < BQ; i++) oacc[i * NC + c] = a[i];
    }
  }
  for (int i = 0; i < BQ; i++) {
    const int r = i0 + i;
    if (r >= S) break;
    const float inv = 1.0f / l[i];
    for (int c = 0; c < NC; c++) vstore16(oacc[i * NC + c] * inv, c, o + base + (size_t)r * DH);
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
  const size_t base = (size_t)bh * S * DH;
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
        kp[j * DH + c] = r < S ? k[base + (size_t)r * DH + c] : 0.0f;
        vp[j * DH + c] = r < S ? v[base + (size_t)r * DH + c] : 0.0f;
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
         * scaled q, the same fma order (fma(a, b, c) = fma(b, a, c) bit for bit). */
        float16 acc[16];
#pragma unroll
        for (int j = 0; j < 16; j++) acc[j] = (float16)(0.0f);
        for (int c = 0; c < DH; c++) {
          const float16 x = vload16(c, qtb) * (float16)(scale);
#pragma unroll
          for (int j = 0; j < 16; j++) acc[j] = fma((float16)(kpt[j * DH + c]), x, acc[j]);
        }
#pragma unroll
        for (int j = 0; j < 16; j++) vstore16(select(exp(acc[j] - lv), (float16)(0.0f), bad[j]), j, pbt);
          /* dS^T = P^T * (dP^T - D), dP^T = V dO^T. */
#pragma unroll
        for (int j = 0; j < 16; j++) acc[j] = (float16)(0.0f);
        for (int c = 0; c < DH; c++) {
          const float16 x = vload16(c, dotb);
#pragma unroll
          for (int j = 0; j < 16; j++) acc[j] = fma((float16)(vpt[j * DH + c]), x, acc[j]);
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
            const float16 x = vload16(c, dob + (size_t)min(i0 + i, S - 1) * DH);
#pragma unroll
            for (int j = 0; j < 16; j++) a[j] = fma((float16)(pbt[j * 16 + i]), x, a[j]);
          }
#pragma unroll
          for (int j = 0; j < 16; j++) dvt[j * NC + c] = a[j];
#pragma unroll
          for (int j = 0; j < 16; j++) a[j] = dkt[j * NC + c];
          for (int i = 0; i < 16; i++) {
            const float16 x = vload16(c, qb + (size_t)min(i0 + i, S - 1) * DH);
#pragma unroll
            for (int j = 0; j < 16; j++) a[j] = fma((float16)(sbt[j * 16 + i]), x, a[j]);
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
            for (int i = 0; i < 16; i++) a[i] = fma((float16)(sr[i]), x, a[i]);
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
        vstore16(dka[j * NC + c] * scale, c, dk + base + (size_t)r * DH);
        vstore16(dva[j * NC + c], c, dv + base + (size_t)r * DH);
      }
    }
  }
}

/* dQ = scale * sum of the partials of the groups that cover the row. Global (S, BH). */
__kernel void attn_dq_reduce(__global const float *restrict dqp, __global float *restrict dq, const ulong dq_off,
                             const int S, const int NT, const int BH, const int G, const float scale) {
  const int r = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (r >= S || bh >= BH) return;
  dq += dq_off;
  const int NB = (NT + KB - 1) / KB;
  float16 acc[NC];
  for (int c = 0; c < NC; c++) acc[c] = (float16)(0.0f);
  for (int g = 0; g < G; g++) {
    const int b0 = group_start(g, G, NB);
    if (b0 >= group_start(g + 1, G, NB) || r < b0 * KB * 16) continue;
    __global const float *p = dqp + (((size_t)g * BH + bh) * NT * 16 + r) * DH;
    for (int c = 0; c < NC; c++) acc[c] += vload16(c, p);
  }
  for (int c = 0; c < NC; c++) vstore16(acc[c] * scale, c, dq + ((size_t)bh * S + r) * DH);
}

/* Decode, step 2: the query of each sequence against cache positions [start[b], pos[b]] (pos: B positions,
 * then B starts), split into chunks of CH keys; each work-item leaves (m, l, o[DH]) of its chunk in part
 * (BH, NS, DH + 2). Global (NS, BH). */
__kernel void attn_decode_part(__global const float *restrict qn, const ulong qn_off, __global const float *restrict kc,
                               const ulong kc_off, __global const float *restrict vc, const ulong vc_off,
                               __global const int *restrict pos, __global float *restrict part, const int CAP,
                               const int NH, const int BH, const int NS, const int CH, const float scale2) {
  const int sp = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (sp >= NS || bh >= BH) return;
  qn += qn_off, kc += kc_off, vc += vc_off;
  const int b = bh / NH;
  const int lo = pos[BH / NH + b] + sp * CH, hi = min(lo + CH, pos[b] + 1);
  float16 qv[NC], oa[NC];
  for (int c = 0; c < NC; c++) {
    qv[c] = vload16(c, qn + (size_t)bh * DH) * scale2;
    oa[c] = (float16)(0.0f);
  }
  float m = -FLT_MAX, l = 0.0f, sc[16];
  __global const float *kb = kc + (size_t)bh * CAP * DH;
  __global const float *vb = vc + (size_t)bh * CAP * DH;
  for (int j0 = lo; j0 < hi; j0 += 16) {
    const int n = min(16, hi - j0);
    float mx = -FLT_MAX;
    for (int j = 0; j < n; j++) {
      float16 acc = (float16)(0.0f);
      for (int c = 0; c < NC; c++) acc = fma(qv[c], vload16(c, kb + (size_t)(j0 + j) * DH), acc);
      sc[j] = hsum16(acc);
      mx = fmax(mx, sc[j]);
    }
    const float mnew = fmax(m, mx), alpha = exp2(m - mnew);
    l *= alpha;
    for (int c = 0; c < NC; c++) oa[c] *= alpha;
    for (int j = 0; j < n; j++) {
      const float p = exp2(sc[j] - mnew);
      l += p;
      for (int c = 0; c < NC; c++) oa[c] = fma((float16)(p), vload16(c, vb + (size_t)(j0 + j) * DH), oa[c]);
    }
    m = mnew;
  }
  __global float *out = part + ((size_t)bh * NS + sp) * (DH + 2);
  for (int c = 0; c < NC; c++) vstore16(oa[c], c, out);
  out[DH] = m;
  out[DH + 1] = l;
}

#else /* VARIANT_GPU */

#ifndef WG
#define WG 64
#endif
#ifndef BT
#define BT 16
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

/* Every score is fma(q[k] * scale, key[k], acc) for k = 0..DH-1 from acc = 0, in the forward and in both backward
 * kernels, so that the backward's exp(s - lse) reproduces the forward's probabilities. The kernels compute the
 * BT scores of a tile together (k outer, tile rows inner) so that each element of the work-item's own row is read
 * once per BT fmas (from global memory, where it stays cached, to keep private arrays small), and accumulate outputs a
 * column at a time over the tile's rows for the same reason. */

/* Rows r0..r0+BT-1 of src (BH's block, row-major DH), zero past S, into dst: coalesced float4 loads spread over
 * the work-group; each dst value times mul. */
static inline void stage(__local float *dst, __global const float *src, int r0, int S, float mul, int lid) {
  for (int e = lid; e < BT * DH / 4; e += WG) {
    const int r = r0 + e / (DH / 4);
    const float4 x = r < S ? vload4(0, src + (size_t)r0 * DH + 4 * e) : (float4)(0.0f);
    vstore4(x * mul, e, dst);
  }
}

/* Forward. Global (ceil(S/WG)*WG, BH), local (WG, 1): work-group = WG query rows, one per work-item, blocks in
 * reverse so the longest (last) rows start first. Key and value tiles of BT rows pass through __local memory. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attn_fwd(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const int *restrict seg, const ulong seg_off,
    const int has_seg, __global float *restrict o, const ulong o_off, __global float *restrict lse, const ulong lse_off,
    const int S, const int NT, const int NH, const int BH, const float scale) {
  (void)NT;
  __local float kl[BT * DH], vl[BT * DH];
  const int nqb = (S + WG - 1) / WG, gq = (int)get_group_id(0), bh = (int)get_group_id(1);
  const int lid = (int)get_local_id(0);
  if (gq >= nqb || bh >= BH) return; /* whole groups only: no work-item skips a barrier */
  q += q_off, k += k_off, v += v_off, seg += seg_off, o += o_off, lse += lse_off;
  const int i0 = (nqb - 1 - gq) * WG, i = i0 + lid, r = min(i, S - 1);
  const size_t base = (size_t)bh * S * DH;
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  const int segi = has_seg ? sg[r] : 0;
  __global const float *qr = q + base + (size_t)r * DH; /* re-read per tile (cached), not held privately */
  float oa[DH], s[BT];
  for (int c = 0; c < DH; c++) oa[c] = 0.0f;
  /* m starts at -FLT_MAX, not -inf, so a fully masked tile gives exp(0) = 1 and never NaN. */
  float m = -FLT_MAX, l = 0.0f;
  const int kend = min(i0 + WG, S);
  for (int j0 = 0; j0 < kend; j0 += BT) {
    barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile is consumed */
    stage(kl, k + base, j0, S, 1.0f, lid);
    stage(vl, v + base, j0, S, 1.0f, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int nj = min(BT, min(S, i + 1) - j0); /* keys of the tile at or before row i */
    int live = 0;
    for (int jj = 0; jj < nj; jj++) live |= !has_seg || sg[j0 + jj] == segi;
    if (!live) continue; /* no visible key (causal or another document) */
#pragma unroll
    for (int jj = 0; jj < BT; jj++) s[jj] = 0.0f;
    for (int k_ = 0; k_ < DH; k_++) {
      const float x = qr[k_] * scale;
#pragma unroll
      for (int jj = 0; jj < BT; jj++) s[jj] = fma(x, kl[jj * DH + k_], s[jj]);
    }
    float mx = -FLT_MAX;
#pragma unroll
    for (int jj = 0; jj < BT; jj++) {
      s[jj] = jj < nj && (!has_seg || sg[j0 + jj] == segi) ? s[jj] : -INFINITY;
      mx = fmax(mx, s[jj]);
    }
    const float mnew = fmax(m, mx), alpha = exp(m - mnew);
    l *= alpha;
#pragma unroll
    for (int jj = 0; jj < BT; jj++) {
      s[jj] = exp(s[jj] - mnew);
      l += s[jj];
    }
    for (int c = 0; c < DH; c++) {
      float a = oa[c] * alpha;
#pragma unroll
      for (int jj = 0; jj < BT; jj++) a = fma(s[jj], vl[jj * DH + c], a);
      oa[c] = a;
    }
    m = mnew;
  }
  if (i < S) {
    const float inv = 1.0f / l;
    for (int c = 0; c < DH; c++) o[base + (size_t)i * DH + c] = oa[c] * inv;
    lse[(size_t)bh * S + i] = m + log(l);
  }
}

/* Backward, dK and dV. Global (ceil(S/WG)*WG, BH), local (WG, 1): work-group = WG key rows, one per work-item,
 * holding k, v and their gradients; the query side (scaled q and dO) passes through __local memory BT rows at a
 * time, from the block's diagonal to the end. lsep and dp are attn_bwd_stats' padded (BH, NT*16) rows. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attn_bwd(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const float *restrict dout, const ulong dout_off,
    __global const float *restrict lsep, __global const float *restrict dp, __global const int *restrict seg,
    const ulong seg_off, const int has_seg, __global float *restrict dk, const ulong dk_off,
    __global float *restrict dv, const ulong dv_off, const int S, const int NT, const int NH, const int BH,
    const float scale) {
  __local float ql[BT * DH], dol[BT * DH];
  const int nkb = (S + WG - 1) / WG, gk = (int)get_group_id(0), bh = (int)get_group_id(1);
  const int lid = (int)get_local_id(0);
  if (gk >= nkb || bh >= BH) return; /* whole groups only */
  q += q_off, k += k_off, v += v_off, dout += dout_off, seg += seg_off, dk += dk_off, dv += dv_off;
  const int j0 = gk * WG, j = j0 + lid, r = min(j, S - 1); /* block 0 has the most queries: it starts first */
  const size_t base = (size_t)bh * S * DH;
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  __global const float *lb = lsep + (size_t)bh * NT * 16, *db = dp + (size_t)bh * NT * 16;
  const int segj = has_seg ? sg[r] : 0;
  __global const float *kr = k + base + (size_t)r * DH, *vr = v + base + (size_t)r * DH; /* re-read per tile */
  float dka[DH], dva[DH];
  for (int c = 0; c < DH; c++) dka[c] = dva[c] = 0.0f;
  for (int i0 = j0; i0 < S; i0 += BT) {
    barrier(CLK_LOCAL_MEM_FENCE);
    stage(ql, q + base, i0, S, scale, lid);
    stage(dol, dout + base, i0, S, 1.0f, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int ni = min(BT, S - i0);
    int live = 0;
    for (int ii = 0; ii < ni; ii++) live |= j <= i0 + ii && j < S && (!has_seg || sg[i0 + ii] == segj);
    if (!live) continue; /* no visible query (causal or another document) */
    float s[BT], d[BT];  /* scores, then P; dP = dO v, then dS */
#pragma unroll
    for (int ii = 0; ii < BT; ii++) s[ii] = d[ii] = 0.0f;
    for (int k_ = 0; k_ < DH; k_++) {
      const float x = kr[k_], y = vr[k_];
#pragma unroll
      for (int ii = 0; ii < BT; ii++) {
        s[ii] = fma(ql[ii * DH + k_], x, s[ii]);
        d[ii] = fma(dol[ii * DH + k_], y, d[ii]);
      }
    }
#pragma unroll
    for (int ii = 0; ii < BT; ii++) {
      const int i = min(i0 + ii, S - 1);
      const int ok = ii < ni && j <= i && (!has_seg || sg[i] == segj);
      s[ii] = ok ? exp(s[ii] - lb[i]) : 0.0f;
      d[ii] = s[ii] * (d[ii] - db[i]);
    }
    for (int c = 0; c < DH; c++) {
      float a = dva[c], b = dka[c];
#pragma unroll
      for (int ii = 0; ii < BT; ii++) {
        a = fma(s[ii], dol[ii * DH + c], a);
        b = fma(d[ii], ql[ii * DH + c], b); /* q is scaled: dK = scale * dS^T Q */
      }
      dva[c] = a, dka[c] = b;
    }
  }
  if (j < S)
    for (int c = 0; c < DH; c++) {
      dk[base + (size_t)j * DH + c] = dka[c];
      dv[base + (size_t)j * DH + c] = dva[c];
    }
}

/* Backward, dQ: a second pass over the key tiles (no partial buffers, no atomics). Global (ceil(S/WG)*WG, BH),
 * local (WG, 1): work-group = WG query rows, one per work-item, keys and values through __local memory as in
 * the forward. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attn_bwd_dq(
    __global const float *restrict q, const ulong q_off, __global const float *restrict k, const ulong k_off,
    __global const float *restrict v, const ulong v_off, __global const float *restrict dout, const ulong dout_off,
    __global const float *restrict lsep, __global const float *restrict dp, __global const int *restrict seg,
    const ulong seg_off, const int has_seg, __global float *restrict dq, const ulong dq_off, const int S, const int NT,
    const int NH, const int BH, const float scale) {
  __local float kl[BT * DH], vl[BT * DH];
  const int nqb = (S + WG - 1) / WG, gq = (int)get_group_id(0), bh = (int)get_group_id(1);
  const int lid = (int)get_local_id(0);
  if (gq >= nqb || bh >= BH) return; /* whole groups only */
  q += q_off, k += k_off, v += v_off, dout += dout_off, seg += seg_off, dq += dq_off;
  const int i0 = (nqb - 1 - gq) * WG, i = i0 + lid, r = min(i, S - 1);
  const size_t base = (size_t)bh * S * DH;
  __global const int *sg = seg + (size_t)(bh / NH) * S;
  const int segi = has_seg ? sg[r] : 0;
  const float li = lsep[(size_t)bh * NT * 16 + r], di = dp[(size_t)bh * NT * 16 + r];
  __global const float *qr = q + base + (size_t)r * DH, *dor = dout + base + (size_t)r * DH; /* re-read per tile */
  float dqa[DH];
  for (int c = 0; c < DH; c++) dqa[c] = 0.0f;
  const int kend = min(i0 + WG, S);
  for (int j0 = 0; j0 < kend; j0 += BT) {
    barrier(CLK_LOCAL_MEM_FENCE);
    stage(kl, k + base, j0, S, 1.0f, lid);
    stage(vl, v + base, j0, S, 1.0f, lid);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int nj = min(BT, min(S, i + 1) - j0);
    int live = 0;
    for (int jj = 0; jj < nj; jj++) live |= !has_seg || sg[j0 + jj] == segi;
    if (!live) continue;
    float s[BT], d[BT]; /* scores, then dS; dP = dO v */
#pragma unroll
    for (int jj = 0; jj < BT; jj++) s[jj] = d[jj] = 0.0f;
    for (int k_ = 0; k_ < DH; k_++) {
      const float x = qr[k_] * scale, y = dor[k_];
#pragma unroll
      for (int jj = 0; jj < BT; jj++) {
        s[jj] = fma(x, kl[jj * DH + k_], s[jj]);
        d[jj] = fma(y, vl[jj * DH + k_], d[jj]);
      }
    }
#pragma unroll
    for (int jj = 0; jj < BT; jj++) {
      const int ok = jj < nj && (!has_seg || sg[j0 + jj] == segi);
      s[jj] = ok ? exp(s[jj] - li) * (d[jj] - di) : 0.0f;
    }
    for (int c = 0; c < DH; c++) {
      float a = dqa[c];
#pragma unroll
      for (int jj = 0; jj < BT; jj++) a = fma(s[jj], kl[jj * DH + c], a);
      dqa[c] = a;
    }
  }
  if (i < S)
    for (int c = 0; c < DH; c++) dq[base + (size_t)i * DH + c] = dqa[c] * scale;
}

/* Work-group reduction of x (max when is_max, else sum) through red[WG], in a fixed tree order; every work-item
 * gets the result. Ends with a barrier, so red may be reused at once. */
static inline float group_reduce(__local float *red, float x, int is_max, int lid) {
  red[lid] = x;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = WG / 2; w > 0; w >>= 1) {
    if (lid < w) red[lid] = is_max ? fmax(red[lid], red[lid + w]) : red[lid] + red[lid + w];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

/* Decode, step 2: the query of each sequence against cache positions [start[b], pos[b]] (pos: B positions,
 * then B starts), split into chunks of CH <= DCH keys (a multiple of WG); the work-group of a chunk leaves
 * (o[DH], m, l) in part (BH, NS, DH + 2). Global (NS*WG, BH), local (WG, 1): scores one key per work-item into
 * __local memory, group max and sum, then o one column per work-item (coalesced value rows). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attn_decode_part(
    __global const float *restrict qn, const ulong qn_off, __global const float *restrict kc, const ulong kc_off,
    __global const float *restrict vc, const ulong vc_off, __global const int *restrict pos,
    __global float *restrict part, const int CAP, const int NH, const int BH, const int NS, const int CH,
    const float scale2) {
  __local float sc[DCH], red[WG];
  const int sp = (int)get_group_id(0), bh = (int)get_group_id(1), lid = (int)get_local_id(0);
  if (sp >= NS || bh >= BH) return; /* whole groups only */
  qn += qn_off, kc += kc_off, vc += vc_off;
  const int b = bh / NH;
  const int lo = pos[BH / NH + b] + sp * CH, hi = min(lo + CH, pos[b] + 1);
  __global const float *qb = qn + (size_t)bh * DH;
  __global const float *kb = kc + (size_t)bh * CAP * DH, *vb = vc + (size_t)bh * CAP * DH;
  float mx = -FLT_MAX;
  for (int t = lid; t < CH; t += WG) {
    float d = -FLT_MAX;
    if (lo + t < hi) {
      d = 0.0f;
      for (int c = 0; c < DH; c++) d = fma(qb[c] * scale2, kb[(size_t)(lo + t) * DH + c], d);
    }
    sc[t] = d;
    mx = fmax(mx, d);
  }
  const float m = group_reduce(red, mx, 1, lid);
  float ls = 0.0f;
  for (int t = lid; t < CH; t += WG) {
    const float p = lo + t < hi ? exp2(sc[t] - m) : 0.0f;
    sc[t] = p;
    ls += p;
  }
  const float l = group_reduce(red, ls, 0, lid); /* its barriers also publish sc */
  __global float *out = part + ((size_t)bh * NS + sp) * (DH + 2);
  const int n = max(0, min(CH, hi - lo));
  for (int c = lid; c < DH; c += WG) {
    float a = 0.0f;
    for (int t = 0; t < n; t++) a = fma(sc[t], vb[(size_t)(lo + t) * DH + c], a);
    out[c] = a;
  }
  if (lid == 0) {
    out[DH] = m;
    out[DH + 1] = l;
  }
}

#endif /* VARIANT_GPU */
