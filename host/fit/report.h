/* The whole scaling-law fit of a runs table as one library call (what `scalecl fit` does, and what a sweep report
 * calls): each selected architecture fitted separately by the parametric L(N, D) law and by IsoFLOP parabolas and
 * power laws, optional bootstrap intervals, a human-readable table, and in an output directory fit.json,
 * isoflop_minima.csv and the gnuplot charts. */
#ifndef SCALECL_FIT_REPORT_H
#define SCALECL_FIT_REPORT_H

#include <stdio.h>

#include "base/err.h"
#include "fit/isoflop.h"
#include "fit/lnd.h"
#include "fit/runs.h"

enum { SC_FIT_LND = 1, SC_FIT_ISO = 2 }; /* methods */
enum { SC_FIT_MAX_ARCHS = 16, SC_FIT_MAX_BUDGETS = 64 };
/* The L(N, D) values with bootstrap intervals, in fit.json order: a, b, e, alpha, beta, gamma, then these. */
enum { SC_FIT_BIG_A = SC_LND_NP, SC_FIT_BIG_B, SC_FIT_BIG_E, SC_FIT_ALLOC_A, SC_FIT_ALLOC_B, SC_FIT_LND_NVALUES };
/* The IsoFLOP values with bootstrap intervals: a, A', b, B'. */
enum { SC_FIT_ISO_NVALUES = 4 };

typedef struct {
  const char *runs;          /* runs table (CSV) to load; its name in the table and fit.json */
  const sc_runs *table;      /* an already loaded table to fit instead (runs NULL: named by table->path) */
  const char *out;           /* directory for fit.json, isoflop_minima.csv and the charts; NULL: the table only */
  const char *archs;         /* comma-separated architectures; NULL: every arch of the table, in order of appearance */
  int ctx;                   /* only runs with this context length (both methods); 0: any */
  int pool_ctx;              /* with ctx 0, fit runs of several context lengths together instead of refusing */
  const char *set;           /* experiment set of the L(N,D) runs; NULL: all */
  double ratio_lo, ratio_hi; /* L(N,D) runs: inclusive range of the token/param ratio D/N */
  int approx_loss;           /* rows without val_loss take the midpoint of val_loss_approx_lo/hi */
  int methods;               /* SC_FIT_LND | SC_FIT_ISO */
  sc_lnd_opts lnd;           /* L(N,D) form, Huber delta, starts, and the host threads of the whole fit */
  sc_iso_opts iso;           /* window, budget tolerance, allow_extrapolated (its budgets come from below) */
  double budgets[SC_FIT_MAX_BUDGETS]; /* nominal budgets to snap runs to instead of the isoflop_budget column */
  int n_budgets;                      /* 0: the column, or clusters of runs */
  int bootstrap;                      /* resamples for 95% percentile intervals; 0: none */
  unsigned long seed;                 /* bootstrap seed; results do not depend on the thread count */
  int no_plots;                       /* do not run gnuplot */
} sc_fit_report_opts;

/* `scalecl fit`'s defaults: both methods, every row, no bootstrap (seed 1), one thread per online CPU. */
void sc_fit_report_opts_default(sc_fit_report_opts *o);

/* The words that spell option values, as `scalecl fit` takes them; `what` names the option in errors. */
int sc_fit_parse_methods(const char *s, const char *what, int *methods, sc_err *err); /* both, lnd, isoflop */
const char *sc_fit_methods_name(int methods);
int sc_fit_parse_form(const char *s, const char *what, sc_lnd_form *form, sc_err *err); /* gamma, chinchilla */
const char *sc_fit_form_name(sc_lnd_form form);
int sc_fit_parse_starts(const char *s, const char *what, int *topk, sc_err *err); /* K (1..1e6) or all (0) */
int sc_fit_parse_window(const char *s, const char *what, double *lo, double *hi, sc_err *err); /* LO:HI, LO < HI */
/* C1,C2,..: at most max positive budgets */
int sc_fit_parse_budgets(const char *s, const char *what, double *v, int max, int *n, sc_err *err);

typedef struct {
  char arch[32];
  int lnd_done; /* 0: not fitted (method not chosen, or no runs left) */
  sc_lnd_result lnd;
  double lnd_values[SC_FIT_LND_NVALUES];
  double lnd_ci[SC_FIT_LND_NVALUES][2]; /* bootstrap 95% intervals; NAN where there is none */
  int iso_done;
  sc_power_law n_law, d_law; /* N*(C) = A' C^a, D*(C) = B' C^b */
  double iso_ci[SC_FIT_ISO_NVALUES][2];
} sc_fit_report_arch;

typedef struct {
  int narch;
  sc_fit_report_arch arch[SC_FIT_MAX_ARCHS];
  char contexts[512];             /* the table's context lengths with their run counts; "" without a ctx column */
  char plots[8192];               /* the charts written into out, space separated */
  char plots_warning[SC_ERR_MAX]; /* why no charts were drawn although asked for (gnuplot missing); "" otherwise */
} sc_fit_report_result;

/* The percentile 95% interval of a bootstrap: the 2.5% and 97.5% quantiles (GSL's, interpolated) of the finite
 * values of v[0..n), which it reorders; NAN, NAN with fewer than 2 finite values. */
void sc_fit_ci95(double *v, int n, double *lo, double *hi);

/* Fits every selected architecture, prints the table to table_out (NULL: none) and, when o->out is set, writes
 * fit.json, isoflop_minima.csv and the charts there. Without gnuplot the charts are left out, the reason is in
 * res->plots_warning and fit.json, and that is not an error. res may be NULL; it is filled as far as the fit got
 * even on failure. */
int sc_fit_report(const sc_fit_report_opts *o, FILE *table_out, sc_fit_report_result *res, sc_err *err);

#endif
