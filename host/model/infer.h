/* Inference on the device for both architectures: a prefill of P prompt tokens per row, then one decoding step per
 * token. xLSTM prefills with the chunkwise mLSTM kernels into the recurrent state (C, n, m per layer and head) and
 * steps with the recurrent kernel; Llama prefills with flash attention, keeping k (after RoPE) and v in a KV cache
 * (B, NH, cap, dh) per layer (float32, or halves with sc_lm_opts.kv_half), and steps with the decode kernel. Logits
 * match a full forward (sc_lm_forward) of the same tokens at every position, soft-capped for xLSTM.
 *
 * Positions: a prefill of P tokens fills positions 0..P-1 and gives the logits of position P-1; each step then
 * feeds one token per row at the next position and gives its logits. A prefill of 0 tokens empties the state (zero
 * C, n, m; an empty cache), so the first step's token is position 0 (the caller's document start, e.g. BOS or
 * end-of-text). All rows share one position. The prefill runs on the model's activation arenas sized for
 * (B, max_prefill), without gradients. */
#ifndef SCALECL_MODEL_INFER_H
#define SCALECL_MODEL_INFER_H

#include <stdint.h>

#include "model/lm.h"

typedef struct sc_infer sc_infer;

/* The device memory of inference at batch B, prefills up to max_prefill tokens and max_len positions in all: the
 * model's plan without gradients plus the state (sc_lm_plan.state) and the logits. opts: its kv_half (NULL: 0). */
int sc_infer_plan(const sc_model_config *cfg, int B, int max_prefill, int max_len, const sc_lm_opts *opts,
                  sc_lm_plan *plan, sc_err *err);

/* Checks the plan against the device (or opts' limits) and allocates; parameters start at zero. opts NULL:
 * defaults (its chunk, mem_limit and alloc_limit are used). */
int sc_infer_create(sc_ctx *c, const sc_model_config *cfg, int B, int max_prefill, int max_len, const sc_lm_opts *opts,
                    sc_infer **out, sc_err *err);
void sc_infer_destroy(sc_infer *inf);
const sc_params *sc_infer_params(const sc_infer *inf);
const sc_lm_plan *sc_infer_memory(const sc_infer *inf);
int sc_infer_upload_params(sc_infer *inf, const float *arena, sc_err *err);

/* Starts every row afresh with tokens (B, P) row-major, 0 <= P <= max_prefill, and writes the logits (B, V) of
 * position P-1 to `logits` when P > 0 and logits is not NULL. */
int sc_infer_prefill(sc_infer *inf, int P, const int32_t *tokens, float *logits, sc_err *err);
/* Feeds tokens (B) at the next position and writes their logits (B, V) (NULL: not read back, the queue is not
 * drained). Fails when max_len positions are used. */
int sc_infer_step(sc_infer *inf, const int32_t *tokens, float *logits, sc_err *err);
/* Positions used so far (the next step's position). */
int sc_infer_position(const sc_infer *inf);

#endif
