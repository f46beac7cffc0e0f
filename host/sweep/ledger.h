/* The sweep ledger: an SQLite database (WAL journal, every change in a transaction) that records each run of a
 * sweep and its state, so that a sweep killed at any moment and started again never repeats a finished run,
 * continues an interrupted one from its checkpoint, and loses none; several worker processes share one ledger,
 * each claiming a run in a transaction so no two take the same.
 *
 * Table runs: run_id TEXT PRIMARY KEY (the hash of the resolved configuration), sweep, kind, arch, model,
 * status ('pending', 'running', 'done', 'failed'), config (JSON), params, ctx, batch, lr, steps, tokens, flops,
 * budget, ratio, seed, n_layers, d_model, n_heads, head_dim, step (done so far), train_loss, val_loss, device,
 * worker (host:pid:start-time of its process), heartbeat, started, finished, wall_s, tokens_per_s, run_dir,
 * error, attempts. Table evals: run_id, step, tokens, val_loss (per validation). A 'running' run whose worker
 * process is gone (same host) or whose heartbeat is older than SC_LEDGER_STALE_S is claimed again. */
#ifndef SCALECL_SWEEP_LEDGER_H
#define SCALECL_SWEEP_LEDGER_H

#include <stdint.h>

#include "base/err.h"
#include "sweep/spec.h"

#define SC_LEDGER_STALE_S 600.0

typedef struct sc_ledger sc_ledger;

int sc_ledger_open(const char *path, sc_ledger **out, sc_err *err);
void sc_ledger_close(sc_ledger *l);

/* Inserts the runs not in the ledger yet (as pending); *added counts them. */
int sc_ledger_add(sc_ledger *l, const sc_sweep_run *runs, int n, int *added, sc_err *err);

/* This process's worker name: host:pid:start-time. */
void sc_ledger_worker_name(char *buf, size_t n);

/* Claims the next pending run (or a stale running one) for worker: 1 with its run_id and config (heap, free())
 * set, 0 when none is left. retry_failed: failed runs count as pending. */
int sc_ledger_claim(sc_ledger *l, const char *worker, int retry_failed, char run_id[17], char **config, sc_err *err);
int sc_ledger_heartbeat(sc_ledger *l, const char *run_id, const char *worker, int64_t step, sc_err *err);

typedef struct {
  double train_loss, val_loss, wall_s, tokens_per_s;
  int64_t steps;
  const char *device, *run_dir;
  int n_evals;
  const double *eval_step, *eval_tokens, *eval_loss; /* n_evals each */
} sc_ledger_result;

int sc_ledger_done(sc_ledger *l, const char *run_id, const char *worker, const sc_ledger_result *r, sc_err *err);
int sc_ledger_failed(sc_ledger *l, const char *run_id, const char *worker, const char *error, sc_err *err);
/* Puts a run this worker holds back to pending (interrupted by a signal; its checkpoint resumes it). */
int sc_ledger_release(sc_ledger *l, const char *run_id, const char *worker, sc_err *err);

typedef struct {
  char run_id[17], arch[16], model[128], status[16], kind[16], worker[160], device[256], run_dir[1024];
  char error[512];
  int64_t params, ctx, batch, steps, step, seed, n_layers, d_model, n_heads, head_dim, attempts;
  double lr, tokens, flops, budget, ratio, train_loss, val_loss, heartbeat, started, finished, wall_s, tokens_per_s;
} sc_ledger_row;

/* Every run, in insertion order (NAN for missing numbers). */
int sc_ledger_rows(sc_ledger *l, sc_ledger_row **rows, int *n, sc_err *err);

#endif
