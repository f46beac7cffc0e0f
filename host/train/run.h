/* A training run as a directory (the library behind `scalecl train`, called as is by sweeps):
 *   RUN/run.json          every option, the resolved length and FLOPs, the model config, device, data and
 *                         scalecl version and settings
 *   RUN/metrics.jsonl     one line per step and per evaluation (train/metrics.h)
 *   RUN/checkpoints/      step-NNNNNNNN/ (train/state.h), the newest `keep` of them
 *   RUN/final/            the final model as a Hugging Face directory
 *   RUN/summary.json      params, tokens, FLOPs, final train and val loss, wall time, tokens/s, MFU, device
 * A run is stopped cleanly by setting *stop (SIGINT/SIGTERM in the CLI): the step in flight finishes and a
 * checkpoint is written. sc_run_resume continues from the newest complete checkpoint with the same bits as an
 * uninterrupted run on the same device, however the run ended (signal, kill -9, power loss). */
#ifndef SCALECL_TRAIN_RUN_H
#define SCALECL_TRAIN_RUN_H

#include <signal.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
  const char *model;  /* preset, config file, or checkpoint directory (its weights start the run) */
  const char *data;   /* token shards: a directory or glob */
  const char *out;    /* the run directory */
  const char *device; /* OpenCL device selector; NULL: default */
  long batch, micro_batch, ctx;
  double lr;
  long warmup;   /* -1: 10% of the steps */
  long cooldown; /* steps of the final linear decay */
  int schedule;  /* sc_sched_kind */
  long steps;    /* exactly one of steps, tokens, budget is > 0 */
  double tokens, budget;
  long eval_every, eval_batches; /* eval_every 0: only at the end */
  long checkpoint_every;         /* 0: by time only */
  double checkpoint_minutes;     /* 0: by steps only */
  long keep;                     /* checkpoints kept; 0: all */
  long seed;
  int no_doc_reset;
  long max_skips; /* consecutive non-finite steps that stop the run */
} sc_run_opts;

/* The defaults of `scalecl train`. */
sc_run_opts sc_run_defaults(void);

typedef struct {
  double peak_gflops; /* the device's FMA peak for MFU; 0: MFU not reported */
  int progress;       /* draw a progress line (on a terminal) */
  int verbose;        /* print the memory plan */
  /* Called after every step with the steps done and the run's total (a sweep's heartbeat); non-zero stops the
   * run with that error. NULL: none. */
  int (*on_step)(void *arg, int64_t step, int64_t steps, sc_err *err);
  void *on_step_arg;
} sc_run_env;

typedef struct {
  int64_t steps, tokens;
  double flops, train_loss, val_loss, wall_s, tokens_per_s, mfu;
  int64_t skipped;
  int stopped; /* by *stop before the last step */
  char device[256];
} sc_run_result;

int sc_run_start(const sc_run_opts *o, const sc_run_env *env, volatile sig_atomic_t *stop, sc_run_result *res,
                 sc_err *err);
/* Continues run_dir. `given` holds the options as parsed now and `defaults` sc_run_defaults(): an option set to
 * something other than its default and other than the run's value is refused with its name, except a longer
 * --steps/--tokens/--budget (the schedule is then recomputed for the new length) and --device. */
int sc_run_resume(const char *run_dir, const sc_run_opts *given, const sc_run_env *env, volatile sig_atomic_t *stop,
                  sc_run_result *res, sc_err *err);

#endif
