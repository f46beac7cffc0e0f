/* Parameter and FLOP accounting exactly as the xLSTM scaling-law paper counts it (Appendix C, as
 * implemented in xlstm_scaling_laws/flops; spec xlstm.md §2.6, §3, §4.5). Embedding, norm and residual
 * FLOPs are not counted; the LM head is. Backward = 2 x forward, so training = 3 x forward. */
#ifndef SCALECL_FLOPS_H
#define SCALECL_FLOPS_H

#include <stdint.h>

#include "model/config.h"

typedef enum { SC_MLSTM_FIRST = 0, SC_MLSTM_TFLA = 1 } sc_mlstm_mode;
typedef enum { SC_ATTN_DISTILL_SCALING = 0, SC_ATTN_CHINCHILLA = 1 } sc_attn_mode;

typedef struct {
  sc_mlstm_mode mlstm;       /* chunkwise mLSTM cell count */
  sc_attn_mode attn;         /* attention core count */
  double tfla_causal_factor; /* "tfla" mode: factor on the intra-chunk part when chunk_size > 64 */
} sc_flops_opts;

/* The paper's settings: mLSTM "first", attention "distill_scaling", TFLA causal factor 0.75. */
sc_flops_opts sc_flops_paper_opts(void);
/* Sets the mode matching `name` ("first", "tfla", "distill_scaling", "chinchilla") for the architecture. */
int sc_flops_set_mode(sc_flops_opts *o, sc_arch arch, const char *name, sc_err *err);
const char *sc_flops_mode_name(const sc_flops_opts *o, sc_arch arch);

/* Forward FLOPs of one sequence; total = linear + seq_mix + other. */
typedef struct {
  double total;
  double linear;  /* every projection, FFN and the LM head (and the output-gate sigmoid, as the paper does) */
  double seq_mix; /* mLSTM cell or attention core */
  double other;   /* SwiGLU activation and product */
} sc_flops;

/* Parameters including embedding, LM head and norms (the paper's convention). */
int64_t sc_model_params(const sc_model_config *cfg);
/* ctx >= 1. mLSTM chunks are counted as floor(ctx / chunk_size), as the paper's code does. */
int sc_flops_forward(const sc_model_config *cfg, long ctx, const sc_flops_opts *o, sc_flops *out, sc_err *err);

/* Forward FLOPs of one layer's sequence mixing (per layer, the seq_mix of sc_flops_forward) for NH heads over S
 * tokens: the chunkwise mLSTM cell at chunk size L in o->mlstm mode, floor(S / L) chunks; the attention core of
 * a causal model in o->attn mode (distill_scaling counts half the logit and value products, chinchilla all). */
double sc_flops_mlstm_cell(const sc_flops_opts *o, double S, double NH, double L, double dqk, double dv);
double sc_flops_attention_core(const sc_flops_opts *o, double S, double NH, double dqk, double dv);

static inline double sc_flops_train_per_seq(const sc_flops *fw) {
  return 3.0 * fw->total;
}
static inline double sc_flops_train_per_token(const sc_flops *fw, long ctx) {
  return 3.0 * fw->total / (double)ctx;
}

/* A FLOP budget spent at `batch` sequences of `ctx` tokens per step. */
typedef struct {
  double steps_exact; /* budget / (batch * training FLOPs per sequence) */
  int64_t steps;      /* nearest whole number of steps */
  double tokens;      /* steps * batch * ctx */
  double flops;       /* what those steps actually cost */
} sc_budget_plan;

int sc_flops_plan_budget(const sc_flops *fw, long ctx, long batch, double budget, sc_budget_plan *plan, sc_err *err);
/* Training FLOPs for `tokens` tokens at this context (the inverse of the plan). */
static inline double sc_flops_budget_for_tokens(const sc_flops *fw, long ctx, double tokens) {
  return sc_flops_train_per_token(fw, ctx) * tokens;
}

#endif
