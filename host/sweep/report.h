/* `scalecl sweep report`: the finished runs of a ledger as a runs table with the columns of the paper's
 * xlstm_scaling_runs.csv (so `scalecl fit` reads it), the scaling-law fits of every architecture through the fit
 * library (IsoFLOP parabolas and power laws N*(C), D*(C) with bootstrap intervals; L(N, D); the Pareto frontier;
 * charts as SVG and PNG), loss curves per architecture, and report.md linking them. */
#ifndef SCALECL_SWEEP_REPORT_H
#define SCALECL_SWEEP_REPORT_H

#include "base/err.h"

typedef struct {
  const char *ledger;
  const char *out;
  int bootstrap; /* resamples for the intervals (default 200) */
  int no_plots;
} sc_sweep_report_opts;

int sc_sweep_report(const sc_sweep_report_opts *o, sc_err *err);

#endif
