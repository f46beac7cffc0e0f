/* The two mixers of model/lm.c: the mLSTM layer of xLSTM (spec xlstm.md §2.3, §2.8) and RoPE attention of the
 * Llama baseline (§3). Each forward adds its output projection into the residual y with beta = 1 (y already
 * holds x); each backward takes dy (N, d) and writes dxn (N, d), adding every parameter gradient. Wide scratch
 * slots are reused as soon as their content is consumed; the comments name what each holds at that point. */
#include <stddef.h>

#include "model/lm_impl.h"

typedef struct {
  int B, T, N, d, QK, VD, NH, dqk, dv;
} dims;

static dims dims_of(const sc_lm *lm) {
  const sc_model_config *c = &lm->cfg;
  return (dims){lm->B,         lm->T,           lm->N,        (int)c->d_model, (int)c->qk_dim,
                (int)c->v_dim, (int)c->n_heads, (int)c->d_qk, (int)c->d_v};
}

static sc_view docs(const sc_lm *lm, lm_model_slot slot) {
  return lm->has_docs ? lm_model_view(lm, slot) : sc_view_of(NULL);
}

static lm_mode mode_of(const sc_lm *lm) {
  return lm->state ? lm->state->mode : LM_TRAIN;
}

/* Part k of layer l's inference state (lm_state.off). */
static sc_view state_view(const sc_lm *lm, int l, int k) {
  return (sc_view){lm->state->buf, (size_t)l * lm->state->layer_bytes + lm->state->off[k]};
}

/* The mLSTM cell: chunkwise over the sequence (keeping the final state in a prefill), or one recurrent step. */
static int xlstm_cell(sc_lm *lm, int l, sc_mlstm_fwd_io m, sc_err *err) {
  const dims s = dims_of(lm);
  const size_t BH = (size_t)s.B * (size_t)s.NH;
  const float eps = (float)lm->cfg.cell_eps;
  if (mode_of(lm) == LM_STEP) {
    const sc_mlstm_step_io st = {.q = m.q,
                                 .k = m.k,
                                 .v = m.v,
                                 .i = m.i,
                                 .f = m.f,
                                 .C = state_view(lm, l, 0),
                                 .n = state_view(lm, l, 1),
                                 .m = state_view(lm, l, 2),
                                 .h = m.h};
    return sc_mlstm_step(lm->mlstm, BH, eps, &st, err);
  }
  if (mode_of(lm) == LM_PREFILL)
    m.c_last = state_view(lm, l, 0), m.n_last = state_view(lm, l, 1), m.m_last = state_view(lm, l, 2);
  return sc_mlstm_forward(lm->mlstm, BH, (size_t)s.T, eps, &m, err);
}

/* The cell takes q, k, v and writes h token-major (B, T, NH, dh), as the projections and the head norm use them. */
int lm_xlstm_forward(sc_lm *lm, int l, sc_view xn, sc_view y, sc_err *err) {
  const dims s = dims_of(lm);
  const sc_view xif = lm_act_view(lm, l, A_XIF), og = lm_act_view(lm, l, A_OG);
  const sc_view hm = lm_act_view(lm, l, A_HM), hn = lm_act_view(lm, l, A_HN), ya = lm_act_view(lm, l, A_YA);
  const sc_gates_fwd_io g = {.xi = xif,
                             .xf = sc_view_at(xif, 4 * (size_t)s.NH),
                             .bi = lm_param(lm, FX_IB, l),
                             .bf = lm_param(lm, FX_FB, l),
                             .doc_start = docs(lm, M_DOC),
                             .i = lm_act_view(lm, l, A_IG),
                             .f = lm_act_view(lm, l, A_FG)};
  const sc_mlstm_fwd_io m = {.q = lm_act_view(lm, l, A_QH),
                             .k = lm_act_view(lm, l, A_KH),
                             .v = lm_act_view(lm, l, A_VH),
                             .i = g.i,
                             .f = g.f,
                             .h = hm,
                             .n_out = lm_act_view(lm, l, A_HSTAT),
                             .m_out = lm_act_view(lm, l, A_MOUT)};
  const sc_norm_fwd_io hnorm = {.x = hm, .w = lm_param(lm, FX_MHN, l), .y = hn, .stats = lm_act_view(lm, l, A_HST)};
  return lm_linear_fwd(lm, xn, lm_param(lm, FX_Q, l), s.QK, s.d, 0.0f, m.q, s.QK, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FX_K, l), s.QK, s.d, 0.0f, m.k, s.QK, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FX_V, l), s.VD, s.d, 0.0f, m.v, s.VD, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FX_OG, l), s.VD, s.d, 0.0f, og, s.VD, err) ||
         /* the gates share one (N, 2·NH) buffer, [i; f] per token, as the fused gate op reads it */
         lm_linear_fwd(lm, xn, lm_param(lm, FX_IW, l), s.NH, s.d, 0.0f, g.xi, 2 * s.NH, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FX_FW, l), s.NH, s.d, 0.0f, g.xf, 2 * s.NH, err) ||
         sc_gates_forward(lm->ew, s.B, s.T, s.NH, 2 * s.NH, &g, err) || lm_begin(lm, err) ||
         xlstm_cell(lm, l, m, err) || lm_end(lm, SC_LM_T_CELL, err) || lm_begin(lm, err) ||
         sc_norm_forward(lm->heads, s.N, &hnorm, err) || lm_end(lm, SC_LM_T_NORM, err) ||
         sc_ogate_forward(lm->ew, s.N * s.VD, og, hn, ya, err) ||
         lm_linear_fwd(lm, ya, lm_param(lm, FX_OUT, l), s.d, s.VD, 1.0f, y, s.d, err);
}

int lm_xlstm_backward(sc_lm *lm, int l, sc_view dy, sc_view dxn, sc_err *err) {
  const dims s = dims_of(lm);
  const sc_view xn = lm_act_view(lm, l, A_XN1), xif = lm_act_view(lm, l, A_XIF), dxif = lm_scr(lm, S_DXIF);
  const sc_view w0 = lm_scr(lm, S_W0), w1 = lm_scr(lm, S_W1), w2 = lm_scr(lm, S_W2), w3 = lm_scr(lm, S_W3),
                w4 = lm_scr(lm, S_W4);
  const size_t fo = 4 * (size_t)s.NH; /* bytes from the i to the f column of a fused gate row */
  const sc_view wq = lm_param(lm, FX_Q, l), wk = lm_param(lm, FX_K, l), wv = lm_param(lm, FX_V, l);
  const sc_norm_bwd_io hnorm = {.x = lm_act_view(lm, l, A_HM),
                                .w = lm_param(lm, FX_MHN, l),
                                .stats = lm_act_view(lm, l, A_HST),
                                .dy = w2,
                                .dx = w3,
                                .dw = lm_grad(lm, FX_MHN, l)};
  const sc_mlstm_bwd_io m = {.q = lm_act_view(lm, l, A_QH),
                             .k = lm_act_view(lm, l, A_KH),
                             .v = lm_act_view(lm, l, A_VH),
                             .i = lm_act_view(lm, l, A_IG),
                             .f = lm_act_view(lm, l, A_FG),
                             .n_out = lm_act_view(lm, l, A_HSTAT),
                             .dh = w3,
                             .dq = w2,
                             .dk = w0,
                             .dv = w4,
                             .di = lm_scr(lm, S_DI),
                             .df = lm_scr(lm, S_DF)};
  const sc_gates_bwd_io g = {.xi = xif,
                             .xf = sc_view_at(xif, fo),
                             .bi = lm_param(lm, FX_IB, l),
                             .bf = lm_param(lm, FX_FB, l),
                             .doc_start = docs(lm, M_DOC),
                             .di = m.di,
                             .df = m.df,
                             .dxi = dxif,
                             .dxf = sc_view_at(dxif, fo),
                             .dbi = lm_grad(lm, FX_IB, l),
                             .dbf = lm_grad(lm, FX_FB, l)};
  /* w0 = d(σ(o~)⊙h), then w1 = do~ and w2 = dh normed, w3 = dh; the cell's dq, dk, dv go to w2, w0, w4 */
  return lm_linear_bwd(lm, lm_act_view(lm, l, A_YA), lm_param(lm, FX_OUT, l), dy, s.d, s.d, s.VD, 0.0f, w0,
                       lm_grad(lm, FX_OUT, l), err) ||
         sc_ogate_backward(lm->ew, s.N * s.VD, lm_act_view(lm, l, A_OG), lm_act_view(lm, l, A_HN), w0, w1, w2, err) ||
         lm_begin(lm, err) || sc_norm_backward(lm->heads, s.N, &hnorm, err) || lm_end(lm, SC_LM_T_NORM, err) ||
         lm_begin(lm, err) ||
         sc_mlstm_backward(lm->mlstm, (size_t)s.B * s.NH, (size_t)s.T, (float)lm->cfg.cell_eps, &m, err) ||
         lm_end(lm, SC_LM_T_CELL, err) || sc_gates_backward(lm->ew, s.B, s.T, s.NH, 2 * s.NH, &g, err) ||
         lm_linear_bwd(lm, xn, wq, m.dq, s.QK, s.QK, s.d, 0.0f, dxn, lm_grad(lm, FX_Q, l), err) ||
         lm_linear_bwd(lm, xn, wk, m.dk, s.QK, s.QK, s.d, 1.0f, dxn, lm_grad(lm, FX_K, l), err) ||
         lm_linear_bwd(lm, xn, wv, m.dv, s.VD, s.VD, s.d, 1.0f, dxn, lm_grad(lm, FX_V, l), err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FX_OG, l), w1, s.VD, s.VD, s.d, 1.0f, dxn, lm_grad(lm, FX_OG, l), err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FX_IW, l), g.dxi, 2 * s.NH, s.NH, s.d, 1.0f, dxn, lm_grad(lm, FX_IW, l),
                       err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FX_FW, l), g.dxf, 2 * s.NH, s.NH, s.d, 1.0f, dxn, lm_grad(lm, FX_FW, l),
                       err);
}

/* Attention over the sequence (writing k, v into the cache in a prefill), or one decode step over the cache. */
static int llama_attend(sc_lm *lm, int l, const sc_attention_fwd_io *a, sc_err *err) {
  const dims s = dims_of(lm);
  const sc_view kc = mode_of(lm) == LM_TRAIN ? a->k : state_view(lm, l, 0),
                vc = mode_of(lm) == LM_TRAIN ? a->v : state_view(lm, l, 1);
  if (mode_of(lm) == LM_STEP) {
    const sc_attention_decode_io io = {.kcache = kc, .vcache = vc, .q = a->q, .k = a->k, .v = a->v, .o = a->o};
    return sc_attention_decode(lm->attn, s.B, s.NH, lm->state->cap, lm->state->pos, NULL, &io, err);
  }
  const sc_attention_fill_io fill = {.k = a->k, .v = a->v, .kcache = kc, .vcache = vc};
  return sc_attention_forward(lm->attn, s.B, s.NH, s.T, a, err) ||
         (mode_of(lm) == LM_PREFILL && sc_attention_cache_fill(lm->attn, s.B, s.NH, s.T, lm->state->cap, &fill, err));
}

int lm_llama_forward(sc_lm *lm, int l, sc_view xn, sc_view y, sc_err *err) {
  const dims s = dims_of(lm);
  const sc_view pos = lm_model_view(lm, M_POS), hm = lm_act_view(lm, l, A_HM);
  const sc_attention_fwd_io a = {.q = lm_act_view(lm, l, A_QH),
                                 .k = lm_act_view(lm, l, A_KH),
                                 .v = lm_act_view(lm, l, A_VH),
                                 .seg = docs(lm, M_SEG),
                                 .o = hm,
                                 .lse = lm_act_view(lm, l, A_HSTAT)};
  return lm_linear_fwd(lm, xn, lm_param(lm, FL_Q, l), s.QK, s.d, 0.0f, a.q, s.QK, err) ||
         sc_rope_apply(lm->rope, s.B, s.NH, s.T, pos, lm->max_pos, a.q, a.q, SC_ROPE_TOKENS, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FL_K, l), s.QK, s.d, 0.0f, a.k, s.QK, err) ||
         sc_rope_apply(lm->rope, s.B, s.NH, s.T, pos, lm->max_pos, a.k, a.k, SC_ROPE_TOKENS, err) ||
         lm_linear_fwd(lm, xn, lm_param(lm, FL_V, l), s.VD, s.d, 0.0f, a.v, s.VD, err) || lm_begin(lm, err) ||
         llama_attend(lm, l, &a, err) || lm_end(lm, SC_LM_T_CELL, err) ||
         lm_linear_fwd(lm, hm, lm_param(lm, FL_O, l), s.d, s.VD, 1.0f, y, s.d, err);
}

int lm_llama_backward(sc_lm *lm, int l, sc_view dy, sc_view dxn, sc_err *err) {
  const dims s = dims_of(lm);
  const sc_view xn = lm_act_view(lm, l, A_XN1), pos = lm_model_view(lm, M_POS);
  const sc_view w0 = lm_scr(lm, S_W0), w2 = lm_scr(lm, S_W2), w3 = lm_scr(lm, S_W3), w4 = lm_scr(lm, S_W4);
  const sc_attention_bwd_io a = {.q = lm_act_view(lm, l, A_QH),
                                 .k = lm_act_view(lm, l, A_KH),
                                 .v = lm_act_view(lm, l, A_VH),
                                 .seg = docs(lm, M_SEG),
                                 .o = lm_act_view(lm, l, A_HM),
                                 .lse = lm_act_view(lm, l, A_HSTAT),
                                 .dout = w0,
                                 .dq = w2,
                                 .dk = w3,
                                 .dv = w4};
  const int back = SC_ROPE_TRANSPOSE | SC_ROPE_TOKENS;
  /* w0 = do; the cell's dq, dk (rotated back in place) and dv go to w2, w3, w4, all token-major */
  return lm_linear_bwd(lm, a.o, lm_param(lm, FL_O, l), dy, s.d, s.d, s.VD, 0.0f, w0, lm_grad(lm, FL_O, l), err) ||
         lm_begin(lm, err) || sc_attention_backward(lm->attn, s.B, s.NH, s.T, &a, err) ||
         lm_end(lm, SC_LM_T_CELL, err) || sc_rope_apply(lm->rope, s.B, s.NH, s.T, pos, s.T - 1, w2, w2, back, err) ||
         sc_rope_apply(lm->rope, s.B, s.NH, s.T, pos, s.T - 1, w3, w3, back, err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FL_Q, l), w2, s.QK, s.QK, s.d, 0.0f, dxn, lm_grad(lm, FL_Q, l), err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FL_K, l), w3, s.QK, s.QK, s.d, 1.0f, dxn, lm_grad(lm, FL_K, l), err) ||
         lm_linear_bwd(lm, xn, lm_param(lm, FL_V, l), w4, s.VD, s.VD, s.d, 1.0f, dxn, lm_grad(lm, FL_V, l), err);
}
