/* Register-blocked GEMM, row-major: C = alpha*op(A)*op(B) + beta*C, batched by the third
 * global dimension. Each work-item owns an RM x RN block of C; no local memory, because
 * barriers and __local tiles are slow on CPU OpenCL while explicit vectors are fast.
 * Defines: TRANSA, TRANSB (0/1), RM (rows per item), RN (columns per item: 4, 8 or 16). */
#ifndef RM
#define RM 8
#endif
#ifndef RN
#define RN 16
#endif

#if RN == 16
#define VEC float16
#define VLOAD vload16
#define VSTORE vstore16
#elif RN == 8
#define VEC float8
#define VLOAD vload8
#define VSTORE vstore8
#else
#define VEC float4
#define VLOAD vload4
#define VSTORE vstore4
#endif

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

__kernel void gemm(const int M, const int N, const int K, const float alpha, __global const float *restrict Abase,
                   const ulong offA, const int lda, const ulong strideA, __global const float *restrict Bbase,
                   const ulong offB, const int ldb, const ulong strideB, const float beta, __global float *Cbase,
                   const ulong offC, const int ldc, const ulong strideC) {
  const int n0 = (int)get_global_id(0) * RN;
  const int m0 = (int)get_global_id(1) * RM;
  const size_t batch = get_global_id(2);
  if (m0 >= M || n0 >= N) return;
  __global const float *A = Abase + offA + batch * strideA;
  __global const float *B = Bbase + offB + batch * strideB;
  __global float *C = Cbase + offC + batch * strideC;

  VEC acc[RM];
  for (int i = 0; i < RM; i++) acc[i] = (VEC)(0.0f);

  const int full = (m0 + RM <= M) && (n0 + RN <= N);
  if (full) {
    int k = 0;
#if !TRANSA
    /* Eight k at a time: A rows are read as contiguous float8 instead of strided scalars, which
     * avoids cache-set conflicts when lda is a power of two. */
    for (; k + 8 <= K; k += 8) {
      float8 a[RM];
      for (int i = 0; i < RM; i++) a[i] = vload8(0, A + (size_t)(m0 + i) * lda + k);
      VEC b[8];
      for (int kk = 0; kk < 8; kk++) {
#if TRANSB
        float bt[RN];
        for (int j = 0; j < RN; j++) bt[j] = BT(k + kk, n0 + j);
        b[kk] = VLOAD(0, bt);
#else
        b[kk] = VLOAD(0, B + (size_t)(k + kk) * ldb + n0);
#endif
      }
      for (int i = 0; i < RM; i++) {
        acc[i] = fma((VEC)(a[i].s0), b[0], acc[i]);
        acc[i] = fma((VEC)(a[i].s1), b[1], acc[i]);
        acc[i] = fma((VEC)(a[i].s2), b[2], acc[i]);
        acc[i] = fma((VEC)(a[i].s3), b[3], acc[i]);
        acc[i] = fma((VEC)(a[i].s4), b[4], acc[i]);
        acc[i] = fma((VEC)(a[i].s5), b[5], acc[i]);
        acc[i] = fma((VEC)(a[i].s6), b[6], acc[i]);
        acc[i] = fma((VEC)(a[i].s7), b[7], acc[i]);
      }
    }
#endif
    for (; k < K; k++) {
#if TRANSB
      float bt[RN];
      for (int j = 0; j < RN; j++) bt[j] = BT(k, n0 + j);
      VEC b = VLOAD(0, bt);
#else
      VEC b = VLOAD(0, B + (size_t)k * ldb + n0);
#endif
      for (int i = 0; i < RM; i++) acc[i] = fma((VEC)(AT(m0 + i, k)), b, acc[i]);
    }
    for (int i = 0; i < RM; i++) {
      __global float *c = C + (size_t)(m0 + i) * ldc + n0;
      VEC r = alpha * acc[i];
      if (beta != 0.0f) r = fma((VEC)(beta), VLOAD(0, c), r);
      VSTORE(r, 0, c);
    }
    return;
  }
  /* Edge block: bounds-checked scalar loads, zeros outside the matrix. */
  for (int k = 0; k < K; k++) {
    float bt[RN];
    for (int j = 0; j < RN; j++) bt[j] = (n0 + j < N) ? BT(k, n0 + j) : 0.0f;
    VEC b = VLOAD(0, bt);
    for (int i = 0; i < RM; i++) {
      float a = (m0 + i < M) ? AT(m0 + i, k) : 0.0f;
      acc[i] = fma((VEC)(a), b, acc[i]);
    }
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
