/* The language model on the device, both architectures of the paper (spec xlstm.md §2 xLSTM, §3 Llama) on one
 * pre-norm trunk: embedding → blocks (x += Mixer(RMSNorm(x)); x += SwiGLU(RMSNorm(x))) → final RMSNorm → head
 * fused with the (capped) cross-entropy. The mixer is the mLSTM layer (xLSTM) or RoPE attention (Llama).
 *
 * Memory (llm.c style): four device arenas allocated once for a (B, T): parameters in the sc_params layout
 * (model/params.h), gradients in the same layout, the activations the backward needs, and scratch (gradient
 * temporaries). The ops keep their own scratch on top (mLSTM chunk workspace, head blocks, GEMM copies); the plan
 * estimates it. sc_lm_create computes the plan first and refuses a (B, T) that does not fit the device.
 *
 * Documents: doc_start (B, T) marks the first token of each document (1) in packed rows. xLSTM overwrites the
 * capped forget pre-activation with −25 there (§2.8); Llama masks attention across documents and restarts RoPE
 * positions at 0. NULL doc_start: one document per row. Loss: the mean over the B·(T−1) next-token positions. */
#ifndef SCALECL_MODEL_LM_H
#define SCALECL_MODEL_LM_H
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/config.h"
#include "model/params.h"
#include "runtime/context.h"

typedef struct sc_lm sc_lm;

typedef struct {
  int chunk;          /* xLSTM chunk length (multiple of 16); 0: the config's chunk_size */
  size_t mem_limit;   /* device bytes the model may use; 0: the device's global memory (tests inject less) */
  size_t alloc_limit; /* largest single buffer; 0: the device's max allocation */
  int inference;      /* no gradient arena (sc_lm_backward fails); `state` bytes of the caller's counted instead */
  size_t state;       /* inference: the recurrent state or KV cache the caller allocates (model/infer.h) */
  int kv_half;        /* inference, Llama: the KV cache holds IEEE halves (ops/attention.h kv_half) */
} sc_lm_opts;

/* Device bytes per family for one (B, T). `ops` is an estimate of the ops' own scratch (upper bound for the
 * mLSTM workspace, head blocks and GEMM copies). */
typedef struct {
  size_t params, grads, acts, scratch, ops;
  size_t state;   /* inference: recurrent state or KV cache */
  size_t total;   /* sum of the above */
  size_t largest; /* the largest single buffer */
  size_t B, T;
} sc_lm_plan;

/* The plan of cfg at (B, T) with chunk length `chunk` (0: the config's), without a device. */
int sc_lm_plan_make(const sc_model_config *cfg, int B, int T, int chunk, sc_lm_plan *plan, sc_err *err);
/* An inference plan: no gradients, `state` bytes of recurrent state or KV cache. */
void sc_lm_plan_inference(sc_lm_plan *plan, size_t state);
/* Fails when the plan exceeds mem_limit bytes in all or alloc_limit in one buffer, naming the sizes and
 * suggesting a smaller batch or context. */
int sc_lm_plan_check(const sc_lm_plan *plan, size_t mem_limit, size_t alloc_limit, sc_err *err);

/* Plans, checks and allocates the model for batches of B rows of T tokens; gradients start at zero. opts NULL:
 * defaults. */
int sc_lm_create(sc_ctx *c, const sc_model_config *cfg, int B, int T, const sc_lm_opts *opts, sc_lm **out, sc_err *err);
void sc_lm_destroy(sc_lm *lm);
const sc_lm_plan *sc_lm_memory(const sc_lm *lm);
const sc_params *sc_lm_params(const sc_lm *lm); /* the arena layout of parameters and gradients */

/* The device arenas of parameters and gradients (sc_lm_params layout), for the optimizer. */
sc_view sc_lm_param_arena(const sc_lm *lm);
sc_view sc_lm_grad_arena(const sc_lm *lm);

/* Host arenas of sc_lm_params(lm)->arena_floats floats (sc_params_alloc). */
int sc_lm_upload_params(sc_lm *lm, const float *arena, sc_err *err);
int sc_lm_download_params(sc_lm *lm, float *arena, sc_err *err);

/* Forward over tokens (B, T) and doc_start (B, T, or NULL): the mean loss into *loss (may be NULL) and the logits
 * (B, T, V, capped for xLSTM) into `logits` when non-NULL (then a (B·T, V) buffer is allocated for the call). */
int sc_lm_forward(sc_lm *lm, const int32_t *tokens, const uint8_t *doc_start, float *loss, float *logits, sc_err *err);
/* Gradients of the last forward's mean loss, ADDED to the gradient arena (micro-batches accumulate; start a
 * step with sc_lm_zero_grads). */
int sc_lm_backward(sc_lm *lm, sc_err *err);
int sc_lm_zero_grads(sc_lm *lm, sc_err *err);

/* Time per layer family, for `bench model --profile`: with profiling on, every family's launches are bracketed
 * by clFinish (which serialises the queue, so only for breakdowns) and their wall time added up. */
enum { SC_LM_T_GEMM, SC_LM_T_CELL, SC_LM_T_NORM, SC_LM_T_HEAD, SC_LM_T_COUNT };
extern const char *const sc_lm_family_names[SC_LM_T_COUNT]; /* "gemm", "mlstm/attention", "norms", "head+loss" */
void sc_lm_set_profiling(sc_lm *lm, int on);                /* also resets the sums */
void sc_lm_profile(const sc_lm *lm, double seconds[SC_LM_T_COUNT]);
int sc_lm_download_grads(sc_lm *lm, float *arena, sc_err *err);

#endif
