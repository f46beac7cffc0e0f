/* The files of sc_fit_report: fit.json (settings, every architecture's fits with their intervals, the charts) and
 * isoflop_minima.csv (one row per IsoFLOP budget), each built in memory and written atomically. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "base/version.h"
#include "fit/report_impl.h"

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

static cJSON *add_bootstrap(cJSON *o, const sc_fit_report_opts *a) {
  cJSON *b = cJSON_AddObjectToObject(o, "bootstrap");
  cJSON_AddNumberToObject(b, "resamples", a->bootstrap);
  cJSON_AddNumberToObject(b, "seed", (double)a->seed);
  return b;
}

static cJSON *lnd_json(const sc_fit_report_opts *a, const sc_fit_arch *f) {
  cJSON *o = cJSON_CreateObject();
  double v[SC_FIT_LND_NVALUES];
  sc_fit_lnd_values(f->lnd.p, v);
  for (int j = 0; j < SC_FIT_LND_NVALUES; j++) cJSON_AddNumberToObject(o, sc_fit_lnd_value_names[j], v[j]);
  cJSON_AddNumberToObject(o, "objective", f->lnd.objective);
  add_selection(o, &f->lsel);
  cJSON_AddStringToObject(o, "form", sc_fit_form_name(a->lnd.form));
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
    cJSON_AddItemToObject(o, "ci95", ci_object(f->lnd_ci, SC_FIT_LND_NVALUES, sc_fit_lnd_value_names));
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

static cJSON *iso_json(const sc_fit_report_opts *a, const sc_fit_arch *f) {
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
  for (const char *s = r->warnings, *l; (l = sc_fit_next_line(&s, &len));) {
    char line[1024];
    snprintf(line, sizeof line, "%.*s", len, l);
    cJSON_AddItemToArray(warn, cJSON_CreateString(line));
  }
  if (a->bootstrap > 0) {
    static const char *const names[SC_FIT_ISO_NVALUES] = {"a", "A", "b", "B"};
    cJSON_AddNumberToObject(add_bootstrap(o, a), "failed_resamples", f->iso_boot_failed);
    cJSON_AddItemToObject(o, "ci95", ci_object(f->iso_ci, SC_FIT_ISO_NVALUES, names));
  }
  return o;
}

int sc_fit_write_json(const sc_fit_report_opts *a, const sc_runs *rs, const sc_fit_arch *fits, int nf,
                      const char *plots, const char *plot_note, sc_err *err) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "tool", "scalecl fit " SCALECL_VERSION);
  /* What produced the file, as in every scalecl JSON; the fit's own options are "settings" below. */
  cJSON_AddItemToObject(root, "scalecl", sc_version_json());
  cJSON_AddItemToObject(root, "environment", sc_settings_json());
  cJSON *s = cJSON_AddObjectToObject(root, "settings");
  cJSON_AddStringToObject(s, "runs", a->runs);
  cJSON_AddNumberToObject(s, "rows", rs->n);
  cJSON_AddStringToObject(s, "methods", sc_fit_methods_name(a->methods));
  if (a->ctx) cJSON_AddNumberToObject(s, "ctx", a->ctx);
  cJSON_AddStringToObject(s, "lnd_set", a->set ? a->set : "all");
  cJSON_AddNumberToObject(s, "min_ratio", a->ratio_lo);
  if (isfinite(a->ratio_hi)) cJSON_AddNumberToObject(s, "max_ratio", a->ratio_hi);
  cJSON_AddStringToObject(s, "form", sc_fit_form_name(a->lnd.form));
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
    const sc_fit_arch *f = &fits[k];
    cJSON *x = cJSON_AddObjectToObject(archs, f->arch);
    if (f->lnd_done)
      cJSON_AddItemToObject(x, "lnd", lnd_json(a, f));
    else if (a->methods & SC_FIT_LND)
      cJSON_AddStringToObject(x, "lnd_skipped", f->lwhy);
    if (f->iso_done)
      cJSON_AddItemToObject(x, "isoflop", iso_json(a, f));
    else if (a->methods & SC_FIT_ISO)
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

int sc_fit_write_minima_csv(const sc_fit_report_opts *a, const sc_fit_arch *fits, int nf, sc_err *err) {
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
