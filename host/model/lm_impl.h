/* Internals of model/lm.c shared with the mixers (model/lm_mixer.c): the arenas' slots, the ops, and the linear
 * layer helpers. Not for callers outside host/model. */
#ifndef SCALECL_MODEL_LM_IMPL_H
#define SCALECL_MODEL_LM_IMPL_H
#include "model/lm.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/embed.h"
#include "ops/gemm.h"
#include "ops/mlstm.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "ops/xent.h"

/* Activations saved per block, each (B·T, width) with the width in floats per token (lm_widths). */
typedef enum {
  A_RES, /* the block's input residual (d) */
  A_MID, /* the residual after the mixer (d) */
  A_XN1, /* RMSNorm before the mixer (d) and its stats (2) */
  A_ST1,
  A_XN2, /* RMSNorm before the FFN (d) and its stats (2) */
  A_ST2,
  A_G, /* SwiGLU gate branch, up branch and product (d_ff each) */
  A_U,
  A_Z,
  A_QH, /* q, k (qk_dim) and v (v_dim) token-major (B, T, NH, dh) as the projections write them; Llama's q, k
          after RoPE */
  A_KH,
  A_VH,
  A_HSTAT, /* per (head, token): mLSTM n_out or attention lse (NH) */
  A_HM,    /* the core output token-major (v_dim): mLSTM h, input of the head norm, or attention o, of o_proj */
  A_OG,    /* xLSTM: output gate pre-activation o~ (v_dim) */
  A_XIF,   /* xLSTM: gate projections [x̂W_iᵀ; x̂W_fᵀ] (2·NH) */
  A_IG,    /* xLSTM: capped gates (B, NH, T) (NH each) */
  A_FG,
  A_MOUT, /* xLSTM: mLSTM m_out (NH) */
  A_HN,   /* xLSTM: head-normed h (v_dim) and stats (2·NH) */
  A_HST,
  A_YA, /* xLSTM: σ(o~) ⊙ h, input of out_proj (v_dim) */
  A_COUNT
} lm_act;

/* Model-level slots of the activation arena: final residual, norm and its stats, lse of the head, the loss, and
 * the int32 token ids, doc starts, positions and segment ids. */
typedef enum { M_XF, M_XNF, M_STF, M_LSE, M_LOSS, M_TOK, M_DOC, M_POS, M_SEG, M_COUNT } lm_model_slot;

/* Scratch slots (B·T, width): gradient of the residual, of a norm's output, a norm's dx; five wide temporaries
 * (max(qk_dim, v_dim, d_ff)); gate gradients. */
typedef enum { S_DRES, S_DXN, S_DTMP, S_W0, S_W1, S_W2, S_W3, S_W4, S_DI, S_DF, S_DXIF, S_COUNT } lm_scratch;

/* Inference (model/infer.c). In a prefill the mixers also keep each layer's state: xLSTM the final C, n, m of the
 * chunkwise forward, Llama k (after RoPE) and v in the cache. In a step (T = 1) they read and update that state
 * with the recurrent kernels (mLSTM step, attention decode) instead of the sequence kernels. */
typedef enum { LM_TRAIN, LM_PREFILL, LM_STEP } lm_mode;
typedef struct {
  lm_mode mode;
  cl_mem buf;         /* every layer's state */
  size_t layer_bytes; /* per layer */
  size_t off[3];      /* bytes within a layer: xLSTM C (B·NH, dqk, dv), n (B·NH, dqk), m (B·NH); Llama the K and V
                         caches (B, NH, cap, dh) */
  int cap;            /* Llama: cache positions per row */
  const int32_t *pos; /* LM_STEP: (B) host, the position of each row's token */
} lm_state;

struct sc_lm {
  sc_ctx *c;
  sc_model_config cfg;
  sc_params p;
  sc_lm_plan plan;
  int B, T, N, chunk;
  int kv_half;     /* the attention op's decode caches hold halves (sc_lm_opts.kv_half) */
  int cap_T;       /* tokens per row the arenas hold; a forward may run on fewer (T <= cap_T) */
  int max_pos;     /* the largest position of the batch (RoPE's table bound) */
  lm_state *state; /* NULL: training */
  int has_docs;    /* the last forward had doc_start */
  int ready;       /* a forward ran, so the backward has its activations */
  cl_mem params, grads, acts, scratch;
  size_t act_off[A_COUNT], layer_stride, model_off[M_COUNT], scr_off[S_COUNT]; /* bytes */
  sc_gemm *gemm;
  sc_embed *embed;
  sc_norm *rms, *heads;
  sc_elementwise *ew;
  sc_mlstm *mlstm;
  sc_attention *attn;
  sc_rope *rope;
  sc_xent *xent;
  int profiling; /* sc_lm_set_profiling */
  double prof[SC_LM_T_COUNT], prof_t0;
  int *pos_host; /* (B, T) staging for positions and segment ids */
  int *seg_host;
  int32_t *doc_host;
};

/* The trunk's forward over T <= cap_T tokens per row: embedding, blocks and the final norm into M_XNF. */
int lm_forward_trunk(sc_lm *lm, int T, const int32_t *tokens, const uint8_t *doc_start, sc_err *err);

/* Views: activation slot a of block l, model slot, scratch slot, parameter or gradient of family f, block l. */
sc_view lm_act_view(const sc_lm *lm, int l, lm_act a);
sc_view lm_model_view(const sc_lm *lm, lm_model_slot s);
sc_view lm_scr(const sc_lm *lm, lm_scratch s);
sc_view lm_param(const sc_lm *lm, int fam, int l);
sc_view lm_grad(const sc_lm *lm, int fam, int l);

/* Bracket one layer family's launches when profiling (see sc_lm_set_profiling); both return 0, or -1 when the
 * queue fails, so they chain with || around the calls they time. Not nested. */
int lm_begin(sc_lm *lm, sc_err *err);
int lm_end(sc_lm *lm, int family, sc_err *err);

/* Y (N, out, rows ldy apart) = X (N, in) Wᵀ + beta·Y, W (out, in). */
int lm_linear_fwd(sc_lm *lm, sc_view X, sc_view W, int out, int in, float beta, sc_view Y, int ldy, sc_err *err);
/* dX (N, in) = dY W + beta_dx·dX and dW += dYᵀ X, dY rows ldy apart. */
int lm_linear_bwd(sc_lm *lm, sc_view X, sc_view W, sc_view dY, int ldy, int out, int in, float beta_dx, sc_view dX,
                  sc_view dW, sc_err *err);

/* The mixers: y (the residual, holding x) += Mixer(xn) for block l; backward adds the parameter gradients and
 * writes dxn (N, d) from dy (N, d). */
int lm_xlstm_forward(sc_lm *lm, int l, sc_view xn, sc_view y, sc_err *err);
int lm_xlstm_backward(sc_lm *lm, int l, sc_view dy, sc_view dxn, sc_err *err);
int lm_llama_forward(sc_lm *lm, int l, sc_view xn, sc_view y, sc_err *err);
int lm_llama_backward(sc_lm *lm, int l, sc_view dy, sc_view dxn, sc_err *err);

/* Parameter family indices of a mixer, in sc_params order (model/params.c). */
enum { F_EMBED = 0, F_NORM_MIX = 1 };
enum {
  FX_Q = 2,
  FX_K,
  FX_V,
  FX_OG,
  FX_IW,
  FX_IB,
  FX_FW,
  FX_FB,
  FX_MHN,
  FX_OUT,
  FX_NORM_FFN,
  FX_UPG,
  FX_UP,
  FX_DOWN,
  FX_OUT_NORM,
  FX_HEAD
};
enum { FL_Q = 2, FL_K, FL_V, FL_O, FL_NORM_FFN, FL_UPG, FL_UP, FL_DOWN, FL_OUT_NORM, FL_HEAD };

#endif
