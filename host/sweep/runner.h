/* Running a sweep: expand the file, add its runs to the ledger, and let workers claim and train them until none
 * is left. Each run trains in <root>/runs/<run_id>/ through train/run.h (a run directory with checkpoints), so a
 * run interrupted by a signal or a kill resumes from its checkpoint; a run that fails is recorded with its error
 * and the worker goes on. */
#ifndef SCALECL_SWEEP_RUNNER_H
#define SCALECL_SWEEP_RUNNER_H

#include <signal.h>

#include "base/err.h"

typedef struct {
  const char *file;    /* the sweep file */
  const char *ledger;  /* NULL: runs/<name>/ledger.db */
  const char *data;    /* NULL: the file's "data" */
  const char *devices; /* comma-separated device selectors, worker i takes entry i mod n; NULL: default */
  int workers;         /* processes; 1 runs in this process */
  int retry_failed;
  double peak_gflops; /* for MFU; 0: none */
  int progress;
} sc_sweep_opts;

typedef struct {
  int total, added, left_out; /* runs in the file, new to the ledger, dropped by the budget tolerance */
  int done, failed, pending;  /* in the ledger after the workers stopped */
  int stopped;                /* by a signal */
} sc_sweep_summary;

/* Default ledger path of a sweep name: runs/<name>/ledger.db. */
void sc_sweep_default_ledger(char *buf, size_t n, const char *name);

int sc_sweep_run_all(const sc_sweep_opts *o, volatile sig_atomic_t *stop, sc_sweep_summary *s, sc_err *err);

/* Opens FILE's default ledger, or DB itself when the path ends in .db. */
int sc_sweep_resolve_ledger(const char *file_or_db, char *ledger, size_t n, sc_err *err);

#endif
