/* scalecl fit: scaling-law fits of a runs table (IsoFLOP parabolas and power laws, parametric L(N, D),
 * bootstrap intervals), written as a table, fit.json, a CSV of IsoFLOP minima and gnuplot charts. The options
 * are parsed here; the fit is sc_fit_report (fit/report.h). */
#include <stdio.h>

#include "base/args.h"
#include "cli/commands.h"
#include "fit/report.h"

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

static int parse_args(int argc, char **argv, sc_fit_report_opts *a, sc_err *err) {
  sc_fit_report_opts_default(a);
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
        a->archs = s;
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
        if (sc_fit_parse_methods(s, "--method", &a->methods, err)) return 2;
        break;
      case O_FORM:
        if (sc_fit_parse_form(s, "--form", &a->lnd.form, err)) return 2;
        break;
      case O_NOLSE:
        a->lnd.lse = 0;
        break;
      case O_HUBER:
        if (sc_parse_double(s, "--huber", &a->lnd.delta, err)) return 2;
        if (!(a->lnd.delta > 0)) return sc_fail(err, "--huber must be positive, got %s", s), 2;
        break;
      case O_STARTS:
        if (sc_fit_parse_starts(s, "--starts", &a->lnd.topk, err)) return 2;
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
      case O_WINDOW:
        if (sc_fit_parse_window(s, "--window", &a->iso.lo, &a->iso.hi, err)) return 2;
        break;
      case O_BUDGETS:
        if (sc_fit_parse_budgets(s, "--budgets", a->budgets, SC_FIT_MAX_BUDGETS, &a->n_budgets, err)) return 2;
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
  if (!a->lnd.lse && a->methods == SC_FIT_ISO) return sc_fail(err, "--no-lse applies to the L(N,D) fit only"), 2;
  return 0;
}

int cmd_fit(int argc, char **argv, sc_err *err) {
  sc_fit_report_opts a;
  int prc = parse_args(argc, argv, &a, err);
  if (prc) return prc == 1 ? 0 : prc;
  sc_fit_report_result res;
  int rc = sc_fit_report(&a, stdout, &res, err);
  if (res.plots_warning[0])
    fprintf(stderr, "scalecl fit: warning: %s; fit.json and isoflop_minima.csv are written\n", res.plots_warning);
  if (rc) return 1;
  if (a.out)
    printf("\nwrote %s/fit.json, %s/isoflop_minima.csv%s%s\n", a.out, a.out, res.plots[0] ? ", charts: " : "",
           res.plots);
  return 0;
}
