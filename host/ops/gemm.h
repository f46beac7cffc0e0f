/* Row-major GEMM on device buffers: C = alpha*op(A)*op(B) + beta*C, and its strided-batched form.
 * Backed by CLBlast, with scalecl's own tiled kernel (cl/gemm.cl) as fallback and cross-check; the own kernel
 * takes a few rows times a transposed B (M <= 8: decoding steps) in place, without packing B.
 * A, B and C are views (runtime/context.h; byte offsets, multiples of 4); leading dimensions and batch strides
 * are in elements (floats). */
#ifndef SCALECL_OPS_GEMM_H
#define SCALECL_OPS_GEMM_H

#include "runtime/context.h"

/* The backends are SC_GEMM_AUTO + 1 .. SC_GEMM_COUNT - 1 (what a check or benchmark loops over). */
typedef enum { SC_GEMM_AUTO = 0, SC_GEMM_CLBLAST, SC_GEMM_OWN, SC_GEMM_COUNT } sc_gemm_backend;

const char *sc_gemm_backend_name(sc_gemm_backend b);

/* Kernels, CLBlast scratch and the default backend for one context. */
typedef struct sc_gemm sc_gemm;

/* Applies the device profile's CLBlast parameters (platforms/profiles) and resolves the backend that
 * SC_GEMM_AUTO means: $SCALECL_GEMM=clblast|own, else the profile's "gemm_backend", else CLBlast. Bad values
 * are errors naming the variable or profile file. */
int sc_gemm_create(sc_ctx *c, sc_gemm **out, sc_err *err);
void sc_gemm_destroy(sc_gemm *g);
sc_gemm_backend sc_gemm_default(const sc_gemm *g);

/* transA/transB: 0 = as stored, 1 = transposed. A is M x K after op, B is K x N, C is M x N. */
int sc_gemm_run(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
                sc_view A, size_t lda, sc_view B, size_t ldb, float beta, sc_view C, size_t ldc, sc_err *err);

/* batch products, matrix b of A starting b * strideA elements after the view (likewise B, C). */
int sc_gemm_run_batched(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K,
                        float alpha, sc_view A, size_t lda, size_t strideA, sc_view B, size_t ldb, size_t strideB,
                        float beta, sc_view C, size_t ldc, size_t strideC, size_t batch, sc_err *err);

#endif
