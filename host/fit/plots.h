/* The charts of `scalecl fit`, drawn by gnuplot as SVG and PNG: IsoFLOP profiles with their parabolas and
 * minima (one chart per architecture), N*(C) and D*(C) of all architectures with their power laws, the
 * loss-vs-FLOPs Pareto frontier of all architectures, and the fitted L(N, D) against the observed losses by
 * token/parameter ratio (one chart per architecture). */
#ifndef SCALECL_FIT_PLOTS_H
#define SCALECL_FIT_PLOTS_H

#include <stddef.h>

#include "base/err.h"
#include "fit/isoflop.h"
#include "fit/lnd.h"

typedef struct {
  const char *arch;
  /* L(N, D) fit and its runs; lnd == NULL when not fitted. */
  int n_lnd;
  const double *lnd_n, *lnd_d, *lnd_c, *lnd_loss;
  const sc_lnd_opts *lnd_opts;
  const sc_lnd_result *lnd;
  /* IsoFLOP fit; its budgets index these per-run arrays. iso == NULL when not fitted. */
  const double *iso_n, *iso_d, *iso_loss;
  const sc_iso_result *iso;
} sc_fit_plot_arch;

/* Writes the charts into dir (their data and gnuplot scripts into dir/plots/) and appends the names of the
 * images written to names (space separated). caption names the context selection ("ctx 8192"); run_set the
 * experiment set of the L(N,D) runs, or NULL for all. */
int sc_fit_plots(const char *gnuplot, const char *dir, const char *caption, const char *run_set,
                 const sc_fit_plot_arch *a, int narch, char *names, size_t cap, sc_err *err);

#endif
