/* Float64 reference of the row-major GEMM of ops/gemm.h, for tests. */
#ifndef SCALECL_REF_GEMM_H
#define SCALECL_REF_GEMM_H

#include <stddef.h>

/* out (M x N, dense) = alpha * op(A) op(B) + beta * C0, summed in double from float32 inputs. op(A) is M x K: A
 * stored M x K with leading dimension lda, or K x M when ta; likewise op(B) is K x N (N x K stored when tb). C0
 * (leading dimension ldc) is not read when beta == 0, as BLAS does. */
void sc_ref_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const float *A, size_t lda, const float *B,
                 size_t ldb, double beta, const float *C0, size_t ldc, double *out);

#endif
