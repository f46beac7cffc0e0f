/* The small per-token layers of both models (ops/elementwise.h): SwiGLU, soft-cap, the xLSTM gate
 * pre-activations and output gate, the residual add, and the head layout change. The kernels over n values give
 * an item VW consecutive values (-D VW, the family's tile: 16 on CPUs, where PoCL runs explicit float16 math about
 * twice as fast as the same math vectorised across items; 1 on GPUs, where adjacent items read adjacent values);
 * an output may be the same view as an input (each value is read before it is written by the same item). The head
 * layout change moves a head row per item. The gate bias gradient is reduced deterministically: partial sums over
 * fixed blocks of RB rows, then a sum of the partials in block order. */
#ifndef RB
#define RB 64
#endif
#ifndef VW
#define VW 1
#endif

/* VSEL(c, a, b): c ? a : b per lane. A scalar select() instead of ?: runs PoCL's item loops 2.5x slower. */
#if VW == 1
typedef float floatv;
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#define VSEL(c, a, b) ((c) ? (a) : (b))
#elif VW == 2 || VW == 4 || VW == 8 || VW == 16
#define VPASTE(a, b) a##b
#define VNAME(a, b) VPASTE(a, b)
typedef VNAME(float, VW) floatv;
#define VLOAD(p) VNAME(vload, VW)(0, p)
#define VSTORE(v, p) VNAME(vstore, VW)(v, 0, p)
#define VSEL(c, a, b) select(b, a, c)
#else
#error "VW (values per work-item) must be 1, 2, 4, 8 or 16"
#endif

/* The VW values from p[i], zeros past n in the last item. */
static inline floatv load_v(__global const float *p, int i, int n) {
#if VW > 1
  if (n - i < VW) {
    float a[VW];
    for (int j = 0; j < VW; j++) a[j] = i + j < n ? p[i + j] : 0.0f;
    return VLOAD(a);
  }
#endif
  return VLOAD(p + i);
}

/* Stores v at p[i], only below n in the last item. */
static inline void store_v(floatv v, __global float *p, int i, int n) {
#if VW > 1
  if (n - i < VW) {
    float a[VW];
    VSTORE(v, a);
    for (int j = 0; j < n - i; j++) p[i + j] = a[j];
    return;
  }
#endif
  VSTORE(v, p + i);
}

/* σ(x), and σ(−x) in *neg, without overflow for any x; σ(−x) directly, as 1 − σ(x) cancels for large x. */
static inline floatv sigmoid2(floatv x, floatv *neg) {
  const floatv e = exp(-fabs(x)), p = 1.0f / (1.0f + e), ep = e * p;
  *neg = VSEL(x >= 0, ep, p);
  return VSEL(x >= 0, p, ep);
}

static inline floatv sigmoid(floatv x) {
  floatv neg;
  return sigmoid2(x, &neg);
}

/* c·tanh(x/c), identity for c <= 0; its derivative sech²(x/c) = 4t / (1 + t)² with t = exp(-2|x/c|): no overflow,
 * and no cancellation where tanh rounds to ±1. For one value (the gates) and for VW values (_v). */
#define SOFTCAP_FUNCTIONS(T, S)                   \
  static inline T softcap##S(T x, float c) {      \
    return c > 0 ? c * tanh(x / c) : x;           \
  }                                               \
  static inline T softcap_grad##S(T x, float c) { \
    if (c <= 0) return (T)1.0f;                   \
    const T t = exp(-2.0f * fabs(x / c));         \
    return 4.0f * t / ((1.0f + t) * (1.0f + t));  \
  }
SOFTCAP_FUNCTIONS(float, )
SOFTCAP_FUNCTIONS(floatv, _v)

__kernel void swiglu_fwd(__global const float *g, const ulong g_off, __global const float *u, const ulong u_off,
                         __global float *z, const ulong z_off, const int n) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  g += g_off, u += u_off, z += z_off;
  const floatv x = load_v(g, i, n);
  store_v(x * sigmoid(x) * load_v(u, i, n), z, i, n);
}

__kernel void swiglu_bwd(__global const float *g, const ulong g_off, __global const float *u, const ulong u_off,
                         __global const float *dz, const ulong dz_off, __global float *dg, const ulong dg_off,
                         __global float *du, const ulong du_off, const int n) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  g += g_off, u += u_off, dz += dz_off, dg += dg_off, du += du_off;
  const floatv x = load_v(g, i, n), d = load_v(dz, i, n), uu = load_v(u, i, n);
  floatv sn;
  const floatv s = sigmoid2(x, &sn);
  store_v(d * uu * s * (1.0f + x * sn), dg, i, n);
  store_v(d * x * s, du, i, n);
}

__kernel void softcap_fwd(__global const float *x, const ulong x_off, __global float *y, const ulong y_off, const int n,
                          const float c) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  x += x_off, y += y_off;
  store_v(softcap_v(load_v(x, i, n), c), y, i, n);
}

__kernel void softcap_bwd(__global const float *x, const ulong x_off, __global const float *dy, const ulong dy_off,
                          __global float *dx, const ulong dx_off, const int n, const float c) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  x += x_off, dy += dy_off, dx += dx_off;
  store_v(load_v(dy, i, n) * softcap_grad_v(load_v(x, i, n), c), dx, i, n);
}

/* y = σ(o) ⊙ h. */
__kernel void ogate_fwd(__global const float *o, const ulong o_off, __global const float *h, const ulong h_off,
                        __global float *y, const ulong y_off, const int n) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  o += o_off, h += h_off, y += y_off;
  store_v(sigmoid(load_v(o, i, n)) * load_v(h, i, n), y, i, n);
}

__kernel void ogate_bwd(__global const float *o, const ulong o_off, __global const float *h, const ulong h_off,
                        __global const float *dy, const ulong dy_off, __global float *dout, const ulong do_off,
                        __global float *dh, const ulong dh_off, const int n) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  o += o_off, h += h_off, dy += dy_off, dout += do_off, dh += dh_off;
  const floatv d = load_v(dy, i, n), hh = load_v(h, i, n);
  floatv sn;
  const floatv s = sigmoid2(load_v(o, i, n), &sn);
  store_v(d * hh * s * sn, dout, i, n);
  store_v(d * s, dh, i, n);
}

/* x += y. */
__kernel void residual_add(__global float *x, const ulong x_off, __global const float *y, const ulong y_off,
                           const int n) {
  const int i = (int)get_global_id(0) * VW; /* the host keeps n + VW below 2^31 */
  if (i >= n) return;
  x += x_off, y += y_off;
  store_v(load_v(x, i, n) + load_v(y, i, n), x, i, n);
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
