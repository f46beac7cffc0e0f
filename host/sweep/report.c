#include "sweep/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "fit/report.h"
#include "sweep/ledger.h"
#include "train/curves.h"

/* The paper's table calls the Llama-style baseline "transformer". */
static const char *table_arch(const char *arch) {
  return strcmp(arch, "llama") ? arch : "transformer";
}

static void cell(FILE *f, double v, const char *fmt) {
  if (isfinite(v)) fprintf(f, fmt, v);
}

static int write_runs_csv(const char *path, const char *ledger, const sc_ledger_row *r, int n, sc_err *err) {
  FILE *f = fopen(path, "w");
  if (!f) return sc_fail(err, "cannot write %s", path);
  fprintf(f,
          "arch,experiment_set,ctx,n_params,n_tokens,flops,val_loss,val_loss_source,val_loss_approx_lo,"
          "val_loss_approx_hi,isoflop_budget,n_layers,d_model,n_heads,head_dim,lr,batch_seqs,train_steps,run_name,"
          "run_id,run_tag,row_source,notes\n");
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].status, "done") || !isfinite(r[i].val_loss)) continue;
    fprintf(f, "%s,%s,%lld,%lld,%.17g,%.17g,%.17g,scalecl,,,", table_arch(r[i].arch), r[i].kind, (long long)r[i].ctx,
            (long long)r[i].params, r[i].tokens, r[i].flops, r[i].val_loss);
    if (r[i].budget > 0) cell(f, r[i].budget, "%.6g");
    fprintf(f, ",%lld,%lld,%lld,%lld,%.6g,%lld,%lld,%s,%s,,\"%s\",\n", (long long)r[i].n_layers,
            (long long)r[i].d_model, (long long)r[i].n_heads, (long long)r[i].head_dim, r[i].lr, (long long)r[i].batch,
            (long long)r[i].steps, r[i].model, r[i].run_id, ledger);
  }
  const int bad = ferror(f);
  if (fclose(f) != 0 || bad) return sc_fail(err, "write error on %s (disk full?)", path);
  return 0;
}

static void ci(FILE *f, const double v[2]) {
  if (isfinite(v[0]) && isfinite(v[1])) fprintf(f, " [%.3f, %.3f]", v[0], v[1]);
}

int sc_sweep_report(const sc_sweep_report_opts *o, sc_err *err) {
  sc_ledger *l = NULL;
  sc_ledger_row *rows = NULL;
  int n = 0;
  if (sc_mkdirs(o->out, err) || sc_ledger_open(o->ledger, &l, err) || sc_ledger_rows(l, &rows, &n, err)) {
    sc_ledger_close(l);
    return -1;
  }
  sc_ledger_close(l);
  char csv[4200], md[4200], fitdir[4200];
  snprintf(csv, sizeof csv, "%s/runs.csv", o->out);
  snprintf(md, sizeof md, "%s/report.md", o->out);
  snprintf(fitdir, sizeof fitdir, "%s/fit", o->out);
  int rc = write_runs_csv(csv, o->ledger, rows, n, err);
  int done = 0, failed = 0, open = 0;
  double wall = 0;
  for (int i = 0; i < n; i++) {
    done += !strcmp(rows[i].status, "done");
    failed += !strcmp(rows[i].status, "failed");
    open += !strcmp(rows[i].status, "pending") || !strcmp(rows[i].status, "running");
    if (isfinite(rows[i].wall_s)) wall += rows[i].wall_s;
  }
  /* The fit: its table goes into the report; a fit that cannot run (too few runs) is reported, not fatal. */
  char *fit_text = NULL;
  size_t fit_len = 0;
  FILE *ft = open_memstream(&fit_text, &fit_len);
  sc_fit_report_opts fo;
  sc_fit_report_opts_default(&fo);
  fo.runs = csv, fo.out = fitdir, fo.bootstrap = o->bootstrap, fo.no_plots = o->no_plots;
  fo.iso.lo = 0, fo.iso.hi = INFINITY; /* every budget of the sweep enters the power laws */
  sc_fit_report_result *res = calloc(1, sizeof *res);
  sc_err fit_err = {0};
  int fit_ok = 0;
  if (!rc && (!ft || !res)) rc = sc_fail(err, "out of host memory");
  if (!rc) fit_ok = sc_mkdirs(fitdir, &fit_err) == 0 && sc_fit_report(&fo, ft, res, &fit_err) == 0;
  if (ft) fclose(ft);
  /* Loss curves, one chart per architecture. */
  char curves[2][2][64]; /* per architecture: the SVG and the PNG */
  int n_curves = 0;
  const char *archs[2] = {"xlstm", "llama"};
  const char **dirs = calloc((size_t)(n ? n : 1), sizeof *dirs);
  for (int a = 0; !rc && !o->no_plots && dirs && a < 2; a++) {
    int k = 0;
    for (int i = 0; i < n; i++)
      if (!strcmp(rows[i].status, "done") && !strcmp(rows[i].arch, archs[a])) dirs[k++] = rows[i].run_dir;
    if (!k) continue;
    for (int e = 0; e < 2; e++) {
      char path[4300];
      snprintf(curves[n_curves][e], sizeof curves[0][0], "curves_%s.%s", archs[a], e ? "png" : "svg");
      snprintf(path, sizeof path, "%s/%s", o->out, curves[n_curves][e]);
      sc_err why = {0};
      if (sc_plot_curves(dirs, k, SC_CURVES_FLOPS, path, &why)) {
        fprintf(stderr, "sweep report: loss curves of %s not drawn: %s\n", archs[a], why.msg);
        k = 0;
        break;
      }
    }
    if (k) n_curves++;
  }
  free(dirs);
  FILE *f = rc ? NULL : fopen(md, "w");
  if (!rc && !f) rc = sc_fail(err, "cannot write %s", md);
  if (!rc) {
    fprintf(f,
            "# Sweep report\n\nLedger `%s`: %d runs, %d done, %d failed, %d not finished; %.1f minutes of training "
            "in all.\nRuns table: [runs.csv](runs.csv) (the columns of the paper's `xlstm_scaling_runs.csv`; "
            "`scalecl fit runs.csv` reads it).\n\n",
            o->ledger, n, done, failed, open, wall / 60);
    fprintf(f,
            "## Runs\n\n| arch | model | params | budget / ratio | tokens | FLOPs | val loss | status |\n"
            "| --- | --- | --: | --: | --: | --: | --: | --- |\n");
    for (int i = 0; i < n; i++) {
      fprintf(f, "| %s | %s | %lld | ", rows[i].arch, rows[i].model, (long long)rows[i].params);
      if (rows[i].budget > 0)
        fprintf(f, "%.3g FLOPs", rows[i].budget);
      else
        fprintf(f, "%.3g tok/param", rows[i].ratio);
      fprintf(f, " | %.4g | %.4g | ", rows[i].tokens, rows[i].flops);
      cell(f, rows[i].val_loss, "%.4f");
      fprintf(f, " | %s%s%s |\n", rows[i].status, rows[i].error[0] ? ": " : "", rows[i].error);
    }
    fprintf(f, "\n## Fits\n\n");
    if (!fit_ok) {
      fprintf(f, "The fit did not run: %s\n\n", fit_err.msg);
    } else {
      fprintf(f,
              "| arch | N*(C) exponent a | D*(C) exponent b | L(N,D): E | alpha | beta |\n"
              "| --- | --- | --- | --: | --: | --: |\n");
      for (int a = 0; a < res->narch; a++) {
        const sc_fit_report_arch *x = &res->arch[a];
        fprintf(f, "| %s | ", x->arch);
        if (x->iso_done && isfinite(x->n_law.exponent)) {
          fprintf(f, "%.3f", x->n_law.exponent);
          ci(f, x->iso_ci[0]);
        } else {
          fprintf(f, "-");
        }
        fprintf(f, " | ");
        if (x->iso_done && isfinite(x->d_law.exponent)) {
          fprintf(f, "%.3f", x->d_law.exponent);
          ci(f, x->iso_ci[2]);
        } else {
          fprintf(f, "-");
        }
        if (x->lnd_done)
          fprintf(f, " | %.3f | %.3f | %.3f |\n", x->lnd_values[SC_FIT_BIG_E], x->lnd_values[SC_LND_ALPHA],
                  x->lnd_values[SC_LND_BETA]);
        else
          fprintf(f, " | - | - | - |\n");
      }
      fprintf(f, "\nIntervals: 95%% bootstrap percentiles over %d resamples. The whole fit:\n\n```\n%s```\n\n",
              o->bootstrap, fit_text ? fit_text : "");
      if (res->plots_warning[0]) fprintf(f, "Charts: %s\n\n", res->plots_warning);
      char plots[8192];
      snprintf(plots, sizeof plots, "%s", res->plots);
      for (char *p = strtok(plots, " "); p; p = strtok(NULL, " "))
        if (strstr(p, ".svg")) fprintf(f, "![%s](fit/%s) ([PNG](fit/%.*s.png))\n\n", p, p, (int)(strlen(p) - 4), p);
    }
    fprintf(f, "## Loss curves\n\n");
    for (int c = 0; c < n_curves; c++)
      fprintf(f, "![%s](%s) ([PNG](%s))\n\n", curves[c][0], curves[c][0], curves[c][1]);
    const int bad = ferror(f);
    if (fclose(f) != 0 || bad) rc = sc_fail(err, "write error on %s", md);
  }
  free(fit_text);
  free(res);
  free(rows);
  return rc;
}
