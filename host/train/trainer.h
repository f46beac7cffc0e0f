/* One training step on the device (spec xlstm.md §4.2): gradients accumulated over micro-batches drawn from the
 * shard loader, the global gradient norm reduced on the device, clipping, and the fused AdamW update with weight
 * decay on the weight matrices only (model/params.h `decay`), at the learning rate of the schedule. A step whose
 * mean loss or gradient norm is not finite changes nothing (no update, moments kept) and is reported as skipped.
 *
 * Everything a step depends on is the parameters, the two moment arenas, the update count and the loader's
 * position, so a trainer restored from those continues with the same bits (model/lm and the ops use no
 * atomics and no run-dependent reduction order). */
#ifndef SCALECL_TRAIN_TRAINER_H
#define SCALECL_TRAIN_TRAINER_H

#include <stdint.h>

#include "data/loader.h"
#include "model/lm.h"
#include "ops/adamw.h"
#include "train/schedule.h"
#include "train/state.h"

typedef struct {
  int batch, micro_batch, ctx; /* sequences per step, per forward; tokens per sequence */
  sc_schedule sched;
  double beta1, beta2, eps, weight_decay, clip; /* 0.9, 0.95, 1e-8, 0.1, 0.5 */
  int doc_reset;                                /* document starts from the loader (else one document per row) */
  uint64_t seed;                                /* the loader's */
} sc_trainer_cfg;

/* The paper's optimizer settings and no schedule yet (the caller sets sched, batch sizes, ctx and seed). */
sc_trainer_cfg sc_trainer_defaults(void);

typedef struct sc_trainer sc_trainer;

typedef struct {
  double loss;      /* mean over the micro-batches; NAN when not finite */
  double grad_norm; /* of the mean gradient, before clipping */
  double lr;
  int skipped; /* not applied: loss or gradient norm not finite */
  double data_s, compute_s;
} sc_step_info;

/* Plans the model for (micro_batch, ctx) with room for the optimizer's two moment arenas, opens the train split
 * of `train` (a shard set opened by the caller, borrowed), and zeroes the moments. */
int sc_trainer_create(sc_ctx *c, const sc_model_config *cfg, const sc_trainer_cfg *tc, const sc_shard_set *train,
                      sc_trainer **out, sc_err *err);
void sc_trainer_destroy(sc_trainer *t);
sc_lm *sc_trainer_lm(sc_trainer *t);

/* Step number `step` (0-based: the schedule's index), the update count so far in *updates (incremented when
 * the step applies). */
int sc_trainer_step(sc_trainer *t, int64_t step, int64_t *updates, sc_step_info *info, sc_err *err);

/* The state that makes a run resumable: parameters and moments (host arenas of sc_lm_params layout) and the
 * loader's position. */
int sc_trainer_save(sc_trainer *t, const sc_train_arenas *a, sc_loader_pos *pos, sc_err *err);
int sc_trainer_load(sc_trainer *t, const sc_train_arenas *a, const sc_loader_pos *pos, sc_err *err);

/* Fails, naming the options, when `val` holds fewer than n_batches batches of windows. */
int sc_trainer_eval_check(sc_trainer *t, const sc_shard_set *val, int n_batches, sc_err *err);
/* Mean loss over the first n_batches batches of `val` (in order, the same windows every call). */
int sc_trainer_eval(sc_trainer *t, const sc_shard_set *val, int n_batches, double *loss, sc_err *err);

#endif
