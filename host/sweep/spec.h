/* Sweep files (JSON files in sweeps/) and their expansion into runs (spec xlstm.md §4.1–4.4, §4.8).
 *
 * {
 *   "name": "cpu-mini", "description": "...",
 *   "kind": "isoflop" | "tokenparam",
 *   "budgets": [C, ...]          (isoflop: training FLOPs per run, within "budget_tolerance" (0.1) of C)
 *   "ratios": [D/N, ...]         (tokenparam: tokens per parameter)
 *   "ctx": T, "data": "default" | SHARDS, "seeds": [S, ...],
 *   "schedule": "cosine" | "constant" | "wsd",
 *   "warmup_steps": N | "warmup_fraction": F,  "cooldown_steps": N | "cooldown_fraction": F,
 *   "min_steps": N, "eval_every": N (0: at the end), "eval_batches": N, "checkpoint_every": N,
 *   "micro_batch": M (0: the batch),
 *   "archs": [ { "arch": "xlstm" | "llama",
 *                "models": [preset or glob over preset names ("xlstm-iso-d512-*"), ...],
 *                "lr": X | [ {"max_params": N, "lr": X}, ..., {"lr": X} ],
 *                "batch": B | [ {"max_budget": C | "max_params": N, "batch": B}, ..., {"batch": B} ] }, ... ]
 * }
 * A table's rows are tried in order; the first whose bound (inclusive) holds applies, a row without a bound
 * always does. "data": "default" is $SCALECL_DATA_DIR/gcide (scalecl prepare --default). Seeds are whole numbers
 * from 0 to 2^31 - 1 and batches from 1 to 65536, as scalecl train takes them; a run of more than 1e12 steps is
 * refused.
 *
 * Expansion: one run per architecture × model × budget (or ratio) × seed. IsoFLOP steps = the budget over the
 * training FLOPs of a step, rounded (scalecl flops --budget); a run whose FLOPs miss the budget by more than the
 * tolerance, or that has fewer than min_steps steps, is left out and counted. Token/param steps = ratio·N tokens
 * over the tokens of a step, rounded up. Every run is identified by the hash of its resolved configuration. */
#ifndef SCALECL_SWEEP_SPEC_H
#define SCALECL_SWEEP_SPEC_H

#include <stdint.h>

#include "base/err.h"
#include "model/config.h"
#include "train/run.h"

enum { SC_SWEEP_MAX_LIST = 64, SC_SWEEP_MAX_RULES = 16, SC_SWEEP_MAX_ARCHS = 4, SC_SWEEP_MAX_MODELS = 256 };

typedef enum { SC_SWEEP_ISOFLOP, SC_SWEEP_TOKENPARAM } sc_sweep_kind;

typedef struct {
  double bound; /* INFINITY: no bound */
  double value;
} sc_sweep_rule;

typedef struct {
  sc_arch arch;
  char models[SC_SWEEP_MAX_MODELS][128]; /* preset names, patterns expanded */
  int n_models;
  sc_sweep_rule lr[SC_SWEEP_MAX_RULES], batch[SC_SWEEP_MAX_RULES];
  int n_lr, n_batch;
  int batch_by_params; /* the batch table bounds parameters (else the budget) */
} sc_sweep_arch;

typedef struct {
  char path[4096];
  char name[64];
  char description[512];
  sc_sweep_kind kind;
  double points[SC_SWEEP_MAX_LIST]; /* budgets or ratios */
  int n_points;
  double budget_tolerance;
  long ctx;
  char data[4096];
  long seeds[SC_SWEEP_MAX_LIST];
  int n_seeds;
  int schedule;            /* sc_sched_kind */
  double warmup, cooldown; /* steps, or fractions of the steps when *_fraction */
  int warmup_fraction, cooldown_fraction;
  long min_steps, eval_every, eval_batches, checkpoint_every, micro_batch;
  sc_sweep_arch archs[SC_SWEEP_MAX_ARCHS];
  int n_archs;
} sc_sweep_spec;

/* One expanded run: everything a worker needs, also as JSON (`config`, stored in the ledger). */
typedef struct {
  char run_id[17]; /* 16 hex digits of the hash of config */
  sc_arch arch;
  char model[128];
  sc_model_config cfg;
  int64_t params;
  double flops_per_token;
  double budget; /* isoflop: the nominal budget; 0 otherwise */
  double ratio;  /* tokenparam: the nominal ratio; 0 otherwise */
  long batch, ctx, steps, warmup, cooldown, seed;
  double lr, tokens, flops;
  char *config; /* JSON: the run's resolved settings (heap) */
} sc_sweep_run;

/* Reads and checks a sweep file; errors name the file and field. */
int sc_sweep_load(const char *path, sc_sweep_spec *s, sc_err *err);
const char *sc_sweep_kind_name(sc_sweep_kind k); /* "isoflop", "tokenparam" */

/* Expands s into runs (data_override replaces the file's "data" when not NULL); *left_out counts the runs the
 * budget tolerance or min_steps dropped. */
int sc_sweep_expand(const sc_sweep_spec *s, const char *data_override, sc_sweep_run **runs, int *n, int *left_out,
                    sc_err *err);
void sc_sweep_runs_free(sc_sweep_run *runs, int n);

/* The training options of a run from its config JSON (strings point into the parsed object, which the caller
 * keeps and deletes). */
int sc_sweep_run_options(const cJSON *config, const char *run_dir, sc_run_opts *o, sc_err *err);

#endif
