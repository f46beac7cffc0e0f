/* Float64 reference of the Llama-style Transformer baseline (spec xlstm.md §3), the oracle for the device
 * model. All parameters live in one double array whose layout sc_ref_llama_layout lists: tensor names are
 * exactly the Hugging Face keys of hf-checkpoints.md ("model.embed_tokens.weight",
 * "model.layers.{i}.self_attn.q_proj.weight", ..., "lm_head.weight"), linear weights stored (out, in). q and k
 * rows are in the adjacent-pair RoPE layout (Meta): pairs (2j, 2j+1) of each head rotate by pos·θ^(−2j/hd);
 * an HF checkpoint needs the per-head row permutation of hf-checkpoints.md. A gradient array has the same
 * layout. Tokens are int32 (B, T) row-major; the loss is the mean cross-entropy of the logits at t against
 * token t+1 (ref/xent.h), without a logit cap unless logit_cap > 0. Attention is causal with scale
 * 1/√head_dim; doc_start (B, T, 1 where a document starts, may be NULL) splits each row into documents:
 * attention is masked across them (segment ids = cumulative sum of doc_start) and positions restart at 0 at
 * each start, so a packed document gives exactly the numbers it gives alone. Functions return 0, or -1 with
 * err set. */
#ifndef SCALECL_REF_LLAMA_H
#define SCALECL_REF_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ref/params.h"

typedef struct {
  size_t d;          /* hidden_size */
  size_t n_layers;   /* num_hidden_layers */
  size_t n_heads;    /* num_attention_heads = num_key_value_heads */
  size_t head_dim;   /* even */
  size_t d_ff;       /* intermediate_size */
  size_t vocab;      /* V */
  double norm_eps;   /* rms_norm_eps: 1e-6 */
  double rope_theta; /* 500000 in the scaling-law runs */
  double logit_cap;  /* 0: none (the baseline, §3) */
} sc_ref_llama_shape;

/* The defaults of §3: head_dim = d/NH, d_ff = 64·⌈⌊8d/3⌋/64⌉, eps 1e-6, θ = 500000, no logit cap. */
void sc_ref_llama_shape_default(sc_ref_llama_shape *s, size_t d, size_t n_layers, size_t n_heads, size_t vocab);

/* Fills the zero-initialised table p (free with sc_ref_params_free): the embedding, per layer 9 tensors
 * (input_layernorm, q/k/v/o_proj, post_attention_layernorm, gate/up/down_proj), model.norm, lm_head. */
int sc_ref_llama_layout(const sc_ref_llama_shape *s, sc_ref_params *p, sc_err *err);

/* The training init of §3 from a seed: small_init N(0, 2/(5d)) for q, k, v, gate, up, the embedding and the
 * head; wang_init N(0, (2/(2·n_layers·√d))²) for o_proj and down_proj; norm weights 1. */
int sc_ref_llama_init(const sc_ref_llama_shape *s, uint64_t seed, double *params, sc_err *err);

/* Mean loss; per-position losses (B, T−1) and logits (B, T, V) when non-NULL. */
int sc_ref_llama_forward(const sc_ref_llama_shape *s, const double *params, const int32_t *tokens,
                         const uint8_t *doc_start, size_t B, size_t T, double *loss, double *losses, double *logits,
                         sc_err *err);
/* dparams = ∂loss/∂params (overwritten, same layout); the loss too when non-NULL. */
int sc_ref_llama_backward(const sc_ref_llama_shape *s, const double *params, const int32_t *tokens,
                          const uint8_t *doc_start, size_t B, size_t T, double *loss, double *dparams, sc_err *err);

#endif
