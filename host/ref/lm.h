/* The pre-norm decoder trunk shared by the float64 xLSTM and Llama references (spec xlstm.md §2.1, §2.4,
 * §3): x = Embedding[tokens]; per layer x += Mixer(RMSNorm(x)), then x += FFN(RMSNorm(x)) with the SwiGLU
 * FFN W_down(SiLU(W_gate x̂) ⊙ W_up x̂); then the final RMSNorm and the (optionally soft-capped) head with
 * the cross-entropy of ref/xent.h. Activations are (B, T, d) row-major. A model supplies its mixer (mLSTM
 * layer or attention, output projection included) and where each trunk tensor sits in its parameter array;
 * the layers must be laid out with a fixed stride. Model code uses this; callers use ref/xlstm.h and
 * ref/llama.h. */
#ifndef SCALECL_REF_LM_H
#define SCALECL_REF_LM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ref/params.h"

typedef struct {
  const int32_t *tokens;    /* (B, T) */
  const uint8_t *doc_start; /* (B, T): 1 where a document starts; NULL = one document per row */
  size_t B, T;
} sc_ref_lm_batch;

typedef struct sc_ref_lm sc_ref_lm;

/* Mixer of one layer: y (B·T, d) from the normed residual xn; p points at the layer's first tensor. */
typedef int (*sc_ref_mixer_fwd)(const sc_ref_lm *lm, const double *p, const sc_ref_lm_batch *in, const double *xn,
                                double *y, sc_err *err);
/* Adds the gradients for dy into dxn and into the layer's parameter gradients dp (same layout as p). */
typedef int (*sc_ref_mixer_bwd)(const sc_ref_lm *lm, const double *p, const sc_ref_lm_batch *in, const double *xn,
                                const double *dy, double *dxn, double *dp, sc_err *err);

struct sc_ref_lm {
  size_t d, d_ff, vocab, n_layers;
  double norm_eps;  /* every RMSNorm */
  double logit_cap; /* <= 0: none */
  size_t n_params;  /* elements of the parameter array */
  /* Offsets into the parameter array. */
  size_t embed, out_norm, head;
  size_t layer0, layer_size; /* layer l starts at layer0 + l·layer_size */
  /* Offsets within a layer. */
  size_t norm_mix, norm_ffn, ffn_gate, ffn_up, ffn_down;
  const void *model; /* for the mixer: the model's shape and offsets */
  sc_ref_mixer_fwd mix_forward;
  sc_ref_mixer_bwd mix_backward;
};

/* One tensor of a layer: its key after "<layer prefix><i>." and its shape (cols = 0 for a vector). */
typedef struct {
  const char *key;
  size_t rows, cols;
} sc_ref_lm_tensor;

/* Builds the parameter table of a trunk model into the zero-initialised p: embed_key (V, d); per layer the
 * n_block tensors of block; out_norm_key (d); head_key (V, d). Needs lm's d, vocab and n_layers; sets its
 * n_params, embed, out_norm, head, layer0 and layer_size, and rel[j] = offset of block[j] within a layer. */
int sc_ref_lm_layout(sc_ref_lm *lm, const char *embed_key, const char *layer_prefix, const sc_ref_lm_tensor *block,
                     size_t n_block, const char *out_norm_key, const char *head_key, size_t *rel, sc_ref_params *p,
                     sc_err *err);

/* Mean loss; per-position losses (B, T−1) and logits (B, T, V) when non-NULL. */
int sc_ref_lm_forward(const sc_ref_lm *lm, const double *params, const sc_ref_lm_batch *in, double *loss,
                      double *losses, double *logits, sc_err *err);
/* Writes dparams (n_params) = ∂loss/∂params, and the loss when non-NULL. */
int sc_ref_lm_backward(const sc_ref_lm *lm, const double *params, const sc_ref_lm_batch *in, double *loss,
                       double *dparams, sc_err *err);

#endif
