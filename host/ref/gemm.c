#include "ref/gemm.h"

void sc_ref_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda, const float *B,
                 size_t ldb, double beta, const float *C0, size_t ldc, double *out) {
  for (size_t i = 0; i < M; i++)
    for (size_t j = 0; j < N; j++) {
      double s = 0;
      for (size_t k = 0; k < K; k++) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      out[i * N + j] = alpha * s + (beta != 0 ? beta * C0[i * ldc + j] : 0);
    }
}
