/* scalecl bench fit: wall time of the paper's main parametric fit (gamma form, Huber 1e-3, ctx 8192,
 * token/param runs; one fit per architecture) with the screened start grid, with every grid start, and with
 * bootstrap resamples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/output.h"
#include "base/parallel.h"
#include "base/paths.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "fit/lnd.h"
#include "fit/runs.h"

typedef struct {
  double *x, *y, *z;
  int n;
} bench_data;

static void load_avg(char *out, size_t cap) {
  double l1, l5;
  sc_loadavg2(&l1, &l5);
  snprintf(out, cap, "load average %.2f (1 min), %.2f (5 min) on %d CPUs", l1, l5, sc_cpu_count());
}

static int fit_all(bench_data *d, int narch, const sc_lnd_opts *o, sc_lnd_result *res, sc_err *err) {
  for (int k = 0; k < narch; k++) {
    sc_lnd_data dd = {d[k].x, d[k].y, d[k].z, NULL, d[k].n};
    if (sc_lnd_fit(&dd, o, NULL, &res[k], err)) return -1;
  }
  return 0;
}

enum { C_TEST, C_S, C_SAMPLES = C_S + 3, C_OBJ_T, C_OBJ_X, C_N };
static const sc_col cols[C_N] = {
    {"test", NULL, SC_COL_STR, NULL, 0},
    {"seconds", "s", SC_COL_NUM, "%.3f", 0},
    {"seconds_mean", "s", SC_COL_NUM, "%.3f", 0},
    {"seconds_sd", "s", SC_COL_NUM, "%.3f", 0},
    {"samples", NULL, SC_COL_NUM, NULL, 0},
    {"objective_transformer", NULL, SC_COL_NUM, "%.10g", 0},
    {"objective_xlstm", NULL, SC_COL_NUM, "%.10g", 0},
};

/* One row: a timing over n samples (sorted in place), with the objectives when the row has them. */
static void row(sc_table *t, const char *test, double *times, int n, const sc_lnd_result *res) {
  const sc_stats st = sc_stats_of(times, n);
  sc_table_row(t);
  sc_table_str(t, C_TEST, test);
  sc_bench_cells(t, C_S, sc_figure_time(&st, 1));
  sc_table_num(t, C_SAMPLES, n);
  if (res) sc_table_num(t, C_OBJ_T, res[0].objective), sc_table_num(t, C_OBJ_X, res[1].objective);
}

int bench_fit_main(int argc, char **argv, sc_err *err) {
  sc_output out = {0};
  const char *runs = SCALECL_SOURCE_DIR "/../shared/data/xlstm_scaling_runs.csv";
  long samples = 5, boot = 1000, threads = sc_cpu_count();
  int all = 0;
  const sc_option opts[] = {
      SC_OUTPUT_OPTIONS(&out),
      {"runs", SC_OPT_STRING, &runs, "FILE", .help = "the paper's runs table, xlstm_scaling_runs.csv"},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median of N timed fits with the screened grid", .lo = 1,
       .hi = 1000},
      {"bootstrap", SC_OPT_LONG, &boot, "K", .help = "time K bootstrap resamples per architecture (0 skips)", .lo = 0,
       .hi = 1000000},
      {"all-starts", SC_OPT_FLAG, &all, NULL, .help = "also time BFGS from every one of the 8000 grid starts (slow)"},
      {"threads", SC_OPT_LONG, &threads, "T", .help = "host threads, by default the online CPUs", .lo = 1, .hi = 1024},
  };
  const sc_args args = {
      "scalecl bench fit [--format table|md|csv|json] [--json FILE|-] [--runs FILE] [--samples N] [--bootstrap K]\n"
      "                  [--all-starts] [--threads T]",
      "Times the paper's main L(N,D) fit (gamma form, Huber delta 1e-3, ctx 8192, token/param runs: 31\n"
      "Transformer + 35 xLSTM runs, one fit each) including its start grid: screened (the default of\n"
      "scalecl fit) and, with --all-starts, BFGS from all 8000 starts; then --bootstrap K resamples.\n"
      "Host CPU work only; the machine's load average is printed with the times. Repeated timings report the\n"
      "median with mean and sd.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  if (!sc_is_file(runs))
    return sc_fail(err, "no runs table at %s: pass --runs PATH/xlstm_scaling_runs.csv; " SC_FIT_PAPER_RUNS_HINT, runs),
           1;
  sc_runs rs;
  if (sc_runs_load(runs, &rs, err)) return 1;
  static const char *const archs[2] = {"transformer", "xlstm"};
  bench_data d[2] = {{0}};
  int rc = 1, total = 0;
  double *boot_out = NULL, *times = NULL;
  cJSON *root = NULL;
  sc_table *t = NULL;
  for (int k = 0; k < 2; k++) {
    sc_run_filter f;
    sc_run_filter_init(&f);
    f.arch = archs[k];
    f.ctx = 8192;
    f.set = "tokenparam";
    sc_run_sel sel;
    char why[512];
    if (sc_runs_select(&rs, &f, &sel, why, sizeof why, err)) goto done;
    if (sel.n == 0) {
      sc_run_sel_free(&sel);
      sc_fail(err, "%s: no %s token/param runs at ctx 8192: %s", runs, archs[k], why);
      goto done;
    }
    d[k].n = sel.n;
    d[k].x = sc_malloc((size_t)sel.n * sizeof *d[k].x, "runs", err);
    d[k].y = sc_malloc((size_t)sel.n * sizeof *d[k].y, "runs", err);
    d[k].z = sc_malloc((size_t)sel.n * sizeof *d[k].z, "runs", err);
    if (!d[k].x || !d[k].y || !d[k].z) {
      sc_run_sel_free(&sel);
      goto done;
    }
    for (int i = 0; i < sel.n; i++) {
      const sc_run *r = &rs.r[sel.idx[i]];
      d[k].x[i] = log(r->n), d[k].y[i] = log(r->d), d[k].z[i] = log(sel.loss[i]);
    }
    total += sel.n;
    sc_run_sel_free(&sel);
  }
  sc_lnd_opts o;
  sc_lnd_opts_default(&o);
  o.threads = (int)threads;
  char load[160];
  load_avg(load, sizeof load);
  fprintf(out.human, "main L(N,D) fit: %d runs (transformer %d, xlstm %d), %d grid starts, %ld threads; %s\n", total,
          d[0].n, d[1].n, sc_lnd_grid(&o, -1, NULL), threads, load);
  sc_lnd_result res[2];
  times = sc_malloc((size_t)samples * sizeof *times, "timings", err);
  if (!times || !(t = sc_table_create("results", cols, C_N, err)) || fit_all(d, 2, &o, res, err)) goto done;
  for (long s = 0; s < samples; s++) { /* after the warm-up above */
    double t0 = sc_now();
    if (fit_all(d, 2, &o, res, err)) goto done;
    times[s] = sc_now() - t0;
  }
  row(t, "fit, grid screened, BFGS from 32 starts", times, (int)samples, res);
  if (all) {
    sc_lnd_opts oa = o;
    oa.topk = 0;
    sc_lnd_result ra[2];
    double t0 = sc_now();
    if (fit_all(d, 2, &oa, ra, err)) goto done;
    double el = sc_now() - t0;
    row(t, "fit, BFGS from all grid starts", &el, 1, ra);
  }
  if (boot > 0) {
    boot_out = sc_malloc((size_t)boot * SC_LND_NP * sizeof *boot_out, "bootstrap output", err);
    if (!boot_out) goto done;
    double t0 = sc_now();
    for (int k = 0; k < 2; k++) {
      sc_lnd_data dd = {d[k].x, d[k].y, d[k].z, NULL, d[k].n};
      if (sc_lnd_bootstrap(&dd, &o, res[k].p, (int)boot, 1, boot_out, NULL, err)) goto done;
    }
    double el = sc_now() - t0;
    char label[64];
    snprintf(label, sizeof label, "bootstrap, %ld resamples per architecture", boot);
    row(t, label, &el, 1, NULL);
  }
  if ((root = cJSON_CreateObject())) {
    cJSON_AddStringToObject(root, "runs", runs);
    cJSON_AddNumberToObject(root, "n_runs", total);
    cJSON_AddNumberToObject(root, "threads", (double)threads);
    cJSON_AddStringToObject(root, "load_before", load);
  }
  if (sc_output_emit(&out, root, &t, 1, err)) goto done;
  load_avg(load, sizeof load);
  fprintf(out.human, "after: %s\n", load);
  rc = 0;
done:
  for (int k = 0; k < 2; k++) free(d[k].x), free(d[k].y), free(d[k].z);
  free(boot_out);
  free(times);
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_runs_free(&rs);
  return rc;
}
