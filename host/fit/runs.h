/* The runs table that scaling-law fits read (one training run per CSV row) and the row filters of
 * `scalecl fit`. Required columns: arch, n_params, n_tokens, flops, val_loss. Optional: experiment_set, ctx,
 * isoflop_budget, val_loss_approx_lo, val_loss_approx_hi. */
#ifndef SCALECL_FIT_RUNS_H
#define SCALECL_FIT_RUNS_H

#include <stddef.h>

#include "base/err.h"

/* Where the paper's runs table comes from, for messages about a missing one. */
#define SC_FIT_PAPER_RUNS_HINT                                                                                   \
  "the paper's table of 640 runs (xlstm_scaling_runs.csv) is extracted from its public repository "             \
  "github.com/NX-AI/xlstm_scaling_laws, which has no license, so scalecl does not ship it; README.md "            \
  "('Paper data') says how to get it. Any CSV with the columns arch, n_params, n_tokens, flops, val_loss works"

/* Parameters, tokens, FLOPs and losses above this are refused as implausible (near 1e300 they overflow the
 * fits' logarithms and the charts' axes). */
#define SC_RUNS_MAX_VALUE 1e40

typedef struct {
  char arch[32];
  char set[32];            /* experiment_set; "" when the column is absent */
  int ctx;                 /* 0 when the column is absent or empty */
  double n, d, c;          /* parameters, training tokens, training FLOPs */
  double loss;             /* final validation loss (nats/token); NAN when missing */
  double loss_lo, loss_hi; /* an interval known to contain a missing loss; NAN when absent */
  double budget;           /* isoflop_budget cell; 0 when empty or absent */
  int line;                /* CSV line number */
} sc_run;

typedef struct {
  char path[512];
  sc_run *r;
  int n;
  int has_set, has_ctx, has_approx;
} sc_runs;

int sc_runs_load(const char *path, sc_runs *rs, sc_err *err);
void sc_runs_free(sc_runs *rs);

typedef struct {
  const char *arch;          /* NULL: any */
  const char *set;           /* NULL or "all": any experiment set */
  int ctx;                   /* 0: any */
  double ratio_lo, ratio_hi; /* inclusive range of D/N */
  int approx_loss;           /* rows without val_loss take the midpoint of the approximate interval */
} sc_run_filter;

void sc_run_filter_init(sc_run_filter *f); /* everything passes */

typedef struct {
  int *idx;     /* selected rows */
  double *loss; /* the loss each selected row is fitted to */
  int n;
  int n_missing; /* rows that passed every other filter but have no loss (skipped) */
  int n_approx;  /* selected rows whose loss is an interval midpoint */
} sc_run_sel;

/* Applies the filters in the order arch, ctx, set, D/N range, loss present. When nothing is left the
 * selection is empty and `why` (if not NULL) names the filter that removed the last rows and the values
 * that were available. */
int sc_runs_select(const sc_runs *rs, const sc_run_filter *f, sc_run_sel *sel, char *why, size_t whylen, sc_err *err);
void sc_run_sel_free(sc_run_sel *sel);

#endif
