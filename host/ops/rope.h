/* Rotary position embedding (cl/rope.cl) on (B, NH, S, dh) float32 device buffers, adjacent-pair
 * (Meta) layout, positions per token from a (B, S) int32 buffer so they can restart at each document. */
#ifndef SCALECL_OPS_ROPE_H
#define SCALECL_OPS_ROPE_H

#include "runtime/context.h"

typedef struct sc_rope sc_rope;

/* Positions are below this (2^24, a thousand times the paper's longest context): a larger one is an error. The
 * cos/sin table is factorised (pos = hi * 1024 + lo), so its size grows with the largest position used / 1024
 * and stays under 9 MB at head dim 128 even at the limit. */
#define SC_ROPE_MAX_POS (1 << 24)

/* theta: base of the frequencies theta^(-2j/dh) (500000 in the scaling-law runs); dh must be even. */
int sc_rope_create(sc_ctx *c, int head_dim, double theta, sc_rope **out, sc_err *err);
void sc_rope_destroy(sc_rope *r);

/* Flags of sc_rope_apply: the transposed rotation (the backward), and x, y token-major (B, S, NH, dh). */
enum { SC_ROPE_TRANSPOSE = 1, SC_ROPE_TOKENS = 2 };

/* y = R(pos) x, or with SC_ROPE_TRANSPOSE the transpose R(pos)^T x (the gradient w.r.t. the un-rotated input).
 * x, y: (B, NH, S, dh) float32, or with SC_ROPE_TOKENS (B, S, NH, dh); pos: (B, S) int32. max_pos bounds the
 * positions in pos (0..max_pos, below SC_ROPE_MAX_POS); the cos/sin table grows to cover it. y may be the same
 * view as x. */
int sc_rope_apply(sc_rope *r, int B, int NH, int S, sc_view pos, int max_pos, sc_view x, sc_view y, int flags,
                  sc_err *err);

#endif
