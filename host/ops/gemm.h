/* Row-major GEMM on device buffers: C = alpha*op(A)*op(B) + beta*C, and its strided-batched form.
 * Backed by CLBlast, by scalecl's own tiled kernels (cl/gemm.cl; fallback and cross-check), or on CPU devices that
 * share host memory by the host's BLAS (OpenBLAS cblas_sgemm) on mapped buffers. The own kernels come in the two
 * kernel variants (runtime/variant.h, family "gemm"): cpu (register-blocked, B packed into panels; a few rows
 * times a transposed B (M <= 8: decoding steps) in place, without packing B) and gpu (work-groups staging tiles
 * in __local memory, A and B read in place).
 * A, B and C are views (runtime/context.h; byte offsets, multiples of 4); leading dimensions and batch strides
 * are in elements (floats). */
#ifndef SCALECL_OPS_GEMM_H
#define SCALECL_OPS_GEMM_H

#include "runtime/context.h"

/* The backends are SC_GEMM_AUTO + 1 .. SC_GEMM_COUNT - 1 (what a check or benchmark loops over). */
typedef enum { SC_GEMM_AUTO = 0, SC_GEMM_CLBLAST, SC_GEMM_OWN, SC_GEMM_HOST, SC_GEMM_COUNT } sc_gemm_backend;

const char *sc_gemm_backend_name(sc_gemm_backend b);
/* "clblast", "own" or "host" (any case); SC_GEMM_AUTO for anything else. */
sc_gemm_backend sc_gemm_backend_parse(const char *name);

/* Whether the host backend can run on d: a CPU device whose buffers live in host memory, so that mapping them is
 * zero-copy and the host's BLAS computes on the device's own memory. */
int sc_gemm_host_capable(const sc_device_info *d);
/* "OpenBLAS 0.3.21, Cooperlake kernels, 2 threads": what the host backend runs. */
void sc_gemm_host_describe(char *buf, size_t cap);

/* Tile parameters of the own kernels (cl/gemm.cl) with their defaults, per variant; a profile's
 * "tiles": {"gemm_cpu"|"gemm_gpu": {...}} or the tuner (bench/tune.h) replaces them by name. gpu: work-groups of
 * (WGN/TN) x (WGM/TM) = 256 work-items and 8.3 KB of __local memory, safe on any GPU of OpenCL 1.2. */
#define SC_GEMM_CPU_TILES "RM=8 RN=16"
#define SC_GEMM_GPU_TILES "WGM=64 WGN=64 TM=4 TN=4 TK=16 PAD=1"

/* Whether the own kernels' tile defines `tiles` (all of the variant's names, as sc_variant_pick gives them) suit
 * device d: the kernel's divisibility rules, and for gpu the work-group size against the device's maximum and the
 * __local bytes against its local memory. The error names the parameters and the limit. */
int sc_gemm_tiles_check(const sc_device_info *d, int gpu, const char *tiles, sc_err *err);

/* Kernels, CLBlast scratch and the default backend for one context. */
typedef struct sc_gemm sc_gemm;

/* Applies the device profile's CLBlast parameters (platforms/profiles) and resolves the backend that
 * SC_GEMM_AUTO means: $SCALECL_GEMM=clblast|own|host, else the profile's "gemm_backend", else CLBlast. Bad values,
 * and host on a device that is not sc_gemm_host_capable, are errors naming the variable or profile file. On a
 * capable device it sets the BLAS thread count to the device's compute units, so BLAS and the OpenCL runtime
 * do not oversubscribe the cores they share. When host is preferred, SC_GEMM_AUTO still runs products of at most 8
 * rows times a transposed B (decoding steps) on the own rows kernel, which beats mapping the buffers for them. */
int sc_gemm_create(sc_ctx *c, sc_gemm **out, sc_err *err);
void sc_gemm_destroy(sc_gemm *g);
sc_gemm_backend sc_gemm_default(const sc_gemm *g);
/* Whether backend be runs on g's device (host: sc_gemm_host_capable; the others: always). */
int sc_gemm_available(const sc_gemm *g, sc_gemm_backend be);

/* transA/transB: 0 = as stored, 1 = transposed. A is M x K after op, B is K x N, C is M x N. The host backend
 * maps the views (blocking, so it waits for the queue) and unmaps them before it returns; commands enqueued
 * afterwards see C. */
int sc_gemm_run(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K, float alpha,
                sc_view A, size_t lda, sc_view B, size_t ldb, float beta, sc_view C, size_t ldc, sc_err *err);

/* batch products, matrix b of A starting b * strideA elements after the view (likewise B, C). */
int sc_gemm_run_batched(sc_gemm *g, sc_gemm_backend be, int transA, int transB, size_t M, size_t N, size_t K,
                        float alpha, sc_view A, size_t lda, size_t strideA, sc_view B, size_t ldb, size_t strideB,
                        float beta, sc_view C, size_t ldc, size_t strideC, size_t batch, sc_err *err);

/* OpenBLAS chooses its kernels once, when it loads, from $OPENBLAS_CORETYPE or else its CPU detection, which
 * falls back to Prescott (SSE3) kernels on CPU models it does not know, as on some VMs: SGEMM then runs about 5x
 * slower. These name the core type that fits the CPU when OpenBLAS's kernels are narrower than its features:
 * sc_gemm_blas_core_for from OpenBLAS's choice and the CPU's features (NULL: the choice stands), sc_gemm_blas_core_fix
 * for this process (NULL also when OPENBLAS_CORETYPE is set). main exports it and runs itself again. */
const char *sc_gemm_blas_core_for(const char *corename, int has_avx2, int has_avx512);
const char *sc_gemm_blas_core_fix(void);

/* When device d can run the host backend and the user's OPENBLAS_CORETYPE names kernels narrower than the CPU's
 * features (HASWELL on an AVX-512 CPU), writes a note that says so and what to set instead and returns 1; else 0.
 * scalecl leaves the setting alone. */
int sc_gemm_blas_core_note(const sc_device_info *d, char *buf, size_t cap);

/* Everything main should export before running itself again (OpenBLAS reads its environment once, when it
 * loads): names[i]=values[i] for the count returned, 0 when nothing is missing. OPENBLAS_CORETYPE as
 * sc_gemm_blas_core_fix says, and OPENBLAS_THREAD_TIMEOUT=4 unless the user set it: by default OpenBLAS's idle
 * threads spin (sched_yield) for 2^28 cycles after each call, taking the cores from the device kernels that run
 * between GEMMs on the same CPUs (PoCL), which made xlstm-cpu-5m forward+backward about 15% slower. */
int sc_gemm_blas_env(const char *names[2], const char *values[2]);

#endif
