/* Row-major GEMM on device buffers: C = alpha*op(A)*op(B) + beta*C, and its strided-batched form.
 * Backed by CLBlast, with scalecl's own tiled kernel (cl/gemm.cl) as fallback and cross-check.
 * Offsets, leading dimensions and strides are in elements (floats). */
#ifndef SCALECL_GEMM_H
#define SCALECL_GEMM_H

#include "cl_runtime.h"

typedef enum { SC_GEMM_AUTO = 0, SC_GEMM_CLBLAST, SC_GEMM_OWN } sc_gemm_backend;

/* The backend SC_GEMM_AUTO uses on this device: $SCALECL_GEMM=clblast|own, else the device
 * profile's "gemm_backend" (platforms/profiles), else CLBlast. */
int sc_gemm_default(sc_ctx *c, sc_gemm_backend *out, sc_err *err);
const char *sc_gemm_backend_name(sc_gemm_backend b);

/* transA/transB: 0 = as stored, 1 = transposed. A is M x K after op, B is K x N, C is M x N. */
int sc_gemm(sc_ctx *c, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
            cl_mem A, size_t offA, size_t lda, cl_mem B, size_t offB, size_t ldb, float beta, cl_mem C, size_t offC,
            size_t ldc, sc_err *err);

int sc_gemm_batched(sc_ctx *c, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K,
                    float alpha, cl_mem A, size_t offA, size_t lda, size_t strideA, cl_mem B, size_t offB, size_t ldb,
                    size_t strideB, float beta, cl_mem C, size_t offC, size_t ldc, size_t strideC, size_t batch,
                    sc_err *err);

/* Releases the GEMM state held in the context (called by sc_ctx_close). */
void sc_gemm_release(sc_ctx *c);

#endif
