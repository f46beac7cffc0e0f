/* RUN/metrics.jsonl: one JSON object per line. Step lines: {"step", "tokens", "loss", "lr", "grad_norm",
 * "tokens_per_s", "mfu", "elapsed_s", "skipped"} (loss and grad_norm null when the step was skipped for a
 * non-finite value); validation lines: {"step", "tokens", "val_loss", "elapsed_s"}. Every line is flushed as it
 * is written; the file is fsynced with each checkpoint, which records its length so that a resumed run cuts
 * what the lost steps wrote and appends the same lines again. */
#ifndef SCALECL_TRAIN_METRICS_H
#define SCALECL_TRAIN_METRICS_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

#define SC_METRICS_FILE "metrics.jsonl"

typedef struct {
  FILE *f;
  char path[4096];
  int64_t bytes; /* the file's length */
} sc_metrics;

/* Opens dir/metrics.jsonl: a new empty file when keep < 0, else the existing one cut to `keep` bytes. */
int sc_metrics_open(sc_metrics *m, const char *dir, int64_t keep, sc_err *err);
/* Appends the object as one line and flushes it. */
int sc_metrics_put(sc_metrics *m, const cJSON *line, sc_err *err);
int sc_metrics_sync(sc_metrics *m, sc_err *err);
void sc_metrics_close(sc_metrics *m);

/* A run's curves read back: step lines with a finite loss, and validation lines. */
typedef struct {
  int n, n_val;
  double *tokens, *loss;                    /* n */
  double *val_step, *val_tokens, *val_loss; /* n_val */
} sc_metrics_curves;

/* Reads path; a line that is not a JSON object is an error naming the line (the last line may be cut short by a
 * crash and is then ignored). */
int sc_metrics_read(const char *path, sc_metrics_curves *c, sc_err *err);
void sc_metrics_curves_free(sc_metrics_curves *c);

#endif
