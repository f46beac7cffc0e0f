#include "model/infer.h"

#include <stdlib.h>

#include "model/lm_impl.h"

#define ALIGN_BYTES 64

struct sc_infer {
  sc_lm *lm;
  lm_state st;
  cl_mem state, logits;
  int B, max_prefill, max_len, pos;
  int32_t *pos_host; /* (B): every row's step position */
};

static size_t align_up(size_t n) {
  return (n + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

/* The per-layer layout of the state (lm_state.off) for B rows and max_len positions, the KV cache in halves with
 * kv_half; returns all layers' bytes. */
static size_t state_layout(const sc_model_config *cfg, int B, int max_len, int kv_half, lm_state *st) {
  const size_t BH = (size_t)B * (size_t)cfg->n_heads, dqk = (size_t)cfg->d_qk, dv = (size_t)cfg->d_v;
  size_t part[3] = {4 * BH * dqk * dv, 4 * BH * dqk, 4 * BH}; /* xLSTM C, n, m */
  if (cfg->arch == SC_ARCH_LLAMA)
    part[0] = part[1] = sc_attention_kv_bytes(kv_half) * BH * (size_t)max_len * dqk, part[2] = 0;
  size_t at = 0;
  for (int k = 0; k < 3; k++) st->off[k] = at, at += align_up(part[k]);
  st->layer_bytes = at, st->cap = max_len;
  return at * (size_t)cfg->n_layers;
}

static size_t logits_bytes(const sc_model_config *cfg, int B) {
  return align_up(4 * (size_t)B * (size_t)cfg->vocab_size);
}

static int check_shape(const sc_model_config *cfg, int B, int max_prefill, int max_len, sc_err *err) {
  if (B < 1 || max_prefill < 0 || max_len < 1 || max_prefill > max_len)
    return sc_fail(err,
                   "model %s inference: batch %d, prefill up to %d of %d positions; need batch >= 1 and "
                   "0 <= prefill <= positions, positions >= 1",
                   cfg->name, B, max_prefill, max_len);
  return 0;
}

int sc_infer_plan(const sc_model_config *cfg, int B, int max_prefill, int max_len, const sc_lm_opts *opts,
                  sc_lm_plan *plan, sc_err *err) {
  lm_state st;
  if (check_shape(cfg, B, max_prefill, max_len, err) ||
      sc_lm_plan_make(cfg, B, max_prefill > 0 ? max_prefill : 1, 0, plan, err))
    return -1;
  sc_lm_plan_inference(plan, state_layout(cfg, B, max_len, opts && opts->kv_half, &st) + logits_bytes(cfg, B));
  return 0;
}

int sc_infer_create(sc_ctx *c, const sc_model_config *cfg, int B, int max_prefill, int max_len, const sc_lm_opts *opts,
                    sc_infer **out, sc_err *err) {
  *out = NULL;
  if (check_shape(cfg, B, max_prefill, max_len, err)) return -1;
  sc_infer *inf = calloc(1, sizeof *inf);
  if (!inf) return sc_fail(err, "model %s inference: out of host memory", cfg->name);
  inf->B = B, inf->max_prefill = max_prefill, inf->max_len = max_len;
  sc_lm_opts o = opts ? *opts : (sc_lm_opts){0};
  const size_t state = state_layout(cfg, B, max_len, o.kv_half, &inf->st), lb = logits_bytes(cfg, B);
  o.inference = 1, o.state = state + lb;
  if (!(inf->pos_host = sc_calloc((size_t)B, sizeof *inf->pos_host, "step positions", err)) ||
      sc_lm_create(c, cfg, B, max_prefill > 0 ? max_prefill : 1, &o, &inf->lm, err) ||
      (state && sc_buffer_create(c, state, "inference state (recurrent state or KV cache)", &inf->state, err)) ||
      sc_buffer_create(c, lb, "logits (B, V)", &inf->logits, err)) {
    sc_infer_destroy(inf);
    return -1;
  }
  inf->st.buf = inf->state, inf->st.pos = inf->pos_host;
  inf->lm->state = &inf->st;
  *out = inf;
  return 0;
}

void sc_infer_destroy(sc_infer *inf) {
  if (!inf) return;
  if (inf->lm) {
    if (inf->state) sc_buffer_release(inf->lm->c, inf->state);
    if (inf->logits) sc_buffer_release(inf->lm->c, inf->logits);
  }
  sc_lm_destroy(inf->lm);
  free(inf->pos_host), free(inf);
}

const sc_params *sc_infer_params(const sc_infer *inf) {
  return sc_lm_params(inf->lm);
}
const sc_lm_plan *sc_infer_memory(const sc_infer *inf) {
  return sc_lm_memory(inf->lm);
}
int sc_infer_upload_params(sc_infer *inf, const float *arena, sc_err *err) {
  return sc_lm_upload_params(inf->lm, arena, err);
}
int sc_infer_position(const sc_infer *inf) {
  return inf->pos;
}

/* The head on each row's last position of the trunk's T tokens (rows T·d apart), capped for xLSTM. */
static int head(sc_infer *inf, int T, float *logits, sc_err *err) {
  sc_lm *lm = inf->lm;
  const size_t d = (size_t)lm->cfg.d_model, V = (size_t)lm->cfg.vocab_size;
  const sc_view x = sc_view_at(lm_model_view(lm, M_XNF), 4 * (size_t)(T - 1) * d), y = sc_view_of(inf->logits);
  const int xlstm = lm->cfg.arch == SC_ARCH_XLSTM;
  if (sc_gemm_run(lm->gemm, SC_GEMM_AUTO, 0, 1, (size_t)inf->B, V, d, 1.0f, x, (size_t)T * d,
                  lm_param(lm, xlstm ? FX_HEAD : FL_HEAD, -1), d, 0.0f, y, V, err) ||
      (xlstm && sc_softcap_forward(lm->ew, inf->B * (int)V, (float)lm->cfg.output_logit_soft_cap, y, y, err)))
    return -1;
  return logits ? sc_buffer_read(lm->c, inf->logits, 0, 4 * (size_t)inf->B * V, logits, err) : 0;
}

int sc_infer_prefill(sc_infer *inf, int P, const int32_t *tokens, float *logits, sc_err *err) {
  if (P < 0 || P > inf->max_prefill)
    return sc_fail(err, "prefill of %d tokens: the model was set up for 0 to %d; create it with a longer prefill", P,
                   inf->max_prefill);
  inf->pos = 0;
  if (P == 0) /* the empty xLSTM state is zero; a Llama step only reads the cache up to its position */
    return inf->lm->cfg.arch == SC_ARCH_XLSTM && inf->state
               ? sc_buffer_fill_zero(inf->lm->c, inf->state, 0, inf->st.layer_bytes * (size_t)inf->lm->cfg.n_layers,
                                     err)
               : 0;
  inf->st.mode = LM_PREFILL;
  if (lm_forward_trunk(inf->lm, P, tokens, NULL, err) || head(inf, P, logits, err)) return -1;
  inf->pos = P;
  return 0;
}

int sc_infer_step(sc_infer *inf, const int32_t *tokens, float *logits, sc_err *err) {
  if (inf->pos >= inf->max_len)
    return sc_fail(err, "decoding step at position %d: the state holds %d positions; create it with more", inf->pos,
                   inf->max_len);
  for (int b = 0; b < inf->B; b++) inf->pos_host[b] = inf->pos;
  inf->st.mode = LM_STEP;
  if (lm_forward_trunk(inf->lm, 1, tokens, NULL, err) || head(inf, 1, logits, err)) return -1;
  inf->pos++;
  return 0;
}
