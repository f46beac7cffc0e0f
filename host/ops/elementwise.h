/* The small per-token layers of both models on device buffers (cl/elementwise.cl), float32: SwiGLU, soft-cap,
 * the xLSTM gate pre-activations and output gate, and the residual add. Float64 oracles: ref/swiglu.h,
 * ref/softcap.h (the gates and output gate are written out in ref/xlstm.c). The calls over n values (n < 2^31:
 * SwiGLU, soft-cap, output gate, residual) allow an output to be the same view as an input; the gates do not.
 * Activation gradients are overwritten; parameter gradients (the gate biases) are added to, so micro-batches
 * accumulate. */
#ifndef SCALECL_OPS_ELEMENTWISE_H
#define SCALECL_OPS_ELEMENTWISE_H

#include "runtime/context.h"

typedef struct sc_elementwise sc_elementwise;

typedef struct {
  float gate_cap;  /* soft-cap of the input and forget pre-activations: 15 (spec §2.3); <= 0: none */
  float doc_reset; /* the capped forget pre-activation where a document starts: -25 (spec §2.8) */
} sc_elementwise_cfg;

/* cfg NULL: the xLSTM values above. */
int sc_elementwise_create(sc_ctx *c, const sc_elementwise_cfg *cfg, sc_elementwise **out, sc_err *err);
void sc_elementwise_destroy(sc_elementwise *e);

/* z = SiLU(g) ⊙ u;  dg = dz · u · σ(g)(1 + g(1 − σ(g))), du = dz · SiLU(g). */
int sc_swiglu_forward(sc_elementwise *e, int n, sc_view g, sc_view u, sc_view z, sc_err *err);
int sc_swiglu_backward(sc_elementwise *e, int n, sc_view g, sc_view u, sc_view dz, sc_view dg, sc_view du, sc_err *err);

/* y = c·tanh(x/c) (c <= 0: y = x);  dx = dy · sech²(x/c). */
int sc_softcap_forward(sc_elementwise *e, int n, float c, sc_view x, sc_view y, sc_err *err);
int sc_softcap_backward(sc_elementwise *e, int n, float c, sc_view x, sc_view dy, sc_view dx, sc_err *err);

/* The xLSTM output gate y = σ(o) ⊙ h;  dout = dy · h · σ(o)(1 − σ(o)), dh = dy · σ(o). */
int sc_ogate_forward(sc_elementwise *e, int n, sc_view o, sc_view h, sc_view y, sc_err *err);
int sc_ogate_backward(sc_elementwise *e, int n, sc_view o, sc_view h, sc_view dy, sc_view dout, sc_view dh,
                      sc_err *err);

/* x += y (the residual stream, and gradients meeting at a fork). */
int sc_residual_add(sc_elementwise *e, int n, sc_view x, sc_view y, sc_err *err);

/* The xLSTM gate pre-activations after their projections (spec §2.3, §2.8), per token and head:
 * i = cap(xi + bi), f = cap(xf + bf), and f = doc_reset where doc_start is 1, moved to the cell's layout. */
typedef struct {
  sc_view xi, xf;    /* (B, T, NH), rows ld apart: the projections x̂ W_iᵀ and x̂ W_fᵀ, without bias */
  sc_view bi, bf;    /* (NH) */
  sc_view doc_start; /* optional (B, T) int32, 1 where a document starts; buf NULL: no resets */
  sc_view i, f;      /* out (B, NH, T) */
} sc_gates_fwd_io;

typedef struct {
  sc_view xi, xf, bi, bf, doc_start; /* as given to the forward */
  sc_view di, df;                    /* (B, NH, T): gradients w.r.t. i and f */
  sc_view dxi, dxf;                  /* out (B, T, NH), rows ld apart; dxf is 0 where a document starts */
  sc_view dbi, dbf;                  /* (NH), added to: the sums of dxi and dxf over all tokens */
} sc_gates_bwd_io;

/* ld: elements between token rows of xi, xf (and dxi, dxf); 0 means NH, 2·NH reads one fused [i; f] projection
 * (xf = xi moved by NH floats). */
int sc_gates_forward(sc_elementwise *e, int B, int T, int NH, int ld, const sc_gates_fwd_io *io, sc_err *err);
int sc_gates_backward(sc_elementwise *e, int B, int T, int NH, int ld, const sc_gates_bwd_io *io, sc_err *err);

#endif
