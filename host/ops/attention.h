/* Causal multi-head attention on device buffers (cl/attention.cl): flash-style forward saving the
 * per-row log-sum-exp, backward recomputing the probabilities from it, and batched KV-cache decode.
 * q, k, v, o and their gradients are float32 (B, NH, S, dh) row-major, or token-major (B, S, NH, dh) when created
 * with token_heads = NH (the layout of the model's projections; decode is the same either way); optional segment
 * ids (B, S) int32
 * restrict attention to keys of the same segment (document). RoPE is a separate op (ops/rope.h).
 * Memory is linear in S: the scratch is a few (B, NH, S, dh) copies, never S x S. */
#ifndef SCALECL_OPS_ATTENTION_H
#define SCALECL_OPS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/context.h"

typedef struct sc_attention sc_attention;

typedef struct {
  int head_dim;      /* a multiple of 16: 64, 80, 96, 128 in the models, 16 or 32 in tests */
  int fwd_rows;      /* query rows per forward work-item (-D BQ); 0 = default 16 */
  int bwd_key_tiles; /* key tiles of 16 per backward block (-D KB); 0 = default 4 */
  int work_items;    /* target work-items per backward or decode launch; 0 = 4 per compute unit */
  int token_heads;   /* 0 or 1: head-major rows; NH > 1: token-major, and every call has that NH */
  int kv_half;       /* 1: the decode caches hold IEEE halves (base/half.h rounding, half the bytes a step reads) */
} sc_attention_cfg;

/* Names of the cache elements by kv_half, for options and outputs: "f32", "f16", NULL. */
extern const char *const sc_attention_kv_names[];
/* Bytes of one element of the decode caches of an op created with kv_half. */
static inline size_t sc_attention_kv_bytes(int kv_half) {
  return kv_half ? 2 : 4;
}

/* gpu variant tile defaults (cl/attention.cl): the flash kernels' block rows BR, streamed rows BC, register tile
 * WR x WC, score and output staging depths TK and TC (TC halved at create until the __local memory fits) or, with
 * LS=0, operands read from global memory instead of staged; NEXP=1 takes native_exp() for the probabilities;
 * decode's and the statistics' work-group WG and decode scores per work-group DCH. The flash tiles are fitted to
 * half the device's __local memory, or with LMAX=1 to all of it: for GPUs whose compute units hold several work-groups
 * of the largest size a device reports (NVIDIA: 48 KiB a work-group, far more a multiprocessor). DQP=N (with LS=0)
 * makes the backward one pass: the dK/dV kernel also accumulates dQ into N partial slots per head. */
#define SC_ATTENTION_GPU_TILES "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LS=1 NEXP=0 LMAX=0 DQP=0"

/* Checks the gpu variant's tile defines ("WG=64 DCH=1024 BR=32 ...", as sc_variant_pick writes them) for head dim
 * dh against device d: the kernel's divisibility rules, the work-group sizes and the __local memory. 0 when the
 * kernels can run; otherwise an error naming the tiles and what to change (the tuner checks candidates with it). */
int sc_attention_tiles_check(const sc_device_info *d, const char *tiles, int dh, sc_err *err);

/* Builds the kernels for one head dim; the object also owns the scratch buffers (grown on demand). */
/* The flash tiles BR, TK and TC of tiles ("BR=32 BC=32 ...", as sc_variant_pick writes them) fitted to device d at
 * head dim dh: TC, then TK, then BR halved until the flash kernels' __local memory fits half of d's (two work-groups
 * can share a compute unit, and Oclgrind, which counts a kernel's __local arrays twice, still runs them), or all of it
 * with LMAX=1 or where half cannot be reached (head dim 256). 0, or -1 with a message for a bad LMAX. */
int sc_attention_fit_flash(const sc_device_info *d, int dh, const char *tiles, long *br, long *tk, long *tc,
                           sc_err *err);
/* Whether an attention op at head dim dh would accept tiles on device d: sc_attention_tiles_check after the flash
 * tiles are fitted as create fits them (the tuner's test; sc_attention_tiles_check alone rejects tiles that create
 * would shrink to fit). 0, or -1 with the reason. */
int sc_attention_tiles_usable(const sc_device_info *d, const char *tiles, int dh, sc_err *err);
int sc_attention_create(sc_ctx *c, const sc_attention_cfg *cfg, sc_attention **out, sc_err *err);
void sc_attention_destroy(sc_attention *a);

typedef struct {
  sc_view q, k, v; /* (B, NH, S, dh) */
  sc_view seg;     /* optional (B, S) int32 segment ids; buf NULL: one document per sequence */
  sc_view o;       /* out (B, NH, S, dh) = softmax(q k^T / sqrt(dh) + causal/segment mask) v */
  sc_view lse;     /* out (B, NH, S): natural-log log-sum-exp of each row's scaled, masked scores */
} sc_attention_fwd_io;

typedef struct {
  sc_view q, k, v, seg; /* as given to the forward */
  sc_view o, lse;       /* the forward's outputs */
  sc_view dout;         /* (B, NH, S, dh): gradient of the loss w.r.t. o */
  sc_view dq, dk, dv;   /* out (B, NH, S, dh) */
} sc_attention_bwd_io;

typedef struct {
  sc_view k, v;           /* a prefill's (B, NH, S, dh), or token-major as the forward takes them */
  sc_view kcache, vcache; /* out (B, NH, cap, dh), in the op's cache element; positions 0..S-1 written */
} sc_attention_fill_io;

typedef struct {
  sc_view kcache, vcache; /* (B, NH, cap, dh) in the op's cache element; the new token's k, v go to position pos[b] */
  sc_view q, k, v;        /* the new token (B, NH, dh) */
  sc_view o;              /* out (B, NH, dh) */
  sc_view lse;            /* optional out (B, NH); buf NULL: not written */
} sc_attention_decode_io;

int sc_attention_forward(sc_attention *a, int B, int NH, int S, const sc_attention_fwd_io *io, sc_err *err);

/* Gradients w.r.t. q, k, v from dout, given the forward's o and lse. */
int sc_attention_backward(sc_attention *a, int B, int NH, int S, const sc_attention_bwd_io *io, sc_err *err);

/* Writes a prefill's k and v (after RoPE) into the first S positions of the decode caches. */
int sc_attention_cache_fill(sc_attention *a, int B, int NH, int S, int cap, const sc_attention_fill_io *io,
                            sc_err *err);

/* One decode step for a batch: appends the new k, v at cache position pos[b], then the new q attends to cache
 * positions start[b]..pos[b] (start NULL = 0; a start past 0 keeps a new document from seeing the previous one).
 * pos and start are host arrays (validated: 0 <= start[b] <= pos[b] < cap). */
int sc_attention_decode(sc_attention *a, int B, int NH, int cap, const int32_t *pos, const int32_t *start,
                        const sc_attention_decode_io *io, sc_err *err);

#endif
