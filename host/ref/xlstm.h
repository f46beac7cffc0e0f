/* Float64 reference of the whole xLSTM language model (xLSTM-7B block design, spec xlstm.md §2), the oracle
 * for the device model. All parameters live in one double array whose layout sc_ref_xlstm_layout lists:
 * tensor names are exactly the Hugging Face keys of hf-checkpoints.md ("backbone.embeddings.weight",
 * "backbone.blocks.{i}.mlstm_layer.q.weight", ..., "lm_head.weight"), linear weights stored (out, in), head h
 * owning rows h·d_qk.. of q and k and h·d_v.. of v, ogate and multihead_norm. A gradient array has the same
 * layout. Tokens are int32 (B, T) row-major; the loss is the mean cross-entropy of the capped logits at t
 * against token t+1 (ref/xent.h). doc_start (B, T, 1 where a document starts, may be NULL) overwrites the
 * capped forget pre-activation with −25 there (§2.8). The mLSTM runs in chunkwise form from a zero state;
 * its backward is the upstream custom one (normalizer treated as a constant), which equals the exact
 * gradient up to terms of order eps and cell_norm_eps relative to the head variances (exact when both are
 * 0). Functions return 0, or -1 with err set. */
#ifndef SCALECL_REF_XLSTM_H
#define SCALECL_REF_XLSTM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ref/params.h"

typedef struct {
  size_t d;             /* embedding_dim */
  size_t n_layers;      /* num_blocks */
  size_t n_heads;       /* NH */
  size_t d_qk, d_v;     /* per head: qk_dim / NH and v_dim / NH */
  size_t d_ff;          /* FFN width */
  size_t vocab;         /* V */
  double norm_eps;      /* RMSNorms: 1e-6 */
  double cell_norm_eps; /* multi-head LayerNorm: 1e-6 */
  double eps;           /* mLSTM normalizer, added after the max: 1e-6 */
  double gate_cap;      /* input and forget pre-activations: 15 (<= 0: none) */
  double logit_cap;     /* output logits: 30 (<= 0: none) */
  size_t chunk;         /* chunk length of the mLSTM reference: 64 (results depend on it only through eps) */
} sc_ref_xlstm_shape;

/* The defaults of §2: d_qk = (d/2)/NH, d_v = d/NH, d_ff = 64·⌈2.667·d/64⌉, eps 1e-6, caps 15 and 30, chunk 64. */
void sc_ref_xlstm_shape_default(sc_ref_xlstm_shape *s, size_t d, size_t n_layers, size_t n_heads, size_t vocab);

/* Fills the zero-initialised table p (free with sc_ref_params_free): the embedding, per block 15 tensors
 * (norm_mlstm, q, k, v, ogate_preact, igate_preact weight and bias, fgate_preact weight and bias,
 * multihead_norm, out_proj, norm_ffn, proj_up_gate, proj_up, proj_down), out_norm, lm_head. */
int sc_ref_xlstm_layout(const sc_ref_xlstm_shape *s, sc_ref_params *p, sc_err *err);

/* The training init of §2.7 from a seed: small_init N(0, 2/(5d)) for the embedding, head, q, k, v, FFN up and
 * gate; wang_init N(0, (2/(n_layers·√d))²) for out_proj and proj_down; zeros for ogate and the gate weights;
 * igate bias −10; fgate bias linspace(3, 6, NH); norm weights 1. */
int sc_ref_xlstm_init(const sc_ref_xlstm_shape *s, uint64_t seed, double *params, sc_err *err);

/* Mean loss; per-position losses (B, T−1) and capped logits (B, T, V) when non-NULL. */
int sc_ref_xlstm_forward(const sc_ref_xlstm_shape *s, const double *params, const int32_t *tokens,
                         const uint8_t *doc_start, size_t B, size_t T, double *loss, double *losses, double *logits,
                         sc_err *err);
/* dparams = ∂loss/∂params (overwritten, same layout); the loss too when non-NULL. */
int sc_ref_xlstm_backward(const sc_ref_xlstm_shape *s, const double *params, const int32_t *tokens,
                          const uint8_t *doc_start, size_t B, size_t T, double *loss, double *dparams, sc_err *err);

#endif
