#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "data/tokenizer.h"

struct sc_trainer {
  sc_ctx *c;
  sc_model_config cfg;
  sc_trainer_cfg tc;
  sc_lm *lm;
  sc_adamw *opt;
  cl_mem m, v; /* moment arenas */
  size_t arena_floats;
  int fam_decay[SC_PARAM_MAX_FAMILIES]; /* AdamW weight decay applies to the family's tensors */
  sc_loader loader;
  int loader_open;
  int32_t *tok; /* one micro-batch: (micro_batch, ctx) */
  uint8_t *doc;
};

sc_trainer_cfg sc_trainer_defaults(void) {
  return (sc_trainer_cfg){.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .clip = 0.5, .doc_reset = 1};
}

static sc_loader_cfg loader_cfg(const sc_trainer *t, int shuffle) {
  /* Windows of ctx tokens overlapping by one: the model predicts ctx − 1 of them per row, every token once. */
  return (sc_loader_cfg){.B = t->tc.micro_batch,
                         .T = t->tc.ctx - 1,
                         .seed = t->tc.seed,
                         .shuffle = shuffle,
                         .eot = SC_TOK_EOS,
                         .vocab = (int32_t)t->cfg.vocab_size};
}

int sc_trainer_create(sc_ctx *c, const sc_model_config *cfg, const sc_trainer_cfg *tc, const sc_shard_set *train,
                      sc_trainer **out, sc_err *err) {
  *out = NULL;
  if (tc->ctx < 2) return sc_fail(err, "--ctx %d: training needs at least 2 tokens per sequence", tc->ctx);
  if (tc->micro_batch < 1 || tc->batch % tc->micro_batch)
    return sc_fail(err, "--micro-batch %d must divide --batch %d", tc->micro_batch, tc->batch);
  if (sc_schedule_check(&tc->sched, err)) return -1;
  sc_trainer *t = sc_calloc(1, sizeof *t, "trainer", err);
  if (!t) return -1;
  t->c = c, t->cfg = *cfg, t->tc = *tc;
  sc_params p;
  if (sc_params_build(cfg, &p, err)) goto fail;
  t->arena_floats = p.arena_floats;
  for (int j = p.n - 1; j >= 0; j--) t->fam_decay[p.t[j].family] = p.t[j].decay;
  sc_params_free(&p);
  const size_t moments = 2 * t->arena_floats * sizeof(float);
  if (moments >= c->dev.global_mem) {
    sc_fail(err, "the optimizer's moments need %.1f MiB, more than the device's %.1f MiB; choose a smaller model",
            moments / 1048576.0, c->dev.global_mem / 1048576.0);
    goto fail;
  }
  const sc_lm_opts lo = {.mem_limit = (size_t)c->dev.global_mem - moments};
  const size_t n = (size_t)tc->micro_batch * (size_t)tc->ctx;
  if (sc_lm_create(c, cfg, tc->micro_batch, tc->ctx, &lo, &t->lm, err) || sc_adamw_create(c, &t->opt, err) ||
      sc_buffer_create(c, t->arena_floats * sizeof(float), "AdamW first moments", &t->m, err) ||
      sc_buffer_create(c, t->arena_floats * sizeof(float), "AdamW second moments", &t->v, err) ||
      sc_buffer_fill_zero(c, t->m, 0, t->arena_floats * sizeof(float), err) ||
      sc_buffer_fill_zero(c, t->v, 0, t->arena_floats * sizeof(float), err) ||
      !(t->tok = sc_malloc(n * sizeof *t->tok, "micro-batch tokens", err)) ||
      !(t->doc = sc_malloc(n, "micro-batch document starts", err)))
    goto fail;
  const sc_loader_cfg lc = loader_cfg(t, 1);
  if (sc_loader_open(&t->loader, train, &lc, err)) goto fail;
  t->loader_open = 1;
  *out = t;
  return 0;
fail:
  sc_trainer_destroy(t);
  return -1;
}

void sc_trainer_destroy(sc_trainer *t) {
  if (!t) return;
  if (t->loader_open) sc_loader_close(&t->loader);
  if (t->m) sc_buffer_release(t->c, t->m);
  if (t->v) sc_buffer_release(t->c, t->v);
  sc_adamw_destroy(t->opt);
  sc_lm_destroy(t->lm);
  free(t->tok), free(t->doc);
  free(t);
}

sc_lm *sc_trainer_lm(sc_trainer *t) {
  return t->lm;
}

/* One AdamW update of every parameter family, weight decay where the family's tensors take it. */
static int update(sc_trainer *t, double lr, double gscale, int64_t step_t, sc_err *err) {
  const sc_params *p = sc_lm_params(t->lm);
  const double bc1 = 1 - pow(t->tc.beta1, (double)step_t), bc2 = 1 - pow(t->tc.beta2, (double)step_t);
  const sc_view P = sc_lm_param_arena(t->lm), G = sc_lm_grad_arena(t->lm);
  const sc_view M = sc_view_of(t->m), V = sc_view_of(t->v);
  for (int f = 0; f < p->n_fam; f++) {
    const sc_param_family *fam = &p->fam[f];
    const int decay = t->fam_decay[f];
    const sc_adamw_hparams h = {(float)lr,
                                (float)t->tc.beta1,
                                (float)t->tc.beta2,
                                (float)t->tc.eps,
                                decay ? (float)t->tc.weight_decay : 0.0f,
                                (float)gscale,
                                (float)bc1,
                                (float)bc2};
    const size_t off = fam->offset * sizeof(float);
    const size_t n = (size_t)(fam->count - 1) * fam->stride + fam->numel;
    if (sc_adamw_update(t->opt, n, sc_view_at(P, off), sc_view_at(G, off), sc_view_at(M, off), sc_view_at(V, off), &h,
                        err))
      return -1;
  }
  return 0;
}

int sc_trainer_step(sc_trainer *t, int64_t step, int64_t *updates, sc_step_info *info, sc_err *err) {
  memset(info, 0, sizeof *info);
  const int nm = t->tc.batch / t->tc.micro_batch;
  double loss = 0, data_s = 0;
  const double t0 = sc_now();
  if (sc_lm_zero_grads(t->lm, err)) return -1;
  for (int k = 0; k < nm; k++) {
    const double d0 = sc_now();
    if (sc_loader_next(&t->loader, t->tok, t->tc.doc_reset ? t->doc : NULL, err)) return -1;
    data_s += sc_now() - d0;
    float l = 0;
    if (sc_lm_forward(t->lm, t->tok, t->tc.doc_reset ? t->doc : NULL, &l, NULL, err) || sc_lm_backward(t->lm, err))
      return -1;
    loss += l;
  }
  loss /= nm;
  double sumsq = 0;
  if (sc_adamw_sumsq(t->opt, t->arena_floats, sc_lm_grad_arena(t->lm), &sumsq, err)) return -1;
  const double norm = sqrt(sumsq) / nm; /* the gradient of the mean loss is the sum over micro-batches / nm */
  info->lr = sc_schedule_lr(&t->tc.sched, (long)step);
  info->loss = isfinite(loss) ? loss : NAN;
  info->grad_norm = isfinite(norm) ? norm : NAN;
  info->skipped = !isfinite(loss) || !isfinite(norm);
  if (!info->skipped) {
    const double coef = norm > t->tc.clip ? t->tc.clip / norm : 1.0;
    if (update(t, info->lr, coef / nm, *updates + 1, err)) return -1;
    ++*updates;
  }
  if (sc_finish(t->c, err)) return -1;
  info->data_s = data_s;
  info->compute_s = sc_now() - t0 - data_s;
  return 0;
}

int sc_trainer_save(sc_trainer *t, const sc_train_arenas *a, sc_loader_pos *pos, sc_err *err) {
  const size_t bytes = t->arena_floats * sizeof(float);
  if (sc_lm_download_params(t->lm, a->params, err) || sc_buffer_read(t->c, t->m, 0, bytes, a->m, err) ||
      sc_buffer_read(t->c, t->v, 0, bytes, a->v, err))
    return -1;
  sc_loader_tell(&t->loader, pos);
  return 0;
}

int sc_trainer_load(sc_trainer *t, const sc_train_arenas *a, const sc_loader_pos *pos, sc_err *err) {
  const size_t bytes = t->arena_floats * sizeof(float);
  if (sc_lm_upload_params(t->lm, a->params, err) || sc_buffer_write(t->c, t->m, 0, bytes, a->m, err) ||
      sc_buffer_write(t->c, t->v, 0, bytes, a->v, err))
    return -1;
  return pos ? sc_loader_seek(&t->loader, pos, err) : 0;
}

int sc_trainer_eval_check(sc_trainer *t, const sc_shard_set *val, int n_batches, sc_err *err) {
  sc_loader l;
  const sc_loader_cfg lc = loader_cfg(t, 0);
  if (sc_loader_open(&l, val, &lc, err)) return -1;
  const uint64_t have = sc_loader_windows_per_epoch(&l), need = (uint64_t)n_batches * (uint64_t)t->tc.micro_batch;
  sc_loader_close(&l);
  if (have < need)
    return sc_fail(err,
                   "--eval-batches %d x %d sequences of %d tokens need %llu validation windows; the validation split "
                   "has %llu (lower --eval-batches or --ctx)",
                   n_batches, t->tc.micro_batch, t->tc.ctx, (unsigned long long)need, (unsigned long long)have);
  return 0;
}

int sc_trainer_eval(sc_trainer *t, const sc_shard_set *val, int n_batches, double *loss, sc_err *err) {
  sc_loader l;
  const sc_loader_cfg lc = loader_cfg(t, 0);
  if (sc_loader_open(&l, val, &lc, err)) return -1;
  double sum = 0;
  int rc = 0;
  for (int b = 0; !rc && b < n_batches; b++) {
    float x = 0;
    rc = sc_loader_next(&l, t->tok, t->tc.doc_reset ? t->doc : NULL, err) ||
         sc_lm_forward(t->lm, t->tok, t->tc.doc_reset ? t->doc : NULL, &x, NULL, err);
    sum += x;
  }
  sc_loader_close(&l);
  if (rc) return -1;
  *loss = sum / n_batches;
  return 0;
}
