/* The LM head fused with (soft-capped) cross-entropy on device buffers (cl/xent.cl), without a (B·T, V) logits
 * buffer: the vocabulary is walked in blocks of nb columns, each block's logits x W_blockᵀ made by the GEMM op,
 * capped and folded into per-row online log-sum-exp statistics (forward), or recomputed and turned into the
 * gradient that two more GEMMs take to dx and dW (backward).
 *
 * x (B, T, d) is the final-norm output, W (V, d) the head stored (out, in), tokens (B, T) int32. Logits are
 * cap·tanh(x Wᵀ / cap) (cap 30 for xLSTM; no cap for Llama). Hugging Face causal-LM convention: logits at position
 * t predict token t+1, the loss is the mean over the B·(T−1) positions t < T−1, and it is 0 when T = 1.
 * Float64 reference: host/ref/xent.h.
 *
 * Device memory (bytes) beyond the caller's tensors, with N = B·T rows and nb = min(block, V):
 *   4·(N·nb + 33·N + 1)                     block logits (N, nb), 16 lanes of running max and sum per row (N, 16)
 *                                           twice (one lane, 30·N fewer, in the gpu kernel variant), the target
 *                                           logits (N), the token-check flag;
 * + 4·(R(N)·R(d) + R(nb)·R(d) + R(N)·R(nb)) at most, the GEMM op's scratch for these products (CLBlast's padded
 *                                           copies or the own kernel's packed panels), R(n) = n rounded up to 128.
 * V enters only through nb: the memory does not grow with the vocabulary. A forward that writes full logits needs
 * no block logits (the blocks are columns of the caller's (N, V) buffer); the backward always does.
 * sc_xent_memory gives the sum. */
#ifndef SCALECL_OPS_XENT_H
#define SCALECL_OPS_XENT_H

#include "ops/gemm.h"
#include "runtime/context.h"

typedef struct sc_xent sc_xent;

typedef struct {
  int d, V;           /* input width, vocabulary */
  float cap;          /* logit soft-cap c in c·tanh(z/c): 30 for xLSTM; 0 for none (Llama) */
  int block;          /* vocabulary columns per block; 0 = from block_bytes */
  size_t block_bytes; /* when block = 0: the widest multiple of 64 columns whose (N, nb) float block fits this many
                         bytes (at least 64 columns); 0 = 64 MiB */
  sc_gemm *gemm;      /* GEMM op for the products (not owned; share the model's); NULL = the op makes its own */
} sc_xent_cfg;

/* The gpu variant's tile (cl/xent.cl): the work-group reducing a row, and the mean's. */
#define SC_XENT_GPU_TILES "WG=256"
/* Whether gpu tiles (as sc_variant_pick gives them) suit device d: WG a power of two within its work-group limit
 * and its __local (max, sum) pairs (8 bytes an item) within its local memory. The op and the tuner apply this. */
int sc_xent_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err);

int sc_xent_create(sc_ctx *c, const sc_xent_cfg *cfg, sc_xent **out, sc_err *err);
void sc_xent_destroy(sc_xent *x);

typedef struct {
  sc_view x;      /* (B, T, d) */
  sc_view W;      /* (V, d) */
  sc_view tokens; /* (B, T) int32; the target of position t is tokens[b, t+1] */
  sc_view lse;    /* out (B, T): natural-log log-sum-exp of each row's capped logits, for the backward */
  sc_view loss;   /* out (1): the mean loss */
  sc_view losses; /* optional out (B, T−1): the loss of each position */
  sc_view logits; /* optional out (B, T, V): the capped logits (then no block logits scratch is used) */
} sc_xent_fwd_io;

typedef struct {
  sc_view x, W, tokens; /* as given to the forward */
  sc_view lse;          /* the forward's lse */
  sc_view dx;           /* out (B, T, d) */
  sc_view dW;           /* out (V, d) */
  int accumulate;       /* 1: add the gradients into dx and dW (accumulation over micro-batches); 0: overwrite */
} sc_xent_bwd_io;

/* Loss, lse and the optional outputs. Checks every token against [0, V) (a failure names the first bad position);
 * reading that check back waits for the queue to drain. */
int sc_xent_forward(sc_xent *x, int B, int T, const sc_xent_fwd_io *io, sc_err *err);

/* Gradients of scale · (mean loss) w.r.t. x and W (scale: 1, or e.g. 1/k to average k micro-batches), given the
 * forward's lse. The last position of each sequence contributes nothing. */
int sc_xent_backward(sc_xent *x, int B, int T, float scale, const sc_xent_bwd_io *io, sc_err *err);

/* The block width the op uses for N rows. */
int sc_xent_block(const sc_xent *x, int N);

/* The device memory of the formula above for N rows, width d, vocabulary V and block width `block` (what
 * sc_xent_block gives). For N = 4096, d = 256, V = 50304 and the default budget (block 4096): 136.5 MiB, of which
 * 64.5 MiB the op's own and 72 MiB the GEMM bound, against 786 MiB for one (N, V) logits buffer. */
size_t sc_xent_memory(size_t N, size_t d, size_t V, size_t block);

#endif
