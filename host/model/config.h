/* Model configurations in the Hugging Face config.json style: xLSTM ("model_type": "xlstm", the field
 * names of transformers' xLSTMConfig) and the Llama-style Transformer ("model_type": "llama", LlamaConfig
 * names). Loading validates every field and names the file and field on error; unknown fields become
 * warnings. Presets and --model resolution are in model/presets.h. */
#ifndef SCALECL_MODEL_CONFIG_H
#define SCALECL_MODEL_CONFIG_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/err.h"

typedef enum { SC_ARCH_XLSTM = 0, SC_ARCH_LLAMA = 1 } sc_arch;

typedef struct {
  sc_arch arch;
  char name[128];        /* preset name, or the file name without ".json" */
  char origin[1200];     /* file (and table row) it came from, for messages */
  char description[512]; /* "scalecl_description", optional */
  char tokenizer[32];    /* "scalecl_tokenizer": "bytes", "gpt-neox-20b", or "" when not stated */

  /* Shape shared by both architectures. */
  long vocab_size;
  long d_model;  /* embedding_dim | hidden_size */
  long n_layers; /* num_blocks | num_hidden_layers */
  long n_heads;  /* num_heads | num_attention_heads */
  long qk_dim;   /* total query/key width = n_heads * d_qk */
  long v_dim;    /* total value width = n_heads * d_v */
  long d_qk, d_v;
  long d_ff;                                     /* xLSTM: derived from ffn_proj_factor; Llama: intermediate_size */
  double norm_eps;                               /* norm_eps | rms_norm_eps */
  long bos_token_id, eos_token_id, pad_token_id; /* -1 when absent or null */

  /* xLSTM only. */
  double qk_dim_factor, v_dim_factor, ffn_proj_factor;
  long ffn_round_up_to_multiple_of;
  long chunk_size;
  double gate_soft_cap, output_logit_soft_cap;
  double cell_eps;  /* "eps" of the mLSTM cell's normalizer */
  int weight_fused; /* weight_mode "fused" (same math, concatenated projections) */

  /* Llama only. */
  double rope_theta;
  long max_position_embeddings; /* 0 when absent */

  int n_warnings;
  char warnings[4096]; /* one line per unknown field */
} sc_model_config;

const char *sc_arch_name(sc_arch a); /* "xlstm" / "llama" */

/* Parses and validates JSON text; `origin` names it in messages. */
int sc_model_config_parse(const char *json, const char *origin, sc_model_config *cfg, sc_err *err);
int sc_model_config_load(const char *path, sc_model_config *cfg, sc_err *err);
/* The same from a parsed object (IsoFLOP table rows are a base object with a row's fields set). */
int sc_model_config_parse_object(const cJSON *obj, const char *origin, sc_model_config *cfg, sc_err *err);
/* The config as HF-style config.json text (heap string), readable by sc_model_config_parse. */
char *sc_model_config_to_json(const sc_model_config *cfg, sc_err *err);

#endif
