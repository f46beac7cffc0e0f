/* The parameter table of a model: every tensor with its Hugging Face key (spec hf-checkpoints.md), shape,
 * place in one contiguous float arena, AdamW weight-decay flag and init rule (spec xlstm.md §2.7, §3).
 *
 * Arena layout (llm.c style): tensors are grouped by family, a family being one tensor of every block (all
 * blocks' q weights) or one model-level tensor (the embedding). A family is contiguous, its blocks at a fixed
 * stride, so one buffer view covers it; every tensor starts on a multiple of SC_PARAM_ALIGN floats, so views
 * of single tensors are aligned too. Padding floats are zero and belong to no tensor. The table itself lists
 * tensors in model order (embedding, block 0, block 1, ..., final norm, head), as checkpoints store them.
 * Llama q/k rows are in scalecl's adjacent-pair RoPE layout; checkpoints permute them for HF. */
#ifndef SCALECL_MODEL_PARAMS_H
#define SCALECL_MODEL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/config.h"

#define SC_PARAM_ALIGN 16 /* floats: 64 bytes */
#define SC_PARAM_MAX_FAMILIES 24

typedef enum {
  SC_INIT_NORMAL,   /* N(0, a²) */
  SC_INIT_CONST,    /* every element a */
  SC_INIT_LINSPACE, /* a to b over the elements, both ends included (a alone for one element) */
} sc_init_kind;

typedef struct {
  sc_init_kind kind;
  double a, b;
  const char *name; /* "small_init", "wang_init", "zeros", "ones", "-10", "linspace(3, 6)" */
} sc_init_rule;

typedef struct {
  char key[96];     /* HF key, e.g. "backbone.blocks.0.mlstm_layer.q.weight" */
  int family;       /* index into sc_params.fam */
  int layer;        /* block index; -1 for model-level tensors */
  int ndim;         /* 1 or 2 */
  int64_t shape[2]; /* (out, in) for a linear weight */
  char dims[64];    /* the shape in config terms, e.g. "(qk_dim, embedding_dim)" */
  size_t numel;
  size_t offset; /* first float in the arena, a multiple of SC_PARAM_ALIGN */
  int decay;     /* AdamW weight decay applies: weight matrices, not norms, biases or the embedding */
  sc_init_rule init;
} sc_param;

typedef struct {
  const char *name; /* the key without the block prefix ("mlstm_layer.q.weight"), or the full key */
  int count;        /* tensors: n_layers for a block family, 1 for a model-level one */
  size_t numel;     /* per tensor */
  size_t offset;    /* arena offset of the first tensor */
  size_t stride;    /* floats from one block's tensor to the next: numel rounded up to SC_PARAM_ALIGN */
} sc_param_family;

typedef struct {
  sc_arch arch;
  sc_param *t; /* model order */
  int n;
  sc_param_family fam[SC_PARAM_MAX_FAMILIES];
  int n_fam;
  int64_t n_params;    /* sum of numel: equals sc_model_params() */
  size_t arena_floats; /* arena length with padding */
} sc_params;

/* The table of a validated config (Llama needs an even head_dim for RoPE). */
int sc_params_build(const sc_model_config *cfg, sc_params *p, sc_err *err);
void sc_params_free(sc_params *p);
/* The tensor with that exact key, or NULL. */
const sc_param *sc_params_find(const sc_params *p, const char *key);
/* A zeroed arena of p->arena_floats floats, aligned to SC_PARAM_ALIGN floats; release with free(). */
float *sc_params_alloc(const sc_params *p, sc_err *err);

#endif
