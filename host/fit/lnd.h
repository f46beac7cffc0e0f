/* Parametric scaling law L(N, D) = E + (A N^-alpha + B D^-beta)^gamma fitted in log space (xLSTM scaling
 * laws, arXiv 2510.02228, section 4.6): ln L^ = LSE(gamma * LSE(a - alpha ln N, b - beta ln D), e) with
 * A, B, E = exp(a, b, e); objective = sum over runs of Huber_delta(ln L - ln L^); GSL BFGS (vector_bfgs2, analytic
 * gradient) from the paper's grid of starts, best objective wins. */
#ifndef SCALECL_FIT_LND_H
#define SCALECL_FIT_LND_H

#include "base/err.h"
#include "base/progress.h"

enum { SC_LND_A, SC_LND_B, SC_LND_E, SC_LND_ALPHA, SC_LND_BETA, SC_LND_GAMMA, SC_LND_NP };

typedef enum {
  SC_FORM_GAMMA,      /* gamma free (the paper) */
  SC_FORM_CHINCHILLA, /* gamma = 1: L = E + A N^-alpha + B D^-beta */
} sc_lnd_form;

typedef struct {
  sc_lnd_form form;
  int lse; /* 1: log-sum-exp form; 0: the source's "sum" variant ln L^ = (a - alpha ln N) + gamma (b - beta ln D + e),
              kept only to reproduce the reference table */
  double delta;  /* Huber delta on ln-loss residuals (paper: 1e-3) */
  int topk;      /* BFGS from the topk grid starts with the lowest objective; 0 = from every grid start */
  int boot_topk; /* bootstrap refits: warm start at the full-data fit plus this many screened grid starts */
  int max_iter;  /* BFGS iterations per start (and per restart) */
  int threads;
  sc_progress *progress; /* bootstrap: one tick per resample; NULL: none */
} sc_lnd_opts;

void sc_lnd_opts_default(sc_lnd_opts *o);
int sc_lnd_nfree(const sc_lnd_opts *o); /* 6 with gamma, 5 without */
const char *sc_lnd_param_name(int k);   /* "a", "b", "e", "alpha", "beta", "gamma" */

typedef struct {
  const double *ln_n, *ln_d, *ln_l; /* per run: ln N, ln D, ln of the observed loss */
  const double *w;                  /* per-run multiplicity (bootstrap) or NULL for all ones */
  int n;
} sc_lnd_data;

typedef struct {
  double p[SC_LND_NP]; /* gamma is 1 when not fitted */
  double objective;
  int n_grid;       /* size of the start grid */
  int n_optimized;  /* starts that BFGS was run from */
  int n_at_best;    /* of those, how many ended within 1e-8 relative of the best objective */
  int iterations;   /* BFGS iterations of the winning start */
  double grad_norm; /* gradient norm at the optimum */
} sc_lnd_result;

/* ln of the predicted loss. */
double sc_lnd_predict(const sc_lnd_opts *o, const double *p, double ln_n, double ln_d);
/* Objective at p; fills grad[SC_LND_NP] (the gamma entry is 0 when gamma is fixed) when grad is not NULL. */
double sc_lnd_objective(const sc_lnd_data *d, const sc_lnd_opts *o, const double *p, double *grad);

/* The start grid (a, b in {0,5,10,15,20}; e in {-1,-0.5,0,0.5,1}; alpha, beta in {0,0.2,0.5,1};
 * gamma in {0,0.5,1,1.5} when fitted): returns its size and, if p is not NULL, writes start k. */
int sc_lnd_grid(const sc_lnd_opts *o, int k, double *p);

/* Minimizes from p (in/out) with BFGS, restarting while it still improves; returns the objective, or NAN
 * when GSL cannot allocate its workspace. */
double sc_lnd_minimize(const sc_lnd_data *d, const sc_lnd_opts *o, double *p, int *iterations);

/* The full fit: screens the grid by objective, runs BFGS from the topk best (or all) starts and from
 * `warm` when not NULL, and keeps the best. */
int sc_lnd_fit(const sc_lnd_data *d, const sc_lnd_opts *o, const double *warm, sc_lnd_result *res, sc_err *err);

/* K bootstrap refits: resample runs with replacement (sample k uses its own generator seeded from seed and
 * k, so results do not depend on the thread count) and refit from `full` plus boot_topk screened starts.
 * Writes params[k * SC_LND_NP + j] and objective[k] (objective may be NULL). */
int sc_lnd_bootstrap(const sc_lnd_data *d, const sc_lnd_opts *o, const double *full, int k, unsigned long seed,
                     double *params, double *objective, sc_err *err);

#endif
