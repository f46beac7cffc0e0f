/* mLSTM cell, chunkwise form (forward, custom backward) and the recurrent step, float32.
 * Layout: q, k (BH, S, DQK); v, h (BH, S, DV); gates (BH, S). The sequence is cut into NC = ceil(S/L) chunks;
 * the last one may be shorter (len < L) and every kernel bounds-checks against len. With NHT > 1, q, k, v, h and
 * their gradients are token-major instead, (B, S, NHT, D) with BH = B * NHT, as the model's projections write them:
 * row XROW(bh, t) holds token t of head bh, and a chunk's consecutive tokens are NHT rows apart. The gates and
 * every per-token workspace stay head-major (row bh * S + t).
 *
 * Defines: L (chunk length, multiple of 16), DQK, DV (multiples of 8), VW (8 or 16: vector width along the
 * output columns, dividing DQK and DV), NHT (heads per token row; 1: head-major).
 *
 * PoCL on CPUs runs each work-item as a scalar loop and vectorises nothing across work-items when the code
 * uses explicit vectors, so every kernel keeps an RM x VW register tile of float vectors, uses no local memory
 * and no barriers, and gives each work-item enough rows or chunks to amortise the per-work-group overhead.
 *
 * Per-token gate quantities (written by mlstm_gates, read by the rest), for token t of chunk c with carried
 * stabilizer m_c and b_t = inclusive sum of log sigmoid(f) within the chunk:
 *   lb[t] = b_t,  mc[t] = max(b_t + m_c, max_{u<=t}(b_t - b_u + i_u))  (the row stabilizer, m_out),
 *   beta[t] = exp(b_t + m_c - mc[t]) * scale  (weight of the carried state in row t, q scale folded in),
 *   abar[t] = exp(g - b_t + i_t - m_{c+1})    (weight of token t in the next state; g = b_{len-1}),
 * and per chunk alpha[c] = exp(g + m_c - m_{c+1}) (decay of the carried state) and mk[c] = m_c (NC + 1). */

#include "common.clh"

#define RM 8
#define VEC FLOATN(VW)
#define VLOAD VLOADN(VW)
#define VSTORE VSTOREN(VW)

#ifndef NHT
#define NHT 1
#endif
#if defined(MLSTM_GPU) && !defined(LS)
#define LS 1 /* gpu variant: operands staged in __local memory (see the gpu section) */
#endif
#define XROW(bh, t) (((size_t)((bh) / NHT) * S + (size_t)(t)) * NHT + (size_t)((bh) % NHT))

/* log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), without overflow; for a float or a float16. */
#define LOGSIGMOID(x) (fmin((x), 0.0f) - log1p(exp(-fabs(x))))

inline float logsigmoid(float x) {
  return LOGSIGMOID(x);
}

/* The log weight of each token of a chunk at its end, g - b_t + i_t, as a reverse sum (no cancellation), in place
 * over the chunk's log sigmoid(f) in lw; returns the largest. */
inline float log_weights(__global const float *ig, __global float *lw, const int len) {
  float rev = 0.0f, amax = -INFINITY;
  for (int t = len - 1; t >= 0; t--) {
    const float a = rev + ig[t];
    rev += lw[t];
    lw[t] = a;
    amax = fmax(amax, a);
  }
  return amax;
}

#ifndef MLSTM_GPU
/* p[0..16) as a float16, zeros past n (n < 16: the short end of a chunk); store16_upto writes only p[0..n). */
inline float16 load16_upto(__global const float *p, const int n) {
  if (n >= 16) return vload16(0, p);
  float a[16];
  for (int j = 0; j < 16; j++) a[j] = j < n ? p[j] : 0.0f;
  return vload16(0, a);
}

inline void store16_upto(const float16 v, __global float *p, const int n) {
  if (n >= 16) {
    vstore16(v, 0, p);
    return;
  }
  float a[16];
  vstore16(v, 0, a);
  for (int j = 0; j < n; j++) p[j] = a[j];
}

/* cpu variant, one work-item per head: the gate scan is O(S) and sequential across chunks. Per chunk the
 * transcendental functions run 16 tokens at a time (log sigmoid(f) first, parked in abar; the exponentials last), and
 * only the scans between them go token by token: one scalar chain of exp and log1p per token ran 4x slower on PoCL. */
__kernel void mlstm_gates(const int BH, const int S, const int NC, const float scale, __global const float *ig,
                          const ulong ig_off, __global const float *fg, const ulong fg_off, __global const float *m0,
                          const ulong m0_off, const int has_m0, __global float *lb, __global float *mc,
                          __global float *beta, __global float *abar, __global float *mk, __global float *alpha,
                          __global float *m_last, const ulong m_last_off, const int has_last) {
  const int bh = get_global_id(0);
  if (bh >= BH) return;
  ig += ig_off, fg += fg_off, m0 += m0_off, m_last += m_last_off;
  const size_t base = (size_t)bh * S;
  float m = has_m0 ? m0[bh] : 0.0f;
  mk[(size_t)bh * (NC + 1)] = m;
  for (int c = 0; c < NC; c++) {
    const int t0 = c * L, len = min(L, S - t0);
    const size_t r0 = base + t0;
    for (int t = 0; t < len; t += 16)
      store16_upto(LOGSIGMOID(load16_upto(fg + r0 + t, len - t)), abar + r0 + t, len - t);
    float acc = 0.0f, pref = -INFINITY;
    for (int t = 0; t < len; t++) {
      acc += abar[r0 + t];
      lb[r0 + t] = acc;
      pref = fmax(pref, ig[r0 + t] - acc);
      mc[r0 + t] = acc + fmax(m, pref);
    }
    const float amax = log_weights(ig + r0, abar + r0, len);
    const float mn = fmax(acc + m, amax);
    for (int t = 0; t < len; t += 16) {
      const int n = len - t;
      store16_upto(exp(load16_upto(lb + r0 + t, n) + m - load16_upto(mc + r0 + t, n)) * scale, beta + r0 + t, n);
      store16_upto(exp(load16_upto(abar + r0 + t, n) - mn), abar + r0 + t, n);
    }
    alpha[(size_t)bh * NC + c] = exp(acc + m - mn);
    m = mn;
    mk[(size_t)bh * (NC + 1) + c + 1] = m;
  }
  if (has_last) m_last[bh] = m;
}
#endif

#if !defined(MLSTM_GPU) || !LS
/* Chunk transpose: xt[g][c] (D x L) = x rows of chunk c of head bh0+g, zero-padded past len. The cpu variant and
 * the gpu variant's direct form (LS = 0, no barriers), one work-item per chunk: the scores kernels read it as the B
 * operand with vectors along the chunk. Rows move in 4 x 4 blocks transposed by one swizzle (a scalar scatter per
 * value ran about 3x slower on PoCL); the rows past len of a short last chunk one value at a time. */
__kernel void mlstm_transpose(const int S, const int NC, const int D, const int bh0, const int G,
                              __global const float *x, const ulong x_off, __global float *xt) {
  const int c = get_global_id(0), g = get_global_id(1);
  if (c >= NC || g >= G) return;
  x += x_off;
  const int t0 = c * L, len = min(L, S - t0);
  const size_t rs = (size_t)NHT * D;
  __global const float *src = x + XROW(bh0 + g, t0) * D;
  __global float *dst = xt + ((size_t)g * NC + c) * D * L;
  for (int t = 0; t < L; t += 4) {
    __global const float *a = src + t * rs;
    if (t + 4 <= len) {
      for (int d = 0; d < D; d += 4) transpose4x4(a + d, rs, dst + (size_t)d * L + t, L);
    } else {
      for (int d = 0; d < D; d++)
        for (int i = 0; i < 4; i++) dst[(size_t)d * L + t + i] = t + i < len ? a[i * rs + d] : 0.0f;
    }
  }
}
#endif

/* The backward's per-token gate gradients of token row x: *di = v . dv and *df = q . dq - k . dk. */
inline void token_dots(const size_t x, __global const float *q, __global const float *k, __global const float *v,
                       __global const float *dq, __global const float *dk, __global const float *dv,
                       __global float *di, __global float *df) {
  float8 a = (float8)(0.0f), b = (float8)(0.0f);
  for (int e = 0; e < DV; e += 8) a = MULADD(vload8(0, v + x * DV + e), vload8(0, dv + x * DV + e), a);
  for (int e = 0; e < DQK; e += 8) {
    b = MULADD(vload8(0, q + x * DQK + e), vload8(0, dq + x * DQK + e), b);
    b = MULADD(-vload8(0, k + x * DQK + e), vload8(0, dk + x * DQK + e), b);
  }
  *di = hsum8(a);
  *df = hsum8(b);
}

#ifndef MLSTM_GPU
/* Backward gates, per chunk: di_t = v_t . dv_t and (into df) q_t . dq_t - k_t . dk_t. An item takes one chunk of
 * NHT heads (a token's heads, contiguous when token-major). */
__kernel void mlstm_bwd_dots(const int BH, const int S, const int NC, __global const float *q, const ulong q_off,
                             __global const float *k, const ulong k_off, __global const float *v, const ulong v_off,
                             __global const float *dq, const ulong dq_off, __global const float *dk, const ulong dk_off,
                             __global const float *dv, const ulong dv_off, __global float *di, const ulong di_off,
                             __global float *df, const ulong df_off) {
  const int c = get_global_id(0), hg = get_global_id(1);
  if (c >= NC || hg * NHT >= BH) return;
  q += q_off, k += k_off, v += v_off, dq += dq_off, dk += dk_off, dv += dv_off, di += di_off, df += df_off;
  const int t0 = c * L, len = min(L, S - t0);
  for (int u = 0; u < len * NHT; u++) {
    const int t = u / NHT, bh = hg * NHT + u % NHT;
    const size_t r = (size_t)bh * S + t0 + t, x = XROW(bh, t0 + t);
    token_dots(x, q, k, v, dq, dk, dv, di + r, df + r);
  }
}

/* df_t = sigma(-f_t) * sum_{s>=t} (q.dq - k.dk)_s, in place over the values mlstm_bwd_dots left in df. */
__kernel void mlstm_bwd_fscan(const int BH, const int S, __global const float *fg, const ulong fg_off,
                              __global float *df, const ulong df_off) {
  const int bh = get_global_id(0);
  if (bh >= BH) return;
  fg += fg_off, df += df_off;
  float acc = 0.0f;
  for (int t = S - 1; t >= 0; t--) {
    const size_t r = (size_t)bh * S + t;
    acc += df[r];
    df[r] = acc / (1.0f + exp(fg[r]));
  }
}
#endif

#ifdef MLSTM_GPU
/* gpu variant: work-groups of WGS = (TM/WM) x (TN/WN) work-items own a TM x TN output tile; operand tiles of TK
 * columns are staged in __local memory (A as TK x TM, B as TK x TN) with coalesced loads, and each work-item keeps a
 * WM x WN register tile (rows ty + i*TM/WM, columns tx + j*TN/WN). The scan and the step stream their state through
 * ST x ST tiles and SWG-item groups. Out-of-range rows, columns and tokens are staged as zeros and never stored.
 * LS = 0 reads the operands straight from global memory instead, with the same register tiles (adjacent items still
 * read adjacent columns): for devices whose __local memory is ordinary cached memory, like CPUs under rusticl
 * llvmpipe, where each barrier switches between the work-group's SIMD batches and costs more than the loads it
 * saves (a 64^3 chunk product there: 8 GFLOP/s direct with WM x WN = 8 x 4, 5.8 staged with TK = 64, 0.9 staged with
 * the defaults). TK is unused then.
 * VL = 1 gives each work-item contiguous rows ty*WM + i and columns tx*WN + j instead of interleaved ones and reads
 * its operands from the staged tiles four at a time (float4): per step of k, WM/4 + WN/4 __local loads for WM x WN
 * multiply-adds instead of WM + WN; a GPU reads a few words of shared memory a clock per multiply-add lane, so the
 * interleaved scalar reads hold a 4 x 4 tile to half the FMA rate. The staged rows are padded by 4 either way, so
 * the staging stores of a row-major operand (consecutive items along k) do not all hit one bank. */
#ifndef TM
#define TM 32
#endif
#ifndef TN
#define TN 32
#endif
#ifndef TK
#define TK 16
#endif
#ifndef WM
#define WM 2
#endif
#ifndef WN
#define WN 2
#endif
#ifndef ST
#define ST 16
#endif
#ifndef SWG
#define SWG 64
#endif
#ifndef VL
#define VL 0
#endif
#define SP 4 /* scan steps whose loads are issued together */
#if TM % WM || TN % WN
#error "TM and TN must be multiples of WM and WN"
#endif
#if VL && (WM % 4 || WN % 4)
#error "VL=1 reads register tiles as float4s: WM and WN must be multiples of 4"
#endif
#define TMP (TM + 4) /* staged row lengths, padded */
#define TNP (TN + 4)
#if LS && (TMP * TK) * 4 + (TNP * TK) * 4 + TK * 4 > 32768
#error "mLSTM gpu tiles need more than 32 KiB of local memory: lower TM, TN or TK"
#endif
#if SWG & (SWG - 1)
#error "SWG must be a power of two"
#endif
#define GM (TM / WM)
#define GN (TN / WN)
#define WGS (GM * GN)
/* Row i and column j of the register tile of item (ty, tx), relative to the output tile. */
#if VL
#define RROW(ty, i) ((ty)*WM + (i))
#define RCOL(tx, j) ((tx)*WN + (j))
#else
#define RROW(ty, i) ((ty) + (i)*GM)
#define RCOL(tx, j) ((tx) + (j)*GN)
#endif

/* Stages x in [0, X) by kk in [0, TK) of the matrix p[gx*xs + gk*ks] (gx = x0 + x, gk = k0 + kk) into T[kk*XP + x],
 * zero where gx >= xlim, gk >= klim, or outside the triangle: tri = 1 keeps gk <= gx, tri = 2 keeps gk >= gx.
 * kw scales by a per-k weight: 0 none, 1 w[gk], 2 w[gk] / (wn[gk] + eps). Consecutive work-items read along the
 * unit-stride index, so the loads coalesce either way round. */
inline void stage(__local float *T, const int X, const int XP, __global const float *p, const int xs, const int ks,
                  const int x0, const int xlim, const int k0, const int klim, const int tri, const int kw,
                  __global const float *w, __global const float *wn, const float eps) {
  for (int l = get_local_id(0); l < X * TK; l += WGS) {
    const int x = ks == 1 ? l / TK : l % X, kk = ks == 1 ? l % TK : l / X;
    const int gx = x0 + x, gk = k0 + kk;
    const bool in = gx < xlim && gk < klim && (tri == 0 || (tri == 1 ? gk <= gx : gk >= gx));
    float val = in ? p[(size_t)gx * xs + (size_t)gk * ks] : 0.0f;
    if (in && kw) val *= kw == 1 ? w[gk] : w[gk] / (wn[gk] + eps);
    T[kk * XP + x] = val;
  }
}

/* The kw, w, wn, eps arguments of stage and tile_mm for an operand without per-k weights. */
#define UNWEIGHTED 0, (__global const float *)0, (__global const float *)0, 0.0f

/* acc += A B over k in [kb, ke), A(r, k) = a[r*ars + k*acs] * wk (wk as kw in stage) for rows r0.. (< M; tri as in
 * stage), B(k, c) = b[k*brs + c*bcs] for columns c0.. (< N). With rowdot, rd[i] += sum_k A(row_i, k) * (rowdot == 1 ?
 * rw[k] : 1) (the normalizer rides along). kb and ke must be the same across the work-group (every item reaches the
 * barriers). Offsets are relative to a and b, which point at the chunk: int arithmetic. */
inline void tile_mm(const int kb, const int ke, const int M, const int N, const int r0, const int c0, const int tri,
                    __global const float *a, const int ars, const int acs, const int kw, __global const float *w,
                    __global const float *wn, const float eps, __global const float *b, const int brs, const int bcs,
                    const int rowdot, __global const float *rw, __local float *As, __local float *Bs, __local float *Ws,
                    float acc[WM][WN], float *rd) {
  const int lid = get_local_id(0), tx = lid % GN, ty = lid / GN;
#if LS
  for (int k0 = kb; k0 < ke; k0 += TK) {
    stage(As, TM, TMP, a, ars, acs, r0, M, k0, ke, tri, kw, w, wn, eps);
    stage(Bs, TN, TNP, b, bcs, brs, c0, N, k0, ke, 0, UNWEIGHTED);
    if (rowdot && lid < TK) Ws[lid] = k0 + lid < ke ? (rowdot == 1 ? rw[k0 + lid] : 1.0f) : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TK; kk++) {
      float av[WM], bv[WN];
#if VL
      for (int i = 0; i < WM; i += 4) vstore4(vload4(0, As + kk * TMP + ty * WM + i), 0, av + i);
      for (int j = 0; j < WN; j += 4) vstore4(vload4(0, Bs + kk * TNP + tx * WN + j), 0, bv + j);
#else
      for (int i = 0; i < WM; i++) av[i] = As[kk * TMP + RROW(ty, i)];
      for (int j = 0; j < WN; j++) bv[j] = Bs[kk * TNP + RCOL(tx, j)];
#endif
      for (int i = 0; i < WM; i++)
        for (int j = 0; j < WN; j++) acc[i][j] = MULADD(av[i], bv[j], acc[i][j]);
      if (rowdot)
        for (int i = 0; i < WM; i++) rd[i] = MULADD(av[i], Ws[kk], rd[i]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#else
  /* Rows and columns past M and N read the last valid one: their results are never stored. */
  int ao[WM], bo[WN];
  for (int i = 0; i < WM; i++) ao[i] = min(r0 + RROW(ty, i), M - 1) * ars;
  for (int j = 0; j < WN; j++) bo[j] = min(c0 + RCOL(tx, j), N - 1) * bcs;
  for (int k = kb; k < ke; k++) {
    const float wk = kw == 0 ? 1.0f : kw == 1 ? w[k] : w[k] / (wn[k] + eps);
    float av[WM], bv[WN];
    for (int i = 0; i < WM; i++) {
      const int r = r0 + RROW(ty, i);
      av[i] = tri == 0 || (tri == 1 ? k <= r : k >= r) ? wk * a[ao[i] + k * acs] : 0.0f;
    }
    for (int j = 0; j < WN; j++) bv[j] = b[k * brs + bo[j]];
    for (int i = 0; i < WM; i++)
      for (int j = 0; j < WN; j++) acc[i][j] = MULADD(av[i], bv[j], acc[i][j]);
    if (rowdot) {
      const float rk = rowdot == 1 ? rw[k] : 1.0f;
      for (int i = 0; i < WM; i++) rd[i] = MULADD(av[i], rk, rd[i]);
    }
  }
#endif
}

/* The staging tiles of the chunk-product kernels (__local variables live at kernel scope in OpenCL 1.2), float4
 * arrays so that VL's float4 reads are aligned. */
#if LS
#define CHUNK_LOCALS                                                                   \
  __local float4 As4[TK * TMP / 4], Bs4[TK * TNP / 4];                                 \
  __local float Ws[TK];                                                                \
  __local float *const As = (__local float *)As4, *const Bs = (__local float *)Bs4
#else
#define CHUNK_LOCALS __local float *As = 0, *Bs = 0, *Ws = 0
#endif

/* Work-group coordinates of the chunk-product kernels: output tile (r0, c0) of the chunk (g, c); groups along
 * dimension 0 walk the ceil(NCOLS/TN) column tiles of each row tile. CHUNK_GROUP also ends the groups whose rows
 * start past the chunk's tokens (CHUNK_TILE alone: rows that are not tokens). */
#define CHUNK_TILE(NCOLS)                                                                \
  const int ntc = ((NCOLS) + TN - 1) / TN, tile = get_group_id(0), gc = get_group_id(1); \
  const int r0 = tile / ntc * TM, c0 = tile % ntc * TN;                                  \
  const int g = gc / NC, c = gc - g * NC, t0 = c * L, len = min(L, S - t0);              \
  const size_t rbase = (size_t)(bh0 + g) * S + t0, xbase = XROW(bh0 + g, t0);           \
  const int tx = get_local_id(0) % GN, ty = get_local_id(0) / GN;                        \
  float acc[WM][WN], rd[WM];                                                             \
  for (int i = 0; i < WM; i++) {                                                         \
    rd[i] = 0.0f;                                                                        \
    for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;                                       \
  }
#define CHUNK_GROUP(NCOLS) \
  CHUNK_TILE(NCOLS);       \
  if (r0 >= len) return /* the whole group: no barrier is skipped */

__kernel void mlstm_scores(const int S, const int NC, const int DA, const int bh0, const int G, const int RPW,
                           const float scale, const float eps, __global const float *a, const ulong a_off,
                           __global const float *bt, __global const float *lb, __global const float *mc,
                           __global const float *ig, const ulong ig_off, __global const float *nout,
                           const ulong nout_off, const int use_nout, __global float *P) {
  CHUNK_LOCALS;
  CHUNK_GROUP(L);
  /* Tiles entirely above the diagonal are never read (the consumers stage only u <= t). */
  if (c0 > r0 + TM - 1 || c0 >= len) return;
  a += a_off, ig += ig_off, nout += nout_off;
  tile_mm(0, DA, len, len, r0, c0, 0, a + xbase * DA, DA * NHT, 1, UNWEIGHTED, bt + (size_t)gc * DA * L, L, 1, 0, a, As, Bs,
          Ws, acc, rd);
  __global float *out = P + (size_t)gc * L * L;
  float wv[WN];
  for (int j = 0; j < WN; j++) {
    const int u = c0 + RCOL(tx, j);
    wv[j] = u < len ? ig[rbase + u] - lb[rbase + u] : -INFINITY;
  }
  for (int i = 0; i < WM; i++) {
    const int t = r0 + RROW(ty, i);
    if (t >= len) continue;
    const float rowoff = lb[rbase + t] - mc[rbase + t];
    const float rs = use_nout ? scale / (nout[rbase + t] + eps) : scale;
    for (int j = 0; j < WN; j++) {
      const int u = c0 + RCOL(tx, j);
      /* select, not multiply: exp may overflow above the diagonal. */
      if (u < L) out[(size_t)t * L + u] = u <= t ? acc[i][j] * rs * EXPW(wv[j] + rowoff) : 0.0f;
    }
  }
}

/* Forward output: h_t = (beta_t q_t C_c + sum_u M[t][u] v_u) / (max(|den_t|, exp(-mc_t)) + eps), the
 * normalizer den_t = beta_t q_t . n_c + sum_u M[t][u] accumulated alongside (every group needs it). */
__kernel void mlstm_out(const int S, const int NC, const int bh0, const int G, const int RPW, const float eps,
                        __global const float *q, const ulong q_off, __global const float *v, const ulong v_off,
                        __global const float *P, __global const float *cst, __global const float *nst,
                        __global const float *beta, __global const float *mc, __global float *h, const ulong h_off,
                        __global float *nout, const ulong nout_off, __global float *mout, const ulong mout_off) {
  CHUNK_LOCALS;
  CHUNK_GROUP(DV);
  q += q_off, v += v_off, h += h_off, nout += nout_off, mout += mout_off;
  tile_mm(0, DQK, len, DV, r0, c0, 0, q + xbase * DQK, DQK * NHT, 1, UNWEIGHTED, cst + (size_t)gc * DQK * DV, DV, 1, 1,
          nst + (size_t)gc * DQK, As, Bs, Ws, acc, rd);
  for (int i = 0; i < WM; i++) {
    const float rs = beta[rbase + min(r0 + RROW(ty, i), len - 1)];
    rd[i] *= rs;
    for (int j = 0; j < WN; j++) acc[i][j] *= rs;
  }
  tile_mm(0, min(len, r0 + TM), len, DV, r0, c0, 1, P + (size_t)gc * L * L, L, 1, UNWEIGHTED, v + xbase * DV, DV * NHT, 1, 2,
          v, As, Bs, Ws, acc, rd);
  for (int i = 0; i < WM; i++) {
    const int t = r0 + RROW(ty, i);
    if (t >= len) continue;
    const float n = fmax(fabs(rd[i]), exp(-mc[rbase + t]));
    for (int j = 0; j < WN; j++) {
      const int col = c0 + RCOL(tx, j);
      if (col < DV) h[(xbase + (size_t)t * NHT) * DV + col] = acc[i][j] / (n + eps);
    }
    if (c0 == 0 && tx == 0) nout[rbase + t] = n, mout[rbase + t] = mc[rbase + t];
  }
}

/* Stores the register tile (rows r0.. of the chunk at row xbase, columns c0..) into out (row length N). */
inline void store_tile(const int N, const int r0, const int c0, const int len, const size_t xbase, float acc[WM][WN],
                       __global float *out) {
  const int tx = get_local_id(0) % GN, ty = get_local_id(0) / GN;
  for (int i = 0; i < WM; i++) {
    const int t = r0 + RROW(ty, i);
    for (int j = 0; j < WN; j++) {
      const int col = c0 + RCOL(tx, j);
      if (t < len && col < N) out[(xbase + (size_t)t * NHT) * N + col] = acc[i][j];
    }
  }
}

/* Backward, dq_t = sum_{u<=t} dP[t][u] k_u + beta_t/(nout_t+eps) * dh_t C_c^T   (ct = C_c transposed). */
__kernel void mlstm_bwd_dq(const int S, const int NC, const int bh0, const int G, const int RPW, const float eps,
                           __global const float *k, const ulong k_off, __global const float *dh, const ulong dh_off,
                           __global const float *P, __global const float *ct, __global const float *beta,
                           __global const float *nout, const ulong nout_off, __global float *dq, const ulong dq_off) {
  CHUNK_LOCALS;
  CHUNK_GROUP(DQK);
  k += k_off, dh += dh_off, nout += nout_off, dq += dq_off;
  tile_mm(0, DV, len, DQK, r0, c0, 0, dh + xbase * DV, DV * NHT, 1, UNWEIGHTED, ct + (size_t)gc * DV * DQK, DQK, 1, 0, k, As,
          Bs, Ws, acc, rd);
  for (int i = 0; i < WM; i++) {
    const size_t t = rbase + min(r0 + RROW(ty, i), len - 1);
    const float rs = beta[t] / (nout[t] + eps);
    for (int j = 0; j < WN; j++) acc[i][j] *= rs;
  }
  tile_mm(0, min(len, r0 + TM), len, DQK, r0, c0, 1, P + (size_t)gc * L * L, L, 1, UNWEIGHTED, k + xbase * DQK,
          DQK * NHT, 1, 0, k, As, Bs, Ws, acc, rd);
  store_tile(DQK, r0, c0, len, xbase, acc, dq);
}

/* Backward, dk and dv over the rows u of a chunk: out_u = abar_u * X_u Z + sum_{t>=u} P[t][u] Y_t (see the cpu
 * variant's bwd_key_rows for the operands). */
inline void bwd_key_rows(const int N, const int E, const int S, const int NC, const int bh0, __global const float *Y,
                         __global const float *X, __global const float *P, __global const float *Z,
                         __global const float *abar, __global float *out, __local float *As, __local float *Bs,
                         __local float *Ws) {
  CHUNK_GROUP(N);
  tile_mm(0, E, len, N, r0, c0, 0, X + xbase * E, E * NHT, 1, UNWEIGHTED, Z + (size_t)gc * E * N, N, 1, 0, X, As, Bs, Ws, acc,
          rd);
  for (int i = 0; i < WM; i++) {
    const float rs = abar[rbase + min(r0 + RROW(ty, i), len - 1)];
    for (int j = 0; j < WN; j++) acc[i][j] *= rs;
  }
  tile_mm(r0, len, len, N, r0, c0, 2, P + (size_t)gc * L * L, 1, L, UNWEIGHTED, Y + xbase * N, N * NHT, 1, 0, X, As,
          Bs, Ws, acc, rd);
  store_tile(N, r0, c0, len, xbase, acc, out);
}

__kernel void mlstm_bwd_dk(const int S, const int NC, const int bh0, const int G, const int RPW,
                           __global const float *q, const ulong q_off, __global const float *v, const ulong v_off,
                           __global const float *P, __global const float *dct, __global const float *abar,
                           __global float *dk, const ulong dk_off) {
  CHUNK_LOCALS;
  bwd_key_rows(DQK, DV, S, NC, bh0, q + q_off, v + v_off, P, dct, abar, dk + dk_off, As, Bs, Ws);
}

__kernel void mlstm_bwd_dv(const int S, const int NC, const int bh0, const int G, const int RPW,
                           __global const float *k, const ulong k_off, __global const float *dh, const ulong dh_off,
                           __global const float *P, __global const float *dcs, __global const float *abar,
                           __global float *dv, const ulong dv_off) {
  CHUNK_LOCALS;
  bwd_key_rows(DV, DQK, S, NC, bh0, dh + dh_off, k + k_off, P, dcs, abar, dv + dv_off, As, Bs, Ws);
}

/* Per-chunk state increments D_c = sum_t w_t x_t y_t^T as a TM x TN tile product over the chunk's tokens (rows a
 * of x^T, columns j of y); the column-0 groups of the forward also sum w_t x_t into nd. */
__kernel void mlstm_chunk_delta(const int S, const int NC, const int bh0, const int G, const int rev, const float eps,
                                __global const float *x, const ulong x_off, __global const float *y, const ulong y_off,
                                __global const float *w, __global const float *nout, const ulong nout_off,
                                __global float *d, __global float *nd) {
  CHUNK_LOCALS;
  CHUNK_TILE(DV);
  const int want_n = !rev && c0 == 0;
  x += x_off, y += y_off, nout += nout_off;
  tile_mm(0, len, DQK, DV, r0, c0, 0, x + xbase * DQK, 1, DQK * NHT, rev ? 2 : 1, w + rbase, nout + rbase, eps,
          y + xbase * DV, DV * NHT, 1, want_n ? 2 : 0, y, As, Bs, Ws, acc, rd);
  for (int i = 0; i < WM; i++) {
    const int a = r0 + RROW(ty, i);
    if (a >= DQK) continue;
    for (int j = 0; j < WN; j++) {
      const int col = c0 + RCOL(tx, j);
      if (col < DV) d[((size_t)gc * DQK + a) * DV + col] = acc[i][j];
    }
    if (want_n && tx == 0) nd[(size_t)gc * DQK + a] = rd[i];
  }
}

/* Inter-chunk scan (see the cpu variant for the recurrences), one state element per work-item over ST x ST tiles
 * (dimension 0 along the columns j, so loads and stores of d coalesce); the transposed store goes through a
 * __local tile so it coalesces too, or with LS = 0 straight to global memory (llvmpipe: two barriers a chunk cost
 * more than the scattered stores). Column 0 carries the normalizer n. */
__kernel void mlstm_scan(const int NC, const int bh0, const int G, const int rev, __global const float *alpha,
                         __global const float *c0, const ulong c0_off, __global const float *n0, const ulong n0_off,
                         const int has_c0, const int has_n0, __global float *d, const int store_n, __global float *stt,
                         const int store_t, __global float *nd, __global float *last, const ulong last_off,
                         const int has_last, __global float *nlast, const ulong nlast_off, const int has_nlast) {
  const int lx = get_local_id(0), ly = get_local_id(1), j = get_global_id(0), a = get_global_id(1);
  const int g = get_global_id(2), bh = bh0 + g;
  const bool in = j < DV && a < DQK, do_n = !rev && j == 0 && a < DQK;
  c0 += c0_off, n0 += n0_off, last += last_off, nlast += nlast_off;
  const size_t e = (size_t)a * DV + j;
  float acc = in && has_c0 ? c0[(size_t)bh * DQK * DV + e] : 0.0f;
  float nacc = do_n && has_n0 ? n0[(size_t)bh * DQK + a] : 0.0f;
#if LS
  __local float T[ST][ST + 1];
  /* The transposed store: this item writes element (a', j') = (a0 + lx, j0 + ly) of the tile. */
  const int ta = a - ly + lx, tj = j - lx + ly;
#endif
  /* The loads of SP steps go out together: one at a time, each step waited for its own load, which left the scan
   * latency-bound on GPUs. */
  for (int s0 = 0; s0 < NC; s0 += SP) {
    float inc[SP], al[SP], ninc[SP];
    for (int u = 0; u < SP; u++) {
      const int c = rev ? NC - 1 - (s0 + u) : s0 + u;
      const bool on = s0 + u < NC;
      const size_t sb = (size_t)g * NC + c;
      al[u] = on ? alpha[(size_t)bh * NC + c] : 0.0f;
      inc[u] = on && in ? d[sb * DQK * DV + e] : 0.0f;
      ninc[u] = on && do_n ? nd[sb * DQK + a] : 0.0f;
    }
    for (int u = 0; u < SP && s0 + u < NC; u++) {
      const int c = rev ? NC - 1 - (s0 + u) : s0 + u;
      const size_t sb = (size_t)g * NC + c;
      if (in && store_n) d[sb * DQK * DV + e] = acc;
      if (store_t) {
#if LS
        T[ly][lx] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (ta < DQK && tj < DV) stt[(sb * DV + tj) * DQK + ta] = T[lx][ly];
        barrier(CLK_LOCAL_MEM_FENCE);
#else
        if (in) stt[(sb * DV + j) * DQK + a] = acc;
#endif
      }
      acc = MULADD(al[u], acc, inc[u]);
      if (do_n) {
        nd[sb * DQK + a] = nacc;
        nacc = MULADD(al[u], nacc, ninc[u]);
      }
    }
  }
  if (in && has_last) last[(size_t)bh * DQK * DV + e] = acc;
  if (do_n && has_nlast) nlast[(size_t)bh * DQK + a] = nacc;
}

/* Gates (see the cpu variant and the file header), one group of SWG items per head, each item taking a contiguous
 * range of chunks. Only the carried stabilizer m links the chunks: m_{c+1} = max(m_c + g_c, amax_c), a map that
 * composes (max(max(m + g1, a1) + g2, a2) = max(m + g1 + g2, max(a1 + g2, a2))). Pass 1 does each chunk's own
 * scans, parking g_c in alpha, amax_c in mk and the prefix max in mc, and composes its range's map; one item walks
 * the SWG maps to each range's incoming m; pass 2 finishes its chunks as the cpu variant does. A single item per
 * head ran the whole sequence alone: 3.6 ms of an H200's 6.8 ms mLSTM forward+backward at S 8192, dh 64. */
__kernel void mlstm_gates(const int BH, const int S, const int NC, const float scale, __global const float *ig,
                          const ulong ig_off, __global const float *fg, const ulong fg_off, __global const float *m0,
                          const ulong m0_off, const int has_m0, __global float *lb, __global float *mc,
                          __global float *beta, __global float *abar, __global float *mk, __global float *alpha,
                          __global float *m_last, const ulong m_last_off, const int has_last) {
  __local float Gs[SWG], As[SWG];
  const int lid = get_local_id(0), bh = get_global_id(1);
  if (bh >= BH) return; /* whole groups only */
  ig += ig_off, fg += fg_off, m0 += m0_off, m_last += m_last_off;
  const int per = (NC + SWG - 1) / SWG, c_lo = min(NC, lid * per), c_hi = min(NC, c_lo + per);
  const size_t base = (size_t)bh * S;
  float gsum = 0.0f, amap = -INFINITY;
  for (int c = c_lo; c < c_hi; c++) {
    const int len = min(L, S - c * L);
    const size_t r0 = base + (size_t)c * L;
    float acc = 0.0f, pref = -INFINITY;
    for (int t = 0; t < len; t++) {
      const float lf = logsigmoid(fg[r0 + t]);
      acc += lf;
      lb[r0 + t] = acc;
      pref = fmax(pref, ig[r0 + t] - acc);
      mc[r0 + t] = pref;
      abar[r0 + t] = lf;
    }
    const float amax = log_weights(ig + r0, abar + r0, len);
    alpha[(size_t)bh * NC + c] = acc;
    mk[(size_t)bh * (NC + 1) + c + 1] = amax;
    amap = fmax(amap + acc, amax), gsum += acc;
  }
  Gs[lid] = gsum, As[lid] = amap;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lid == 0) {
    float m = has_m0 ? m0[bh] : 0.0f;
    mk[(size_t)bh * (NC + 1)] = m;
    for (int i = 0; i < SWG; i++) {
      const float g = Gs[i], a = As[i];
      Gs[i] = m;
      m = fmax(m + g, a);
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  float m = Gs[lid];
  for (int c = c_lo; c < c_hi; c++) {
    const int len = min(L, S - c * L);
    const size_t r0 = base + (size_t)c * L;
    const float acc = alpha[(size_t)bh * NC + c], mn = fmax(acc + m, mk[(size_t)bh * (NC + 1) + c + 1]);
    for (int t = 0; t < len; t++) {
      const float b = lb[r0 + t], row = b + fmax(m, mc[r0 + t]);
      mc[r0 + t] = row;
      beta[r0 + t] = exp(b + m - row) * scale;
      abar[r0 + t] = exp(abar[r0 + t] - mn);
    }
    alpha[(size_t)bh * NC + c] = exp(acc + m - mn);
    mk[(size_t)bh * (NC + 1) + c + 1] = mn;
    m = mn;
    if (has_last && c == NC - 1) m_last[bh] = m;
  }
}

/* Backward gates: di_t = v_t . dv_t and (into df) q_t . dq_t - k_t . dk_t, one token per item. */
__kernel void mlstm_bwd_dots(const int BH, const int S, const int NC, __global const float *q, const ulong q_off,
                             __global const float *k, const ulong k_off, __global const float *v, const ulong v_off,
                             __global const float *dq, const ulong dq_off, __global const float *dk, const ulong dk_off,
                             __global const float *dv, const ulong dv_off, __global float *di, const ulong di_off,
                             __global float *df, const ulong df_off) {
  const int t = get_global_id(0), bh = get_global_id(1);
  if (t >= S || bh >= BH) return;
  q += q_off, k += k_off, v += v_off, dq += dq_off, dk += dk_off, dv += dv_off, di += di_off, df += df_off;
  const size_t r = (size_t)bh * S + t, x = XROW(bh, t);
  token_dots(x, q, k, v, dq, dk, dv, di + r, df + r);
}

/* df_t = sigma(-f_t) * sum_{s>=t} (q.dq - k.dk)_s in place, one group of SWG items per head: each item sums its
 * contiguous range of tokens, one item turns the range sums into suffix sums, and each item finishes its range. */
__kernel void mlstm_bwd_fscan(const int BH, const int S, __global const float *fg, const ulong fg_off,
                              __global float *df, const ulong df_off) {
  __local float R[SWG];
  const int lid = get_local_id(0), bh = get_global_id(1);
  if (bh >= BH) return; /* whole groups only */
  fg += fg_off, df += df_off;
  const int per = (S + SWG - 1) / SWG, t_lo = min(S, lid * per), t_hi = min(S, t_lo + per);
  const size_t base = (size_t)bh * S;
  float sum = 0.0f;
  for (int t = t_lo; t < t_hi; t++) sum += df[base + t];
  R[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lid == 0) {
    float acc = 0.0f;
    for (int i = SWG - 1; i >= 0; i--) {
      const float v = R[i];
      R[i] = acc;
      acc += v;
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  float acc = R[lid];
  for (int t = t_hi - 1; t >= t_lo; t--) {
    acc += df[base + t];
    df[base + t] = acc / (1.0f + exp(fg[base + t]));
  }
}

#if LS
/* Chunk transpose (see the cpu variant): ST x ST tiles through __local memory, so that reads run along a row's
 * columns and writes along the chunk; dimension 0 walks the columns, 1 the chunk's tokens, 2 the chunks. One item
 * per chunk, walking the whole chunk with strided stores, left most of a GPU idle. */
__kernel void mlstm_transpose(const int S, const int NC, const int D, const int bh0, const int G,
                              __global const float *x, const ulong x_off, __global float *xt) {
  const int lx = get_local_id(0), ly = get_local_id(1), gc = get_global_id(2);
  const int d0 = get_group_id(0) * ST, u0 = get_group_id(1) * ST;
  __local float T[ST][ST + 1];
  const int g = gc / NC, c = gc - g * NC, t0 = c * L, len = gc < G * NC ? min(L, S - t0) : 0;
  x += x_off;
  {
    const int d = d0 + lx, u = u0 + ly;
    T[ly][lx] = d < D && u < len ? x[XROW(bh0 + g, t0 + u) * D + d] : 0.0f;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  const int u = u0 + lx, d = d0 + ly;
  if (gc < G * NC && d < D && u < L) xt[((size_t)gc * D + d) * L + u] = T[lx][ly];
}
#endif

/* Recurrent step, part 1: one column j of C per work-item (groups of SWG along dimension 0, one head along
 * dimension 1); q, k, n are staged in __local memory and the normalizer dot product is a __local tree sum. */
__kernel void mlstm_step(const int BH, const float scale, const float eps, __global const float *q, const ulong q_off,
                         __global const float *k, const ulong k_off, __global const float *v, const ulong v_off,
                         __global const float *ig, const ulong ig_off, __global const float *fg, const ulong fg_off,
                         __global float *C, const ulong C_off, __global const float *n, const ulong n_off,
                         __global const float *m, const ulong m_off, __global float *h, const ulong h_off) {
  const int lid = get_local_id(0), j = get_global_id(0), bh = get_global_id(1);
  q += q_off, k += k_off, v += v_off, ig += ig_off, fg += fg_off, C += C_off, n += n_off, m += m_off, h += h_off;
  __local float Q[DQK], K[DQK], R[SWG];
  const bool in = bh < BH;
  const int b = in ? bh : 0;
  const float lf = logsigmoid(fg[b]), mo = m[b], mn = fmax(lf + mo, ig[b]);
  const float fa = exp(lf + mo - mn), ia = exp(ig[b] - mn);
  float part = 0.0f;
  for (int a = lid; a < DQK; a += SWG) {
    const float qa = q[(size_t)b * DQK + a], ka = k[(size_t)b * DQK + a];
    Q[a] = qa, K[a] = ka;
    part += (fa * n[(size_t)b * DQK + a] + ia * ka) * qa;
  }
  R[lid] = part;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int w = SWG / 2; w > 0; w /= 2) {
    if (lid < w) R[lid] += R[lid + w];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (!in || j >= DV) return; /* after the last barrier */
  const float vv = v[(size_t)b * DV + j];
  float num = 0.0f;
  for (int a = 0; a < DQK; a++) {
    __global float *cell = C + ((size_t)b * DQK + a) * DV + j;
    const float cn = MULADD(ia * K[a], vv, fa * *cell);
    *cell = cn;
    num = MULADD(Q[a], cn, num);
  }
  const float nt = fmax(fabs(R[0] * scale), exp(-mn));
  h[(size_t)b * DV + j] = num * scale / (nt + eps);
}

/* Recurrent step, part 2: n <- fa n + ia k and m <- max(lf + m, i), one work-group of SWG items per head; m is
 * written after every item has read it. */
__kernel void mlstm_step_state(const int BH, __global const float *k, const ulong k_off, __global const float *ig,
                               const ulong ig_off, __global const float *fg, const ulong fg_off, __global float *n,
                               const ulong n_off, __global float *m, const ulong m_off) {
  const int lid = get_local_id(0), bh = get_group_id(1);
  k += k_off, ig += ig_off, fg += fg_off, n += n_off, m += m_off;
  const float lf = logsigmoid(fg[bh]), mo = m[bh], mn = fmax(lf + mo, ig[bh]);
  const float fa = exp(lf + mo - mn), ia = exp(ig[bh] - mn);
  for (int a = lid; a < DQK; a += SWG)
    n[(size_t)bh * DQK + a] = fa * n[(size_t)bh * DQK + a] + ia * k[(size_t)bh * DQK + a];
  barrier(CLK_GLOBAL_MEM_FENCE);
  if (lid == 0) m[bh] = mn;
}
#else

/* Decay-masked chunk scores: P[g][c][t][u] = rs_t * scale * (a_t . b_u) * exp(b_t - mc_t + i_u - b_u) for
 * u <= t < len, 0 for u > t. a: rows of a global tensor (row length DA); bt: the transposed chunk of b.
 * rs_t = 1/(nout_t + eps) when use_nout (backward), else 1. Work-item: RPW row blocks of RM rows of one chunk;
 * 16-column tiles entirely above the diagonal are neither computed nor written (never read). */
__kernel void mlstm_scores(const int S, const int NC, const int DA, const int bh0, const int G, const int RPW,
                           const float scale, const float eps, __global const float *a, const ulong a_off,
                           __global const float *bt, __global const float *lb, __global const float *mc,
                           __global const float *ig, const ulong ig_off, __global const float *nout,
                           const ulong nout_off, const int use_nout, __global float *P) {
  const int rbg = get_global_id(0), gc = get_global_id(1);
  if (gc >= G * NC) return;
  a += a_off, ig += ig_off, nout += nout_off;
  const int g = gc / NC, c = gc - g * NC, t0 = c * L, len = min(L, S - t0);
  const size_t rbase = (size_t)(bh0 + g) * S + t0;
  __global const float *A = a + XROW(bh0 + g, t0) * DA;
  __global const float *B = bt + (size_t)gc * DA * L;
  __global float *out = P + (size_t)gc * L * L;
  const int rb_end = min((rbg + 1) * RPW, L / RM);
  for (int rb = rbg * RPW; rb < rb_end; rb++) {
    const int r0 = rb * RM;
    if (r0 >= len) return;
    float rowoff[RM], rs[RM];
    for (int r = 0; r < RM; r++) {
      const size_t t = rbase + min(r0 + r, len - 1);
      rowoff[r] = lb[t] - mc[t];
      rs[r] = use_nout ? scale / (nout[t] + eps) : scale;
    }
    for (int u0 = 0; u0 <= r0 + RM - 1 && u0 < len; u0 += 16) {
      float16 acc[RM];
      for (int r = 0; r < RM; r++) acc[r] = (float16)(0.0f);
      for (int d = 0; d < DA; d += 8) {
        float8 av[RM];
        for (int r = 0; r < RM; r++) av[r] = vload8(0, A + (size_t)min(r0 + r, len - 1) * (NHT * DA) + d);
        float16 b[8];
        for (int kk = 0; kk < 8; kk++) b[kk] = vload16(0, B + (size_t)(d + kk) * L + u0);
        for (int r = 0; r < RM; r++) FMA_ROW8(float16, acc[r], av[r], b);
      }
      float wc[16];
      for (int j = 0; j < 16; j++) wc[j] = u0 + j < len ? ig[rbase + u0 + j] - lb[rbase + u0 + j] : -INFINITY;
      const float16 w = vload16(0, wc);
      const int16 u = (int16)(u0) + IOTA16;
      for (int r = 0; r < RM && r0 + r < len; r++) {
        /* select, not multiply: exp may overflow above the diagonal. */
        const float16 val = acc[r] * rs[r] * exp(w + rowoff[r]);
        vstore16(select((float16)(0.0f), val, u <= (int16)(r0 + r)), 0, out + (size_t)(r0 + r) * L + u0);
      }
    }
  }
}

/* One RM x VW tile (rows r0.., columns j0..) of a chunk product with two terms:
 *   acc[t] = rs_t * sum_e X[t][e] Z[e][j0..]  +  sum_u P(t, u) Y[u][j0..]
 * where P(t, u) = P[t][u] for u <= t (ptrans = 0) or P[u][t] for u >= t (ptrans = 1). X rows have length E,
 * Y rows and Z rows length N. With want_den, den[t] = rs_t * X[t].nz + sum_u P(t, u) (the normalizer). */
inline void chunk_tile(const int N, const int E, const int ptrans, const int want_den, const int r0, const int len,
                       const int j0, __global const float *P, __global const float *Y, __global const float *X,
                       __global const float *Z, __global const float *nz, const float *rs, VEC *acc, float *den) {
  const size_t xs = (size_t)NHT * E, ys = (size_t)NHT * N; /* row strides of X and Y */
  VEC t2[RM];
  float xn[RM];
  for (int r = 0; r < RM; r++) t2[r] = (VEC)(0.0f), xn[r] = 0.0f;
  for (int e = 0; e < E; e += 8) {
    float8 xv[RM];
    for (int r = 0; r < RM; r++) xv[r] = vload8(0, X + min(r0 + r, len - 1) * xs + e);
    VEC z[8];
    for (int kk = 0; kk < 8; kk++) z[kk] = VLOAD(0, Z + (size_t)(e + kk) * N + j0);
    for (int r = 0; r < RM; r++) FMA_ROW8(VEC, t2[r], xv[r], z);
    if (want_den) {
      const float8 nv = vload8(0, nz + e);
      for (int r = 0; r < RM; r++) xn[r] += hsum8(xv[r] * nv);
    }
  }
  for (int r = 0; r < RM; r++) acc[r] = rs[r] * t2[r], den[r] = rs[r] * xn[r];
  if (!ptrans) {
    const int uend = min(r0 + RM, len);
    int u = 0;
    for (; u + 8 <= uend; u += 8) {
      float8 pv[RM];
      for (int r = 0; r < RM; r++) pv[r] = vload8(0, P + (size_t)(r0 + r) * L + u);
      VEC y[8];
      for (int kk = 0; kk < 8; kk++) y[kk] = VLOAD(0, Y + (u + kk) * ys + j0);
      for (int r = 0; r < RM; r++) {
        FMA_ROW8(VEC, acc[r], pv[r], y);
        if (want_den) den[r] += hsum8(pv[r]);
      }
    }
    for (; u < uend; u++) {
      const VEC y = VLOAD(0, Y + u * ys + j0);
      for (int r = 0; r < RM; r++) {
        const float p = P[(size_t)(r0 + r) * L + u];
        acc[r] = MULADD((VEC)(p), y, acc[r]);
        if (want_den) den[r] += p;
      }
    }
  } else {
    for (int u = r0; u < len; u++) {
      const float8 pv = vload8(0, P + (size_t)u * L + r0);
      const VEC y = VLOAD(0, Y + u * ys + j0);
      FMA_COL8(VEC, acc, pv, y);
    }
  }
}

/* Work-item coordinates shared by the chunk-product kernels: column block j0 of width VW, a group of
 * RPW row blocks, and the chunk (g, c). */
#define CHUNK_ITEM(NCOLS)                                                   \
  const int j0 = (int)get_global_id(0) * VW, rbg = get_global_id(1);        \
  const int gc = get_global_id(2);                                          \
  if (j0 >= (NCOLS) || gc >= G * NC) return;                                \
  const int g = gc / NC, c = gc - g * NC, t0 = c * L, len = min(L, S - t0); \
  const size_t rbase = (size_t)(bh0 + g) * S + t0, xbase = XROW(bh0 + g, t0); \
  const int rb_end = min((rbg + 1) * RPW, L / RM)

/* Forward output: h_t = (beta_t q_t C_c + sum_u M[t][u] v_u) / (max(|den_t|, exp(-mc_t)) + eps). */
__kernel void mlstm_out(const int S, const int NC, const int bh0, const int G, const int RPW, const float eps,
                        __global const float *q, const ulong q_off, __global const float *v, const ulong v_off,
                        __global const float *P, __global const float *cst, __global const float *nst,
                        __global const float *beta, __global const float *mc, __global float *h, const ulong h_off,
                        __global float *nout, const ulong nout_off, __global float *mout, const ulong mout_off) {
  CHUNK_ITEM(DV);
  q += q_off, v += v_off, h += h_off, nout += nout_off, mout += mout_off;
  for (int rb = rbg * RPW; rb < rb_end; rb++) {
    const int r0 = rb * RM;
    if (r0 >= len) return;
    float rs[RM], den[RM];
    VEC acc[RM];
    for (int r = 0; r < RM; r++) rs[r] = beta[rbase + min(r0 + r, len - 1)];
    chunk_tile(DV, DQK, 0, 1, r0, len, j0, P + (size_t)gc * L * L, v + xbase * DV, q + xbase * DQK,
               cst + (size_t)gc * DQK * DV, nst + (size_t)gc * DQK, rs, acc, den);
    for (int r = 0; r < RM && r0 + r < len; r++) {
      const size_t t = rbase + r0 + r;
      const float n = fmax(fabs(den[r]), exp(-mc[t]));
      VSTORE(acc[r] / (n + eps), 0, h + (xbase + (size_t)(r0 + r) * NHT) * DV + j0);
      if (j0 == 0) nout[t] = n, mout[t] = mc[t];
    }
  }
}

/* Backward, dq_t = sum_{u<=t} dP[t][u] k_u + beta_t/(nout_t+eps) * dh_t C_c^T   (ct = C_c transposed). */
__kernel void mlstm_bwd_dq(const int S, const int NC, const int bh0, const int G, const int RPW, const float eps,
                           __global const float *k, const ulong k_off, __global const float *dh, const ulong dh_off,
                           __global const float *P, __global const float *ct, __global const float *beta,
                           __global const float *nout, const ulong nout_off, __global float *dq, const ulong dq_off) {
  CHUNK_ITEM(DQK);
  k += k_off, dh += dh_off, nout += nout_off, dq += dq_off;
  for (int rb = rbg * RPW; rb < rb_end; rb++) {
    const int r0 = rb * RM;
    if (r0 >= len) return;
    float rs[RM], den[RM];
    VEC acc[RM];
    for (int r = 0; r < RM; r++) {
      const size_t t = rbase + min(r0 + r, len - 1);
      rs[r] = beta[t] / (nout[t] + eps);
    }
    chunk_tile(DQK, DV, 0, 0, r0, len, j0, P + (size_t)gc * L * L, k + xbase * DQK, dh + xbase * DV,
               ct + (size_t)gc * DV * DQK, NULL, rs, acc, den);
    for (int r = 0; r < RM && r0 + r < len; r++) VSTORE(acc[r], 0, dq + (xbase + (size_t)(r0 + r) * NHT) * DQK + j0);
  }
}

/* Backward, dk and dv, one form over the rows u of a chunk (N output columns, X rows of length E):
 *   out_u = abar_u * X_u Z + sum_{t>=u} P[t][u] Y_t
 * dk: Y = q, X = v, Z = dC_{c+1}^T (DV x DQK), P = dP;
 * dv: Y = dh, X = k, Z = dC_{c+1} (DQK x DV), P = M / (nout + eps). */
inline void bwd_key_rows(const int N, const int E, const int S, const int NC, const int bh0, const int G, const int RPW,
                         __global const float *Y, __global const float *X, __global const float *P,
                         __global const float *Z, __global const float *abar, __global float *out) {
  CHUNK_ITEM(N);
  for (int rb = rbg * RPW; rb < rb_end; rb++) {
    const int r0 = rb * RM;
    if (r0 >= len) return;
    float rs[RM], den[RM];
    VEC acc[RM];
    for (int r = 0; r < RM; r++) rs[r] = abar[rbase + min(r0 + r, len - 1)];
    chunk_tile(N, E, 1, 0, r0, len, j0, P + (size_t)gc * L * L, Y + xbase * N, X + xbase * E, Z + (size_t)gc * E * N,
               NULL, rs, acc, den);
    for (int r = 0; r < RM && r0 + r < len; r++) VSTORE(acc[r], 0, out + (xbase + (size_t)(r0 + r) * NHT) * N + j0);
  }
}

/* dk_u = sum_{t>=u} dP[t][u] q_t + abar_u * v_u dC_{c+1}^T   (dct = dC_{c+1} transposed). */
__kernel void mlstm_bwd_dk(const int S, const int NC, const int bh0, const int G, const int RPW,
                           __global const float *q, const ulong q_off, __global const float *v, const ulong v_off,
                           __global const float *P, __global const float *dct, __global const float *abar,
                           __global float *dk, const ulong dk_off) {
  bwd_key_rows(DQK, DV, S, NC, bh0, G, RPW, q + q_off, v + v_off, P, dct, abar, dk + dk_off);
}

/* dv_u = sum_{t>=u} M[t][u]/(nout_t+eps) dh_t + abar_u * k_u dC_{c+1}   (P holds M / (nout + eps)). */
__kernel void mlstm_bwd_dv(const int S, const int NC, const int bh0, const int G, const int RPW,
                           __global const float *k, const ulong k_off, __global const float *dh, const ulong dh_off,
                           __global const float *P, __global const float *dcs, __global const float *abar,
                           __global float *dv, const ulong dv_off) {
  bwd_key_rows(DV, DQK, S, NC, bh0, G, RPW, dh + dh_off, k + k_off, P, dcs, abar, dv + dv_off);
}

/* Per-chunk state increments, all chunks in parallel: D_c = sum_{t in chunk c} w_t x_t y_t^T (DQK x DV), stored at
 * index c of d. Forward: x = k, y = v, w = abar (and sum_t w_t x_t goes into nd); reverse: x = q, y = dh,
 * w = beta/(nout+eps). Work-item: RM rows of one chunk's increment, every column block in turn (a chunk is short,
 * so one tile alone would be too little work per work-group); the chunk's rows stay in cache meanwhile. */
__kernel void mlstm_chunk_delta(const int S, const int NC, const int bh0, const int G, const int rev, const float eps,
                                __global const float *x, const ulong x_off, __global const float *y, const ulong y_off,
                                __global const float *w, __global const float *nout, const ulong nout_off,
                                __global float *d, __global float *nd) {
  const int a0 = (int)get_global_id(0) * RM, gc = get_global_id(1);
  if (a0 >= DQK || gc >= G * NC) return;
  x += x_off, y += y_off, nout += nout_off;
  const int g = gc / NC, c = gc - g * NC, t0 = c * L, len = min(L, S - t0);
  const size_t rb = (size_t)(bh0 + g) * S + t0, xb = XROW(bh0 + g, t0);
  for (int j0 = 0; j0 < DV; j0 += VW) {
    VEC acc[RM];
    for (int r = 0; r < RM; r++) acc[r] = (VEC)(0.0f);
    float8 nacc = (float8)(0.0f);
    for (int t = 0; t < len; t++) {
      const float wt = rev ? w[rb + t] / (nout[rb + t] + eps) : w[rb + t];
      const float8 xv = wt * vload8(0, x + (xb + (size_t)t * NHT) * DQK + a0);
      const VEC yv = VLOAD(0, y + (xb + (size_t)t * NHT) * DV + j0);
      FMA_COL8(VEC, acc, xv, yv);
      nacc += xv;
    }
    for (int r = 0; r < RM; r++) VSTORE(acc[r], 0, d + ((size_t)gc * DQK + a0 + r) * DV + j0);
    if (!rev && j0 == 0) vstore8(nacc, 0, nd + (size_t)gc * DQK + a0);
  }
}

/* Inter-chunk scan of one RM x VW state tile over the increments of mlstm_chunk_delta, sequential over chunks.
 * Forward (rev = 0): C_{c+1} = alpha_c C_c + D_c from the initial state; C_c is stored at index c (n_c likewise by
 *   the column-0 items), the final state goes to last / nlast.
 * Reverse (rev = 1): dC_c = alpha_c dC_{c+1} + D_c from dC_NC = 0; dC_{c+1} is stored at index c and dC_0 goes to
 *   last. Stores: back into d (DQK x DV, in place: each item reads its tile before overwriting it) when store_n,
 *   into stt (DV x DQK, transposed) when store_t. */
__kernel void mlstm_scan(const int NC, const int bh0, const int G, const int rev, __global const float *alpha,
                         __global const float *c0, const ulong c0_off, __global const float *n0, const ulong n0_off,
                         const int has_c0, const int has_n0, __global float *d, const int store_n, __global float *stt,
                         const int store_t, __global float *nd, __global float *last, const ulong last_off,
                         const int has_last, __global float *nlast, const ulong nlast_off, const int has_nlast) {
  const int j0 = (int)get_global_id(0) * VW, a0 = (int)get_global_id(1) * RM, g = get_global_id(2);
  if (j0 >= DV || a0 >= DQK || g >= G) return;
  c0 += c0_off, n0 += n0_off, last += last_off, nlast += nlast_off;
  const int bh = bh0 + g, do_n = !rev && j0 == 0;
  VEC acc[RM];
  float8 nacc = (float8)(0.0f);
  for (int r = 0; r < RM; r++) acc[r] = has_c0 ? VLOAD(0, c0 + ((size_t)bh * DQK + a0 + r) * DV + j0) : (VEC)(0.0f);
  if (do_n && has_n0) nacc = vload8(0, n0 + (size_t)bh * DQK + a0);
  for (int s = 0; s < NC; s++) {
    const int c = rev ? NC - 1 - s : s;
    const size_t sb = (size_t)g * NC + c;
    const float al = alpha[(size_t)bh * NC + c];
    __global float *tile = d + (sb * DQK + a0) * DV + j0;
    VEC inc[RM];
    for (int r = 0; r < RM; r++) inc[r] = VLOAD(0, tile + (size_t)r * DV);
    if (store_n)
      for (int r = 0; r < RM; r++) VSTORE(acc[r], 0, tile + (size_t)r * DV);
    if (store_t) {
      float tt[RM][VW];
      for (int r = 0; r < RM; r++) VSTORE(acc[r], 0, tt[r]);
      for (int j = 0; j < VW; j++)
        vstore8((float8)(tt[0][j], tt[1][j], tt[2][j], tt[3][j], tt[4][j], tt[5][j], tt[6][j], tt[7][j]), 0,
                stt + (sb * DV + j0 + j) * DQK + a0);
    }
    for (int r = 0; r < RM; r++) acc[r] = MULADD((VEC)(al), acc[r], inc[r]);
    if (do_n) {
      const float8 ninc = vload8(0, nd + sb * DQK + a0);
      vstore8(nacc, 0, nd + sb * DQK + a0);
      nacc = MULADD((float8)(al), nacc, ninc);
    }
  }
  if (has_last)
    for (int r = 0; r < RM; r++) VSTORE(acc[r], 0, last + ((size_t)bh * DQK + a0 + r) * DV + j0);
  if (do_n && has_nlast) vstore8(nacc, 0, nlast + (size_t)bh * DQK + a0);
}

/* Recurrent step, part 1: per column block of the state, C <- fa C + ia k v^T and h = C^T q s / normalizer.
 * The normalizer needs the updated n, which every item recomputes from the old n (mlstm_step_state writes it). */
__kernel void mlstm_step(const int BH, const float scale, const float eps, __global const float *q, const ulong q_off,
                         __global const float *k, const ulong k_off, __global const float *v, const ulong v_off,
                         __global const float *ig, const ulong ig_off, __global const float *fg, const ulong fg_off,
                         __global float *C, const ulong C_off, __global const float *n, const ulong n_off,
                         __global const float *m, const ulong m_off, __global float *h, const ulong h_off) {
  const int j0 = (int)get_global_id(0) * VW, bh = get_global_id(1);
  if (j0 >= DV || bh >= BH) return;
  q += q_off, k += k_off, v += v_off, ig += ig_off, fg += fg_off, C += C_off, n += n_off, m += m_off, h += h_off;
  const float lf = logsigmoid(fg[bh]), mo = m[bh], mn = fmax(lf + mo, ig[bh]);
  const float fa = exp(lf + mo - mn), ia = exp(ig[bh] - mn);
  __global const float *Q = q + (size_t)bh * DQK, *K = k + (size_t)bh * DQK, *N = n + (size_t)bh * DQK;
  float den = 0.0f;
  for (int a = 0; a < DQK; a++) den += (fa * N[a] + ia * K[a]) * Q[a];
  const VEC vv = VLOAD(0, v + (size_t)bh * DV + j0);
  VEC num = (VEC)(0.0f);
  for (int a = 0; a < DQK; a++) {
    __global float *row = C + ((size_t)bh * DQK + a) * DV + j0;
    const VEC cn = MULADD((VEC)(ia * K[a]), vv, fa * VLOAD(0, row));
    VSTORE(cn, 0, row);
    num = MULADD((VEC)(Q[a]), cn, num);
  }
  const float nt = fmax(fabs(den * scale), exp(-mn));
  VSTORE(num * scale / (nt + eps), 0, h + (size_t)bh * DV + j0);
}

/* Recurrent step, part 2: n <- fa n + ia k and m <- max(lf + m, i). */
__kernel void mlstm_step_state(const int BH, __global const float *k, const ulong k_off, __global const float *ig,
                               const ulong ig_off, __global const float *fg, const ulong fg_off, __global float *n,
                               const ulong n_off, __global float *m, const ulong m_off) {
  const int bh = get_global_id(0);
  if (bh >= BH) return;
  k += k_off, ig += ig_off, fg += fg_off, n += n_off, m += m_off;
  const float lf = logsigmoid(fg[bh]), mo = m[bh], mn = fmax(lf + mo, ig[bh]);
  const float fa = exp(lf + mo - mn), ia = exp(ig[bh] - mn);
  for (int a = 0; a < DQK; a++) n[(size_t)bh * DQK + a] = fa * n[(size_t)bh * DQK + a] + ia * k[(size_t)bh * DQK + a];
  m[bh] = mn;
}

#endif
