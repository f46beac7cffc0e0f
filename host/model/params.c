#include "model/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sizes a family's shape is written in; resolved against the config. */
typedef enum { D_NONE, D_V, D_D, D_QK, D_VD, D_NH, D_FF } dim;

/* Init rules by role; the numbers come from the config (xlstm.md §2.7 for xLSTM, §3 for Llama). */
typedef enum { I_ONES, I_ZEROS, I_SMALL, I_WANG, I_IGATE_BIAS, I_FGATE_BIAS } role;

typedef struct {
  const char *suffix; /* key after the block prefix; the whole key for model-level tensors */
  int per_block;
  dim rows, cols; /* cols D_NONE: a vector */
  role init;
  int decay;
} family_spec;

/* Model order within each list: embedding, one block's tensors, final norm, head. */
static const family_spec XLSTM[] = {
    {"backbone.embeddings.weight", 0, D_V, D_D, I_SMALL, 0},
    {"norm_mlstm.weight", 1, D_D, D_NONE, I_ONES, 0},
    {"mlstm_layer.q.weight", 1, D_QK, D_D, I_SMALL, 1},
    {"mlstm_layer.k.weight", 1, D_QK, D_D, I_SMALL, 1},
    {"mlstm_layer.v.weight", 1, D_VD, D_D, I_SMALL, 1},
    {"mlstm_layer.ogate_preact.weight", 1, D_VD, D_D, I_ZEROS, 1},
    {"mlstm_layer.igate_preact.weight", 1, D_NH, D_D, I_ZEROS, 1},
    {"mlstm_layer.igate_preact.bias", 1, D_NH, D_NONE, I_IGATE_BIAS, 0},
    {"mlstm_layer.fgate_preact.weight", 1, D_NH, D_D, I_ZEROS, 1},
    {"mlstm_layer.fgate_preact.bias", 1, D_NH, D_NONE, I_FGATE_BIAS, 0},
    {"mlstm_layer.multihead_norm.weight", 1, D_VD, D_NONE, I_ONES, 0},
    {"mlstm_layer.out_proj.weight", 1, D_D, D_VD, I_WANG, 1},
    {"norm_ffn.weight", 1, D_D, D_NONE, I_ONES, 0},
    {"ffn.proj_up_gate.weight", 1, D_FF, D_D, I_SMALL, 1},
    {"ffn.proj_up.weight", 1, D_FF, D_D, I_SMALL, 1},
    {"ffn.proj_down.weight", 1, D_D, D_FF, I_WANG, 1},
    {"backbone.out_norm.weight", 0, D_D, D_NONE, I_ONES, 0},
    {"lm_head.weight", 0, D_V, D_D, I_SMALL, 1},
};

static const family_spec LLAMA[] = {
    {"model.embed_tokens.weight", 0, D_V, D_D, I_SMALL, 0},
    {"input_layernorm.weight", 1, D_D, D_NONE, I_ONES, 0},
    {"self_attn.q_proj.weight", 1, D_QK, D_D, I_SMALL, 1},
    {"self_attn.k_proj.weight", 1, D_QK, D_D, I_SMALL, 1},
    {"self_attn.v_proj.weight", 1, D_VD, D_D, I_SMALL, 1},
    {"self_attn.o_proj.weight", 1, D_D, D_VD, I_WANG, 1},
    {"post_attention_layernorm.weight", 1, D_D, D_NONE, I_ONES, 0},
    {"mlp.gate_proj.weight", 1, D_FF, D_D, I_SMALL, 1},
    {"mlp.up_proj.weight", 1, D_FF, D_D, I_SMALL, 1},
    {"mlp.down_proj.weight", 1, D_D, D_FF, I_WANG, 1},
    {"model.norm.weight", 0, D_D, D_NONE, I_ONES, 0},
    {"lm_head.weight", 0, D_V, D_D, I_SMALL, 1},
};

_Static_assert(sizeof XLSTM / sizeof *XLSTM <= SC_PARAM_MAX_FAMILIES, "xLSTM families");
_Static_assert(sizeof LLAMA / sizeof *LLAMA <= SC_PARAM_MAX_FAMILIES, "Llama families");

static int64_t dim_size(const sc_model_config *c, dim d) {
  switch (d) {
    case D_V:
      return c->vocab_size;
    case D_D:
      return c->d_model;
    case D_QK:
      return c->qk_dim;
    case D_VD:
      return c->v_dim;
    case D_NH:
      return c->n_heads;
    case D_FF:
      return c->d_ff;
    case D_NONE:
      break;
  }
  return 1;
}

static const char *dim_name(sc_arch a, dim d) {
  static const char *const xlstm[] = {"", "vocab_size", "embedding_dim", "qk_dim", "v_dim", "num_heads", "d_ff"};
  static const char *const llama[] = {"",
                                      "vocab_size",
                                      "hidden_size",
                                      "num_heads x head_dim",
                                      "num_heads x head_dim",
                                      "num_attention_heads",
                                      "intermediate_size"};
  return (a == SC_ARCH_XLSTM ? xlstm : llama)[d];
}

static sc_init_rule init_rule(const sc_model_config *c, role r) {
  const double d = (double)c->d_model;
  /* wang_init's block count: num_blocks for xLSTM, 2·n_layers (two residual writes per layer) for Llama. */
  const double nb = (double)c->n_layers * (c->arch == SC_ARCH_LLAMA ? 2 : 1);
  switch (r) {
    case I_ONES:
      return (sc_init_rule){SC_INIT_CONST, 1, 0, "ones"};
    case I_ZEROS:
      return (sc_init_rule){SC_INIT_CONST, 0, 0, "zeros"};
    case I_SMALL:
      return (sc_init_rule){SC_INIT_NORMAL, sqrt(2 / (5 * d)), 0, "small_init"};
    case I_WANG:
      return (sc_init_rule){SC_INIT_NORMAL, 2 / (nb * sqrt(d)), 0, "wang_init"};
    case I_IGATE_BIAS:
      return (sc_init_rule){SC_INIT_CONST, -10, 0, "-10"};
    case I_FGATE_BIAS:
      break;
  }
  return (sc_init_rule){SC_INIT_LINSPACE, 3, 6, "linspace(3, 6)"};
}

static size_t align_up(size_t n) {
  return (n + SC_PARAM_ALIGN - 1) / SC_PARAM_ALIGN * SC_PARAM_ALIGN;
}

int sc_params_build(const sc_model_config *c, sc_params *p, sc_err *err) {
  memset(p, 0, sizeof *p);
  p->arch = c->arch;
  const family_spec *spec = c->arch == SC_ARCH_XLSTM ? XLSTM : LLAMA;
  const int nspec =
      c->arch == SC_ARCH_XLSTM ? (int)(sizeof XLSTM / sizeof *XLSTM) : (int)(sizeof LLAMA / sizeof *LLAMA);
  const char *block = c->arch == SC_ARCH_XLSTM ? "backbone.blocks" : "model.layers";
  if (c->arch == SC_ARCH_LLAMA && c->d_qk % 2)
    return sc_fail(err, "%s: head_dim = %ld must be even: RoPE rotates pairs of features", c->origin, c->d_qk);
  if (c->n_layers < 1 || c->d_model < 1)
    return sc_fail(err, "%s: a model needs at least one block and a positive width", c->origin);

  /* Families get consecutive arena ranges in spec order. */
  size_t at = 0;
  int ntensors = 0;
  for (int f = 0; f < nspec; f++) {
    sc_param_family *fam = &p->fam[f];
    fam->name = spec[f].suffix;
    fam->count = spec[f].per_block ? (int)c->n_layers : 1;
    fam->numel = (size_t)(dim_size(c, spec[f].rows) * dim_size(c, spec[f].cols));
    fam->stride = align_up(fam->numel);
    fam->offset = at;
    at += fam->stride * (size_t)fam->count;
    ntensors += fam->count;
  }
  p->n_fam = nspec;
  p->arena_floats = at;
  p->t = sc_calloc((size_t)ntensors, sizeof *p->t, "parameter table", err);
  if (!p->t) return -1;

  /* Tensors in model order: the model-level ones before the blocks, the blocks, then the rest. */
  int first_block = 0, after_blocks = nspec;
  while (first_block < nspec && !spec[first_block].per_block) first_block++;
  while (after_blocks > first_block && !spec[after_blocks - 1].per_block) after_blocks--;
  for (int pass = 0; pass < 3; pass++) {
    const int lo = pass == 0 ? 0 : pass == 1 ? first_block : after_blocks;
    const int hi = pass == 0 ? first_block : pass == 1 ? after_blocks : nspec;
    const int layers = pass == 1 ? (int)c->n_layers : 1;
    for (int l = 0; l < layers; l++)
      for (int f = lo; f < hi; f++) {
        const family_spec *s = &spec[f];
        sc_param *t = &p->t[p->n++];
        if (s->per_block)
          snprintf(t->key, sizeof t->key, "%s.%d.%s", block, l, s->suffix);
        else
          snprintf(t->key, sizeof t->key, "%s", s->suffix);
        t->family = f;
        t->layer = s->per_block ? l : -1;
        t->ndim = s->cols == D_NONE ? 1 : 2;
        t->shape[0] = dim_size(c, s->rows);
        t->shape[1] = t->ndim == 2 ? dim_size(c, s->cols) : 0;
        if (t->ndim == 2)
          snprintf(t->dims, sizeof t->dims, "(%s, %s)", dim_name(c->arch, s->rows), dim_name(c->arch, s->cols));
        else
          snprintf(t->dims, sizeof t->dims, "(%s)", dim_name(c->arch, s->rows));
        t->numel = p->fam[f].numel;
        t->offset = p->fam[f].offset + (size_t)(s->per_block ? l : 0) * p->fam[f].stride;
        t->decay = s->decay;
        t->init = init_rule(c, s->init);
        p->n_params += (int64_t)t->numel;
      }
  }
  return 0;
}

void sc_params_free(sc_params *p) {
  free(p->t);
  memset(p, 0, sizeof *p);
}

const sc_param *sc_params_find(const sc_params *p, const char *key) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->t[i].key, key)) return &p->t[i];
  return NULL;
}

float *sc_params_alloc(const sc_params *p, sc_err *err) {
  const size_t bytes = (p->arena_floats ? p->arena_floats : SC_PARAM_ALIGN) * sizeof(float);
  float *a = aligned_alloc(SC_PARAM_ALIGN * sizeof(float), bytes);
  if (!a) return sc_fail(err, "out of host memory for the parameter arena (%zu MB)", bytes >> 20), NULL;
  memset(a, 0, bytes);
  return a;
}
