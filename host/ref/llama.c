#include "ref/llama.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "ref/attention.h"
#include "ref/heads.h"
#include "ref/linear.h"
#include "ref/lm.h"
#include "ref/rope.h"

/* The tensors of one layer, in layout order. */
enum { NORM_MIX, QP, KP, VP, OP, NORM_FFN, GATE, UP, DOWN, N_BLOCK };

typedef struct {
  const sc_ref_llama_shape *s;
  size_t off[N_BLOCK]; /* offsets within a layer */
} model;

void sc_ref_llama_shape_default(sc_ref_llama_shape *s, size_t d, size_t n_layers, size_t n_heads, size_t vocab) {
  *s = (sc_ref_llama_shape){.d = d,
                            .n_layers = n_layers,
                            .n_heads = n_heads,
                            .head_dim = n_heads ? d / n_heads : 0,
                            .d_ff = 64 * ((8 * d / 3 + 63) / 64),
                            .vocab = vocab,
                            .norm_eps = 1e-6,
                            .rope_theta = 500000,
                            .logit_cap = 0};
}

static int setup(const sc_ref_llama_shape *s, model *m, sc_ref_lm *lm, sc_ref_params *p, sc_err *err) {
  if (!s->d || !s->n_heads || !s->head_dim || !s->d_ff || !s->vocab)
    return sc_fail(err, "Llama reference shape has a zero size (d %zu, heads %zu, head_dim %zu, d_ff %zu, vocab %zu)",
                   s->d, s->n_heads, s->head_dim, s->d_ff, s->vocab);
  if (s->head_dim % 2 || s->n_heads > INT_MAX || s->head_dim > INT_MAX)
    return sc_fail(err, "Llama reference: head_dim %zu must be even (RoPE pairs) and heads %zu fit an int", s->head_dim,
                   s->n_heads);
  const size_t d = s->d, hd = s->n_heads * s->head_dim;
  const sc_ref_lm_tensor block[N_BLOCK] = {
      [NORM_MIX] = {"input_layernorm.weight", d, 0}, [QP] = {"self_attn.q_proj.weight", hd, d},
      [KP] = {"self_attn.k_proj.weight", hd, d},     [VP] = {"self_attn.v_proj.weight", hd, d},
      [OP] = {"self_attn.o_proj.weight", d, hd},     [NORM_FFN] = {"post_attention_layernorm.weight", d, 0},
      [GATE] = {"mlp.gate_proj.weight", s->d_ff, d}, [UP] = {"mlp.up_proj.weight", s->d_ff, d},
      [DOWN] = {"mlp.down_proj.weight", d, s->d_ff},
  };
  *lm = (sc_ref_lm){.d = d,
                    .d_ff = s->d_ff,
                    .vocab = s->vocab,
                    .n_layers = s->n_layers,
                    .norm_eps = s->norm_eps,
                    .logit_cap = s->logit_cap};
  if (sc_ref_lm_layout(lm, "model.embed_tokens.weight", "model.layers.", block, N_BLOCK, "model.norm.weight",
                       "lm_head.weight", m->off, p, err) != 0)
    return -1;
  lm->norm_mix = m->off[NORM_MIX], lm->norm_ffn = m->off[NORM_FFN];
  lm->ffn_gate = m->off[GATE], lm->ffn_up = m->off[UP], lm->ffn_down = m->off[DOWN];
  m->s = s;
  lm->model = m;
  return 0;
}

int sc_ref_llama_layout(const sc_ref_llama_shape *s, sc_ref_params *p, sc_err *err) {
  model m;
  sc_ref_lm lm;
  return setup(s, &m, &lm, p, err);
}

int sc_ref_llama_init(const sc_ref_llama_shape *s, uint64_t seed, double *params, sc_err *err) {
  model m;
  sc_ref_lm lm;
  sc_ref_params p = {0};
  if (setup(s, &m, &lm, &p, err) != 0) return -1;
  const double small = sqrt(2 / (5 * (double)s->d)), wang = 2 / (2 * (double)s->n_layers * sqrt((double)s->d));
  uint64_t rng = seed;
  for (size_t j = 0; j < p.n; j++) {
    const sc_ref_tensor *t = &p.t[j];
    /* The embedding and head draw like q; model.norm is a norm. */
    const int kind = j == 0 || j == p.n - 1 ? QP : j == p.n - 2 ? NORM_MIX : (int)((j - 1) % N_BLOCK);
    if (kind == NORM_MIX || kind == NORM_FFN)
      for (size_t h = 0; h < t->size; h++) params[t->offset + h] = 1;
    else
      sc_ref_fill_normal(params + t->offset, t->size, kind == OP || kind == DOWN ? wang : small, &rng);
  }
  sc_ref_params_free(&p);
  return 0;
}

/* The attention layer's activations; gradients use the same struct. */
typedef struct {
  double *q, *k, *v, *o;     /* (n, NH·hd) */
  double *qh, *kh, *vh, *oh; /* (B, NH, T, hd); qh and kh rotated */
  double *lse;               /* (B, NH, T) */
} acts;

static double *alloc_acts(const sc_ref_llama_shape *s, size_t n, acts *a, sc_err *err) {
  const size_t w = n * s->n_heads * s->head_dim;
  double *mem = sc_calloc(8 * w + n * s->n_heads, sizeof *mem, "Llama reference layer activations", err);
  if (!mem) return NULL;
  a->q = mem, a->k = mem + w, a->v = mem + 2 * w, a->o = mem + 3 * w;
  a->qh = mem + 4 * w, a->kh = mem + 5 * w, a->vh = mem + 6 * w, a->oh = mem + 7 * w, a->lse = mem + 8 * w;
  return mem;
}

/* Segment ids (cumulative sum of doc_start) and positions restarting at 0 at each document start. */
static int documents(const sc_ref_lm_batch *in, int32_t **seg, int32_t **pos, sc_err *err) {
  *seg = *pos = NULL;
  if (!in->doc_start) return 0;
  int32_t *m = sc_malloc(2 * in->B * in->T * sizeof *m, "Llama reference segment ids", err);
  if (!m) return -1;
  *seg = m, *pos = m + in->B * in->T;
  for (size_t b = 0; b < in->B; b++) {
    int32_t sg = 0, start = 0;
    for (size_t t = 0; t < in->T; t++) {
      const size_t r = b * in->T + t;
      if (in->doc_start[r]) sg++, start = (int32_t)t;
      (*seg)[r] = sg, (*pos)[r] = (int32_t)t - start;
    }
  }
  return 0;
}

/* The layer up to the merged attention output a->o; seg and pos from documents(). */
static int layer_run(const model *m, const double *P, const sc_ref_lm_batch *in, const int32_t *seg, const int32_t *pos,
                     const double *xn, acts *a, sc_err *err) {
  const sc_ref_llama_shape *s = m->s;
  const size_t B = in->B, T = in->T, n = B * T, NH = s->n_heads, hd = s->head_dim, w = NH * hd;
  sc_ref_linear_forward(n, s->d, w, xn, P + m->off[QP], NULL, a->q);
  sc_ref_linear_forward(n, s->d, w, xn, P + m->off[KP], NULL, a->k);
  sc_ref_linear_forward(n, s->d, w, xn, P + m->off[VP], NULL, a->v);
  sc_ref_heads_split(B, T, NH, hd, a->q, a->qh);
  sc_ref_heads_split(B, T, NH, hd, a->k, a->kh);
  sc_ref_heads_split(B, T, NH, hd, a->v, a->vh);
  sc_ref_rope((int)B, (int)NH, (int)T, (int)hd, s->rope_theta, pos, a->qh, a->qh, 0);
  sc_ref_rope((int)B, (int)NH, (int)T, (int)hd, s->rope_theta, pos, a->kh, a->kh, 0);
  if (sc_ref_attention_forward((int)B, (int)NH, (int)T, (int)hd, a->qh, a->kh, a->vh, seg, a->oh, a->lse, err) != 0)
    return -1;
  sc_ref_heads_merge(B, T, NH, hd, a->oh, a->o);
  return 0;
}

/* The mixer's forward (dy == NULL) or backward: recomputes the layer, then projects or back-propagates. */
static int mix(const sc_ref_lm *lm, const double *P, const sc_ref_lm_batch *in, const double *xn, double *y,
               const double *dy, double *dxn, double *dP, sc_err *err) {
  const model *m = lm->model;
  const sc_ref_llama_shape *s = m->s;
  const size_t B = in->B, T = in->T, n = B * T, NH = s->n_heads, hd = s->head_dim, w = NH * hd;
  if (B > INT_MAX || T > INT_MAX) return sc_fail(err, "batch %zu x %zu too large for the attention reference", B, T);
  acts a, g;
  int32_t *seg, *pos;
  if (documents(in, &seg, &pos, err) != 0) return -1;
  double *mem = alloc_acts(s, n, &a, err), *gmem = mem && dy ? alloc_acts(s, n, &g, err) : NULL;
  int rc = !mem || (dy && !gmem) ? -1 : layer_run(m, P, in, seg, pos, xn, &a, err);
  if (rc == 0 && !dy) sc_ref_linear_forward(n, w, s->d, a.o, P + m->off[OP], NULL, y);
  if (rc == 0 && dy) {
    sc_ref_linear_backward(n, w, s->d, a.o, P + m->off[OP], dy, g.o, dP + m->off[OP], NULL);
    sc_ref_heads_split(B, T, NH, hd, g.o, g.oh);
    rc =
        sc_ref_attention_backward((int)B, (int)NH, (int)T, (int)hd, a.qh, a.kh, a.vh, seg, g.oh, g.qh, g.kh, g.vh, err);
  }
  if (rc == 0 && dy) {
    /* The rotation is orthogonal: its transpose carries the gradient back. */
    sc_ref_rope((int)B, (int)NH, (int)T, (int)hd, s->rope_theta, pos, g.qh, g.qh, 1);
    sc_ref_rope((int)B, (int)NH, (int)T, (int)hd, s->rope_theta, pos, g.kh, g.kh, 1);
    sc_ref_heads_merge(B, T, NH, hd, g.qh, g.q);
    sc_ref_heads_merge(B, T, NH, hd, g.kh, g.k);
    sc_ref_heads_merge(B, T, NH, hd, g.vh, g.v);
    sc_ref_linear_backward(n, s->d, w, xn, P + m->off[QP], g.q, dxn, dP + m->off[QP], NULL);
    sc_ref_linear_backward(n, s->d, w, xn, P + m->off[KP], g.k, dxn, dP + m->off[KP], NULL);
    sc_ref_linear_backward(n, s->d, w, xn, P + m->off[VP], g.v, dxn, dP + m->off[VP], NULL);
  }
  free(mem);
  free(gmem);
  free(seg);
  return rc;
}

static int mix_forward(const sc_ref_lm *lm, const double *P, const sc_ref_lm_batch *in, const double *xn, double *y,
                       sc_err *err) {
  return mix(lm, P, in, xn, y, NULL, NULL, NULL, err);
}

static int mix_backward(const sc_ref_lm *lm, const double *P, const sc_ref_lm_batch *in, const double *xn,
                        const double *dy, double *dxn, double *dP, sc_err *err) {
  return mix(lm, P, in, xn, NULL, dy, dxn, dP, err);
}

/* Runs the trunk forward (backward when dparams != NULL) with this model's mixer. */
static int run(const sc_ref_llama_shape *s, const double *params, const int32_t *tokens, const uint8_t *doc_start,
               size_t B, size_t T, double *loss, double *losses, double *logits, double *dparams, sc_err *err) {
  model m;
  sc_ref_lm lm;
  sc_ref_params p = {0};
  if (setup(s, &m, &lm, &p, err) != 0) return sc_wrap(err, "Llama reference: ");
  sc_ref_params_free(&p);
  lm.mix_forward = mix_forward, lm.mix_backward = mix_backward;
  const sc_ref_lm_batch in = {tokens, doc_start, B, T};
  const int rc = dparams ? sc_ref_lm_backward(&lm, params, &in, loss, dparams, err)
                         : sc_ref_lm_forward(&lm, params, &in, loss, losses, logits, err);
  return rc != 0 ? sc_wrap(err, "Llama reference: ") : 0;
}

int sc_ref_llama_forward(const sc_ref_llama_shape *s, const double *params, const int32_t *tokens,
                         const uint8_t *doc_start, size_t B, size_t T, double *loss, double *losses, double *logits,
                         sc_err *err) {
  return run(s, params, tokens, doc_start, B, T, loss, losses, logits, NULL, err);
}

int sc_ref_llama_backward(const sc_ref_llama_shape *s, const double *params, const int32_t *tokens,
                          const uint8_t *doc_start, size_t B, size_t T, double *loss, double *dparams, sc_err *err) {
  return run(s, params, tokens, doc_start, B, T, loss, NULL, NULL, dparams, err);
}
