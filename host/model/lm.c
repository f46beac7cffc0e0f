#include "model/lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "model/lm_impl.h"

#define ALIGN_BYTES 64

static size_t align_up(size_t n) {
  return (n + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

static size_t max3(size_t a, size_t b, size_t c) {
  return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* Floats per token of every slot; 0 where the architecture has no such slot. */
static void act_widths(const sc_model_config *c, size_t w[A_COUNT]) {
  const size_t d = (size_t)c->d_model, F = (size_t)c->d_ff, QK = (size_t)c->qk_dim, VD = (size_t)c->v_dim,
               NH = (size_t)c->n_heads, xl = c->arch == SC_ARCH_XLSTM;
  /* clang-format off */
  const size_t all[A_COUNT] = {
      [A_RES] = d,
      [A_MID] = d,
      [A_XN1] = d,
      [A_ST1] = 2,
      [A_XN2] = d,
      [A_ST2] = 2,
      [A_G] = F,
      [A_U] = F,
      [A_Z] = F,
      [A_QH] = QK,
      [A_KH] = QK,
      [A_VH] = VD,
      [A_HSTAT] = NH,
      [A_HM] = VD,
      [A_OG] = xl * VD,
      [A_XIF] = xl * 2 * NH,
      [A_IG] = xl * NH,
      [A_FG] = xl * NH,
      [A_MOUT] = xl * NH,
      [A_HN] = xl * VD,
      [A_HST] = xl * 2 * NH,
      [A_YA] = xl * VD,
  };
  /* clang-format on */
  memcpy(w, all, sizeof all);
}

static void model_widths(const sc_model_config *c, size_t w[M_COUNT]) {
  const size_t d = (size_t)c->d_model;
  const size_t all[M_COUNT] = {[M_XF] = d,  [M_XNF] = d, [M_STF] = 2, [M_LSE] = 1, [M_LOSS] = 0,
                               [M_TOK] = 1, [M_DOC] = 1, [M_POS] = 1, [M_SEG] = 1};
  memcpy(w, all, sizeof all);
}

static void scratch_widths(const sc_model_config *c, size_t w[S_COUNT]) {
  const size_t d = (size_t)c->d_model, NH = (size_t)c->n_heads,
               wide = max3((size_t)c->qk_dim, (size_t)c->v_dim, (size_t)c->d_ff);
  const size_t all[S_COUNT] = {
      [S_DRES] = d,  [S_DXN] = d,   [S_DTMP] = d, [S_W0] = wide, [S_W1] = wide,    [S_W2] = wide,
      [S_W3] = wide, [S_W4] = wide, [S_DI] = NH,  [S_DF] = NH,   [S_DXIF] = 2 * NH};
  memcpy(w, all, sizeof all);
}

/* Byte offsets of n slots of N·w[i] floats each (the loss slot: one float), 64-byte aligned; returns the end. */
static size_t lay_out(size_t N, const size_t *w, int n, size_t *off) {
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    off[i] = at;
    at += align_up(4 * (w[i] ? N * w[i] : 1));
  }
  return at;
}

/* Upper bound of the ops' own scratch: the mLSTM chunk workspace (all heads at once, capped as the op caps it),
 * the head's blocks (ops/xent.h), attention's few (B, NH, T, dh) copies, and the GEMM's padded copies. */
static size_t ops_estimate(const sc_model_config *c, size_t B, size_t T, size_t L) {
  const size_t N = B * T, d = (size_t)c->d_model, R = 128;
  const size_t wide = max3((size_t)c->qk_dim, (size_t)c->v_dim, (size_t)c->d_ff);
  size_t ops = sc_xent_memory(N, d, (size_t)c->vocab_size, (size_t)c->vocab_size < 4096 ? (size_t)c->vocab_size : 4096);
  const size_t rN = (N + R - 1) / R * R, rw = (wide + R - 1) / R * R, rd = (d + R - 1) / R * R;
  ops += 4 * (rN * rw + rw * rd + rN * rd);
  if (c->arch == SC_ARCH_XLSTM) {
    const size_t BH = B * (size_t)c->n_heads, NC = (T + L - 1) / L, dqk = (size_t)c->d_qk, dv = (size_t)c->d_v;
    const size_t st = NC * dqk * dv, head = 4 * (NC * L * (dv > dqk ? dv : dqk) + NC * L * L + 3 * st + NC * dqk);
    const size_t ws = BH * head, cap = (size_t)512 << 20;
    ops += (ws < cap ? ws : cap) + 4 * 6 * BH * (T + NC + 1);
  } else {
    ops += 4 * 4 * N * (size_t)c->v_dim;
  }
  return ops;
}

int sc_lm_plan_make(const sc_model_config *cfg, int B, int T, int chunk, sc_lm_plan *plan, sc_err *err) {
  if (B < 1 || T < 1) return sc_fail(err, "model %s: batch %d x context %d must be positive", cfg->name, B, T);
  sc_params p;
  if (sc_params_build(cfg, &p, err)) return -1;
  const size_t N = (size_t)B * T, L = (size_t)(chunk ? chunk : cfg->chunk_size > 0 ? cfg->chunk_size : 64);
  size_t aw[A_COUNT], mw[M_COUNT], sw[S_COUNT], off[A_COUNT + M_COUNT + S_COUNT];
  act_widths(cfg, aw), model_widths(cfg, mw), scratch_widths(cfg, sw);
  *plan = (sc_lm_plan){.B = (size_t)B, .T = (size_t)T};
  plan->params = plan->grads = align_up(4 * p.arena_floats);
  plan->acts = (size_t)cfg->n_layers * lay_out(N, aw, A_COUNT, off) + lay_out(N, mw, M_COUNT, off);
  plan->scratch = lay_out(N, sw, S_COUNT, off);
  plan->ops = ops_estimate(cfg, (size_t)B, (size_t)T, L);
  plan->total = plan->params + plan->grads + plan->acts + plan->scratch + plan->ops;
  plan->largest = plan->acts > plan->params ? plan->acts : plan->params;
  if (plan->scratch > plan->largest) plan->largest = plan->scratch;
  sc_params_free(&p);
  return 0;
}

void sc_lm_plan_inference(sc_lm_plan *plan, size_t state) {
  plan->total += state - plan->grads;
  plan->grads = 0, plan->state = state;
  if (state > plan->largest) plan->largest = state;
}

static double mib(size_t b) {
  return (double)b / (1024.0 * 1024.0);
}

int sc_lm_plan_check(const sc_lm_plan *pl, size_t mem_limit, size_t alloc_limit, sc_err *err) {
  const char *hint = "use a smaller --batch or --ctx (activations grow with batch x context)";
  if (pl->total > mem_limit)
    return sc_fail(err,
                   "model at batch %zu x context %zu needs %.1f MiB of device memory (params %.1f, grads %.1f, "
                   "activations %.1f, scratch %.1f, op scratch ~%.1f, inference state %.1f) but the device has "
                   "%.1f MiB; %s",
                   pl->B, pl->T, mib(pl->total), mib(pl->params), mib(pl->grads), mib(pl->acts), mib(pl->scratch),
                   mib(pl->ops), mib(pl->state), mib(mem_limit), hint);
  if (pl->largest > alloc_limit)
    return sc_fail(err,
                   "model at batch %zu x context %zu needs a %.1f MiB buffer (activations or state) but the device "
                   "allocates at most %.1f MiB at once; %s",
                   pl->B, pl->T, mib(pl->largest), mib(alloc_limit), hint);
  return 0;
}

sc_view lm_act_view(const sc_lm *lm, int l, lm_act a) {
  return (sc_view){lm->acts, (size_t)l * lm->layer_stride + lm->act_off[a]};
}
sc_view lm_model_view(const sc_lm *lm, lm_model_slot s) {
  return (sc_view){lm->acts, lm->model_off[s]};
}
sc_view lm_scr(const sc_lm *lm, lm_scratch s) {
  return (sc_view){lm->scratch, lm->scr_off[s]};
}
sc_view lm_param(const sc_lm *lm, int fam, int l) {
  const sc_param_family *f = &lm->p.fam[fam];
  return (sc_view){lm->params, 4 * (f->offset + (size_t)(l < 0 ? 0 : l) * f->stride)};
}
sc_view lm_grad(const sc_lm *lm, int fam, int l) {
  sc_view v = lm_param(lm, fam, l);
  v.buf = lm->grads;
  return v;
}

const char *const sc_lm_family_names[SC_LM_T_COUNT] = {"gemm", "mlstm/attention", "norms", "head+loss"};

void sc_lm_set_profiling(sc_lm *lm, int on) {
  lm->profiling = on;
  for (int f = 0; f < SC_LM_T_COUNT; f++) lm->prof[f] = 0;
}

void sc_lm_profile(const sc_lm *lm, double seconds[SC_LM_T_COUNT]) {
  for (int f = 0; f < SC_LM_T_COUNT; f++) seconds[f] = lm->prof[f];
}

int lm_begin(sc_lm *lm, sc_err *err) {
  if (!lm->profiling) return 0;
  if (sc_finish(lm->c, err)) return -1;
  lm->prof_t0 = sc_now();
  return 0;
}

int lm_end(sc_lm *lm, int family, sc_err *err) {
  if (!lm->profiling) return 0;
  if (sc_finish(lm->c, err)) return -1;
  lm->prof[family] += sc_now() - lm->prof_t0;
  return 0;
}

int lm_linear_fwd(sc_lm *lm, sc_view X, sc_view W, int out, int in, float beta, sc_view Y, int ldy, sc_err *err) {
  return lm_begin(lm, err) ||
         sc_gemm_run(lm->gemm, SC_GEMM_AUTO, 0, 1, (size_t)lm->N, (size_t)out, (size_t)in, 1.0f, X, (size_t)in, W,
                     (size_t)in, beta, Y, (size_t)ldy, err) ||
         lm_end(lm, SC_LM_T_GEMM, err);
}

int lm_linear_bwd(sc_lm *lm, sc_view X, sc_view W, sc_view dY, int ldy, int out, int in, float beta_dx, sc_view dX,
                  sc_view dW, sc_err *err) {
  return lm_begin(lm, err) ||
         sc_gemm_run(lm->gemm, SC_GEMM_AUTO, 0, 0, (size_t)lm->N, (size_t)in, (size_t)out, 1.0f, dY, (size_t)ldy, W,
                     (size_t)in, beta_dx, dX, (size_t)in, err) ||
         sc_gemm_run(lm->gemm, SC_GEMM_AUTO, 1, 0, (size_t)out, (size_t)in, (size_t)lm->N, 1.0f, dY, (size_t)ldy, X,
                     (size_t)in, 1.0f, dW, (size_t)in, err) ||
         lm_end(lm, SC_LM_T_GEMM, err);
}

/* The mixer family names the enums in lm_impl.h stand for, checked once so a reordered table fails loudly. */
static int check_families(const sc_lm *lm, sc_err *err) {
  static const char *const xl[] = {"backbone.embeddings.weight",
                                   "norm_mlstm.weight",
                                   "mlstm_layer.q.weight",
                                   "mlstm_layer.k.weight",
                                   "mlstm_layer.v.weight",
                                   "mlstm_layer.ogate_preact.weight",
                                   "mlstm_layer.igate_preact.weight",
                                   "mlstm_layer.igate_preact.bias",
                                   "mlstm_layer.fgate_preact.weight",
                                   "mlstm_layer.fgate_preact.bias",
                                   "mlstm_layer.multihead_norm.weight",
                                   "mlstm_layer.out_proj.weight",
                                   "norm_ffn.weight",
                                   "ffn.proj_up_gate.weight",
                                   "ffn.proj_up.weight",
                                   "ffn.proj_down.weight",
                                   "backbone.out_norm.weight",
                                   "lm_head.weight"};
  static const char *const ll[] = {"model.embed_tokens.weight",
                                   "input_layernorm.weight",
                                   "self_attn.q_proj.weight",
                                   "self_attn.k_proj.weight",
                                   "self_attn.v_proj.weight",
                                   "self_attn.o_proj.weight",
                                   "post_attention_layernorm.weight",
                                   "mlp.gate_proj.weight",
                                   "mlp.up_proj.weight",
                                   "mlp.down_proj.weight",
                                   "model.norm.weight",
                                   "lm_head.weight"};
  const int xlstm = lm->cfg.arch == SC_ARCH_XLSTM, n = xlstm ? 18 : 12;
  const char *const *want = xlstm ? xl : ll;
  if (lm->p.n_fam != n) return sc_fail(err, "model: %d parameter families, expected %d", lm->p.n_fam, n);
  for (int i = 0; i < n; i++)
    if (strcmp(lm->p.fam[i].name, want[i]))
      return sc_fail(err, "model: parameter family %d is '%s', expected '%s'", i, lm->p.fam[i].name, want[i]);
  return 0;
}

/* Families of the trunk after the mixer: FFN norm, gate, up, down, final norm, head. */
typedef struct {
  int norm_ffn, upg, up, down, out_norm, head;
} trunk_fams;

static trunk_fams trunk(const sc_lm *lm) {
  if (lm->cfg.arch == SC_ARCH_XLSTM) return (trunk_fams){FX_NORM_FFN, FX_UPG, FX_UP, FX_DOWN, FX_OUT_NORM, FX_HEAD};
  return (trunk_fams){FL_NORM_FFN, FL_UPG, FL_UP, FL_DOWN, FL_OUT_NORM, FL_HEAD};
}

static int create_ops(sc_lm *lm, sc_err *err) {
  sc_ctx *c = lm->c;
  const sc_model_config *m = &lm->cfg;
  const int xlstm = m->arch == SC_ARCH_XLSTM;
  if (sc_gemm_create(c, &lm->gemm, err)) return -1;
  if (sc_embed_create(c, &(sc_embed_cfg){.vocab = (int)m->vocab_size, .dim = (int)m->d_model}, &lm->embed, err))
    return -1;
  if (sc_norm_create(c, &(sc_norm_cfg){SC_NORM_RMS, (int)m->d_model, 1, (float)m->norm_eps, 0}, &lm->rms, err))
    return -1;
  if (sc_elementwise_create(c, &(sc_elementwise_cfg){.gate_cap = (float)m->gate_soft_cap, .doc_reset = -25.0f}, &lm->ew,
                            err))
    return -1;
  const sc_xent_cfg xc = {.d = (int)m->d_model,
                          .V = (int)m->vocab_size,
                          .cap = xlstm ? (float)m->output_logit_soft_cap : 0.0f,
                          .gemm = lm->gemm};
  if (sc_xent_create(c, &xc, &lm->xent, err)) return -1;
  if (xlstm) {
    const sc_norm_cfg hc = {SC_NORM_HEADS, (int)m->v_dim, (int)m->n_heads, (float)m->norm_eps, 0};
    if (sc_norm_create(c, &hc, &lm->heads, err)) return -1;
    const sc_mlstm_cfg mc = {
        .chunk = lm->chunk, .dqk = (int)m->d_qk, .dv = (int)m->d_v, .token_heads = (int)m->n_heads};
    return sc_mlstm_create(c, &mc, &lm->mlstm, err);
  }
  const sc_attention_cfg ac = {.head_dim = (int)m->d_qk, .token_heads = (int)m->n_heads, .kv_half = lm->kv_half};
  if (sc_attention_create(c, &ac, &lm->attn, err)) return -1;
  return sc_rope_create(c, (int)m->d_qk, m->rope_theta, &lm->rope, err);
}

int sc_lm_create(sc_ctx *c, const sc_model_config *cfg, int B, int T, const sc_lm_opts *opts, sc_lm **out,
                 sc_err *err) {
  *out = NULL;
  const sc_lm_opts o = opts ? *opts : (sc_lm_opts){0};
  const int chunk = o.chunk ? o.chunk : cfg->chunk_size > 0 ? (int)cfg->chunk_size : 64;
  sc_lm_plan plan;
  if (sc_lm_plan_make(cfg, B, T, chunk, &plan, err)) return -1;
  if (o.inference) sc_lm_plan_inference(&plan, o.state);
  if (sc_lm_plan_check(&plan, o.mem_limit ? o.mem_limit : (size_t)c->dev.global_mem,
                       o.alloc_limit ? o.alloc_limit : (size_t)c->dev.max_alloc, err))
    return -1;
  sc_lm *lm = calloc(1, sizeof *lm);
  if (!lm) return sc_fail(err, "model: out of host memory");
  *lm = (sc_lm){
      .c = c, .cfg = *cfg, .plan = plan, .B = B, .T = T, .N = B * T, .chunk = chunk, .cap_T = T, .kv_half = o.kv_half};
  const size_t N = (size_t)lm->N;
  size_t aw[A_COUNT], mw[M_COUNT], sw[S_COUNT];
  act_widths(cfg, aw), model_widths(cfg, mw), scratch_widths(cfg, sw);
  lm->layer_stride = lay_out(N, aw, A_COUNT, lm->act_off);
  const size_t model0 = (size_t)cfg->n_layers * lm->layer_stride;
  lay_out(N, mw, M_COUNT, lm->model_off);
  for (int s = 0; s < M_COUNT; s++) lm->model_off[s] += model0;
  lay_out(N, sw, S_COUNT, lm->scr_off);
  lm->pos_host = malloc(N * sizeof *lm->pos_host);
  lm->seg_host = malloc(N * sizeof *lm->seg_host);
  lm->doc_host = malloc(N * sizeof *lm->doc_host);
  if (!lm->pos_host || !lm->seg_host || !lm->doc_host) {
    sc_lm_destroy(lm);
    return sc_fail(err, "model: out of host memory for %zu token positions", N);
  }
  if (sc_params_build(cfg, &lm->p, err) || check_families(lm, err) ||
      sc_buffer_create(c, plan.params, "model parameters", &lm->params, err) ||
      (plan.grads && sc_buffer_create(c, plan.grads, "model gradients", &lm->grads, err)) ||
      sc_buffer_create(c, plan.acts, "model activations", &lm->acts, err) ||
      sc_buffer_create(c, plan.scratch, "model scratch", &lm->scratch, err) ||
      sc_buffer_fill_zero(c, lm->params, 0, plan.params, err) || sc_lm_zero_grads(lm, err) || create_ops(lm, err)) {
    sc_lm_destroy(lm);
    return -1;
  }
  *out = lm;
  return 0;
}

void sc_lm_destroy(sc_lm *lm) {
  if (!lm) return;
  sc_xent_destroy(lm->xent), sc_rope_destroy(lm->rope), sc_attention_destroy(lm->attn);
  sc_mlstm_destroy(lm->mlstm), sc_elementwise_destroy(lm->ew), sc_norm_destroy(lm->heads);
  sc_norm_destroy(lm->rms), sc_embed_destroy(lm->embed), sc_gemm_destroy(lm->gemm);
  if (lm->params) sc_buffer_release(lm->c, lm->params);
  if (lm->grads) sc_buffer_release(lm->c, lm->grads);
  if (lm->acts) sc_buffer_release(lm->c, lm->acts);
  if (lm->scratch) sc_buffer_release(lm->c, lm->scratch);
  sc_params_free(&lm->p);
  free(lm->pos_host), free(lm->seg_host), free(lm->doc_host), free(lm);
}

const sc_lm_plan *sc_lm_memory(const sc_lm *lm) {
  return &lm->plan;
}
const sc_params *sc_lm_params(const sc_lm *lm) {
  return &lm->p;
}

int sc_lm_upload_params(sc_lm *lm, const float *arena, sc_err *err) {
  return sc_buffer_write(lm->c, lm->params, 0, 4 * lm->p.arena_floats, arena, err);
}
int sc_lm_download_params(sc_lm *lm, float *arena, sc_err *err) {
  return sc_buffer_read(lm->c, lm->params, 0, 4 * lm->p.arena_floats, arena, err);
}
int sc_lm_download_grads(sc_lm *lm, float *arena, sc_err *err) {
  return sc_buffer_read(lm->c, lm->grads, 0, 4 * lm->p.arena_floats, arena, err);
}
sc_view sc_lm_param_arena(const sc_lm *lm) {
  return sc_view_of(lm->params);
}
sc_view sc_lm_grad_arena(const sc_lm *lm) {
  return sc_view_of(lm->grads);
}
int sc_lm_zero_grads(sc_lm *lm, sc_err *err) {
  if (!lm->grads) return 0;
  return sc_buffer_fill_zero(lm->c, lm->grads, 0, lm->plan.grads, err);
}

static int copy_view(sc_lm *lm, sc_view src, sc_view dst, size_t bytes, sc_err *err) {
  cl_int rc = clEnqueueCopyBuffer(lm->c->queue, src.buf, dst.buf, src.off, dst.off, bytes, 0, NULL, NULL);
  if (rc != CL_SUCCESS)
    return sc_fail(err, "model: copying the residual stream (%zu bytes): %s", bytes, sc_cl_errname(rc));
  return 0;
}

/* The batch's ids, and for documents the int32 doc starts, per-document positions and segment ids. */
static int set_batch(sc_lm *lm, const int32_t *tokens, const uint8_t *doc_start, sc_err *err) {
  if (sc_embed_set_tokens(lm->embed, lm->N, tokens, err)) return -1;
  const int step = lm->state && lm->state->mode == LM_STEP;
  lm->max_pos = 0;
  for (int b = 0; b < lm->B; b++) {
    int pos = step ? lm->state->pos[b] : 0, seg = 0;
    for (int t = 0; t < lm->T; t++) {
      const int i = b * lm->T + t, start = doc_start && doc_start[i];
      if (start && t > 0) pos = 0, seg++;
      if (pos > lm->max_pos) lm->max_pos = pos;
      lm->pos_host[i] = pos++, lm->seg_host[i] = seg, lm->doc_host[i] = start;
    }
  }
  lm->has_docs = doc_start != NULL;
  /* One wait for the four: the queue is in order, so the last write's return means the others have read their
   * host arrays too (a decoding step would otherwise pay four round trips). */
  const size_t ib = 4 * (size_t)lm->N;
  if (sc_buffer_write_async(lm->c, lm->acts, lm->model_off[M_TOK], ib, tokens, NULL, err) ||
      sc_buffer_write_async(lm->c, lm->acts, lm->model_off[M_DOC], ib, lm->doc_host, NULL, err) ||
      sc_buffer_write_async(lm->c, lm->acts, lm->model_off[M_POS], ib, lm->pos_host, NULL, err)) {
    clFinish(lm->c->queue); /* what was queued may still read the caller's tokens */
    return -1;
  }
  return sc_buffer_write(lm->c, lm->acts, lm->model_off[M_SEG], ib, lm->seg_host, err);
}

static int rms_fwd(sc_lm *lm, sc_view x, sc_view w, sc_view y, sc_view st, sc_err *err) {
  return lm_begin(lm, err) ||
         sc_norm_forward(lm->rms, lm->N, &(sc_norm_fwd_io){.x = x, .w = w, .y = y, .stats = st}, err) ||
         lm_end(lm, SC_LM_T_NORM, err);
}

/* dres += RMSNorm backward of dy at x (dw added to). */
static int rms_bwd_add(sc_lm *lm, sc_view x, sc_view w, sc_view st, sc_view dy, sc_view dw, sc_err *err) {
  const sc_norm_bwd_io io = {.x = x, .w = w, .stats = st, .dy = dy, .dx = lm_scr(lm, S_DTMP), .dw = dw};
  return lm_begin(lm, err) || sc_norm_backward(lm->rms, lm->N, &io, err) ||
         sc_residual_add(lm->ew, lm->N * (int)lm->cfg.d_model, lm_scr(lm, S_DRES), lm_scr(lm, S_DTMP), err) ||
         lm_end(lm, SC_LM_T_NORM, err);
}

/* res[l+1] = mid + W_down(SiLU(W_gate x̂) ⊙ W_up x̂), x̂ = RMSNorm(mid). */
static int ffn_forward(sc_lm *lm, int l, sc_view next, sc_err *err) {
  const trunk_fams f = trunk(lm);
  const int d = (int)lm->cfg.d_model, F = (int)lm->cfg.d_ff;
  const sc_view mid = lm_act_view(lm, l, A_MID), xn = lm_act_view(lm, l, A_XN2), g = lm_act_view(lm, l, A_G),
                u = lm_act_view(lm, l, A_U), z = lm_act_view(lm, l, A_Z);
  return rms_fwd(lm, mid, lm_param(lm, f.norm_ffn, l), xn, lm_act_view(lm, l, A_ST2), err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, f.upg, l), F, d, 0.0f, g, F, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, f.up, l), F, d, 0.0f, u, F, err) ||
         sc_swiglu_forward(lm->ew, lm->N * F, g, u, z, err) || copy_view(lm, mid, next, 4 * (size_t)lm->N * d, err) ||
         lm_linear_fwd(lm, z, lm_param(lm, f.down, l), d, F, 1.0f, next, d, err);
}

/* dres (at res[l+1]) becomes the gradient at mid. */
static int ffn_backward(sc_lm *lm, int l, sc_err *err) {
  const trunk_fams f = trunk(lm);
  const int d = (int)lm->cfg.d_model, F = (int)lm->cfg.d_ff;
  const sc_view xn = lm_act_view(lm, l, A_XN2), g = lm_act_view(lm, l, A_G), u = lm_act_view(lm, l, A_U),
                dres = lm_scr(lm, S_DRES), dxn = lm_scr(lm, S_DXN), dz = lm_scr(lm, S_W0), dg = lm_scr(lm, S_W1),
                du = lm_scr(lm, S_W2);
  return lm_linear_bwd(lm, lm_act_view(lm, l, A_Z), lm_param(lm, f.down, l), dres, d, d, F, 0.0f, dz,
                       lm_grad(lm, f.down, l), err) ||
         sc_swiglu_backward(lm->ew, lm->N * F, g, u, dz, dg, du, err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, f.upg, l), dg, F, F, d, 0.0f, dxn, lm_grad(lm, f.upg, l), err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, f.up, l), du, F, F, d, 1.0f, dxn, lm_grad(lm, f.up, l), err) ||
         rms_bwd_add(lm, lm_act_view(lm, l, A_MID), lm_param(lm, f.norm_ffn, l), lm_act_view(lm, l, A_ST2), dxn,
                     lm_grad(lm, f.norm_ffn, l), err);
}

int lm_forward_trunk(sc_lm *lm, int T, const int32_t *tokens, const uint8_t *doc_start, sc_err *err) {
  if (T < 1 || T > lm->cap_T)
    return sc_fail(err, "model forward: %d tokens per row, but the model holds 1 to %d; create it for more", T,
                   lm->cap_T);
  lm->ready = 0, lm->T = T, lm->N = lm->B * T;
  const int L = (int)lm->cfg.n_layers, d = (int)lm->cfg.d_model, xlstm = lm->cfg.arch == SC_ARCH_XLSTM;
  const trunk_fams f = trunk(lm);
  if (set_batch(lm, tokens, doc_start, err)) return -1;
  const sc_view x0 = L ? lm_act_view(lm, 0, A_RES) : lm_model_view(lm, M_XF);
  if (sc_embed_forward(lm->embed, lm_param(lm, F_EMBED, -1), x0, err)) return -1;
  for (int l = 0; l < L; l++) {
    const sc_view res = lm_act_view(lm, l, A_RES), mid = lm_act_view(lm, l, A_MID), xn = lm_act_view(lm, l, A_XN1);
    const sc_view next = l + 1 < L ? lm_act_view(lm, l + 1, A_RES) : lm_model_view(lm, M_XF);
    if (rms_fwd(lm, res, lm_param(lm, F_NORM_MIX, l), xn, lm_act_view(lm, l, A_ST1), err) ||
        copy_view(lm, res, mid, 4 * (size_t)lm->N * d, err) ||
        (xlstm ? lm_xlstm_forward(lm, l, xn, mid, err) : lm_llama_forward(lm, l, xn, mid, err)) ||
        ffn_forward(lm, l, next, err))
      return -1;
  }
  return rms_fwd(lm, lm_model_view(lm, M_XF), lm_param(lm, f.out_norm, -1), lm_model_view(lm, M_XNF),
                 lm_model_view(lm, M_STF), err);
}

int sc_lm_forward(sc_lm *lm, const int32_t *tokens, const uint8_t *doc_start, float *loss, float *logits, sc_err *err) {
  if (lm_forward_trunk(lm, lm->cap_T, tokens, doc_start, err)) return -1;
  const trunk_fams f = trunk(lm);
  const sc_view xnf = lm_model_view(lm, M_XNF);
  const size_t lbytes = logits ? 4 * (size_t)lm->N * (size_t)lm->cfg.vocab_size : 0;
  cl_mem lg = NULL;
  if (logits && sc_buffer_create(lm->c, lbytes, "logits (B, T, V)", &lg, err)) return -1;
  const sc_xent_fwd_io io = {.x = xnf,
                             .W = lm_param(lm, f.head, -1),
                             .tokens = lm_model_view(lm, M_TOK),
                             .lse = lm_model_view(lm, M_LSE),
                             .loss = lm_model_view(lm, M_LOSS),
                             .logits = sc_view_of(lg)};
  int rc = lm_begin(lm, err) || sc_xent_forward(lm->xent, lm->B, lm->T, &io, err) || lm_end(lm, SC_LM_T_HEAD, err);
  if (!rc && logits) rc = sc_buffer_read(lm->c, lg, 0, lbytes, logits, err);
  if (lg) sc_buffer_release(lm->c, lg);
  if (!rc && loss) rc = sc_buffer_read(lm->c, lm->acts, lm->model_off[M_LOSS], sizeof *loss, loss, err);
  lm->ready = !rc;
  return rc;
}

int sc_lm_backward(sc_lm *lm, sc_err *err) {
  if (!lm->ready) return sc_fail(err, "model backward: no forward to differentiate; run sc_lm_forward first");
  if (!lm->grads) return sc_fail(err, "model backward: the model was created for inference, without gradients");
  const int L = (int)lm->cfg.n_layers, xlstm = lm->cfg.arch == SC_ARCH_XLSTM;
  const trunk_fams f = trunk(lm);
  const sc_view dres = lm_scr(lm, S_DRES), dxn = lm_scr(lm, S_DXN), xnf = lm_model_view(lm, M_XNF);
  const sc_xent_bwd_io xb = {.x = xnf,
                             .W = lm_param(lm, f.head, -1),
                             .tokens = lm_model_view(lm, M_TOK),
                             .lse = lm_model_view(lm, M_LSE),
                             .dx = dxn,
                             .dW = lm_grad(lm, f.head, -1),
                             .accumulate = 1};
  const size_t nd = 4 * (size_t)lm->N * (size_t)lm->cfg.d_model;
  if (sc_buffer_fill_zero(lm->c, lm->scratch, dxn.off, nd, err) ||
      sc_buffer_fill_zero(lm->c, lm->scratch, dres.off, nd, err) || lm_begin(lm, err) ||
      sc_xent_backward(lm->xent, lm->B, lm->T, 1.0f, &xb, err) || lm_end(lm, SC_LM_T_HEAD, err) ||
      rms_bwd_add(lm, lm_model_view(lm, M_XF), lm_param(lm, f.out_norm, -1), lm_model_view(lm, M_STF), dxn,
                  lm_grad(lm, f.out_norm, -1), err))
    return -1;
  for (int l = L - 1; l >= 0; l--) {
    if (ffn_backward(lm, l, err) ||
        (xlstm ? lm_xlstm_backward(lm, l, dres, dxn, err) : lm_llama_backward(lm, l, dres, dxn, err)) ||
        rms_bwd_add(lm, lm_act_view(lm, l, A_RES), lm_param(lm, F_NORM_MIX, l), lm_act_view(lm, l, A_ST1), dxn,
                    lm_grad(lm, F_NORM_MIX, l), err))
      return -1;
  }
  return sc_embed_backward(lm->embed, dres, lm_grad(lm, F_EMBED, -1), err);
}
