/* A training run's checkpoints: RUN/checkpoints/step-NNNNNNNN/ holds the model as a Hugging Face directory
 * (config.json, model.safetensors; model/checkpoint.h), the AdamW moments (trainer.safetensors: exp_avg.<key>
 * and exp_avg_sq.<key> for every parameter, F32, rows as in scalecl's arena) and the trainer's position
 * (trainer.json: steps, updates, tokens, the loader's position, skipped-step counters, the metrics file's
 * length at that step, wall time so far, and the hash of the run's fixed settings).
 *
 * A checkpoint is built in a hidden temporary directory beside the others, every file fsynced, then renamed
 * into place and the parent flushed: a crash at any moment leaves every earlier checkpoint whole and at most a
 * temporary directory, which sc_train_ckpt_clean removes. */
#ifndef SCALECL_TRAIN_STATE_H
#define SCALECL_TRAIN_STATE_H

#include <stdint.h>

#include "data/loader.h"
#include "model/config.h"
#include "model/params.h"

#define SC_TRAINER_JSON "trainer.json"
#define SC_TRAINER_TENSORS "trainer.safetensors"

typedef struct {
  int64_t step;           /* steps done (skipped ones included) */
  int64_t updates;        /* AdamW updates applied: the bias corrections' t */
  int64_t tokens;         /* tokens trained on */
  int64_t skipped;        /* steps skipped for a non-finite loss or gradient norm */
  int64_t skipped_in_row; /* ending at this step */
  int64_t metrics_bytes;  /* length of metrics.jsonl after this step's lines */
  double elapsed_s;       /* training wall time so far, over every session */
  double last_val_loss;   /* NAN before the first evaluation */
  sc_loader_pos loader;
  uint64_t run_hash;
} sc_train_state;

/* Arenas of one checkpoint, each p->arena_floats floats. */
typedef struct {
  float *params, *m, *v;
} sc_train_arenas;

/* Writes ckdir/step-NNNNNNNN (st->step) atomically, replacing a damaged one of the same step. */
int sc_train_ckpt_write(const char *ckdir, const sc_model_config *cfg, const sc_params *p, const sc_train_arenas *a,
                        const sc_train_state *st, sc_err *err);
/* The steps of the checkpoints in ckdir, newest first (*steps NULL and *n 0 when there are none). */
int sc_train_ckpt_list(const char *ckdir, int64_t **steps, int *n, sc_err *err);
/* Reads ckdir/step-NNNNNNNN into arenas laid out by p, checking every file: the model must have cfg's
 * architecture and parameter table, every moment tensor must be present with its parameter's shape, and
 * trainer.json must name `step` and carry run_hash. Errors name the file and what is wrong. */
int sc_train_ckpt_read(const char *ckdir, int64_t step, const sc_model_config *cfg, const sc_params *p,
                       uint64_t run_hash, const sc_train_arenas *a, sc_train_state *st, sc_err *err);
/* Parses the text of a trainer.json (named path in errors). */
int sc_train_state_parse(const char *path, const char *text, sc_train_state *st, sc_err *err);
/* Removes all but the newest `keep` checkpoints (keep 0: none removed). */
int sc_train_ckpt_prune(const char *ckdir, int keep, sc_err *err);
/* Removes temporary directories that an interrupted write left. */
int sc_train_ckpt_clean(const char *ckdir, sc_err *err);
/* ckdir/step-NNNNNNNN. */
void sc_train_ckpt_path(char *buf, size_t n, const char *ckdir, int64_t step);

#endif
