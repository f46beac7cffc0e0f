/* scalecl sweep: run, status and report of a sweep file (sweep/). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/args.h"
#include "base/output.h"
#include "base/table.h"
#include "cli/long_run.h"
#include "cli/subcommand.h"
#include "sweep/ledger.h"
#include "sweep/report.h"
#include "sweep/runner.h"

enum { P_ARCH, P_MODEL, P_PARAMS, P_POINT, P_BATCH, P_STEPS, P_TOKENS, P_FLOPS, P_LR, P_ID, P_COUNT };
static const sc_col plan_cols[P_COUNT] = {
    {"arch", NULL, SC_COL_STR, NULL, 0},     {"model", NULL, SC_COL_STR, NULL, 0},
    {"params", NULL, SC_COL_NUM, "%.0f", 0}, {"budget_or_ratio", NULL, SC_COL_NUM, "%.3g", 0},
    {"batch", NULL, SC_COL_NUM, "%.0f", 0},  {"steps", NULL, SC_COL_NUM, "%.0f", 0},
    {"tokens", NULL, SC_COL_NUM, "%.4g", 0}, {"flops", NULL, SC_COL_NUM, "%.4g", 0},
    {"lr", NULL, SC_COL_NUM, "%.3g", 0},     {"run_id", NULL, SC_COL_STR, NULL, 0},
};

/* The expanded runs of a sweep file as a table, without training. */
static int print_plan(const char *file, const char *data, sc_err *err) {
  sc_sweep_spec *s = malloc(sizeof *s);
  sc_sweep_run *runs = NULL;
  int n = 0, left = 0;
  if (!s) return sc_fail(err, "out of host memory");
  if (sc_sweep_load(file, s, err) || sc_sweep_expand(s, data, &runs, &n, &left, err)) {
    free(s);
    return -1;
  }
  sc_table *t = sc_table_create("plan", plan_cols, P_COUNT, err);
  double flops = 0;
  for (int i = 0; t && i < n; i++) {
    const sc_sweep_run *r = &runs[i];
    sc_table_row(t);
    sc_table_str(t, P_ARCH, sc_arch_name(r->arch));
    sc_table_str(t, P_MODEL, r->model);
    sc_table_num(t, P_PARAMS, (double)r->params);
    sc_table_num(t, P_POINT, r->budget > 0 ? r->budget : r->ratio);
    sc_table_num(t, P_BATCH, (double)r->batch);
    sc_table_num(t, P_STEPS, (double)r->steps);
    sc_table_num(t, P_TOKENS, r->tokens);
    sc_table_num(t, P_FLOPS, r->flops);
    sc_table_num(t, P_LR, r->lr);
    sc_table_str(t, P_ID, r->run_id);
    flops += r->flops;
  }
  if (t && sc_table_print(stdout, t, SC_FORMAT_TABLE, err)) {
    sc_table_destroy(t);
    t = NULL;
  }
  printf("%s: %d runs, %.4g training FLOPs in all; %d left out by the budget tolerance or min_steps\n", s->name, n,
         flops, left);
  sc_table_destroy(t);
  sc_sweep_runs_free(runs, n);
  free(s);
  return t ? 0 : -1;
}

static int sweep_run_main(int argc, char **argv, sc_err *err) {
  sc_sweep_opts o = {.workers = 1};
  const char *peak = NULL;
  long workers = 1;
  int retry = 0, quiet = 0, dry = 0;
  const char *pos_v[argc > 0 ? argc : 1];
  sc_strs pos = {pos_v, 0};
  const sc_option opts[] = {
      {"ledger", SC_OPT_STRING, &o.ledger, "DB", .help = "SQLite ledger (default runs/<sweep name>/ledger.db)"},
      {"workers", SC_OPT_LONG, &workers, "N", .help = "worker processes, each training one run at a time", .lo = 1,
       .hi = 64},
      {"device", SC_OPT_STRING, &o.devices, "SEL[,SEL...]", .help = "device of each worker (worker i takes entry i)"},
      {"data", SC_OPT_STRING, &o.data, "SHARDS", .help = "token shards instead of the file's \"data\""},
      {"retry-failed", SC_OPT_FLAG, &retry, NULL, .help = "run failed runs again"},
      {"peak", SC_OPT_STRING, &peak, "FILE|none", .help = "FMA peak for MFU (default: measured once)"},
      {"quiet", SC_OPT_FLAG, &quiet, NULL, .help = "no progress line"},
      {"dry-run", SC_OPT_FLAG, &dry, NULL, .help = "print the runs the file expands to and train nothing"},
  };
  const sc_args args = {
      "scalecl sweep run FILE [--ledger DB] [--workers N] [--device SEL[,SEL...]] [--data SHARDS] [--retry-failed]\n"
      "                       [--peak FILE|none] [--quiet] [--dry-run]",
      "Expands the sweep file into runs, adds the new ones to the ledger, and trains every run that is not done\n"
      "(a run interrupted earlier continues from its checkpoint). Runs train in <ledger dir>/runs/<run_id>/.\n"
      "Ctrl-C finishes the current step of each worker, checkpoints and stops; the same command continues.",
      opts, SC_NOPTS(opts), &pos};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (pos.n != 1) {
    sc_fail(err, "name one sweep file (see sweeps/)");
    return 2;
  }
  o.file = pos.v[0], o.workers = (int)workers, o.retry_failed = retry, o.progress = !quiet && workers == 1;
  if (dry) return print_plan(o.file, o.data, err) ? 1 : 0;
  char first[256] = ""; /* the peak of the first worker's device stands for all */
  if (o.devices) snprintf(first, sizeof first, "%.*s", (int)strcspn(o.devices, ","), o.devices);
  if ((o.peak_gflops = sc_mfu_peak("sweep", peak, o.devices ? first : NULL, err)) < 0) return 1;
  volatile sig_atomic_t *stop = sc_stop_signals_catch();
  sc_sweep_summary s;
  const int rc = sc_sweep_run_all(&o, stop, &s, err);
  sc_stop_signals_release();
  if (rc) return 1;
  printf("sweep: %d runs: %d done, %d failed, %d not finished%s\n", s.total, s.done, s.failed, s.pending,
         s.stopped ? " (stopped; run the same command to continue)" : "");
  return s.failed ? 1 : 0;
}

enum { C_ID, C_ARCH, C_MODEL, C_PARAMS, C_POINT, C_STATUS, C_PROGRESS, C_VAL, C_WALL, C_ETA, C_COUNT };
static const sc_col cols[C_COUNT] = {
    {"run_id", NULL, SC_COL_STR, NULL, 0},
    {"arch", NULL, SC_COL_STR, NULL, 0},
    {"model", NULL, SC_COL_STR, NULL, 0},
    {"params", NULL, SC_COL_NUM, "%.0f", 0},
    {"budget_or_ratio", NULL, SC_COL_NUM, "%.3g", 0},
    {"status", NULL, SC_COL_STR, NULL, 0},
    {"progress_pct", "% of steps", SC_COL_NUM, "%.0f", 0},
    {"val_loss", NULL, SC_COL_NUM, "%.4f", 0},
    {"wall_s", "s", SC_COL_NUM, "%.0f", 0},
    {"eta_s", "s", SC_COL_NUM, "%.0f", 0},
};

static int sweep_status_main(int argc, char **argv, sc_err *err) {
  sc_output out = {0};
  const char *pos_v[argc > 0 ? argc : 1];
  sc_strs pos = {pos_v, 0};
  const sc_option opts[] = {SC_OUTPUT_OPTIONS(&out)};
  const sc_args args = {"scalecl sweep status FILE|DB [--format table|md|csv|json] [--json FILE|-]",
                        "One row per run of the sweep's ledger: state, progress, validation loss, wall time and an\n"
                        "ETA (from the speed of the runs done so far, per FLOP); then totals.",
                        opts, SC_NOPTS(opts), &pos};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (pos.n != 1) {
    sc_fail(err, "name one sweep file or ledger");
    return 2;
  }
  if (sc_output_begin(&out, err)) return 2;
  char ledger[4096];
  sc_ledger *l = NULL;
  sc_ledger_row *r = NULL;
  int n = 0;
  if (sc_sweep_resolve_ledger(pos.v[0], ledger, sizeof ledger, err) || sc_ledger_open(ledger, &l, err) ||
      sc_ledger_rows(l, &r, &n, err)) {
    sc_ledger_close(l);
    return 1;
  }
  sc_ledger_close(l);
  /* Seconds per FLOP of the finished runs, for the ETA of the others. */
  double s_done = 0, f_done = 0, left = 0;
  int counts[4] = {0};
  static const char *const states[4] = {"pending", "running", "done", "failed"};
  for (int i = 0; i < n; i++) {
    if (!strcmp(r[i].status, "done") && isfinite(r[i].wall_s)) s_done += r[i].wall_s, f_done += r[i].flops;
    for (int k = 0; k < 4; k++) counts[k] += !strcmp(r[i].status, states[k]);
  }
  const double spf = f_done > 0 ? s_done / f_done : NAN;
  sc_table *t = sc_table_create("runs", cols, C_COUNT, err);
  int rc = !t;
  for (int i = 0; !rc && i < n; i++) {
    sc_table_row(t);
    sc_table_str(t, C_ID, r[i].run_id);
    sc_table_str(t, C_ARCH, r[i].arch);
    sc_table_str(t, C_MODEL, r[i].model);
    sc_table_num(t, C_PARAMS, (double)r[i].params);
    sc_table_num(t, C_POINT, r[i].budget > 0 ? r[i].budget : r[i].ratio);
    sc_table_str(t, C_STATUS, r[i].status);
    const double frac = !strcmp(r[i].status, "done") ? 1 : r[i].steps ? (double)r[i].step / (double)r[i].steps : 0;
    sc_table_num(t, C_PROGRESS, 100 * frac);
    if (isfinite(r[i].val_loss)) sc_table_num(t, C_VAL, r[i].val_loss);
    if (isfinite(r[i].wall_s)) sc_table_num(t, C_WALL, r[i].wall_s);
    if (strcmp(r[i].status, "done") && strcmp(r[i].status, "failed") && isfinite(spf)) {
      sc_table_num(t, C_ETA, spf * r[i].flops * (1 - frac));
      left += spf * r[i].flops * (1 - frac);
    }
  }
  if (!rc) {
    fprintf(out.human, "ledger %s: %d runs: %d done, %d running, %d pending, %d failed", ledger, n, counts[2],
            counts[1], counts[0], counts[3]);
    if (isfinite(spf) && left > 0) fprintf(out.human, "; about %.0f s of training left (one worker)", left);
    fprintf(out.human, "\n");
    rc = sc_output_emit(&out, NULL, &t, 1, err);
  }
  sc_table_destroy(t);
  free(r);
  return rc ? 1 : 0;
}

static int sweep_report_main(int argc, char **argv, sc_err *err) {
  sc_sweep_report_opts o = {.bootstrap = 200};
  long boot = 200;
  int no_plots = 0;
  const char *pos_v[argc > 0 ? argc : 1];
  sc_strs pos = {pos_v, 0};
  const sc_option opts[] = {
      {"out", SC_OPT_OUTDIR, &o.out, "DIR", .help = "report directory", .flags = SC_OPT_REQUIRED},
      {"bootstrap", SC_OPT_LONG, &boot, "K", .help = "bootstrap resamples for the intervals (0: none)", .lo = 0,
       .hi = 100000},
      {"no-plots", SC_OPT_FLAG, &no_plots, NULL, .help = "no charts"},
  };
  const sc_args args = {
      "scalecl sweep report FILE|DB --out DIR [--bootstrap K] [--no-plots]",
      "Writes DIR/runs.csv (the finished runs with the columns of the paper's xlstm_scaling_runs.csv), the fits of\n"
      "every architecture (DIR/fit: IsoFLOP parabolas, N*(C) and D*(C) with intervals, L(N,D), Pareto frontier,\n"
      "charts as SVG and PNG), loss curves, and DIR/report.md comparing the architectures.",
      opts, SC_NOPTS(opts), &pos};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (pos.n != 1) {
    sc_fail(err, "name one sweep file or ledger");
    return 2;
  }
  char ledger[4096];
  if (sc_sweep_resolve_ledger(pos.v[0], ledger, sizeof ledger, err)) return 1;
  o.ledger = ledger, o.bootstrap = (int)boot, o.no_plots = no_plots;
  if (sc_sweep_report(&o, err)) return 1;
  printf("report: %s/report.md\n", o.out);
  return 0;
}

int cmd_sweep(int argc, char **argv, sc_err *err) {
  static const sc_topic topics[] = {
      {"run", sweep_run_main, "train every run of a sweep file, recorded in a durable SQLite ledger"},
      {"status", sweep_status_main, "state, progress and ETA of a sweep's runs"},
      {"report", sweep_report_main, "runs table, scaling-law fits, charts and report.md of a sweep"},
  };
  return sc_dispatch_topic("sweep", topics, (int)(sizeof topics / sizeof topics[0]), argc, argv, err);
}
