/* Register-blocked GEMM, row-major: C = alpha*op(A)*op(B) + beta*C, batched by the third global
 * dimension. B is first packed into column panels of RN (pack_b), so the GEMM reads it
 * contiguously whatever ldb and transpose: strided rows of a power-of-two width otherwise land
 * in one cache set. Each GEMM work-item owns an RM x RN block of C; no local memory, because
 * barriers and __local tiles are slow on CPU OpenCL while explicit vectors are fast.
 * Defines: TRANSA, TRANSB (0/1), RM (rows per item), RN (columns per item: 4, 8 or 16). */
#include "common.clh"

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

#if TRANSA
#define AT(i, k) A[(size_t)(k) * lda + (i)]
#else
#define AT(i, k) A[(size_t)(i) * lda + (k)]
#endif
#if TRANSB
#define BT(k, j) B[(size_t)(j) * ldb + (k)]
#else
#define BT(k, j) B[(size_t)(k) * ldb + (j)]
#endif

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
      for (int i = 0; i < RM; i++) acc[i] = fma((VEC)(at[i]), b, acc[i]);
    }
#endif
    for (; k < K; k++) {
      VEC b = VLOAD(0, P + (size_t)k * RN);
      for (int i = 0; i < RM; i++) acc[i] = fma((VEC)(AT(m0 + i, k)), b, acc[i]);
    }
  } else {
    /* Bottom edge: rows past M read as zero. */
    for (; k < K; k++) {
      VEC b = VLOAD(0, P + (size_t)k * RN);
      for (int i = 0; i < RM; i++) acc[i] = fma((VEC)(m0 + i < M ? AT(m0 + i, k) : 0.0f), b, acc[i]);
    }
  }

  if (m0 + RM <= M && n0 + RN <= N) {
    for (int i = 0; i < RM; i++) {
      __global float *c = C + (size_t)(m0 + i) * ldc + n0;
      VEC r = alpha * acc[i];
      if (beta != 0.0f) r = fma((VEC)(beta), VLOAD(0, c), r);
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
      C[ci] = beta != 0.0f ? fma(beta, C[ci], r) : r;
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
      for (int j = 0; j < nc; j++) acc[j] = fma(a, vload8(0, B + (size_t)(n0 + j) * ldb + k), acc[j]);
    }
    for (int j = 0; j < RC; j++) s[j] = dot(acc[j].lo, (float4)(1.0f)) + dot(acc[j].hi, (float4)(1.0f));
#else
    for (int j = 0; j < RC; j++) s[j] = 0.0f;
#endif
    for (; k < K; k++) {
      const float a = AT(i, k);
      for (int j = 0; j < nc; j++) s[j] = fma(a, BT(k, n0 + j), s[j]);
    }
    for (int j = 0; j < nc; j++) {
      __global float *c = C + (size_t)i * ldc + n0 + j;
      *c = beta != 0.0f ? fma(beta, *c, alpha * s[j]) : alpha * s[j];
    }
  }
}
