#include "ref/xlstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/heads.h"
#include "ref/linear.h"
#include "ref/lm.h"
#include "ref/mlstm.h"
#include "ref/norm.h"
#include "ref/softcap.h"
#include "ref/swiglu.h"

/* The tensors of one block, in layout order. */
enum {
  NORM_MIX,
  Q,
  K,
  V,
  OGATE,
  IGATE_W,
  IGATE_B,
  FGATE_W,
  FGATE_B,
  MHNORM,
  OUT,
  NORM_FFN,
  UP_GATE,
  UP,
  DOWN,
  N_BLOCK
};

/* The capped forget pre-activation at a document start (§2.8): log σ(−25) ≈ −25, a decay of about 1e-11. */
static const double DOC_RESET = -25;

typedef struct {
  const sc_ref_xlstm_shape *s;
  size_t off[N_BLOCK]; /* offsets within a layer */
} model;

void sc_ref_xlstm_shape_default(sc_ref_xlstm_shape *s, size_t d, size_t n_layers, size_t n_heads, size_t vocab) {
  *s = (sc_ref_xlstm_shape){.d = d,
                            .n_layers = n_layers,
                            .n_heads = n_heads,
                            .d_qk = n_heads ? (size_t)((double)d * 0.5) / n_heads : 0,
                            .d_v = n_heads ? d / n_heads : 0,
                            .d_ff = 64 * (size_t)ceil((double)d * 2.667 / 64),
                            .vocab = vocab,
                            .norm_eps = 1e-6,
                            .cell_norm_eps = 1e-6,
                            .eps = 1e-6,
                            .gate_cap = 15,
                            .logit_cap = 30,
                            .chunk = 64};
}

static int setup(const sc_ref_xlstm_shape *s, model *m, sc_ref_lm *lm, sc_ref_params *p, sc_err *err) {
  if (!s->d || !s->n_heads || !s->d_qk || !s->d_v || !s->d_ff || !s->vocab || !s->chunk)
    return sc_fail(err,
                   "xLSTM reference shape has a zero size (d %zu, heads %zu, d_qk %zu, d_v %zu, d_ff %zu, "
                   "vocab %zu, chunk %zu)",
                   s->d, s->n_heads, s->d_qk, s->d_v, s->d_ff, s->vocab, s->chunk);
  const size_t d = s->d, NH = s->n_heads, qk = NH * s->d_qk, vd = NH * s->d_v;
  const sc_ref_lm_tensor block[N_BLOCK] = {
      [NORM_MIX] = {"norm_mlstm.weight", d, 0},
      [Q] = {"mlstm_layer.q.weight", qk, d},
      [K] = {"mlstm_layer.k.weight", qk, d},
      [V] = {"mlstm_layer.v.weight", vd, d},
      [OGATE] = {"mlstm_layer.ogate_preact.weight", vd, d},
      [IGATE_W] = {"mlstm_layer.igate_preact.weight", NH, d},
      [IGATE_B] = {"mlstm_layer.igate_preact.bias", NH, 0},
      [FGATE_W] = {"mlstm_layer.fgate_preact.weight", NH, d},
      [FGATE_B] = {"mlstm_layer.fgate_preact.bias", NH, 0},
      [MHNORM] = {"mlstm_layer.multihead_norm.weight", vd, 0},
      [OUT] = {"mlstm_layer.out_proj.weight", d, vd},
      [NORM_FFN] = {"norm_ffn.weight", d, 0},
      [UP_GATE] = {"ffn.proj_up_gate.weight", s->d_ff, d},
      [UP] = {"ffn.proj_up.weight", s->d_ff, d},
      [DOWN] = {"ffn.proj_down.weight", d, s->d_ff},
  };
  *lm = (sc_ref_lm){.d = d,
                    .d_ff = s->d_ff,
                    .vocab = s->vocab,
                    .n_layers = s->n_layers,
                    .norm_eps = s->norm_eps,
                    .logit_cap = s->logit_cap};
  if (sc_ref_lm_layout(lm, "backbone.embeddings.weight", "backbone.blocks.", block, N_BLOCK, "backbone.out_norm.weight",
                       "lm_head.weight", m->off, p, err) != 0)
    return -1;
  lm->norm_mix = m->off[NORM_MIX], lm->norm_ffn = m->off[NORM_FFN];
  lm->ffn_gate = m->off[UP_GATE], lm->ffn_up = m->off[UP], lm->ffn_down = m->off[DOWN];
  m->s = s;
  lm->model = m;
  return 0;
}

int sc_ref_xlstm_layout(const sc_ref_xlstm_shape *s, sc_ref_params *p, sc_err *err) {
  model m;
  sc_ref_lm lm;
  return setup(s, &m, &lm, p, err);
}

int sc_ref_xlstm_init(const sc_ref_xlstm_shape *s, uint64_t seed, double *params, sc_err *err) {
  model m;
  sc_ref_lm lm;
  sc_ref_params p = {0};
  if (setup(s, &m, &lm, &p, err) != 0) return -1;
  const double small = sqrt(2 / (5 * (double)s->d)), wang = 2 / ((double)s->n_layers * sqrt((double)s->d));
  uint64_t rng = seed;
  for (size_t j = 0; j < p.n; j++) {
    const sc_ref_tensor *t = &p.t[j];
    double *x = params + t->offset;
    /* The embedding and head draw like q; the out norm is a norm. */
    const int kind = j == 0 || j == p.n - 1 ? Q : j == p.n - 2 ? NORM_MIX : (int)((j - 1) % N_BLOCK);
    switch (kind) {
      case Q:
      case K:
      case V:
      case UP_GATE:
      case UP:
        sc_ref_fill_normal(x, t->size, small, &rng);
        break;
      case OUT:
      case DOWN:
        sc_ref_fill_normal(x, t->size, wang, &rng);
        break;
      case OGATE:
      case IGATE_W:
      case FGATE_W:
        memset(x, 0, t->size * sizeof *x);
        break;
      case IGATE_B:
        for (size_t h = 0; h < t->size; h++) x[h] = -10;
        break;
      case FGATE_B:
        for (size_t h = 0; h < t->size; h++) x[h] = t->size > 1 ? 3 + 3 * (double)h / (double)(t->size - 1) : 3;
        break;
      default: /* norm weights */
        for (size_t h = 0; h < t->size; h++) x[h] = 1;
    }
  }
  sc_ref_params_free(&p);
  return 0;
}

/* Everything the mLSTM layer computes before its output projection; (n = B·T rows) x width. */
typedef struct {
  double *q, *k, *v, *o;          /* projections (n, qk|vd) */
  double *ipre, *fpre, *ic, *fc;  /* gate pre-activations before and after the cap (and reset), (n, NH) */
  double *qh, *kh, *vh, *ih, *fh; /* the same in head layout (B, NH, T, ·) */
  double *hh, *nout;              /* mLSTM output (B, NH, T, d_v) and normalizer (B, NH, T) */
  double *h, *hn, *gated;         /* (n, vd): h merged, after the head norm, times σ(o) */
} acts;

static double *alloc_acts(const sc_ref_xlstm_shape *s, size_t n, acts *a, sc_err *err) {
  const size_t qk = n * s->n_heads * s->d_qk, vd = n * s->n_heads * s->d_v, g = n * s->n_heads;
  double *mem = sc_calloc(4 * qk + 7 * vd + 7 * g, sizeof *mem, "xLSTM reference layer activations", err);
  if (!mem) return NULL;
  double *p = mem;
  a->q = p, a->k = p + qk, a->qh = p + 2 * qk, a->kh = p + 3 * qk, p += 4 * qk;
  a->v = p, a->o = p + vd, a->vh = p + 2 * vd, a->hh = p + 3 * vd, a->h = p + 4 * vd, a->hn = p + 5 * vd;
  a->gated = p + 6 * vd, p += 7 * vd;
  a->ipre = p, a->fpre = p + g, a->ic = p + 2 * g, a->fc = p + 3 * g, a->ih = p + 4 * g, a->fh = p + 5 * g;
  a->nout = p + 6 * g;
  return mem;
}

static sc_ref_mlstm_dims cell_dims(const sc_ref_xlstm_shape *s, const sc_ref_lm_batch *in) {
  return (sc_ref_mlstm_dims){in->B * s->n_heads, in->T, s->d_qk, s->d_v, s->eps};
}

/* The layer up to a->gated. */
static int layer_run(const model *m, const double *P, const sc_ref_lm_batch *in, const double *xn, acts *a,
                     sc_err *err) {
  const sc_ref_xlstm_shape *s = m->s;
  const size_t B = in->B, T = in->T, n = B * T, d = s->d, NH = s->n_heads, qk = NH * s->d_qk, vd = NH * s->d_v;
  sc_ref_linear_forward(n, d, qk, xn, P + m->off[Q], NULL, a->q);
  sc_ref_linear_forward(n, d, qk, xn, P + m->off[K], NULL, a->k);
  sc_ref_linear_forward(n, d, vd, xn, P + m->off[V], NULL, a->v);
  sc_ref_linear_forward(n, d, vd, xn, P + m->off[OGATE], NULL, a->o);
  sc_ref_linear_forward(n, d, NH, xn, P + m->off[IGATE_W], P + m->off[IGATE_B], a->ipre);
  sc_ref_linear_forward(n, d, NH, xn, P + m->off[FGATE_W], P + m->off[FGATE_B], a->fpre);
  sc_ref_softcap_forward(n * NH, s->gate_cap, a->ipre, a->ic);
  sc_ref_softcap_forward(n * NH, s->gate_cap, a->fpre, a->fc);
  for (size_t r = 0; in->doc_start && r < n; r++)
    if (in->doc_start[r])
      for (size_t h = 0; h < NH; h++) a->fc[r * NH + h] = DOC_RESET;
  sc_ref_heads_split(B, T, NH, s->d_qk, a->q, a->qh);
  sc_ref_heads_split(B, T, NH, s->d_qk, a->k, a->kh);
  sc_ref_heads_split(B, T, NH, s->d_v, a->v, a->vh);
  sc_ref_heads_split(B, T, NH, 1, a->ic, a->ih);
  sc_ref_heads_split(B, T, NH, 1, a->fc, a->fh);
  const sc_ref_mlstm_dims cd = cell_dims(s, in);
  if (sc_ref_mlstm_chunkwise(&cd, s->chunk, a->qh, a->kh, a->vh, a->ih, a->fh, NULL, NULL, NULL, a->hh, a->nout, NULL,
                             NULL, NULL, NULL, err) != 0)
    return -1;
  sc_ref_heads_merge(B, T, NH, s->d_v, a->hh, a->h);
  sc_ref_headnorm_forward(n, NH, s->d_v, s->cell_norm_eps, a->h, P + m->off[MHNORM], a->hn);
  for (size_t j = 0; j < n * vd; j++) a->gated[j] = sc_ref_sigmoid(a->o[j]) * a->hn[j];
  return 0;
}

static int mix_forward(const sc_ref_lm *lm, const double *P, const sc_ref_lm_batch *in, const double *xn, double *y,
                       sc_err *err) {
  const model *m = lm->model;
  const size_t n = in->B * in->T, vd = m->s->n_heads * m->s->d_v;
  acts a;
  double *mem = alloc_acts(m->s, n, &a, err);
  if (!mem) return -1;
  const int rc = layer_run(m, P, in, xn, &a, err);
  if (rc == 0) sc_ref_linear_forward(n, vd, m->s->d, a.gated, P + m->off[OUT], NULL, y);
  free(mem);
  return rc;
}

static int mix_backward(const sc_ref_lm *lm, const double *P, const sc_ref_lm_batch *in, const double *xn,
                        const double *dy, double *dxn, double *dP, sc_err *err) {
  const model *m = lm->model;
  const sc_ref_xlstm_shape *s = m->s;
  const size_t B = in->B, T = in->T, n = B * T, d = s->d, NH = s->n_heads, qk = NH * s->d_qk, vd = NH * s->d_v;
  acts a, g; /* g: gradients in the same layout */
  double *mem = alloc_acts(s, n, &a, err), *gmem = mem ? alloc_acts(s, n, &g, err) : NULL;
  if (!gmem || layer_run(m, P, in, xn, &a, err) != 0) {
    free(mem);
    free(gmem);
    return -1;
  }
  sc_ref_linear_backward(n, vd, d, a.gated, P + m->off[OUT], dy, g.gated, dP + m->off[OUT], NULL);
  for (size_t j = 0; j < n * vd; j++) {
    const double so = sc_ref_sigmoid(a.o[j]);
    g.o[j] = g.gated[j] * a.hn[j] * so * (1 - so);
    g.hn[j] = g.gated[j] * so;
  }
  sc_ref_headnorm_backward(n, NH, s->d_v, s->cell_norm_eps, a.h, P + m->off[MHNORM], g.hn, g.h, dP + m->off[MHNORM]);
  sc_ref_heads_split(B, T, NH, s->d_v, g.h, g.hh);
  const sc_ref_mlstm_dims cd = cell_dims(s, in);
  int rc = sc_ref_mlstm_chunkwise_bwd(&cd, s->chunk, a.qh, a.kh, a.vh, a.ih, a.fh, NULL, NULL, NULL, a.nout, g.hh, g.qh,
                                      g.kh, g.vh, g.ih, g.fh, NULL, err);
  if (rc == 0) {
    sc_ref_heads_merge(B, T, NH, s->d_qk, g.qh, g.q);
    sc_ref_heads_merge(B, T, NH, s->d_qk, g.kh, g.k);
    sc_ref_heads_merge(B, T, NH, s->d_v, g.vh, g.v);
    sc_ref_heads_merge(B, T, NH, 1, g.ih, g.ic);
    sc_ref_heads_merge(B, T, NH, 1, g.fh, g.fc);
    /* The reset overwrites the forget gate, so nothing flows back through it there. */
    for (size_t r = 0; in->doc_start && r < n; r++)
      if (in->doc_start[r])
        for (size_t h = 0; h < NH; h++) g.fc[r * NH + h] = 0;
    sc_ref_softcap_backward(n * NH, s->gate_cap, a.ipre, g.ic, g.ipre);
    sc_ref_softcap_backward(n * NH, s->gate_cap, a.fpre, g.fc, g.fpre);
    sc_ref_linear_backward(n, d, qk, xn, P + m->off[Q], g.q, dxn, dP + m->off[Q], NULL);
    sc_ref_linear_backward(n, d, qk, xn, P + m->off[K], g.k, dxn, dP + m->off[K], NULL);
    sc_ref_linear_backward(n, d, vd, xn, P + m->off[V], g.v, dxn, dP + m->off[V], NULL);
    sc_ref_linear_backward(n, d, vd, xn, P + m->off[OGATE], g.o, dxn, dP + m->off[OGATE], NULL);
    sc_ref_linear_backward(n, d, NH, xn, P + m->off[IGATE_W], g.ipre, dxn, dP + m->off[IGATE_W], dP + m->off[IGATE_B]);
    sc_ref_linear_backward(n, d, NH, xn, P + m->off[FGATE_W], g.fpre, dxn, dP + m->off[FGATE_W], dP + m->off[FGATE_B]);
  }
  free(mem);
  free(gmem);
  return rc;
}

/* Runs the trunk forward (backward when dparams != NULL) with this model's mixer. */
static int run(const sc_ref_xlstm_shape *s, const double *params, const int32_t *tokens, const uint8_t *doc_start,
               size_t B, size_t T, double *loss, double *losses, double *logits, double *dparams, sc_err *err) {
  model m;
  sc_ref_lm lm;
  sc_ref_params p = {0};
  if (setup(s, &m, &lm, &p, err) != 0) return sc_wrap(err, "xLSTM reference: ");
  sc_ref_params_free(&p);
  lm.mix_forward = mix_forward, lm.mix_backward = mix_backward;
  const sc_ref_lm_batch in = {tokens, doc_start, B, T};
  const int rc = dparams ? sc_ref_lm_backward(&lm, params, &in, loss, dparams, err)
                         : sc_ref_lm_forward(&lm, params, &in, loss, losses, logits, err);
  return rc != 0 ? sc_wrap(err, "xLSTM reference: ") : 0;
}

int sc_ref_xlstm_forward(const sc_ref_xlstm_shape *s, const double *params, const int32_t *tokens,
                         const uint8_t *doc_start, size_t B, size_t T, double *loss, double *losses, double *logits,
                         sc_err *err) {
  return run(s, params, tokens, doc_start, B, T, loss, losses, logits, NULL, err);
}

int sc_ref_xlstm_backward(const sc_ref_xlstm_shape *s, const double *params, const int32_t *tokens,
                          const uint8_t *doc_start, size_t B, size_t T, double *loss, double *dparams, sc_err *err) {
  return run(s, params, tokens, doc_start, B, T, loss, NULL, NULL, dparams, err);
}
