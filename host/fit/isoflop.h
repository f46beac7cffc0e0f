/* IsoFLOP method (Chinchilla approach 2 as in the xLSTM scaling-law code): group runs by compute budget, fit
 * loss as a parabola in log10 N and, separately, in log10 D, take the vertices as N*, D*, L*, and fit the power
 * laws N*(C) = A' C^a and D*(C) = B' C^b by least squares on ln N* and ln D* over a window of budgets, with C
 * the mean training FLOPs of a budget's runs. */
#ifndef SCALECL_FIT_ISOFLOP_H
#define SCALECL_FIT_ISOFLOP_H

#include "base/err.h"

typedef struct {
  double lo, hi;         /* window on a budget's mean FLOPs for the power laws (paper: 5e18 to 2e20) */
  double tol;            /* a run belongs to a budget when its FLOPs are within +-tol of it (0.1) */
  const double *budgets; /* explicit nominal budgets to snap runs to, or NULL */
  int n_budgets;
  int min_points;         /* fewest runs for a parabola (3) */
  int allow_extrapolated; /* let budgets whose vertex lies outside the sampled range into the power laws */
} sc_iso_opts;

void sc_iso_opts_default(sc_iso_opts *o);

enum { SC_PARABOLA_OK, SC_PARABOLA_CONCAVE, SC_PARABOLA_OUTSIDE, SC_PARABOLA_DEGENERATE };

typedef struct {
  double xc;           /* centre of x (x = log10 N or log10 D) */
  double c[3];         /* loss = c[0] + c[1] (x - xc) + c[2] (x - xc)^2 */
  double x_min, x_max; /* sampled range of x */
  double x_star;       /* vertex: log10 N* (or D*) */
  double se_x;         /* its standard error (delta method; NAN with 3 runs) */
  double l_star;       /* loss at the vertex */
  int status;          /* SC_PARABOLA_* */
} sc_parabola;

const char *sc_parabola_status_name(int status);

typedef struct {
  double nominal; /* the budget's label: the isoflop_budget cell, the snapped budget, or the cluster mean */
  double flops;   /* mean FLOPs of its runs: the C of the power laws */
  int n;          /* runs */
  int *runs;      /* their indices in the caller's arrays */
  sc_parabola pn, pd;
  int in_window;
  int used_n, used_d; /* entered the N* (D*) power law */
} sc_iso_budget;

typedef struct {
  double exponent, prefactor; /* y = prefactor * C^exponent */
  double se_exponent;         /* NAN with fewer than 3 points */
  int n_points;
} sc_power_law;

typedef struct {
  sc_iso_budget *b;
  int nb;
  int n_unassigned; /* runs that belong to no budget */
  int allow_extrapolated;
  sc_power_law n_law, d_law;
  char warnings[4096]; /* one line per warning */
} sc_iso_result;

/* n, d, c, loss: per run; budget_col: the isoflop_budget cells (0 = none) or NULL. Budgets come from
 * o->budgets when given, else from budget_col, else from clustering: the sorted FLOPs split wherever a run has
 * more than (1 + tol) times the FLOPs of the next smaller one (warned when a cluster spans more than +-tol). Budgets
 * with a failed parabola are reported but left out of the power laws; a power law needs 2 budgets (otherwise its
 * exponent is NAN and a warning says why). */
int sc_iso_fit(const double *n, const double *d, const double *c, const double *loss, const double *budget_col,
               int nruns, const sc_iso_opts *o, sc_iso_result *res, sc_err *err);
void sc_iso_free(sc_iso_result *res);

/* Fits one parabola to (x, loss). */
void sc_parabola_fit(const double *x, const double *loss, int n, sc_parabola *p);

/* K bootstrap resamples: the runs of each budget are resampled with replacement and the parabolas and power
 * laws refitted over the budgets that the full fit used. out[k*4 + 0..3] = a, A', b, B'; NAN for a resample in
 * which one of those budgets' parabolas failed (counted in *n_failed). Deterministic for a given seed. */
int sc_iso_bootstrap(const double *n, const double *d, const double *loss, const sc_iso_result *full, int k,
                     unsigned long seed, double *out, int *n_failed, sc_err *err);

#endif
