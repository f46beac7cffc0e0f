/* scalecl fit: scaling-law fits of a runs table (IsoFLOP parabolas and power laws, parametric L(N, D),
 * bootstrap intervals), written as a table, fit.json, a CSV of IsoFLOP minima and gnuplot charts. The options
 * are parsed here; the fit is sc_fit_report (fit/report.h). */
#include <math.h>
#include <stdio.h>

#include "base/args.h"
#include "cli/commands.h"
#include "fit/report.h"

static const char *const description =
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
    "Environment: SCALECL_GNUPLOT (gnuplot executable; default gnuplot on PATH).";

/* Options with a word syntax of their own (method, form, starts, window, budgets) are parsed by fit/report's
 * parsers after the table, so that a sweep file can spell them the same way. */
static int parse_args(int argc, char **argv, sc_fit_report_opts *a, sc_err *err) {
  sc_fit_report_opts_default(a);
  const char *method = NULL, *form = NULL, *starts = NULL, *window = NULL, *budgets = NULL;
  long ctx = 0, boot = 0, seed = (long)a->seed, boot_starts = a->lnd.boot_topk, threads = a->lnd.threads;
  int no_lse = 0;
  const sc_option opts[] = {
      {"runs", SC_OPT_INFILE, &a->runs, "FILE.csv",
       .help = "runs table (CSV): arch, n_params, n_tokens, flops, val_loss [, experiment_set, ctx, isoflop_budget]",
       .flags = SC_OPT_REQUIRED},
      {"out", SC_OPT_OUTDIR, &a->out, "DIR",
       .help = "write fit.json, isoflop_minima.csv and the charts (SVG, PNG) here (default: table only)"},
      {"arch", SC_OPT_STRING, &a->archs, "A[,B]",
       .help = "architectures to fit (default: every arch in the file, each fitted separately)"},
      {"ctx", SC_OPT_LONG, &ctx, "N", .help = "only runs with this context length (both methods)", .lo = 1,
       .hi = 1L << 30},
      {"pool-ctx", SC_OPT_FLAG, &a->pool_ctx, NULL,
       .help = "without --ctx, fit runs of several context lengths together (refused otherwise)"},
      {"set", SC_OPT_STRING, &a->set, "NAME",
       .help = "experiment set of the L(N,D) runs: all (default), tokenparam, ..."},
      {"min-ratio", SC_OPT_DOUBLE, &a->ratio_lo, "R", .help = "L(N,D) runs: smallest token/param ratio D/N (inclusive)",
       .lo = 0, .hi = 1e30},
      {"max-ratio", SC_OPT_DOUBLE, &a->ratio_hi, "R", .help = "L(N,D) runs: largest token/param ratio D/N (inclusive)",
       .lo = 0, .hi = INFINITY},
      {"method", SC_OPT_STRING, &method, "M", .help = "both (default), lnd (parametric L(N,D) only) or isoflop"},
      {"form", SC_OPT_STRING, &form, "F",
       .help = "gamma (default: E + (A N^-alpha + B D^-beta)^gamma) or chinchilla (gamma = 1)"},
      {"no-lse", SC_OPT_FLAG, &no_lse, NULL,
       .help = "the reference code's non-LSE 'sum' variant (only to reproduce its reference table)"},
      {"huber", SC_OPT_DOUBLE, &a->lnd.delta, "DELTA", .help = "Huber delta on ln-loss residuals", .lo = 0, .hi = 10,
       .flags = SC_OPT_LO_OPEN},
      {"starts", SC_OPT_STRING, &starts, "K|all",
       .help = "run BFGS from the K grid starts with the lowest objective, or all (default 32)"},
      {"bootstrap", SC_OPT_LONG, &boot, "K", .help = "bootstrap resamples for 95% percentile intervals (0: none)",
       .lo = 0, .hi = 1e6},
      {"seed", SC_OPT_LONG, &seed, "S", .help = "bootstrap seed; results do not depend on --threads", .lo = 0,
       .hi = 2147483647.0},
      {"boot-starts", SC_OPT_LONG, &boot_starts, "K",
       .help = "bootstrap refits start at the full fit plus the K best grid starts", .lo = 0, .hi = 1e6},
      {"window", SC_OPT_STRING, &window, "LO:HI",
       .help = "budgets (mean FLOPs) in the power laws (default 5e18:2e20, the paper's at ctx 8192)"},
      {"budgets", SC_OPT_STRING, &budgets, "C1,C2,..",
       .help = "snap runs to these budgets (+-tol) instead of the isoflop_budget column"},
      {"budget-tol", SC_OPT_DOUBLE, &a->iso.tol, "T", .help = "relative tolerance for budget membership", .lo = 0,
       .hi = 0.5, .flags = SC_OPT_LO_OPEN | SC_OPT_HI_OPEN},
      {"allow-extrapolated", SC_OPT_FLAG, &a->iso.allow_extrapolated, NULL,
       .help = "keep budgets whose parabola vertex lies outside the sampled range"},
      {"approx-loss", SC_OPT_FLAG, &a->approx_loss, NULL,
       .help = "rows without val_loss use the midpoint of val_loss_approx_lo/hi (an estimate)"},
      {"threads", SC_OPT_LONG, &threads, "T", .help = "host threads (default: the online CPUs)", .lo = 1, .hi = 1024},
      {"no-plots", SC_OPT_FLAG, &a->no_plots, NULL, .help = "do not run gnuplot"},
  };
  const sc_args args = {"scalecl fit --runs FILE.csv [filters] [options] [--out DIR]", description, opts,
                        SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  a->ctx = (int)ctx;
  a->bootstrap = (int)boot;
  a->seed = (unsigned long)seed;
  a->lnd.boot_topk = (int)boot_starts;
  a->lnd.threads = (int)threads;
  a->lnd.lse = !no_lse;
  if ((method && sc_fit_parse_methods(method, "--method", &a->methods, err)) ||
      (form && sc_fit_parse_form(form, "--form", &a->lnd.form, err)) ||
      (starts && sc_fit_parse_starts(starts, "--starts", &a->lnd.topk, err)) ||
      (window && sc_fit_parse_window(window, "--window", &a->iso.lo, &a->iso.hi, err)) ||
      (budgets && sc_fit_parse_budgets(budgets, "--budgets", a->budgets, SC_FIT_MAX_BUDGETS, &a->n_budgets, err)))
    return 2;
  if (a->ratio_lo > a->ratio_hi) return sc_fail(err, "--min-ratio is above --max-ratio"), 2;
  if (!a->lnd.lse && a->methods == SC_FIT_ISO) return sc_fail(err, "--no-lse applies to the L(N,D) fit only"), 2;
  return SC_ARGS_RUN;
}

int cmd_fit(int argc, char **argv, sc_err *err) {
  sc_fit_report_opts a;
  const int prc = parse_args(argc, argv, &a, err);
  if (prc != SC_ARGS_RUN) return prc;
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
