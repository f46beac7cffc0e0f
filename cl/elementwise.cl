/* The small per-token layers of both models (ops/elementwise.h): SwiGLU, soft-cap, the xLSTM gate
 * pre-activations and output gate, the residual add, and the head layout change. One work-item per element (per head
 * row in the layout change); in the kernels over n values an output may be the same view as an input (each element is
 * read before it is written by the same item). The gate bias gradient is reduced deterministically: partial sums over
 * fixed blocks of RB rows, then a sum of the partials in block order. */
#ifndef RB
#define RB 64
#endif

/* σ(x), and σ(−x) in *neg, without overflow for any x; σ(−x) directly, as 1 − σ(x) cancels for large x.
 * Scalar selects, not a float2 value: PoCL vectorises the work-items of the scalar form (about 5x faster). */
static inline float sigmoid2(float x, float *neg) {
  const float e = exp(-fabs(x)), p = 1.0f / (1.0f + e), ep = e * p;
  *neg = x >= 0 ? ep : p;
  return x >= 0 ? p : ep;
}

/* c·tanh(x/c), identity for c <= 0. */
static inline float softcap(float x, float c) {
  return c > 0 ? c * tanh(x / c) : x;
}

/* d/dx c·tanh(x/c) = sech²(x/c) = 4t / (1 + t)² with t = exp(-2|x/c|): no overflow, and no cancellation where
 * tanh rounds to ±1. */
static inline float softcap_grad(float x, float c) {
  if (c <= 0) return 1.0f;
  const float t = exp(-2.0f * fabs(x / c));
  return 4.0f * t / ((1.0f + t) * (1.0f + t));
}

__kernel void swiglu_fwd(__global const float *g, const ulong g_off, __global const float *u, const ulong u_off,
                         __global float *z, const ulong z_off, const int n) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  g += g_off, u += u_off, z += z_off;
  const float x = g[i];
  float neg;
  z[i] = x * sigmoid2(x, &neg) * u[i];
}

__kernel void swiglu_bwd(__global const float *g, const ulong g_off, __global const float *u, const ulong u_off,
                         __global const float *dz, const ulong dz_off, __global float *dg, const ulong dg_off,
                         __global float *du, const ulong du_off, const int n) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  g += g_off, u += u_off, dz += dz_off, dg += dg_off, du += du_off;
  const float x = g[i], d = dz[i], uu = u[i];
  float sn;
  const float s = sigmoid2(x, &sn);
  dg[i] = d * uu * s * (1.0f + x * sn);
  du[i] = d * x * s;
}

__kernel void softcap_fwd(__global const float *x, const ulong x_off, __global float *y, const ulong y_off, const int n,
                          const float c) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  x += x_off, y += y_off;
  y[i] = softcap(x[i], c);
}

__kernel void softcap_bwd(__global const float *x, const ulong x_off, __global const float *dy, const ulong dy_off,
                          __global float *dx, const ulong dx_off, const int n, const float c) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  x += x_off, dy += dy_off, dx += dx_off;
  dx[i] = dy[i] * softcap_grad(x[i], c);
}

/* y = σ(o) ⊙ h. */
__kernel void ogate_fwd(__global const float *o, const ulong o_off, __global const float *h, const ulong h_off,
                        __global float *y, const ulong y_off, const int n) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  o += o_off, h += h_off, y += y_off;
  float neg;
  y[i] = sigmoid2(o[i], &neg) * h[i];
}

__kernel void ogate_bwd(__global const float *o, const ulong o_off, __global const float *h, const ulong h_off,
                        __global const float *dy, const ulong dy_off, __global float *dout, const ulong do_off,
                        __global float *dh, const ulong dh_off, const int n) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  o += o_off, h += h_off, dy += dy_off, dout += do_off, dh += dh_off;
  const float d = dy[i], hh = h[i];
  float sn;
  const float s = sigmoid2(o[i], &sn);
  dout[i] = d * hh * s * sn;
  dh[i] = d * s;
}

/* x += y. */
__kernel void residual_add(__global float *x, const ulong x_off, __global const float *y, const ulong y_off,
                           const int n) {
  const int i = (int)get_global_id(0);
  if (i >= n) return;
  x += x_off, y += y_off;
  x[i] += y[i];
}

/* (B, P, Q, D) <-> (B, Q, P, D) where the token-major side has rows of Q·D values ld apart: split reads
 * x (B, T, ld ⊇ NH·dh) and writes y (B, NH, T, dh) (P = T, Q = NH); merge (to_tokens = 1) does the inverse.
 * Global (B·P·Q): an item moves one head row of D values, in float4s then a scalar tail (an item per value,
 * with its divisions, ran PoCL about 10x slower). */
__kernel void heads_permute(__global const float *x, const ulong x_off, __global float *y, const ulong y_off,
                            const int B, const int T, const int NH, const int D, const int ld, const int to_tokens) {
  const int r = (int)get_global_id(0);
  if (r >= B * NH * T) return;
  const int t = r % T, bh = r / T, h = bh % NH, b = bh / NH;
  const size_t heads = (size_t)r * D, tokens = ((size_t)b * T + t) * ld + (size_t)h * D;
  __global const float *src = x + x_off + (to_tokens ? heads : tokens);
  __global float *dst = y + y_off + (to_tokens ? tokens : heads);
  for (int j = 0; j < D / 4; j++) vstore4(vload4(j, src), j, dst);
  for (int j = D / 4 * 4; j < D; j++) dst[j] = src[j];
}

/* xLSTM gates (spec xlstm.md §2.3, §2.8): i = cap(xi + bi), f = cap(xf + bf), f = RESET where a document starts;
 * inputs (B, T, NH) with rows ld apart, outputs (B, NH, T) as the mLSTM cell takes them. Global (T, B·NH). */
__kernel void gates_fwd(__global const float *xi, const ulong xi_off, __global const float *xf, const ulong xf_off,
                        __global const float *bi, const ulong bi_off, __global const float *bf, const ulong bf_off,
                        __global const int *doc, const ulong doc_off, const int has_doc, __global float *gi,
                        const ulong gi_off, __global float *gf, const ulong gf_off, const int B, const int T,
                        const int NH, const int ld, const float cap, const float reset) {
  const int t = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (t >= T || bh >= B * NH) return;
  xi += xi_off, xf += xf_off, bi += bi_off, bf += bf_off, gi += gi_off, gf += gf_off;
  const int b = bh / NH, h = bh % NH;
  const size_t in = ((size_t)b * T + t) * ld + h, out = (size_t)bh * T + t;
  gi[out] = softcap(xi[in] + bi[h], cap);
  gf[out] = has_doc && doc[doc_off + (size_t)b * T + t] ? reset : softcap(xf[in] + bf[h], cap);
}

/* The transpose of gates_fwd: dxi, dxf (B, T, NH, rows ld apart) from di, df (B, NH, T); zero where reset. */
__kernel void gates_bwd(__global const float *xi, const ulong xi_off, __global const float *xf, const ulong xf_off,
                        __global const float *bi, const ulong bi_off, __global const float *bf, const ulong bf_off,
                        __global const int *doc, const ulong doc_off, const int has_doc, __global const float *di,
                        const ulong di_off, __global const float *df, const ulong df_off, __global float *dxi,
                        const ulong dxi_off, __global float *dxf, const ulong dxf_off, const int B, const int T,
                        const int NH, const int ld, const float cap) {
  const int t = (int)get_global_id(0), bh = (int)get_global_id(1);
  if (t >= T || bh >= B * NH) return;
  xi += xi_off, xf += xf_off, bi += bi_off, bf += bf_off, di += di_off, df += df_off;
  dxi += dxi_off, dxf += dxf_off;
  const int b = bh / NH, h = bh % NH;
  const size_t in = ((size_t)b * T + t) * ld + h, out = (size_t)bh * T + t;
  dxi[in] = di[out] * softcap_grad(xi[in] + bi[h], cap);
  dxf[in] = has_doc && doc[doc_off + (size_t)b * T + t] ? 0.0f : df[out] * softcap_grad(xf[in] + bf[h], cap);
}

/* Partial column sums of the gate gradients over blocks of RB rows: part (nblk, 2·NH), i columns first.
 * Global (2·NH, nblk). */
__kernel void gates_db_part(__global const float *dxi, const ulong dxi_off, __global const float *dxf,
                            const ulong dxf_off, __global float *part, const int rows, const int NH, const int ld) {
  const int col = (int)get_global_id(0), blk = (int)get_global_id(1);
  if (col >= 2 * NH || blk * RB >= rows) return;
  __global const float *src = col < NH ? dxi + dxi_off + col : dxf + dxf_off + (col - NH);
  const int end = min(rows, (blk + 1) * RB);
  float s = 0;
  for (int r = blk * RB; r < end; r++) s += src[(size_t)r * ld];
  part[(size_t)blk * 2 * NH + col] = s;
}

/* dbi += Σ partials, dbf likewise, in block order. Global (2·NH). */
__kernel void gates_db_sum(__global const float *part, __global float *dbi, const ulong dbi_off, __global float *dbf,
                           const ulong dbf_off, const int nblk, const int NH) {
  const int col = (int)get_global_id(0);
  if (col >= 2 * NH) return;
  float s = 0;
  for (int k = 0; k < nblk; k++) s += part[(size_t)k * 2 * NH + col];
  if (col < NH)
    dbi[dbi_off + col] += s;
  else
    dbf[dbf_off + col - NH] += s;
}
