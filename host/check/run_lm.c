/* A whole device model (model/lm.h) against the float64 reference model (ref/xlstm.h, ref/llama.h) with the same
 * parameters, copied tensor by tensor by HF key: the training init plus noise (so zero-initialised gate and
 * output-gate weights take part); logits, loss and the gradient of every parameter tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/runners.h"
#include "model/init.h"
#include "model/lm.h"
#include "ref/llama.h"
#include "ref/xlstm.h"

/* The loss is a mean of B·(T−1) terms. */
static const sc_tol tol_loss = {1e-5, 1e-5, 1e-10, 0};

static void free_params(void *p) {
  sc_params_free(p);
  free(p);
}
static void free_ref_params(void *p) {
  sc_ref_params_free(p);
  free(p);
}
static void destroy_lm(void *lm) {
  sc_lm_destroy(lm);
}

void ck_run_lm(ck_scope *cs, const sc_check_row *row) {
  const sc_check_lm sh = row->lm;
  const size_t B = (size_t)sh.B, T = (size_t)sh.T;
  sc_model_config *cfg = ck_calloc(cs, 1, sizeof *cfg);
  CK(cs, sc_model_config_parse(sh.config, "check config", cfg, cs->err));
  sc_params *p = calloc(1, sizeof *p);
  if (!p) ck_fail(cs, "out of host memory for the parameter table");
  ck_own(cs, free_params, p);
  CK(cs, sc_params_build(cfg, p, cs->err));
  float *arena = sc_params_alloc(p, cs->err); /* aligned as the model's uploads expect */
  if (!arena) ck_fail(cs, "%s", cs->err->msg);
  ck_own(cs, free, arena);
  CK(cs, sc_init_params(p, arena, 7, 1, cs->err));
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  for (int j = 0; j < p->n; j++)
    for (size_t e = 0; e < p->t[j].numel; e++) arena[p->t[j].offset + e] += (float)(0.1 * sc_rng_normal(&rng));

  sc_ref_xlstm_shape xs;
  sc_ref_llama_shape ls;
  sc_ref_params *rp = calloc(1, sizeof *rp);
  if (!rp) ck_fail(cs, "out of host memory for the reference parameter table");
  ck_own(cs, free_ref_params, rp);
  if (cfg->arch == SC_ARCH_XLSTM) {
    sc_ref_xlstm_shape_default(&xs, (size_t)cfg->d_model, (size_t)cfg->n_layers, (size_t)cfg->n_heads,
                               (size_t)cfg->vocab_size);
    xs.d_qk = (size_t)cfg->d_qk, xs.d_v = (size_t)cfg->d_v, xs.d_ff = (size_t)cfg->d_ff;
    xs.norm_eps = xs.cell_norm_eps = cfg->norm_eps, xs.eps = cfg->cell_eps;
    xs.gate_cap = cfg->gate_soft_cap, xs.logit_cap = cfg->output_logit_soft_cap;
    CK(cs, sc_ref_xlstm_layout(&xs, rp, cs->err));
  } else {
    sc_ref_llama_shape_default(&ls, (size_t)cfg->d_model, (size_t)cfg->n_layers, (size_t)cfg->n_heads,
                               (size_t)cfg->vocab_size);
    ls.head_dim = (size_t)cfg->d_qk, ls.d_ff = (size_t)cfg->d_ff, ls.norm_eps = cfg->norm_eps;
    ls.rope_theta = cfg->rope_theta, ls.logit_cap = 0;
    CK(cs, sc_ref_llama_layout(&ls, rp, cs->err));
  }
  if ((int)rp->n != p->n) ck_fail(cs, "the reference has %zu tensors, the device model %d", rp->n, p->n);
  double *rparams = ck_dalloc(cs, rp->total);
  const sc_param **dev = ck_calloc(cs, rp->n, sizeof *dev);
  for (size_t j = 0; j < rp->n; j++) {
    const sc_ref_tensor *r = &rp->t[j];
    if (!(dev[j] = sc_params_find(p, r->name))) ck_fail(cs, "the device model has no tensor %s", r->name);
    if (dev[j]->numel != r->size)
      ck_fail(cs, "tensor %s: %zu values on the device, %zu in the reference", r->name, dev[j]->numel, r->size);
    for (size_t e = 0; e < r->size; e++) rparams[r->offset + e] = arena[dev[j]->offset + e];
  }

  /* A batch: uniform tokens; documents of 4, 5 and 4 tokens in row 0, of 1, 6 and 6 in row 1. */
  const size_t V = (size_t)cfg->vocab_size;
  int32_t *tok = ck_calloc(cs, B * T, sizeof *tok);
  uint8_t *doc = sh.docs ? ck_calloc(cs, B * T, 1) : NULL;
  sc_rng_seed(&rng, 5);
  for (size_t i = 0; i < B * T; i++) tok[i] = (int32_t)(sc_rng_uniform(&rng) * (double)V);
  for (size_t b = 0; doc && b < B; b++) {
    static const int starts[2][3] = {{0, 4, 9}, {0, 1, 7}};
    for (int k = 0; k < 3; k++)
      if ((size_t)starts[b % 2][k] < T) doc[b * T + (size_t)starts[b % 2][k]] = 1;
  }

  sc_lm *lm;
  CK(cs, sc_lm_create(cs->ctx, cfg, (int)B, (int)T, NULL, &lm, cs->err));
  ck_own(cs, destroy_lm, lm);
  float loss, *logits = ck_falloc(cs, B * T * V), *grads = ck_falloc(cs, p->arena_floats);
  double rloss, *rlogits = ck_dalloc(cs, B * T * V), *rgrads = ck_dalloc(cs, rp->total);
  CK(cs, sc_lm_upload_params(lm, arena, cs->err));
  CK(cs, sc_lm_forward(lm, tok, doc, &loss, logits, cs->err));
  CK(cs, sc_lm_zero_grads(lm, cs->err));
  CK(cs, sc_lm_backward(lm, cs->err));
  CK(cs, sc_lm_download_grads(lm, grads, cs->err));
  if (cfg->arch == SC_ARCH_XLSTM) {
    CK(cs, sc_ref_xlstm_forward(&xs, rparams, tok, doc, B, T, &rloss, NULL, rlogits, cs->err));
    CK(cs, sc_ref_xlstm_backward(&xs, rparams, tok, doc, B, T, NULL, rgrads, cs->err));
  } else {
    CK(cs, sc_ref_llama_forward(&ls, rparams, tok, doc, B, T, &rloss, NULL, rlogits, cs->err));
    CK(cs, sc_ref_llama_backward(&ls, rparams, tok, doc, B, T, NULL, rgrads, cs->err));
  }
  char variant[96];
  snprintf(variant, sizeof variant, "%s d%ld L%ld V%zu B%zu T%zu", sc_arch_name(cfg->arch), cfg->d_model, cfg->n_layers,
           V, B, T);
  ck_begin(cs, variant);
  ck_compare(cs, "logits", logits, rlogits, B * T * V, row->tol);
  ck_compare(cs, "loss", &loss, &rloss, 1, tol_loss);
  for (size_t j = 0; j < rp->n; j++)
    ck_compare(cs, rp->t[j].name, grads + dev[j]->offset, rgrads + rp->t[j].offset, rp->t[j].size, row->tol_grad);
  ck_end(cs);
}
