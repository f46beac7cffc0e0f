/* Checkpoint directories that Hugging Face transformers loads as they are (AutoModelForCausalLM.from_pretrained,
 * spec hf-checkpoints.md): config.json + model.safetensors, F32 tensors under HF keys, __metadata__
 * {"format": "pt"}.
 *
 * Writing: config.json carries the aliases HF needs (xLSTM: both hidden_size and embedding_dim, both
 * num_hidden_layers and num_blocks, ffn_proj_factor = d_ff/d so HF's floor rounding builds the same width;
 * Llama: pad_token_id null), and Llama q_proj/k_proj rows are permuted from scalecl's adjacent-pair RoPE
 * layout to HF's rotate-half layout. The directory is built under a temporary name, fsynced and renamed into
 * place, so a crash leaves either the old checkpoint or the new one, never half of one.
 *
 * Reading: F32, F64, F16 or BF16 tensors (converted to float32); NX-AI xlstm_large's `embedding.weight`; the
 * older `query/key/value` names; weight_mode "fused" tensors (qkv_opreact = [q;k;v;o], ifgate_preact = [i;f],
 * proj_up_gate_z = [gate;up]), split on load; Llama's nested rope_parameters. Every tensor is checked: a
 * missing, extra, wrong-shaped or non-float tensor is an error naming the tensor, the file and the expected
 * shape. The xLSTM FFN width is taken from the tensors and must match the config under the paper's rounding
 * (64·ceil) or HF's (64·floor((x+63)/64)). */
#ifndef SCALECL_MODEL_CHECKPOINT_H
#define SCALECL_MODEL_CHECKPOINT_H

#include <stddef.h>

#include "base/err.h"
#include "model/config.h"
#include "model/params.h"

#define SC_CKPT_CONFIG "config.json"
#define SC_CKPT_WEIGHTS "model.safetensors"

typedef struct {
  sc_model_config cfg; /* d_ff from the tensors; weight_fused 0 (the arena holds single-mode tensors) */
  sc_params params;
  float *arena; /* params.arena_floats floats, aligned (sc_params_alloc) */
} sc_checkpoint;

/* Writes dir/config.json and dir/model.safetensors from the arena laid out by p (built from cfg). An existing
 * dir is replaced only when it holds nothing but checkpoint files. */
int sc_checkpoint_write(const char *dir, const sc_model_config *cfg, const sc_params *p, const float *arena,
                        sc_err *err);
/* The same two files written into the existing directory dir (files fsynced, then dir), for a caller that adds
 * its own files and publishes the directory itself (the trainer's checkpoints). */
int sc_checkpoint_write_into(const char *dir, const sc_model_config *cfg, const sc_params *p, const float *arena,
                             sc_err *err);
int sc_checkpoint_read(const char *dir, sc_checkpoint *ck, sc_err *err);
void sc_checkpoint_free(sc_checkpoint *ck);

/* The config.json text a checkpoint carries (heap string, free()). */
char *sc_checkpoint_config_json(const sc_model_config *cfg, sc_err *err);
/* The row of HF's rotate-half q/k layout that holds row `row` of the adjacent-pair layout (per head of
 * head_dim rows: row 2j + t goes to t·head_dim/2 + j). */
size_t sc_rope_hf_row(size_t row, size_t head_dim);

#endif
