/* Row-major SGEMM: C = alpha*op(A)*op(B) + beta*C, batched by the third global dimension (matrix b of each
 * operand starts b * stride elements after its offset). Two variants, chosen by GEMM_GPU (runtime/variant.h):
 *
 * cpu (GEMM_GPU=0): register-blocked, one work-item per work-group. B is first packed into column panels of RN
 * (pack_b), so the GEMM reads it contiguously whatever ldb and transpose: strided rows of a power-of-two width
 * otherwise land in one cache set. Each GEMM work-item owns an RM x RN block of C; no local memory, because
 * barriers and __local tiles are slow on CPU OpenCL while explicit vectors are fast.
 * Defines: TRANSA, TRANSB (0/1), RM (rows per item), RN (columns per item: 4, 8 or 16).
 *
 * gpu (GEMM_GPU=1): one kernel, gemm, reading A and B in place. A work-group of (WGN/TN) x (WGM/TM) work-items
 * owns a WGM x WGN block of C; per step of TK along K it stages op(A) and op(B) tiles in __local memory (rows
 * padded by PAD floats against bank conflicts), with consecutive work-items loading consecutive addresses of
 * the stored matrix whatever the transpose. Each work-item accumulates TM x TN values of C in registers, at rows
 * ty + i*(WGM/TM) and columns tx + j*(WGN/TN): interleaved, so that neighbours read neighbouring __local words
 * and store neighbouring C elements. Edge tiles load zeros and skip their stores; every work-item reaches every
 * barrier. Defines: TRANSA, TRANSB, WGM, WGN, TM, TN, TK, PAD. */
#include "common.clh"

#if TRANSA
#define AT(i, k) A[(size_t)(k)*lda + (i)]
#else
#define AT(i, k) A[(size_t)(i)*lda + (k)]
#endif
#if TRANSB
#define BT(k, j) B[(size_t)(j)*ldb + (k)]
#else
#define BT(k, j) B[(size_t)(k)*ldb + (j)]
#endif

#if GEMM_GPU
#ifndef WGM
#define WGM 64
#endif
#ifndef WGN
#define WGN 64
#endif
#ifndef TM
#define TM 4
#endif
#ifndef TN
#define TN 4
#endif
#ifndef TK
#define TK 16
#endif
#ifndef PAD
#define PAD 1
#endif
#if WGM % TM || WGN % TN || TK < 1 || PAD < 0
#error "WGM must be a multiple of TM, WGN of TN, TK at least 1 and PAD at least 0"
#endif
#define MDIM (WGM / TM) /* work-items along M */
#define NDIM (WGN / TN) /* work-items along N */
#define NT (MDIM * NDIM)

__kernel __attribute__((reqd_work_group_size(NDIM, MDIM, 1))) void gemm(
    const int M, const int N, const int K, const float alpha, __global const float *restrict Abase, const ulong offA,
    const int lda, const ulong strideA, __global const float *restrict Bbase, const ulong offB, const int ldb,
    const ulong strideB, const float beta, __global float *Cbase, const ulong offC, const int ldc,
    const ulong strideC) {
  __local float As[TK][WGM + PAD]; /* op(A) tile, k-major: the work-items of a row read one word each */
  __local float Bs[TK][WGN + PAD];
  const int tx = (int)get_local_id(0), ty = (int)get_local_id(1), lid = ty * NDIM + tx;
  const int n0 = (int)get_group_id(0) * WGN, m0 = (int)get_group_id(1) * WGM;
  const size_t batch = get_global_id(2);
  __global const float *A = Abase + offA + batch * strideA;
  __global const float *B = Bbase + offB + batch * strideB;
  __global float *C = Cbase + offC + batch * strideC;

  float acc[TM][TN];
  for (int i = 0; i < TM; i++)
    for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += TK) {
    /* The index runs fastest along the stored rows: m for a transposed A, else k (likewise n and k for B). */
    for (int e = lid; e < WGM * TK; e += NT) {
#if TRANSA
      const int m = e % WGM, k = e / WGM;
#else
      const int k = e % TK, m = e / TK;
#endif
      As[k][m] = m0 + m < M && k0 + k < K ? AT(m0 + m, k0 + k) : 0.0f;
    }
    for (int e = lid; e < WGN * TK; e += NT) {
#if TRANSB
      const int k = e % TK, n = e / TK;
#else
      const int n = e % WGN, k = e / WGN;
#endif
      Bs[k][n] = n0 + n < N && k0 + k < K ? BT(k0 + k, n0 + n) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TK; k++) {
      float a[TM], b[TN];
      for (int i = 0; i < TM; i++) a[i] = As[k][ty + i * MDIM];
      for (int j = 0; j < TN; j++) b[j] = Bs[k][tx + j * NDIM];
      for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++) acc[i][j] = MULADD(a[i], b[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int i = 0; i < TM; i++) {
    const int m = m0 + ty + i * MDIM;
    for (int j = 0; j < TN; j++) {
      const int n = n0 + tx + j * NDIM;
      if (m < M && n < N) {
        __global float *c = C + (size_t)m * ldc + n;
        const float r = alpha * acc[i][j];
        *c = beta != 0.0f ? MULADD(beta, *c, r) : r;
      }
    }
  }
}
#else

#ifndef RM
#define RM 8
#endif
#ifndef RN
#define RN 16
#endif
#if RN != 4 && RN != 8 && RN != 16
#error "RN must be 4, 8 or 16"
#endif

#define VEC FLOATN(RN)
#define VLOAD VLOADN(RN)
#define VSTORE VSTOREN(RN)

/* Bp[batch][panel][k][RN] = op(B)[k][panel*RN + j], zero past column N. */
__kernel void pack_b(const int N, const int K, __global const float *restrict Bbase, const ulong offB, const int ldb,
                     const ulong strideB, __global float *restrict Bp) {
  const int j = (int)get_global_id(0);
  const int k = (int)get_global_id(1);
  const size_t batch = get_global_id(2);
  const int panels = (N + RN - 1) / RN;
  if (j >= panels * RN || k >= K) return;
  __global const float *B = Bbase + offB + batch * strideB;
  Bp[((batch * panels + j / RN) * K + k) * RN + j % RN] = j < N ? BT(k, j) : 0.0f;
}

__kernel void gemm(const int M, const int N, const int K, const float alpha, __global const float *restrict Abase,
                   const ulong offA, const int lda, const ulong strideA, __global const float *restrict Bp,
                   const float beta, __global float *Cbase, const ulong offC, const int ldc, const ulong strideC) {
  const int n0 = (int)get_global_id(0) * RN;
  const int m0 = (int)get_global_id(1) * RM;
  const size_t batch = get_global_id(2);
  if (m0 >= M || n0 >= N) return;
  const int panels = (N + RN - 1) / RN;
  __global const float *A = Abase + offA + batch * strideA;
  __global const float *P = Bp + (batch * panels + n0 / RN) * (size_t)K * RN;
  __global float *C = Cbase + offC + batch * strideC;

  VEC acc[RM];
  for (int i = 0; i < RM; i++) acc[i] = (VEC)(0.0f);

  int k = 0;
  if (m0 + RM <= M) {
#if !TRANSA
    /* Eight k at a time: A rows are read as contiguous float8 rather than strided scalars. */
    for (; k + 8 <= K; k += 8) {
      float8 a[RM];
      for (int i = 0; i < RM; i++) a[i] = vload8(0, A + (size_t)(m0 + i) * lda + k);
      VEC b[8];
      for (int kk = 0; kk < 8; kk++) b[kk] = VLOAD(0, P + (size_t)(k + kk) * RN);
      for (int i = 0; i < RM; i++) FMA_ROW8(VEC, acc[i], a[i], b);
    }
#elif RM == 8
    /* op(A) columns are contiguous rows of A: one float8 load per k. */
    for (; k < K; k++) {
      float at[8];
      vstore8(vload8(0, A + (size_t)k * lda + m0), 0, at);
      VEC b = VLOAD(0, P + (size_t)k * RN);
      for (int i = 0; i < RM; i++) acc[i] = MULADD((VEC)(at[i]), b, acc[i]);
    }
#endif
    for (; k < K; k++) {
      VEC b = VLOAD(0, P + (size_t)k * RN);
      for (int i = 0; i < RM; i++) acc[i] = MULADD((VEC)(AT(m0 + i, k)), b, acc[i]);
    }
  } else {
    /* Bottom edge: rows past M read as zero. */
    for (; k < K; k++) {
      VEC b = VLOAD(0, P + (size_t)k * RN);
      for (int i = 0; i < RM; i++) acc[i] = MULADD((VEC)(m0 + i < M ? AT(m0 + i, k) : 0.0f), b, acc[i]);
    }
  }

  if (m0 + RM <= M && n0 + RN <= N) {
    for (int i = 0; i < RM; i++) {
      __global float *c = C + (size_t)(m0 + i) * ldc + n0;
      VEC r = alpha * acc[i];
      if (beta != 0.0f) r = MULADD((VEC)(beta), VLOAD(0, c), r);
      VSTORE(r, 0, c);
    }
    return;
  }
  for (int i = 0; i < RM && m0 + i < M; i++) {
    float out[RN];
    VSTORE(acc[i], 0, out);
    for (int j = 0; j < RN && n0 + j < N; j++) {
      size_t ci = (size_t)(m0 + i) * ldc + n0 + j;
      float r = alpha * out[j];
      C[ci] = beta != 0.0f ? MULADD(beta, C[ci], r) : r;
    }
  }
}

/* Few rows (M <= RM) times op(B) = Bᵀ, as in decoding one token per sequence: each work-item owns RC columns of
 * C, i.e. RC rows of B read contiguously in place. Packing would move all of B for a handful of rows of A, and the
 * RM-row tiles would compute mostly padding. Other transposes work too, with scalar loads. */
#define RC 4
__kernel void gemm_rows(const int M, const int N, const int K, const float alpha, __global const float *restrict Abase,
                        const ulong offA, const int lda, const ulong strideA, __global const float *restrict Bbase,
                        const ulong offB, const int ldb, const ulong strideB, const float beta, __global float *Cbase,
                        const ulong offC, const int ldc, const ulong strideC) {
  const int n0 = (int)get_global_id(0) * RC;
  const size_t batch = get_global_id(2);
  if (n0 >= N) return;
  const int nc = N - n0 < RC ? N - n0 : RC;
  __global const float *A = Abase + offA + batch * strideA;
  __global const float *B = Bbase + offB + batch * strideB;
  __global float *C = Cbase + offC + batch * strideC;
  for (int i = 0; i < M; i++) {
    float s[RC];
    int k = 0;
#if !TRANSA && TRANSB
    float8 acc[RC];
    for (int j = 0; j < RC; j++) acc[j] = (float8)(0.0f);
    for (; k + 8 <= K; k += 8) {
      const float8 a = vload8(0, A + (size_t)i * lda + k);
      for (int j = 0; j < nc; j++) acc[j] = MULADD(a, vload8(0, B + (size_t)(n0 + j) * ldb + k), acc[j]);
    }
    for (int j = 0; j < RC; j++) s[j] = dot(acc[j].lo, (float4)(1.0f)) + dot(acc[j].hi, (float4)(1.0f));
#else
    for (int j = 0; j < RC; j++) s[j] = 0.0f;
#endif
    for (; k < K; k++) {
      const float a = AT(i, k);
      for (int j = 0; j < nc; j++) s[j] = MULADD(a, BT(k, n0 + j), s[j]);
    }
    for (int j = 0; j < nc; j++) {
      __global float *c = C + (size_t)i * ldc + n0 + j;
      *c = beta != 0.0f ? MULADD(beta, *c, alpha * s[j]) : alpha * s[j];
    }
  }
}
#endif
