/* sc_fit_report: the runs of each architecture selected, the L(N, D) and IsoFLOP fits with their bootstrap
 * intervals, the table, and the charts; fit.json and the minima CSV are written by report_files.c. */
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/gnuplot.h"
#include "fit/plots.h"
#include "fit/report_impl.h"

void sc_fit_ci95(double *v, int n, double *lo, double *hi) {
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) v[m++] = v[i];
  *lo = *hi = NAN;
  if (m < 2) return;
  gsl_sort(v, 1, (size_t)m);
  *lo = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.025);
  *hi = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.975);
}

const char *const sc_fit_lnd_value_names[SC_FIT_LND_NVALUES] = {"a", "b", "e", "alpha",   "beta",   "gamma",
                                                                "A", "B", "E", "alloc_a", "alloc_b"};

void sc_fit_lnd_values(const double *p, double *v) {
  for (int k = 0; k < SC_LND_NP; k++) v[k] = p[k];
  v[SC_FIT_BIG_A] = exp(p[SC_LND_A]);
  v[SC_FIT_BIG_B] = exp(p[SC_LND_B]);
  v[SC_FIT_BIG_E] = exp(p[SC_LND_E]);
  /* Compute-optimal allocation exponents under C proportional to N D: N* ~ C^(beta/(alpha+beta)). */
  v[SC_FIT_ALLOC_A] = p[SC_LND_BETA] / (p[SC_LND_ALPHA] + p[SC_LND_BETA]);
  v[SC_FIT_ALLOC_B] = p[SC_LND_ALPHA] / (p[SC_LND_ALPHA] + p[SC_LND_BETA]);
}

static int select_arch(const sc_runs *rs, const sc_fit_report_opts *a, sc_fit_arch *f, sc_err *err) {
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

static void free_arch(sc_fit_arch *f) {
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
    sc_fit_ci95(v, k, &ci[j][0], &ci[j][1]);
  }
  free(v);
  return 0;
}

/* Bootstrap refits of the L(N,D) fit and the intervals of every derived value. */
static int lnd_bootstrap(const sc_fit_report_opts *a, sc_fit_arch *f, const sc_lnd_data *d, sc_err *err) {
  const int k = a->bootstrap;
  double *p = sc_malloc((size_t)k * SC_LND_NP * sizeof *p, "bootstrap fits", err);
  double *v = sc_malloc((size_t)k * SC_FIT_LND_NVALUES * sizeof *v, "bootstrap fits", err);
  int rc = -1;
  if (!p || !v) goto done;
  double t0 = sc_now();
  sc_progress prog;
  char what[96];
  snprintf(what, sizeof what, "fit: %s L(N,D) bootstrap", f->arch);
  sc_progress_begin(&prog, what, k);
  sc_lnd_opts o = a->lnd;
  o.progress = &prog;
  const int brc = sc_lnd_bootstrap(d, &o, f->lnd.p, k, a->seed, p, NULL, err);
  sc_progress_end(&prog);
  if (brc) {
    sc_wrap(err, "%s L(N,D) bootstrap: ", f->arch);
    goto done;
  }
  f->boot_seconds = sc_now() - t0;
  for (int s = 0; s < k; s++) sc_fit_lnd_values(p + (size_t)s * SC_LND_NP, v + (size_t)s * SC_FIT_LND_NVALUES);
  rc = boot_cis(v, k, SC_FIT_LND_NVALUES, f->lnd_ci, err);
  if (a->lnd.form != SC_FORM_GAMMA) f->lnd_ci[SC_LND_GAMMA][0] = f->lnd_ci[SC_LND_GAMMA][1] = NAN; /* fixed at 1 */
done:
  free(p);
  free(v);
  return rc;
}

static int fit_arch(const sc_fit_report_opts *a, sc_fit_arch *f, sc_err *err) {
  for (int j = 0; j < SC_FIT_LND_NVALUES; j++) f->lnd_ci[j][0] = f->lnd_ci[j][1] = NAN;
  for (int j = 0; j < SC_FIT_ISO_NVALUES; j++) f->iso_ci[j][0] = f->iso_ci[j][1] = NAN;
  if ((a->methods & SC_FIT_LND) && f->lsel.n > 0) {
    sc_lnd_data d = {f->ln_n, f->ln_d, f->ln_l, NULL, f->lsel.n};
    double t0 = sc_now();
    if (sc_lnd_fit(&d, &a->lnd, NULL, &f->lnd, err)) return sc_wrap(err, "%s L(N,D) fit: ", f->arch);
    f->lnd_seconds = sc_now() - t0;
    f->lnd_done = 1;
    if (a->bootstrap > 0 && lnd_bootstrap(a, f, &d, err)) return -1;
  }
  if ((a->methods & SC_FIT_ISO) && f->isel.n > 0) {
    /* The budget column counts only where it labels some of these runs; otherwise budgets are clustered. */
    int labelled = 0;
    for (int i = 0; i < f->isel.n; i++) labelled |= f->i_budget[i] > 0;
    if (sc_iso_fit(f->i_n, f->i_d, f->i_c, f->i_loss, labelled ? f->i_budget : NULL, f->isel.n, &a->iso, &f->iso, err))
      return sc_wrap(err, "%s IsoFLOP fit: ", f->arch);
    f->iso_done = 1;
    if (a->bootstrap > 0) {
      double *v = sc_malloc((size_t)a->bootstrap * SC_FIT_ISO_NVALUES * sizeof *v, "bootstrap fits", err);
      if (!v) return -1;
      int rc = sc_iso_bootstrap(f->i_n, f->i_d, f->i_loss, &f->iso, a->bootstrap, a->seed, v, &f->iso_boot_failed, err)
                   ? sc_wrap(err, "%s IsoFLOP bootstrap: ", f->arch)
                   : boot_cis(v, a->bootstrap, SC_FIT_ISO_NVALUES, f->iso_ci, err);
      free(v);
      if (rc) return -1;
    }
  }
  return 0;
}

const char *sc_fit_next_line(const char **s, int *len) {
  if (!**s) return NULL;
  const char *line = *s, *e = strchr(line, '\n');
  *len = e ? (int)(e - line) : (int)strlen(line);
  *s = line + *len + (e ? 1 : 0);
  return line;
}

static void print_table(FILE *out, const sc_fit_report_opts *a, const sc_runs *rs, const sc_fit_arch *fits, int nf,
                        const char *contexts) {
  fprintf(out, "scalecl fit: %s (%d rows)", a->runs, rs->n);
  if (a->ctx) fprintf(out, ", ctx %d", a->ctx);
  if (!a->ctx && a->pool_ctx) fprintf(out, ", contexts pooled: %s", contexts);
  fprintf(out, "\n");
  if (a->methods & SC_FIT_LND) {
    int ngrid = sc_lnd_grid(&a->lnd, -1, NULL);
    fprintf(out,
            "\nL(N,D) = E + (A N^-alpha + B D^-beta)^gamma [%s form%s], sum of Huber(delta=%g) on ln L, "
            "BFGS from %d of %d grid starts\n  runs: set %s, D/N in [%g, %g]%s\n",
            sc_fit_form_name(a->lnd.form), a->lnd.lse ? "" : ", non-LSE 'sum' variant", a->lnd.delta,
            a->lnd.topk > 0 && a->lnd.topk < ngrid ? a->lnd.topk : ngrid, ngrid, a->set ? a->set : "all", a->ratio_lo,
            a->ratio_hi, a->approx_loss ? ", approximate losses allowed" : "");
    fprintf(out, "%-12s %5s %7s %9s %9s %9s %9s %9s %9s %10s %10s %8s %13s %8s %7s\n", "arch", "runs", "skipped", "a",
            "b", "e", "alpha", "beta", "gamma", "A", "B", "E", "objective", "at-best", "time");
    for (int k = 0; k < nf; k++) {
      const sc_fit_arch *f = &fits[k];
      if (!f->lnd_done) {
        fprintf(out, "%-12s %5d %7d  (no L(N,D) runs: %s)\n", f->arch, 0, f->lsel.n_missing, f->lwhy);
        continue;
      }
      const double *p = f->lnd.p;
      fprintf(out, "%-12s %5d %7d %9.5f %9.5f %9.5f %9.6f %9.6f %9.6f %10.4g %10.4g %8.5f %13.7e %4d/%-3d %6.2fs\n",
              f->arch, f->lsel.n, f->lsel.n_missing, p[0], p[1], p[2], p[3], p[4], p[5], exp(p[0]), exp(p[1]),
              exp(p[2]), f->lnd.objective, f->lnd.n_at_best, f->lnd.n_optimized, f->lnd_seconds);
      if (f->lsel.n_approx) fprintf(out, "  (%d of these runs use an approximate loss)\n", f->lsel.n_approx);
      if (a->bootstrap > 0) {
        fprintf(out, "  95%% CI (%d resamples, %.1fs):", a->bootstrap, f->boot_seconds);
        for (int j = 0; j < SC_FIT_LND_NVALUES; j++)
          if (isfinite(f->lnd_ci[j][0]))
            fprintf(out, "%s %s [%.4g, %.4g]", j == 0 ? "" : (j % 4 == 0 ? "\n   " : ","), sc_fit_lnd_value_names[j],
                    f->lnd_ci[j][0], f->lnd_ci[j][1]);
        fprintf(out, "\n");
      }
    }
    if (a->bootstrap > 0)
      fprintf(out, "  alloc_a = beta/(alpha+beta) and alloc_b = alpha/(alpha+beta): the exponents of N*(C) and D*(C) "
                   "that the fitted L(N,D) implies when C is proportional to N D\n");
  }
  if (a->methods & SC_FIT_ISO) {
    fprintf(out,
            "\nIsoFLOP: parabolas of loss in log10 N and log10 D per budget; power laws over budgets with mean FLOPs "
            "in [%g, %g]\n",
            a->iso.lo, a->iso.hi);
    fprintf(out, "%-12s %9s %11s %5s %12s %12s %8s %-9s %-9s %s\n", "arch", "budget", "C (mean)", "runs", "N*", "D*",
            "L*", "N vertex", "D vertex", "in laws");
    for (int k = 0; k < nf; k++) {
      const sc_fit_arch *f = &fits[k];
      if (!f->iso_done) {
        fprintf(out, "%-12s  (no IsoFLOP runs: %s)\n", f->arch, f->iwhy);
        continue;
      }
      if (f->iso.n_unassigned) fprintf(out, "%-12s  (%d runs belong to no budget)\n", f->arch, f->iso.n_unassigned);
      for (int j = 0; j < f->iso.nb; j++) {
        const sc_iso_budget *b = &f->iso.b[j];
        static const char *const st[] = {"ok", "concave", "outside", "too-few"};
        fprintf(out, "%-12s %9.3g %11.4g %5d %12.4g %12.4g %8.4f %-9s %-9s %s\n", f->arch, b->nominal, b->flops, b->n,
                pow(10, b->pn.x_star), pow(10, b->pd.x_star), b->pn.l_star, st[b->pn.status], st[b->pd.status],
                b->used_n && b->used_d ? "N*, D*"
                : b->used_n            ? "N*"
                : b->used_d            ? "D*"
                                       : "-");
      }
      if (f->isel.n_missing || f->isel.n_approx)
        fprintf(out, "  (%d runs without a loss skipped; %d runs use an approximate loss)\n", f->isel.n_missing,
                f->isel.n_approx);
    }
    fprintf(out, "\npower laws N* = A' C^a, D* = B' C^b (least squares on ln N*, ln D* against ln C):\n");
    fprintf(out, "%-12s %9s %9s %11s %9s %9s %11s %8s %s\n", "arch", "a", "se(a)", "A'", "b", "se(b)", "B'", "budgets",
            a->bootstrap ? "95% CI a; b" : "");
    for (int k = 0; k < nf; k++) {
      const sc_fit_arch *f = &fits[k];
      if (!f->iso_done) continue;
      fprintf(out, "%-12s %9.6f %9.4f %11.5g %9.6f %9.4f %11.5g %4d/%-3d", f->arch, f->iso.n_law.exponent,
              f->iso.n_law.se_exponent, f->iso.n_law.prefactor, f->iso.d_law.exponent, f->iso.d_law.se_exponent,
              f->iso.d_law.prefactor, f->iso.n_law.n_points, f->iso.d_law.n_points);
      const double(*ci)[2] = f->iso_ci;
      if (isfinite(ci[0][0]) && isfinite(ci[2][0]))
        fprintf(out, " [%.4f, %.4f]; [%.4f, %.4f]", ci[0][0], ci[0][1], ci[2][0], ci[2][1]);
      fprintf(out, "\n");
    }
    for (int k = 0; k < nf; k++) {
      const sc_fit_arch *f = &fits[k];
      if (!f->iso_done || !f->iso.warnings[0]) continue;
      fprintf(out, "warnings (%s):\n", f->arch);
      int len;
      for (const char *s = f->iso.warnings, *line; (line = sc_fit_next_line(&s, &len));)
        fprintf(out, "  %.*s\n", len, line);
      int few = 0;
      for (int b = 0; b < f->iso.nb; b++) few += f->iso.b[b].n < a->iso.min_points;
      if (few && rs->has_approx && !a->approx_loss && f->isel.n_missing)
        fprintf(out,
                "  hint: %d budget%s had too few runs with an exact loss; %d runs have only an approximate loss, and "
                "--approx-loss would fit them at the middle of their interval (flagged as estimates)\n",
                few, few == 1 ? "" : "s", f->isel.n_missing);
    }
  }
}

static int list_archs(const sc_runs *rs, const char *spec, char names[][32], int *n, sc_err *err) {
  *n = 0;
  if (spec) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (*n >= SC_FIT_MAX_ARCHS) return sc_fail(err, "--arch: at most %d architectures", SC_FIT_MAX_ARCHS);
      if (strlen(t) >= 32) return sc_fail(err, "--arch: name '%s' is too long", t);
      snprintf(names[(*n)++], 32, "%s", t);
    }
    return *n ? 0 : sc_fail(err, "--arch: empty list");
  }
  for (int i = 0; i < rs->n; i++) {
    int seen = 0;
    for (int k = 0; k < *n && !seen; k++) seen = strcmp(names[k], rs->r[i].arch) == 0;
    if (seen) continue;
    if (*n >= SC_FIT_MAX_ARCHS)
      return sc_fail(err, "%s has more than %d architectures: pick some with --arch", rs->path, SC_FIT_MAX_ARCHS);
    snprintf(names[(*n)++], 32, "%s", rs->r[i].arch);
  }
  return 0;
}

/* Draws the charts into a->out and appends their file names to res->plots; without gnuplot it says why in
 * res->plots_warning, and that is not an error. */
static int draw_plots(const sc_fit_report_opts *a, const sc_fit_arch *fits, int nf, sc_fit_report_result *res,
                      sc_err *err) {
  char gnuplot[4096];
  sc_err perr;
  if (!sc_gnuplot_find(gnuplot, sizeof gnuplot, &perr)) {
    snprintf(res->plots_warning, sizeof res->plots_warning, "%s", perr.msg);
    return 0;
  }
  sc_fit_plot_arch pa[SC_FIT_MAX_ARCHS];
  for (int k = 0; k < nf; k++) {
    const sc_fit_arch *f = &fits[k];
    pa[k] = (sc_fit_plot_arch){f->arch, f->lsel.n, f->l_n,    f->l_d,
                               f->l_c,  f->l_loss, &a->lnd,   f->lnd_done ? &f->lnd : NULL,
                               f->i_n,  f->i_d,    f->i_loss, f->iso_done ? &f->iso : NULL};
  }
  char caption[128];
  if (a->ctx)
    snprintf(caption, sizeof caption, "ctx %d", a->ctx);
  else
    snprintf(caption, sizeof caption, "all contexts");
  const char *set = a->set && strcmp(a->set, "all") ? a->set : NULL;
  return sc_fit_plots(gnuplot, a->out, caption, set, pa, nf, res->plots, sizeof res->plots, err);
}

static int write_outputs(const sc_fit_report_opts *a, const sc_runs *rs, const sc_fit_arch *fits, int nf,
                         sc_fit_report_result *res, sc_err *err) {
  if (sc_mkdirs(a->out, err) || sc_fit_write_minima_csv(a, fits, nf, err) ||
      (!a->no_plots && draw_plots(a, fits, nf, res, err)))
    return -1;
  char note[1024] = "";
  if (res->plots_warning[0]) snprintf(note, sizeof note, "no plots: %.900s", res->plots_warning);
  return sc_fit_write_json(a, rs, fits, nf, res->plots, note, err);
}

static void summarize(const sc_fit_arch *f, sc_fit_report_arch *s) {
  snprintf(s->arch, sizeof s->arch, "%s", f->arch);
  s->lnd_done = f->lnd_done;
  s->lnd = f->lnd;
  if (f->lnd_done) sc_fit_lnd_values(f->lnd.p, s->lnd_values);
  memcpy(s->lnd_ci, f->lnd_ci, sizeof s->lnd_ci);
  s->iso_done = f->iso_done;
  if (f->iso_done) s->n_law = f->iso.n_law, s->d_law = f->iso.d_law;
  memcpy(s->iso_ci, f->iso_ci, sizeof s->iso_ci);
}

/* Runs at different context lengths follow different laws: fitting them together silently moved the paper's
 * Transformer D* exponent from 0.424 to 0.308. Without --ctx, several contexts are an error unless pooling was
 * asked for. Writes the contexts present ("2048 (107 runs), 8192 (240 runs)") to list. */
static int check_contexts(const sc_runs *rs, const sc_fit_report_opts *a, char *list, size_t cap, sc_err *err) {
  enum { MAX_CTX = 32 };
  int ctx[MAX_CTX], count[MAX_CTX], n = 0;
  list[0] = '\0';
  if (!rs->has_ctx || a->ctx) return 0;
  for (int i = 0; i < rs->n; i++) {
    int k = 0;
    while (k < n && ctx[k] != rs->r[i].ctx) k++;
    if (k == n && n == MAX_CTX) continue;
    if (k == n) ctx[n] = rs->r[i].ctx, count[n++] = 0;
    count[k]++;
  }
  size_t used = 0;
  for (int k = 0; k < n && used < cap; k++)
    used += (size_t)snprintf(list + used, cap - used, "%s%d (%d run%s)", k ? ", " : "", ctx[k], count[k],
                             count[k] == 1 ? "" : "s");
  if (n > 1 && !a->pool_ctx)
    return sc_fail(err,
                   "%s holds runs at %d context lengths: %s. Runs at different contexts follow different scaling "
                   "laws; fit one with --ctx N (e.g. --ctx %d), or pass --pool-ctx to fit them together",
                   rs->path, n, list, ctx[0]);
  return 0;
}

int sc_fit_report(const sc_fit_report_opts *o, FILE *table_out, sc_fit_report_result *res, sc_err *err) {
  sc_fit_report_result *own = NULL;
  if (!res && !(res = own = sc_malloc(sizeof *res, "fit report", err))) return -1;
  memset(res, 0, sizeof *res);
  sc_fit_report_opts a = *o;
  sc_runs loaded = {0};
  const sc_runs *rs = o->table;
  sc_fit_arch *fits = NULL;
  int nf = 0, rc = -1;
  if (!rs) {
    if (!o->runs) {
      sc_fail(err, "fit report: no runs table (set runs to a CSV path or table to a loaded table)");
      goto done;
    }
    if (sc_runs_load(o->runs, &loaded, err)) goto done;
    rs = &loaded;
  }
  if (!a.runs) a.runs = rs->path;
  if (rs->n == 0) {
    sc_fail(err, "%s has a header but no runs; add one row per training run", rs->path);
    goto done;
  }
  if (check_contexts(rs, &a, res->contexts, sizeof res->contexts, err)) goto done;
  a.iso.budgets = a.n_budgets ? a.budgets : NULL;
  a.iso.n_budgets = a.n_budgets;
  char names[SC_FIT_MAX_ARCHS][32];
  if (list_archs(rs, a.archs, names, &nf, err)) goto done;
  fits = sc_calloc((size_t)nf, sizeof *fits, "per-architecture fits", err);
  if (!fits) goto done;
  int any_l = 0, any_i = 0;
  for (int k = 0; k < nf; k++) {
    memcpy(fits[k].arch, names[k], sizeof fits[k].arch);
    if (select_arch(rs, &a, &fits[k], err)) goto done;
    any_l |= fits[k].lsel.n > 0;
    any_i |= fits[k].isel.n > 0;
  }
  if ((a.methods & SC_FIT_LND) && !any_l) {
    sc_fail(err, "no runs left for the L(N,D) fit: %s", fits[0].lwhy);
    goto done;
  }
  if ((a.methods & SC_FIT_ISO) && !any_i) {
    sc_fail(err, "no runs left for the IsoFLOP fit: %s%s", fits[0].iwhy,
            a.methods & SC_FIT_LND ? " (--method lnd fits L(N,D) alone)" : "");
    goto done;
  }
  for (int k = 0; k < nf; k++)
    if (fit_arch(&a, &fits[k], err)) goto done;
  res->narch = nf;
  for (int k = 0; k < nf; k++) summarize(&fits[k], &res->arch[k]);
  if (table_out) print_table(table_out, &a, rs, fits, nf, res->contexts);
  rc = a.out ? write_outputs(&a, rs, fits, nf, res, err) : 0;
done:
  for (int k = 0; fits && k < nf; k++) free_arch(&fits[k]);
  free(fits);
  sc_runs_free(&loaded);
  free(own);
  return rc;
}
