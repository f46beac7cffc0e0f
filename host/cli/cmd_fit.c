/* scalecl fit: scaling-law fits of a runs table (IsoFLOP parabolas and power laws, parametric L(N, D),
 * bootstrap intervals), written as a table, fit.json, a CSV of IsoFLOP minima and gnuplot charts. */
#include <cjson/cJSON.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/gnuplot.h"
#include "base/parallel.h"
#include "cli/commands.h"
#include "fit/isoflop.h"
#include "fit/lnd.h"
#include "fit/plots.h"
#include "fit/runs.h"

enum { METHOD_LND = 1, METHOD_ISO = 2 };
enum { MAX_ARCHS = 16, MAX_BUDGETS = 64, ISO_BOOT_VALUES = 4 };
/* Derived L(N,D) quantities with bootstrap intervals, in fit.json order. */
enum { LND_BIG_A = SC_LND_NP, LND_BIG_B, LND_BIG_E, LND_ALLOC_A, LND_ALLOC_B, LND_NVALUES };

typedef struct {
  const char *runs, *out, *arch, *set;
  int ctx, methods, bootstrap, no_plots, approx_loss;
  unsigned long seed;
  double ratio_lo, ratio_hi;
  double budgets[MAX_BUDGETS];
  sc_lnd_opts lnd;
  sc_iso_opts iso;
} fit_args;

typedef struct {
  char arch[32];
  /* L(N, D) */
  sc_run_sel lsel;
  char lwhy[512];
  double *ln_n, *ln_d, *ln_l, *l_n, *l_d, *l_c, *l_loss;
  int lnd_done;
  sc_lnd_result lnd;
  double lnd_seconds, boot_seconds;
  double lnd_ci[LND_NVALUES][2]; /* bootstrap 95% intervals; NAN where there is none */
  /* IsoFLOP */
  sc_run_sel isel;
  char iwhy[512];
  double *i_n, *i_d, *i_c, *i_loss, *i_budget;
  int iso_done;
  sc_iso_result iso;
  double iso_ci[ISO_BOOT_VALUES][2]; /* a, A', b, B' as lnd_ci */
  int iso_boot_failed;
} arch_fit;

static const sc_opt opts[] = {
    {"runs", "FILE",
     "runs table (CSV): arch, n_params, n_tokens, flops, val_loss [, experiment_set, ctx, isoflop_budget]"},
    {"out", "DIR", "write fit.json, isoflop_minima.csv and the charts (SVG, PNG) here (default: table only)"},
    {"arch", "A[,B]", "architectures to fit (default: every arch in the file, each fitted separately)"},
    {"ctx", "N", "only runs with this context length (both methods)"},
    {"set", "NAME", "experiment set of the L(N,D) runs: all (default), tokenparam, isoflop, ..."},
    {"min-ratio", "R", "L(N,D) runs: smallest token/param ratio D/N (inclusive; default 0)"},
    {"max-ratio", "R", "L(N,D) runs: largest token/param ratio D/N (inclusive; default none)"},
    {"method", "M", "both (default), lnd (parametric L(N,D) only) or isoflop"},
    {"form", "F", "gamma (default: E + (A N^-alpha + B D^-beta)^gamma) or chinchilla (gamma = 1)"},
    {"no-lse", NULL, "the reference code's non-LSE 'sum' variant (only to reproduce its reference table)"},
    {"huber", "DELTA", "Huber delta on ln-loss residuals (default 1e-3)"},
    {"starts", "K|all", "run BFGS from the K grid starts with the lowest objective, or all (default 32)"},
    {"bootstrap", "K", "K bootstrap resamples for 95% percentile intervals (default 0: none)"},
    {"seed", "S", "bootstrap seed (default 1); results do not depend on --threads"},
    {"boot-starts", "K", "bootstrap refits start at the full fit plus the K best grid starts (default 4)"},
    {"window", "LO:HI", "budgets (mean FLOPs) in the power laws (default 5e18:2e20, the paper's at ctx 8192)"},
    {"budgets", "C1,C2,..", "snap runs to these budgets (+-tol) instead of the isoflop_budget column"},
    {"budget-tol", "T", "relative tolerance for budget membership (default 0.1)"},
    {"allow-extrapolated", NULL, "keep budgets whose parabola vertex lies outside the sampled range"},
    {"approx-loss", NULL, "rows without val_loss use the midpoint of val_loss_approx_lo/hi (an estimate)"},
    {"threads", "T", "host threads (default: online CPUs)"},
    {"no-plots", NULL, "do not run gnuplot"},
};
enum {
  O_RUNS,
  O_OUT,
  O_ARCH,
  O_CTX,
  O_SET,
  O_MINR,
  O_MAXR,
  O_METHOD,
  O_FORM,
  O_NOLSE,
  O_HUBER,
  O_STARTS,
  O_BOOT,
  O_SEED,
  O_BOOTSTARTS,
  O_WINDOW,
  O_BUDGETS,
  O_TOL,
  O_EXTRAP,
  O_APPROX,
  O_THREADS,
  O_NOPLOTS,
  O_COUNT
};

static int parse_list(const char *s, double *v, int max, const char *what, int *n, sc_err *err) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", s);
  *n = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (*n >= max) return sc_fail(err, "%s: at most %d values", what, max);
    if (sc_parse_double(t, what, &v[*n], err)) return -1;
    if (!(v[*n] > 0)) return sc_fail(err, "%s: '%s' must be positive", what, t);
    (*n)++;
  }
  return *n ? 0 : sc_fail(err, "%s: empty list", what);
}

static int parse_args(int argc, char **argv, fit_args *a, sc_err *err) {
  memset(a, 0, sizeof *a);
  a->methods = METHOD_LND | METHOD_ISO;
  a->seed = 1;
  a->ratio_hi = INFINITY;
  sc_lnd_opts_default(&a->lnd);
  sc_iso_opts_default(&a->iso);
  a->lnd.threads = sc_cpu_count();
  sc_argp p;
  sc_argp_init(&p, argc, argv);
  for (int r; (r = sc_arg_next(&p, opts, O_COUNT, err)) != SC_ARG_END;) {
    long l;
    double v;
    const char *s = p.value;
    switch (r) {
      case SC_ARG_ERROR:
        return 2;
      case SC_ARG_HELP:
        sc_usage(stdout, "scalecl fit --runs FILE.csv [filters] [options] [--out DIR]",
                 "Fits scaling laws to a table of training runs, separately for each architecture:\n"
                 "  IsoFLOP: runs grouped by compute budget (isoflop_budget column, --budgets, or clusters of runs\n"
                 "    whose FLOPs lie within --budget-tol of their neighbours), a parabola of loss in log10 N and\n"
                 "    in log10 D per budget, vertices N*, D*, L*, and the power laws N*(C) = A' C^a, D*(C) = B' C^b\n"
                 "    over --window (C = mean FLOPs of a budget). Uses the isoflop experiment set when the table\n"
                 "    has an experiment_set column.\n"
                 "  L(N,D): ln L = LSE(gamma LSE(a - alpha ln N, b - beta ln D), e), i.e. L = E + (A N^-alpha +\n"
                 "    B D^-beta)^gamma, minimizing the sum of Huber losses on ln L with GSL BFGS from the paper's\n"
                 "    grid of starts (8000 with gamma, 2000 without), screened by objective.\n"
                 "Rows without val_loss are skipped and counted. Paper's main setting:\n"
                 "  scalecl fit --runs xlstm_scaling_runs.csv --ctx 8192 --set tokenparam --out fit-out\n"
                 "Environment: SCALECL_GNUPLOT (gnuplot executable; default gnuplot on PATH).",
                 opts, O_COUNT);
        return 1;
      case SC_ARG_POSITIONAL:
        sc_fail(err, "unexpected argument '%s' (the runs table is --runs FILE)", s);
        return 2;
      case O_RUNS:
        a->runs = s;
        break;
      case O_OUT:
        a->out = s;
        break;
      case O_ARCH:
        a->arch = s;
        break;
      case O_CTX:
        if (sc_parse_long(s, "--ctx", 1, 1L << 30, &l, err)) return 2;
        a->ctx = (int)l;
        break;
      case O_SET:
        a->set = s;
        break;
      case O_MINR:
      case O_MAXR:
        if (sc_parse_double(s, r == O_MINR ? "--min-ratio" : "--max-ratio", &v, err)) return 2;
        if (v < 0) return sc_fail(err, "token/param ratios are not negative: %s", s), 2;
        *(r == O_MINR ? &a->ratio_lo : &a->ratio_hi) = v;
        break;
      case O_METHOD:
        if (strcmp(s, "both") == 0)
          a->methods = METHOD_LND | METHOD_ISO;
        else if (strcmp(s, "lnd") == 0)
          a->methods = METHOD_LND;
        else if (strcmp(s, "isoflop") == 0)
          a->methods = METHOD_ISO;
        else
          return sc_fail(err, "--method: '%s' is not both, lnd or isoflop", s), 2;
        break;
      case O_FORM:
        if (strcmp(s, "gamma") == 0)
          a->lnd.form = SC_FORM_GAMMA;
        else if (strcmp(s, "chinchilla") == 0)
          a->lnd.form = SC_FORM_CHINCHILLA;
        else
          return sc_fail(err, "--form: '%s' is not gamma or chinchilla", s), 2;
        break;
      case O_NOLSE:
        a->lnd.lse = 0;
        break;
      case O_HUBER:
        if (sc_parse_double(s, "--huber", &a->lnd.delta, err)) return 2;
        if (!(a->lnd.delta > 0)) return sc_fail(err, "--huber must be positive, got %s", s), 2;
        break;
      case O_STARTS:
        if (strcmp(s, "all") == 0)
          a->lnd.topk = 0;
        else if (sc_parse_long(s, "--starts", 1, 1000000, &l, err))
          return 2;
        else
          a->lnd.topk = (int)l;
        break;
      case O_BOOT:
        if (sc_parse_long(s, "--bootstrap", 0, 1000000, &l, err)) return 2;
        a->bootstrap = (int)l;
        break;
      case O_SEED:
        if (sc_parse_long(s, "--seed", 0, 2147483647L, &l, err)) return 2;
        a->seed = (unsigned long)l;
        break;
      case O_BOOTSTARTS:
        if (sc_parse_long(s, "--boot-starts", 0, 1000000, &l, err)) return 2;
        a->lnd.boot_topk = (int)l;
        break;
      case O_WINDOW: {
        char lo[64], hi[64];
        const char *c = strchr(s, ':');
        if (!c || c == s || !c[1] || (size_t)(c - s) >= sizeof lo)
          return sc_fail(err, "--window: expected LO:HI in FLOPs, e.g. 5e18:2e20, got '%s'", s), 2;
        snprintf(lo, sizeof lo, "%.*s", (int)(c - s), s);
        snprintf(hi, sizeof hi, "%s", c + 1);
        if (sc_parse_double(lo, "--window LO", &a->iso.lo, err) || sc_parse_double(hi, "--window HI", &a->iso.hi, err))
          return 2;
        if (!(a->iso.lo < a->iso.hi)) return sc_fail(err, "--window: LO must be below HI, got '%s'", s), 2;
        break;
      }
      case O_BUDGETS:
        if (parse_list(s, a->budgets, MAX_BUDGETS, "--budgets", &a->iso.n_budgets, err)) return 2;
        a->iso.budgets = a->budgets;
        break;
      case O_TOL:
        if (sc_parse_double(s, "--budget-tol", &a->iso.tol, err)) return 2;
        if (!(a->iso.tol > 0 && a->iso.tol < 0.5))
          return sc_fail(err, "--budget-tol must be in (0, 0.5), got %s", s), 2;
        break;
      case O_EXTRAP:
        a->iso.allow_extrapolated = 1;
        break;
      case O_APPROX:
        a->approx_loss = 1;
        break;
      case O_THREADS:
        if (sc_parse_long(s, "--threads", 1, 1024, &l, err)) return 2;
        a->lnd.threads = (int)l;
        break;
      case O_NOPLOTS:
        a->no_plots = 1;
        break;
    }
  }
  if (!a->runs) return sc_fail(err, "--runs FILE.csv is required (see scalecl fit --help)"), 2;
  if (a->ratio_lo > a->ratio_hi) return sc_fail(err, "--min-ratio is above --max-ratio"), 2;
  if (!a->lnd.lse && a->methods == METHOD_ISO) return sc_fail(err, "--no-lse applies to the L(N,D) fit only"), 2;
  return 0;
}

static void ci95(double *v, int n, double *lo, double *hi) {
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) v[m++] = v[i];
  *lo = *hi = NAN;
  if (m < 2) return;
  gsl_sort(v, 1, (size_t)m);
  *lo = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.025);
  *hi = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.975);
}

static const char *const lnd_value_names[LND_NVALUES] = {"a", "b", "e", "alpha",   "beta",   "gamma",
                                                         "A", "B", "E", "alloc_a", "alloc_b"};

static void lnd_values(const double *p, double *v) {
  for (int k = 0; k < SC_LND_NP; k++) v[k] = p[k];
  v[LND_BIG_A] = exp(p[SC_LND_A]);
  v[LND_BIG_B] = exp(p[SC_LND_B]);
  v[LND_BIG_E] = exp(p[SC_LND_E]);
  /* Compute-optimal allocation exponents under C proportional to N D: N* ~ C^(beta/(alpha+beta)). */
  v[LND_ALLOC_A] = p[SC_LND_BETA] / (p[SC_LND_ALPHA] + p[SC_LND_BETA]);
  v[LND_ALLOC_B] = p[SC_LND_ALPHA] / (p[SC_LND_ALPHA] + p[SC_LND_BETA]);
}

static int select_arch(const sc_runs *rs, const fit_args *a, arch_fit *f, sc_err *err) {
  sc_run_filter lf, iflt;
  sc_run_filter_init(&lf);
  lf.arch = f->arch;
  lf.ctx = a->ctx;
  lf.set = a->set;
  lf.ratio_lo = a->ratio_lo;
  lf.ratio_hi = a->ratio_hi;
  lf.approx_loss = a->approx_loss;
  iflt = lf;
  iflt.set = rs->has_set ? "isoflop" : NULL;
  iflt.ratio_lo = 0;
  iflt.ratio_hi = INFINITY;
  if (sc_runs_select(rs, &lf, &f->lsel, f->lwhy, sizeof f->lwhy, err) ||
      sc_runs_select(rs, &iflt, &f->isel, f->iwhy, sizeof f->iwhy, err))
    return -1;
  int nl = f->lsel.n ? f->lsel.n : 1, ni = f->isel.n ? f->isel.n : 1;
  double **lp[] = {&f->ln_n, &f->ln_d, &f->ln_l, &f->l_n, &f->l_d, &f->l_c, &f->l_loss};
  for (size_t k = 0; k < sizeof lp / sizeof lp[0]; k++)
    if (!(*lp[k] = sc_malloc((size_t)nl * sizeof **lp[k], "L(N,D) runs", err))) return -1;
  double **ip[] = {&f->i_n, &f->i_d, &f->i_c, &f->i_loss, &f->i_budget};
  for (size_t k = 0; k < sizeof ip / sizeof ip[0]; k++)
    if (!(*ip[k] = sc_malloc((size_t)ni * sizeof **ip[k], "IsoFLOP runs", err))) return -1;
  for (int i = 0; i < f->lsel.n; i++) {
    const sc_run *r = &rs->r[f->lsel.idx[i]];
    f->l_n[i] = r->n, f->l_d[i] = r->d, f->l_c[i] = r->c, f->l_loss[i] = f->lsel.loss[i];
    f->ln_n[i] = log(r->n), f->ln_d[i] = log(r->d), f->ln_l[i] = log(f->lsel.loss[i]);
  }
  for (int i = 0; i < f->isel.n; i++) {
    const sc_run *r = &rs->r[f->isel.idx[i]];
    f->i_n[i] = r->n, f->i_d[i] = r->d, f->i_c[i] = r->c, f->i_loss[i] = f->isel.loss[i], f->i_budget[i] = r->budget;
  }
  return 0;
}

static void free_arch(arch_fit *f) {
  sc_run_sel_free(&f->lsel);
  sc_run_sel_free(&f->isel);
  double *p[] = {f->ln_n,   f->ln_d, f->ln_l, f->l_n, f->l_d,    f->l_c,
                 f->l_loss, f->i_n,  f->i_d,  f->i_c, f->i_loss, f->i_budget};
  for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) free(p[k]);
  if (f->iso_done) sc_iso_free(&f->iso);
}

/* Percentile 95% intervals of the nvals columns of k samples (row-major). */
static int boot_cis(double *samples, int k, int nvals, double (*ci)[2], sc_err *err) {
  double *v = sc_malloc((size_t)(k ? k : 1) * sizeof *v, "bootstrap intervals", err);
  if (!v) return -1;
  for (int j = 0; j < nvals; j++) {
    for (int s = 0; s < k; s++) v[s] = samples[(size_t)s * nvals + j];
    ci95(v, k, &ci[j][0], &ci[j][1]);
  }
  free(v);
  return 0;
}

/* Bootstrap refits of the L(N,D) fit and the intervals of every derived value. */
static int lnd_bootstrap(const fit_args *a, arch_fit *f, const sc_lnd_data *d, sc_err *err) {
  const int k = a->bootstrap;
  double *p = sc_malloc((size_t)k * SC_LND_NP * sizeof *p, "bootstrap fits", err);
  double *v = sc_malloc((size_t)k * LND_NVALUES * sizeof *v, "bootstrap fits", err);
  int rc = -1;
  if (!p || !v) goto done;
  double t0 = sc_now();
  if (sc_lnd_bootstrap(d, &a->lnd, f->lnd.p, k, a->seed, p, NULL, err)) {
    sc_wrap(err, "%s L(N,D) bootstrap: ", f->arch);
    goto done;
  }
  f->boot_seconds = sc_now() - t0;
  for (int s = 0; s < k; s++) lnd_values(p + (size_t)s * SC_LND_NP, v + (size_t)s * LND_NVALUES);
  rc = boot_cis(v, k, LND_NVALUES, f->lnd_ci, err);
  if (a->lnd.form != SC_FORM_GAMMA) f->lnd_ci[SC_LND_GAMMA][0] = f->lnd_ci[SC_LND_GAMMA][1] = NAN; /* fixed at 1 */
done:
  free(p);
  free(v);
  return rc;
}

static int fit_arch(const fit_args *a, arch_fit *f, sc_err *err) {
  for (int j = 0; j < LND_NVALUES; j++) f->lnd_ci[j][0] = f->lnd_ci[j][1] = NAN;
  for (int j = 0; j < ISO_BOOT_VALUES; j++) f->iso_ci[j][0] = f->iso_ci[j][1] = NAN;
  if ((a->methods & METHOD_LND) && f->lsel.n > 0) {
    sc_lnd_data d = {f->ln_n, f->ln_d, f->ln_l, NULL, f->lsel.n};
    double t0 = sc_now();
    if (sc_lnd_fit(&d, &a->lnd, NULL, &f->lnd, err)) return sc_wrap(err, "%s L(N,D) fit: ", f->arch);
    f->lnd_seconds = sc_now() - t0;
    f->lnd_done = 1;
    if (a->bootstrap > 0 && lnd_bootstrap(a, f, &d, err)) return -1;
  }
  if ((a->methods & METHOD_ISO) && f->isel.n > 0) {
    /* The budget column counts only where it labels some of these runs; otherwise budgets are clustered. */
    int labelled = 0;
    for (int i = 0; i < f->isel.n; i++) labelled |= f->i_budget[i] > 0;
    if (sc_iso_fit(f->i_n, f->i_d, f->i_c, f->i_loss, labelled ? f->i_budget : NULL, f->isel.n, &a->iso, &f->iso, err))
      return sc_wrap(err, "%s IsoFLOP fit: ", f->arch);
    f->iso_done = 1;
    if (a->bootstrap > 0) {
      double *v = sc_malloc((size_t)a->bootstrap * ISO_BOOT_VALUES * sizeof *v, "bootstrap fits", err);
      if (!v) return -1;
      int rc = sc_iso_bootstrap(f->i_n, f->i_d, f->i_loss, &f->iso, a->bootstrap, a->seed, v, &f->iso_boot_failed, err)
                   ? sc_wrap(err, "%s IsoFLOP bootstrap: ", f->arch)
                   : boot_cis(v, a->bootstrap, ISO_BOOT_VALUES, f->iso_ci, err);
      free(v);
      if (rc) return -1;
    }
  }
  return 0;
}

/* The next line of a newline-separated list: its start (NULL at the end) and length. */
static const char *next_line(const char **s, int *len) {
  if (!**s) return NULL;
  const char *line = *s, *e = strchr(line, '\n');
  *len = e ? (int)(e - line) : (int)strlen(line);
  *s = line + *len + (e ? 1 : 0);
  return line;
}

static const char *form_name(const sc_lnd_opts *o) {
  return o->form == SC_FORM_GAMMA ? "gamma" : "chinchilla";
}

static void print_table(const fit_args *a, const sc_runs *rs, const arch_fit *fits, int nf) {
  printf("scalecl fit: %s (%d rows)", a->runs, rs->n);
  if (a->ctx) printf(", ctx %d", a->ctx);
  printf("\n");
  if (a->methods & METHOD_LND) {
    int ngrid = sc_lnd_grid(&a->lnd, -1, NULL);
    printf(
        "\nL(N,D) = E + (A N^-alpha + B D^-beta)^gamma [%s form%s], sum of Huber(delta=%g) on ln L, "
        "BFGS from %d of %d grid starts\n  runs: set %s, D/N in [%g, %g]%s\n",
        form_name(&a->lnd), a->lnd.lse ? "" : ", non-LSE 'sum' variant", a->lnd.delta,
        a->lnd.topk > 0 && a->lnd.topk < ngrid ? a->lnd.topk : ngrid, ngrid, a->set ? a->set : "all", a->ratio_lo,
        a->ratio_hi, a->approx_loss ? ", approximate losses allowed" : "");
    printf("%-12s %5s %7s %9s %9s %9s %9s %9s %9s %10s %10s %8s %13s %8s %7s\n", "arch", "runs", "skipped", "a", "b",
           "e", "alpha", "beta", "gamma", "A", "B", "E", "objective", "at-best", "time");
    for (int k = 0; k < nf; k++) {
      const arch_fit *f = &fits[k];
      if (!f->lnd_done) {
        printf("%-12s %5d %7d  (no L(N,D) runs: %s)\n", f->arch, 0, f->lsel.n_missing, f->lwhy);
        continue;
      }
      const double *p = f->lnd.p;
      printf("%-12s %5d %7d %9.5f %9.5f %9.5f %9.6f %9.6f %9.6f %10.4g %10.4g %8.5f %13.7e %4d/%-3d %6.2fs\n", f->arch,
             f->lsel.n, f->lsel.n_missing, p[0], p[1], p[2], p[3], p[4], p[5], exp(p[0]), exp(p[1]), exp(p[2]),
             f->lnd.objective, f->lnd.n_at_best, f->lnd.n_optimized, f->lnd_seconds);
      if (f->lsel.n_approx) printf("  (%d of these runs use an approximate loss)\n", f->lsel.n_approx);
      if (a->bootstrap > 0) {
        printf("  95%% CI (%d resamples, %.1fs):", a->bootstrap, f->boot_seconds);
        for (int j = 0; j < LND_NVALUES; j++)
          if (isfinite(f->lnd_ci[j][0]))
            printf("%s %s [%.4g, %.4g]", j == 0 ? "" : (j % 4 == 0 ? "\n   " : ","), lnd_value_names[j],
                   f->lnd_ci[j][0], f->lnd_ci[j][1]);
        printf("\n");
      }
    }
  }
  if (a->methods & METHOD_ISO) {
    printf(
        "\nIsoFLOP: parabolas of loss in log10 N and log10 D per budget; power laws over budgets with mean FLOPs "
        "in [%g, %g]\n",
        a->iso.lo, a->iso.hi);
    printf("%-12s %9s %11s %5s %12s %12s %8s %-9s %-9s %s\n", "arch", "budget", "C (mean)", "runs", "N*", "D*", "L*",
           "N vertex", "D vertex", "in laws");
    for (int k = 0; k < nf; k++) {
      const arch_fit *f = &fits[k];
      if (!f->iso_done) {
        printf("%-12s  (no IsoFLOP runs: %s)\n", f->arch, f->iwhy);
        continue;
      }
      if (f->iso.n_unassigned) printf("%-12s  (%d runs belong to no budget)\n", f->arch, f->iso.n_unassigned);
      for (int j = 0; j < f->iso.nb; j++) {
        const sc_iso_budget *b = &f->iso.b[j];
        static const char *const st[] = {"ok", "concave", "outside", "too-few"};
        printf("%-12s %9.3g %11.4g %5d %12.4g %12.4g %8.4f %-9s %-9s %s\n", f->arch, b->nominal, b->flops, b->n,
               pow(10, b->pn.x_star), pow(10, b->pd.x_star), b->pn.l_star, st[b->pn.status], st[b->pd.status],
               b->used_n && b->used_d ? "N*, D*"
               : b->used_n            ? "N*"
               : b->used_d            ? "D*"
                                      : "-");
      }
      if (f->isel.n_missing || f->isel.n_approx)
        printf("  (%d runs without a loss skipped; %d runs use an approximate loss)\n", f->isel.n_missing,
               f->isel.n_approx);
    }
    printf("\npower laws N* = A' C^a, D* = B' C^b (least squares on ln N*, ln D* against ln C):\n");
    printf("%-12s %9s %9s %11s %9s %9s %11s %8s %s\n", "arch", "a", "se(a)", "A'", "b", "se(b)", "B'", "budgets",
           a->bootstrap ? "95% CI a; b" : "");
    for (int k = 0; k < nf; k++) {
      const arch_fit *f = &fits[k];
      if (!f->iso_done) continue;
      printf("%-12s %9.6f %9.4f %11.5g %9.6f %9.4f %11.5g %4d/%-3d", f->arch, f->iso.n_law.exponent,
             f->iso.n_law.se_exponent, f->iso.n_law.prefactor, f->iso.d_law.exponent, f->iso.d_law.se_exponent,
             f->iso.d_law.prefactor, f->iso.n_law.n_points, f->iso.d_law.n_points);
      const double(*ci)[2] = f->iso_ci;
      if (isfinite(ci[0][0]) && isfinite(ci[2][0]))
        printf(" [%.4f, %.4f]; [%.4f, %.4f]", ci[0][0], ci[0][1], ci[2][0], ci[2][1]);
      printf("\n");
    }
    for (int k = 0; k < nf; k++) {
      const arch_fit *f = &fits[k];
      if (!f->iso_done || !f->iso.warnings[0]) continue;
      printf("warnings (%s):\n", f->arch);
      int len;
      for (const char *s = f->iso.warnings, *line; (line = next_line(&s, &len));) printf("  %.*s\n", len, line);
    }
  }
}

static cJSON *ci_object(const double (*ci)[2], int nvals, const char *const *names) {
  cJSON *o = cJSON_CreateObject();
  for (int j = 0; j < nvals; j++)
    if (isfinite(ci[j][0])) cJSON_AddItemToObject(o, names[j], cJSON_CreateDoubleArray(ci[j], 2));
  return o;
}

static void add_selection(cJSON *o, const sc_run_sel *s) {
  cJSON_AddNumberToObject(o, "n_runs", s->n);
  cJSON_AddNumberToObject(o, "n_skipped_missing_loss", s->n_missing);
  cJSON_AddNumberToObject(o, "n_approx_loss", s->n_approx);
}

static cJSON *add_bootstrap(cJSON *o, const fit_args *a) {
  cJSON *b = cJSON_AddObjectToObject(o, "bootstrap");
  cJSON_AddNumberToObject(b, "resamples", a->bootstrap);
  cJSON_AddNumberToObject(b, "seed", (double)a->seed);
  return b;
}

static cJSON *lnd_json(const fit_args *a, const arch_fit *f) {
  cJSON *o = cJSON_CreateObject();
  double v[LND_NVALUES];
  lnd_values(f->lnd.p, v);
  for (int j = 0; j < LND_NVALUES; j++) cJSON_AddNumberToObject(o, lnd_value_names[j], v[j]);
  cJSON_AddNumberToObject(o, "objective", f->lnd.objective);
  add_selection(o, &f->lsel);
  cJSON_AddStringToObject(o, "form", form_name(&a->lnd));
  cJSON_AddBoolToObject(o, "lse", a->lnd.lse);
  cJSON_AddNumberToObject(o, "huber_delta", a->lnd.delta);
  cJSON_AddNumberToObject(o, "grid_starts", f->lnd.n_grid);
  cJSON_AddNumberToObject(o, "optimized_starts", f->lnd.n_optimized);
  cJSON_AddNumberToObject(o, "starts_at_best", f->lnd.n_at_best);
  cJSON_AddNumberToObject(o, "iterations", f->lnd.iterations);
  cJSON_AddNumberToObject(o, "grad_norm", f->lnd.grad_norm);
  cJSON_AddNumberToObject(o, "seconds", f->lnd_seconds);
  if (a->bootstrap > 0) {
    cJSON *b = add_bootstrap(o, a);
    cJSON_AddNumberToObject(b, "refit_grid_starts", a->lnd.boot_topk);
    cJSON_AddNumberToObject(b, "seconds", f->boot_seconds);
    cJSON_AddItemToObject(o, "ci95", ci_object(f->lnd_ci, LND_NVALUES, lnd_value_names));
  }
  return o;
}

static cJSON *parabola_json(const sc_parabola *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", sc_parabola_status_name(p->status));
  cJSON_AddNumberToObject(o, "x_center", p->xc);
  cJSON_AddNumberToObject(o, "c0", p->c[0]);
  cJSON_AddNumberToObject(o, "c1", p->c[1]);
  cJSON_AddNumberToObject(o, "c2", p->c[2]);
  cJSON_AddNumberToObject(o, "log10_min", p->x_min);
  cJSON_AddNumberToObject(o, "log10_max", p->x_max);
  cJSON_AddNumberToObject(o, "log10_vertex", p->x_star);
  cJSON_AddNumberToObject(o, "log10_vertex_se", p->se_x);
  cJSON_AddNumberToObject(o, "loss_at_vertex", p->l_star);
  return o;
}

static cJSON *iso_json(const fit_args *a, const arch_fit *f) {
  cJSON *o = cJSON_CreateObject();
  const sc_iso_result *r = &f->iso;
  cJSON_AddNumberToObject(o, "a", r->n_law.exponent);
  cJSON_AddNumberToObject(o, "A", r->n_law.prefactor);
  cJSON_AddNumberToObject(o, "a_se", r->n_law.se_exponent);
  cJSON_AddNumberToObject(o, "b", r->d_law.exponent);
  cJSON_AddNumberToObject(o, "B", r->d_law.prefactor);
  cJSON_AddNumberToObject(o, "b_se", r->d_law.se_exponent);
  cJSON_AddNumberToObject(o, "n_budgets_a", r->n_law.n_points);
  cJSON_AddNumberToObject(o, "n_budgets_b", r->d_law.n_points);
  cJSON *w = cJSON_AddArrayToObject(o, "window_flops");
  cJSON_AddItemToArray(w, cJSON_CreateNumber(a->iso.lo));
  cJSON_AddItemToArray(w, cJSON_CreateNumber(a->iso.hi));
  add_selection(o, &f->isel);
  cJSON_AddNumberToObject(o, "n_unassigned", r->n_unassigned);
  cJSON *arr = cJSON_AddArrayToObject(o, "budgets");
  for (int j = 0; j < r->nb; j++) {
    const sc_iso_budget *b = &r->b[j];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "budget", b->nominal);
    cJSON_AddNumberToObject(x, "flops_mean", b->flops);
    cJSON_AddNumberToObject(x, "n_runs", b->n);
    cJSON_AddNumberToObject(x, "n_star", pow(10, b->pn.x_star));
    cJSON_AddNumberToObject(x, "d_star", pow(10, b->pd.x_star));
    cJSON_AddNumberToObject(x, "l_star", b->pn.l_star);
    cJSON_AddNumberToObject(x, "l_star_d", b->pd.l_star);
    cJSON_AddBoolToObject(x, "in_window", b->in_window);
    cJSON_AddBoolToObject(x, "used_a", b->used_n);
    cJSON_AddBoolToObject(x, "used_b", b->used_d);
    cJSON_AddItemToObject(x, "parabola_n", parabola_json(&b->pn));
    cJSON_AddItemToObject(x, "parabola_d", parabola_json(&b->pd));
    cJSON_AddItemToArray(arr, x);
  }
  cJSON *warn = cJSON_AddArrayToObject(o, "warnings");
  int len;
  for (const char *s = r->warnings, *l; (l = next_line(&s, &len));) {
    char line[1024];
    snprintf(line, sizeof line, "%.*s", len, l);
    cJSON_AddItemToArray(warn, cJSON_CreateString(line));
  }
  if (a->bootstrap > 0) {
    static const char *const names[ISO_BOOT_VALUES] = {"a", "A", "b", "B"};
    cJSON_AddNumberToObject(add_bootstrap(o, a), "failed_resamples", f->iso_boot_failed);
    cJSON_AddItemToObject(o, "ci95", ci_object(f->iso_ci, ISO_BOOT_VALUES, names));
  }
  return o;
}

static int write_json(const fit_args *a, const sc_runs *rs, const arch_fit *fits, int nf, const char *plots,
                      const char *plot_note, sc_err *err) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "tool", "scalecl fit " SCALECL_VERSION);
  cJSON *s = cJSON_AddObjectToObject(root, "settings");
  cJSON_AddStringToObject(s, "runs", a->runs);
  cJSON_AddNumberToObject(s, "rows", rs->n);
  cJSON_AddStringToObject(s, "methods",
                          a->methods == (METHOD_LND | METHOD_ISO) ? "both"
                          : a->methods == METHOD_LND              ? "lnd"
                                                                  : "isoflop");
  if (a->ctx) cJSON_AddNumberToObject(s, "ctx", a->ctx);
  cJSON_AddStringToObject(s, "lnd_set", a->set ? a->set : "all");
  cJSON_AddNumberToObject(s, "min_ratio", a->ratio_lo);
  if (isfinite(a->ratio_hi)) cJSON_AddNumberToObject(s, "max_ratio", a->ratio_hi);
  cJSON_AddStringToObject(s, "form", form_name(&a->lnd));
  cJSON_AddBoolToObject(s, "lse", a->lnd.lse);
  cJSON_AddNumberToObject(s, "huber_delta", a->lnd.delta);
  cJSON_AddNumberToObject(s, "grid_starts", sc_lnd_grid(&a->lnd, -1, NULL));
  if (a->lnd.topk > 0)
    cJSON_AddNumberToObject(s, "screened_starts", a->lnd.topk);
  else
    cJSON_AddStringToObject(s, "screened_starts", "all");
  cJSON_AddNumberToObject(s, "bootstrap", a->bootstrap);
  cJSON_AddNumberToObject(s, "seed", (double)a->seed);
  cJSON_AddNumberToObject(s, "budget_tol", a->iso.tol);
  cJSON_AddBoolToObject(s, "allow_extrapolated", a->iso.allow_extrapolated);
  cJSON_AddBoolToObject(s, "approx_loss", a->approx_loss);
  cJSON_AddNumberToObject(s, "threads", a->lnd.threads);
  cJSON *archs = cJSON_AddObjectToObject(root, "archs");
  for (int k = 0; k < nf; k++) {
    const arch_fit *f = &fits[k];
    cJSON *x = cJSON_AddObjectToObject(archs, f->arch);
    if (f->lnd_done)
      cJSON_AddItemToObject(x, "lnd", lnd_json(a, f));
    else if (a->methods & METHOD_LND)
      cJSON_AddStringToObject(x, "lnd_skipped", f->lwhy);
    if (f->iso_done)
      cJSON_AddItemToObject(x, "isoflop", iso_json(a, f));
    else if (a->methods & METHOD_ISO)
      cJSON_AddStringToObject(x, "isoflop_skipped", f->iwhy);
  }
  cJSON *pl = cJSON_AddArrayToObject(root, "plots");
  char buf[8192];
  snprintf(buf, sizeof buf, "%s", plots);
  for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
    cJSON_AddItemToArray(pl, cJSON_CreateString(t));
  if (plot_note[0]) cJSON_AddStringToObject(root, "plots_note", plot_note);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return sc_fail(err, "out of host memory printing fit.json");
  char path[4096];
  snprintf(path, sizeof path, "%s/fit.json", a->out);
  int rc = sc_write_file_atomic(path, text, strlen(text), err);
  free(text);
  return rc;
}

/* Written like fit.json: built in memory, then sc_write_file_atomic. */
static int write_minima_csv(const fit_args *a, const arch_fit *fits, int nf, sc_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return sc_fail(err, "out of host memory for isoflop_minima.csv");
  fprintf(f,
          "arch,budget,flops_mean,n_runs,n_star,d_star,l_star,l_star_d,log10_n_star_se,log10_d_star_se,n_status,"
          "d_status,in_window,used_a,used_b\n");
  for (int k = 0; k < nf; k++) {
    if (!fits[k].iso_done) continue;
    for (int j = 0; j < fits[k].iso.nb; j++) {
      const sc_iso_budget *b = &fits[k].iso.b[j];
      /* Empty cells for values that do not exist (no vertex), as in the input tables. */
      double v[] = {pow(10, b->pn.x_star), pow(10, b->pd.x_star), b->pn.l_star, b->pd.l_star, b->pn.se_x, b->pd.se_x};
      fprintf(f, "%s,%.6g,%.10g,%d", fits[k].arch, b->nominal, b->flops, b->n);
      for (size_t q = 0; q < sizeof v / sizeof v[0]; q++) isfinite(v[q]) ? fprintf(f, ",%.10g", v[q]) : fprintf(f, ",");
      fprintf(f, ",%s,%s,%d,%d,%d\n", sc_parabola_status_name(b->pn.status), sc_parabola_status_name(b->pd.status),
              b->in_window, b->used_n, b->used_d);
    }
  }
  int rc = fclose(f) != 0 ? sc_fail(err, "out of host memory for isoflop_minima.csv") : 0;
  if (!rc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/isoflop_minima.csv", a->out);
    rc = sc_write_file_atomic(path, text, len, err);
  }
  free(text);
  return rc;
}

static int list_archs(const sc_runs *rs, const char *spec, char names[][32], int *n, sc_err *err) {
  *n = 0;
  if (spec) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (*n >= MAX_ARCHS) return sc_fail(err, "--arch: at most %d architectures", MAX_ARCHS);
      if (strlen(t) >= 32) return sc_fail(err, "--arch: name '%s' is too long", t);
      snprintf(names[(*n)++], 32, "%s", t);
    }
    return *n ? 0 : sc_fail(err, "--arch: empty list");
  }
  for (int i = 0; i < rs->n; i++) {
    int seen = 0;
    for (int k = 0; k < *n && !seen; k++) seen = strcmp(names[k], rs->r[i].arch) == 0;
    if (seen) continue;
    if (*n >= MAX_ARCHS)
      return sc_fail(err, "%s has more than %d architectures: pick some with --arch", rs->path, MAX_ARCHS);
    snprintf(names[(*n)++], 32, "%s", rs->r[i].arch);
  }
  return 0;
}

/* Draws the charts into a->out and appends their file names to names; without gnuplot it warns on stderr and
 * says why in note, and that is not an error. */
static int draw_plots(const fit_args *a, const arch_fit *fits, int nf, char *names, size_t cap, char *note,
                      size_t note_cap, sc_err *err) {
  char gnuplot[4096];
  sc_err perr;
  perr.msg[0] = '\0';
  if (!sc_gnuplot_find(gnuplot, sizeof gnuplot, &perr)) {
    snprintf(note, note_cap, "no plots: %.900s", perr.msg);
    fprintf(stderr, "scalecl fit: warning: %s; fit.json and isoflop_minima.csv are written\n", perr.msg);
    return 0;
  }
  sc_fit_plot_arch pa[MAX_ARCHS];
  for (int k = 0; k < nf; k++) {
    const arch_fit *f = &fits[k];
    pa[k] = (sc_fit_plot_arch){f->arch, f->lsel.n, f->l_n,    f->l_d,
                               f->l_c,  f->l_loss, &a->lnd,   f->lnd_done ? &f->lnd : NULL,
                               f->i_n,  f->i_d,    f->i_loss, f->iso_done ? &f->iso : NULL};
  }
  char caption[128];
  if (a->ctx)
    snprintf(caption, sizeof caption, "ctx %d", a->ctx);
  else
    snprintf(caption, sizeof caption, "all contexts");
  return sc_fit_plots(gnuplot, a->out, caption, pa, nf, names, cap, err);
}

int cmd_fit(int argc, char **argv, sc_err *err) {
  fit_args a;
  int prc = parse_args(argc, argv, &a, err);
  if (prc) return prc == 1 ? 0 : prc;
  sc_runs rs;
  if (sc_runs_load(a.runs, &rs, err)) return 1;
  char names[MAX_ARCHS][32];
  int nf = 0, rc = 1;
  arch_fit *fits = NULL;
  if (list_archs(&rs, a.arch, names, &nf, err)) goto done;
  fits = sc_calloc((size_t)nf, sizeof *fits, "per-architecture fits", err);
  if (!fits) goto done;
  int any_l = 0, any_i = 0;
  for (int k = 0; k < nf; k++) {
    memcpy(fits[k].arch, names[k], sizeof fits[k].arch);
    if (select_arch(&rs, &a, &fits[k], err)) goto done;
    any_l |= fits[k].lsel.n > 0;
    any_i |= fits[k].isel.n > 0;
  }
  if ((a.methods & METHOD_LND) && !any_l) {
    sc_fail(err, "no runs left for the L(N,D) fit: %s", fits[0].lwhy);
    goto done;
  }
  if ((a.methods & METHOD_ISO) && !any_i) {
    sc_fail(err, "no runs left for the IsoFLOP fit: %s%s", fits[0].iwhy,
            a.methods & METHOD_LND ? " (--method lnd fits L(N,D) alone)" : "");
    goto done;
  }
  for (int k = 0; k < nf; k++)
    if (fit_arch(&a, &fits[k], err)) goto done;
  print_table(&a, &rs, fits, nf);
  if (a.out) {
    char plots[8192] = "", note[1024] = "";
    if (sc_mkdirs(a.out, err) || write_minima_csv(&a, fits, nf, err) ||
        (!a.no_plots && draw_plots(&a, fits, nf, plots, sizeof plots, note, sizeof note, err)) ||
        write_json(&a, &rs, fits, nf, plots, note, err))
      goto done;
    printf("\nwrote %s/fit.json, %s/isoflop_minima.csv%s%s\n", a.out, a.out, plots[0] ? ", charts: " : "", plots);
  }
  rc = 0;
done:
  for (int k = 0; fits && k < nf; k++) free_arch(&fits[k]);
  free(fits);
  sc_runs_free(&rs);
  return rc;
}
