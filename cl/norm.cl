/* Row norms (ops/norm.h): each row of C = NG·G values is NG groups of G; a group is normalised on its own,
 * x̂ = (x − μ)·rstd with rstd = 1/sqrt(mean((x − μ)²) + eps), μ = its mean when CENTER (the multi-head LayerNorm)
 * and 0 otherwise (RMSNorm, NG = 1), then y = x̂ ⊙ w over the whole row. Reductions are float32.
 * LS items per (row, group) reduce through __local memory in a fixed tree, so results are the same bits run to
 * run; the forward saves (μ, rstd) per group for the backward. dw is summed over fixed blocks of RB rows, then
 * over the blocks in order (an item per column, loads coalesced across columns).
 * With LS = 1 (the cpu variant's default) an item owns a whole (row, group) and sums it in eight float8 lanes
 * plus a scalar tail, then the lanes in a fixed order (hsum8): no __local memory, no barriers. (64 items a group with
 * the tree cost PoCL about 5 ms per 4096 x 256 RMSNorm; this form about 0.2 ms.)
 *   cpu variant: a work-group is one (row, group) of LS items (1 unless given) reading x from global memory at
 *                each pass;
 *   gpu variant: a work-group of LS·RPG items holds RPG (row, group)s (short groups share a work-group instead of
 *                idling most of it), and with XREG each item keeps its NPER values of x (and of dy·w) in
 *                registers, so x and dy are read from global memory once. */
#include "common.clh"

#if !defined(G) || !defined(NG)
#error "norm.cl needs G (group width) and NG (groups per row)"
#endif
#ifndef CENTER
#define CENTER 0
#endif
#ifndef LS
#define LS 64
#endif
#ifndef RPG
#define RPG 1
#endif
#ifndef XREG
#define XREG 0
#endif
#ifndef RB
#define RB 64
#endif
#if (LS & (LS - 1)) != 0
#error "LS must be a power of two"
#endif
#define C (NG * G)
#define NPER ((G + LS - 1) / LS)

/* Item l's columns j = l, l + LS, ... below gw (G, or 0 for a work-group's unused slot past the last row), k
 * counting them, in a loop of the same trip count for every item of the work-group: PoCL 3.1 miscompiles the
 * plain strided loop `for (j = l; j < G; j += LS)` after a barrier (its last loop wrote all LS columns at G = 1). */
#define FOR_OWN(k, j)                            \
  for (int k = 0, j = l; k < NPER; k++, j += LS) \
    if (j < gw)

/* x[j] (and dy[j]·w[j]) of item column k: from registers with XREG, else from global memory. */
#if XREG
#define XV(k, j) xr[k]
#define GWV(k, j) gwr[k]
#else
#define XV(k, j) x[j]
#define GWV(k, j) (dy[j] * w[j])
#endif

#if LS == 1
#define NV (G / 8) /* whole float8s of a group; the rest is the scalar tail */

/* Σ (x − mu)^p over a group, p = 1 or 2, in the fixed order above. */
static float row_sum(__global const float *x, const float mu, const int p) {
  float8 s8 = 0;
  for (int v = 0; v < NV; v++) {
    const float8 d = vload8(v, x) - mu;
    s8 += p == 2 ? d * d : d;
  }
  float t = 0;
  for (int j = NV * 8; j < G; j++) t += p == 2 ? (x[j] - mu) * (x[j] - mu) : x[j] - mu;
  return hsum8(s8) + t;
}

/* Global (1, rows·NG): item rg owns (row, group) rg. y may be x's view. */
__kernel void norm_fwd(__global const float *x, const ulong x_off, __global const float *w, const ulong w_off,
                       __global float *y, const ulong y_off, __global float *stats, const ulong stats_off,
                       const int rows, const float eps) {
  const int rg = (int)get_global_id(1);
  if (rg >= rows * NG) return;
  x += x_off + (size_t)rg * G, y += y_off + (size_t)rg * G, w += w_off + rg % NG * G;
  const float mu = CENTER ? row_sum(x, 0, 1) / G : 0.0f;
  const float rstd = rsqrt(row_sum(x, mu, 2) / G + eps);
  for (int v = 0; v < NV; v++) vstore8((vload8(v, x) - mu) * rstd * vload8(v, w), v, y);
  for (int j = NV * 8; j < G; j++) y[j] = (x[j] - mu) * rstd * w[j];
  vstore2((float2)(mu, rstd), rg, stats + stats_off);
}

/* As the tree form below. dx may be dy's view: the item reads each dy before writing that dx. */
__kernel void norm_bwd_dx(__global const float *x, const ulong x_off, __global const float *w, const ulong w_off,
                          __global const float *stats, const ulong stats_off, __global const float *dy,
                          const ulong dy_off, __global float *dx, const ulong dx_off, const int rows) {
  const int rg = (int)get_global_id(1);
  if (rg >= rows * NG) return;
  x += x_off + (size_t)rg * G, dy += dy_off + (size_t)rg * G, dx += dx_off + (size_t)rg * G;
  w += w_off + rg % NG * G;
  const float2 st = vload2(rg, stats + stats_off);
  float8 g8 = 0, gx8 = 0;
  for (int v = 0; v < NV; v++) {
    const float8 gw = vload8(v, dy) * vload8(v, w);
    g8 += gw, gx8 += gw * ((vload8(v, x) - st.x) * st.y);
  }
  float g1 = 0, gx1 = 0;
  for (int j = NV * 8; j < G; j++) {
    const float gw = dy[j] * w[j];
    g1 += gw, gx1 += gw * ((x[j] - st.x) * st.y);
  }
  const float sg = CENTER ? (hsum8(g8) + g1) / G : 0.0f, sgx = (hsum8(gx8) + gx1) / G;
  for (int v = 0; v < NV; v++) {
    const float8 xh = (vload8(v, x) - st.x) * st.y;
    vstore8(st.y * (vload8(v, dy) * vload8(v, w) - sg - xh * sgx), v, dx);
  }
  for (int j = NV * 8; j < G; j++) dx[j] = st.y * (dy[j] * w[j] - sg - (x[j] - st.x) * st.y * sgx);
}

#else
/* Sum over the LS items of a (row, group) of each item's v (the tree fixes the order); every item gets the total.
 * buf: the (row, group)'s LS slots. */
static float2 group_sum(float2 v, __local float2 *buf) {
  const int l = (int)get_local_id(0);
  buf[l] = v;
  LOCAL_TREE(buf, l, LS, TREE_ADD);
  const float2 r = buf[0];
  barrier(CLK_LOCAL_MEM_FENCE); /* buf is reused by the next sum */
  return r;
}

/* Global (LS, rows·NG rounded up to RPG), local (LS, RPG): (row, group) rg = global id 1. y may be x's view. */
__kernel void norm_fwd(__global const float *x, const ulong x_off, __global const float *w, const ulong w_off,
                       __global float *y, const ulong y_off, __global float *stats, const ulong stats_off,
                       const int rows, const float eps) {
  __local float2 bufs[RPG * LS];
  __local float2 *buf = bufs + get_local_id(1) * LS;
  const int l = (int)get_local_id(0), rg = (int)get_global_id(1);
  const int gw = rg < rows * NG ? G : 0; /* no early return: every item of the work-group reaches each barrier */
  const int g = rg % NG;
  x += x_off + (size_t)rg * G, y += y_off + (size_t)rg * G, w += w_off + g * G;
#if XREG
  float xr[NPER];
  FOR_OWN(k, j) xr[k] = x[j];
#endif
  float mu = 0;
  if (CENTER) {
    float s = 0;
    FOR_OWN(k, j) s += XV(k, j);
    mu = group_sum((float2)(s, 0), buf).x / G;
  }
  float ss = 0;
  FOR_OWN(k, j) ss += (XV(k, j) - mu) * (XV(k, j) - mu);
  const float rstd = rsqrt(group_sum((float2)(ss, 0), buf).x / G + eps);
  FOR_OWN(k, j) y[j] = (XV(k, j) - mu) * rstd * w[j];
  if (l == 0 && gw) vstore2((float2)(mu, rstd), rg, stats + stats_off);
}

/* dx = rstd·(dy⊙w − mean(dy⊙w)·CENTER − x̂·mean(dy⊙w⊙x̂)). Global and local as norm_fwd; dx may be dy's view
 * (with XREG each item reads its dy before any item writes dx, and the barrier of the sum separates them). */
__kernel void norm_bwd_dx(__global const float *x, const ulong x_off, __global const float *w, const ulong w_off,
                          __global const float *stats, const ulong stats_off, __global const float *dy,
                          const ulong dy_off, __global float *dx, const ulong dx_off, const int rows) {
  __local float2 bufs[RPG * LS];
  __local float2 *buf = bufs + get_local_id(1) * LS;
  const int l = (int)get_local_id(0), rg = (int)get_global_id(1);
  const int gw = rg < rows * NG ? G : 0;
  const int g = rg % NG;
  x += x_off + (size_t)rg * G, dy += dy_off + (size_t)rg * G, dx += dx_off + (size_t)rg * G, w += w_off + g * G;
  const float2 st = gw ? vload2(rg, stats + stats_off) : (float2)(0, 0);
#if XREG
  float xr[NPER], gwr[NPER];
  FOR_OWN(k, j) xr[k] = x[j], gwr[k] = dy[j] * w[j];
#endif
  float2 s = 0;
  FOR_OWN(k, j) s += (float2)(GWV(k, j), GWV(k, j) * (XV(k, j) - st.x) * st.y);
  s = group_sum(s, buf) / G;
  FOR_OWN(k, j) {
    const float xh = (XV(k, j) - st.x) * st.y;
    dx[j] = st.y * (GWV(k, j) - (CENTER ? s.x : 0.0f) - xh * s.y);
  }
}

#endif

/* Partial dw over blocks of RB rows: part (nblk, C). An item sums DWV adjacent columns of one group (the host sets
 * 8 where groups are whole float8s: PoCL then runs about 5x faster than an item a column). Global (C / DWV, nblk). */
#ifndef DWV
#define DWV 1
#endif
#if DWV != 1 && (DWV != 8 || G % 8)
#error "DWV must be 1, or 8 with G a multiple of 8"
#endif
#if DWV == 8
typedef float8 dwvec;
#define DW_LOAD(i, p) vload8(i, p)
#define DW_STORE(v, i, p) vstore8(v, i, p)
#else
typedef float dwvec;
#define DW_LOAD(i, p) (p)[i]
#define DW_STORE(v, i, p) ((p)[i] = (v))
#endif
__kernel void norm_dw_part(__global const float *x, const ulong x_off, __global const float *stats,
                           const ulong stats_off, __global const float *dy, const ulong dy_off, __global float *part,
                           const int rows) {
  const int kv = (int)get_global_id(0), blk = (int)get_global_id(1);
  if (kv >= C / DWV || blk * RB >= rows) return;
  x += x_off, dy += dy_off, stats += stats_off;
  const int end = min(rows, (blk + 1) * RB), g = kv * DWV / G;
  dwvec s = 0;
  for (int r = blk * RB; r < end; r++) {
    const float2 st = vload2((size_t)r * NG + g, stats);
    s += DW_LOAD(kv, dy + (size_t)r * C) * (DW_LOAD(kv, x + (size_t)r * C) - st.x) * st.y;
  }
  DW_STORE(s, kv, part + (size_t)blk * C);
}

/* dw += Σ partials in block order. Global (C). */
__kernel void norm_dw_sum(__global const float *part, __global float *dw, const ulong dw_off, const int nblk) {
  const int k = (int)get_global_id(0);
  if (k >= C) return;
  float s = 0;
  for (int b = 0; b < nblk; b++) s += part[(size_t)b * C + k];
  dw[dw_off + k] += s;
}
