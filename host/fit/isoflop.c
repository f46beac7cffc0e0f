#include "fit/isoflop.h"

#include <gsl/gsl_fit.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sc_iso_opts_default(sc_iso_opts *o) {
  memset(o, 0, sizeof *o);
  o->lo = 5e18;
  o->hi = 2e20;
  o->tol = 0.1;
  o->min_points = 3;
}

const char *sc_parabola_status_name(int status) {
  switch (status) {
    case SC_PARABOLA_OK:
      return "ok";
    case SC_PARABOLA_CONCAVE:
      return "concave (no minimum)";
    case SC_PARABOLA_OUTSIDE:
      return "vertex outside the sampled range";
    default:
      return "too few distinct points";
  }
}

void sc_parabola_fit(const double *x, const double *loss, int n, sc_parabola *p) {
  memset(p, 0, sizeof *p);
  p->x_star = p->se_x = p->l_star = NAN;
  p->status = SC_PARABOLA_DEGENERATE;
  if (n < 1) return;
  p->x_min = p->x_max = x[0];
  for (int i = 0; i < n; i++) {
    p->xc += x[i] / n;
    p->x_min = fmin(p->x_min, x[i]);
    p->x_max = fmax(p->x_max, x[i]);
  }
  int distinct = 0;
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) seen = x[j] == x[i];
    distinct += !seen;
  }
  if (distinct < 3) return;
  /* Centred 3-column least squares: the normal equations are small enough to solve directly, but
   * gsl_multifit_linear also gives the covariance for the vertex's standard error. */
  gsl_matrix *X = gsl_matrix_alloc((size_t)n, 3), *cov = gsl_matrix_alloc(3, 3);
  gsl_vector *y = gsl_vector_alloc((size_t)n), *c = gsl_vector_alloc(3);
  gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc((size_t)n, 3);
  double chisq;
  if (X && cov && y && c && w) {
    for (int i = 0; i < n; i++) {
      double t = x[i] - p->xc;
      gsl_matrix_set(X, (size_t)i, 0, 1);
      gsl_matrix_set(X, (size_t)i, 1, t);
      gsl_matrix_set(X, (size_t)i, 2, t * t);
      gsl_vector_set(y, (size_t)i, loss[i]);
    }
    if (gsl_multifit_linear(X, y, c, cov, &chisq, w) == GSL_SUCCESS) {
      for (int k = 0; k < 3; k++) p->c[k] = gsl_vector_get(c, (size_t)k);
      double c1 = p->c[1], c2 = p->c[2];
      if (!(c2 > 0)) {
        p->status = SC_PARABOLA_CONCAVE;
      } else {
        double t = -c1 / (2 * c2);
        p->x_star = p->xc + t;
        p->l_star = p->c[0] - c1 * c1 / (4 * c2);
        double g1 = -1 / (2 * c2), g2 = c1 / (2 * c2 * c2);
        double var = g1 * g1 * gsl_matrix_get(cov, 1, 1) + 2 * g1 * g2 * gsl_matrix_get(cov, 1, 2) +
                     g2 * g2 * gsl_matrix_get(cov, 2, 2);
        p->se_x = n > 3 && var >= 0 ? sqrt(var) : NAN;
        p->status = p->x_star < p->x_min || p->x_star > p->x_max ? SC_PARABOLA_OUTSIDE : SC_PARABOLA_OK;
      }
    }
  }
  if (X) gsl_matrix_free(X);
  if (cov) gsl_matrix_free(cov);
  if (y) gsl_vector_free(y);
  if (c) gsl_vector_free(c);
  if (w) gsl_multifit_linear_free(w);
}

static void warn(sc_iso_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(sc_iso_result *res, const char *fmt, ...) {
  size_t o = strlen(res->warnings);
  if (o + 2 >= sizeof res->warnings) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->warnings + o, sizeof res->warnings - o - 1, fmt, ap);
  va_end(ap);
  o = strlen(res->warnings);
  res->warnings[o] = '\n';
  res->warnings[o + 1] = '\0';
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Nominal budget of every run (0 = none). */
static void assign_budgets(const double *c, const double *budget_col, int nruns, const sc_iso_opts *o, double *nominal,
                           double *sorted) {
  for (int i = 0; i < nruns; i++) {
    nominal[i] = 0;
    if (o->budgets) {
      int best = -1;
      for (int k = 0; k < o->n_budgets; k++)
        if (best < 0 || fabs(log(c[i] / o->budgets[k])) < fabs(log(c[i] / o->budgets[best]))) best = k;
      if (best >= 0 && fabs(c[i] / o->budgets[best] - 1) <= o->tol) nominal[i] = o->budgets[best];
    } else if (budget_col) {
      nominal[i] = budget_col[i] > 0 ? budget_col[i] : 0;
    }
  }
  if (o->budgets || budget_col) return;
  /* No budgets given: sorted FLOPs split where one run has over (1 + tol) times the FLOPs of the previous. */
  memcpy(sorted, c, (size_t)nruns * sizeof *sorted);
  qsort(sorted, (size_t)nruns, sizeof *sorted, cmp_double);
  for (int s = 0; s < nruns;) {
    int e = s + 1;
    while (e < nruns && sorted[e] <= sorted[e - 1] * (1 + o->tol)) e++;
    double sum = 0;
    for (int i = s; i < e; i++) sum += sorted[i];
    for (int i = 0; i < nruns; i++)
      if (c[i] >= sorted[s] && c[i] <= sorted[e - 1]) nominal[i] = sum / (e - s);
    s = e;
  }
}

/* x, y: scratch of nb entries. */
static void fit_power_law(const sc_iso_budget *b, int nb, int use_d, double *x, double *y, sc_power_law *law) {
  int m = 0;
  for (int k = 0; k < nb; k++) {
    if (!(use_d ? b[k].used_d : b[k].used_n)) continue;
    x[m] = log(b[k].flops);
    y[m] = (use_d ? b[k].pd.x_star : b[k].pn.x_star) * log(10.0);
    m++;
  }
  law->n_points = m;
  law->exponent = law->prefactor = law->se_exponent = NAN;
  if (m < 2) return;
  double c0, c1, cov00, cov01, cov11, sumsq;
  gsl_fit_linear(x, 1, y, 1, (size_t)m, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
  law->exponent = c1;
  law->prefactor = exp(c0);
  law->se_exponent = m > 2 ? sqrt(cov11) : NAN;
}

static int usable(const sc_parabola *p, int allow_extrapolated) {
  return p->status == SC_PARABOLA_OK || (allow_extrapolated && p->status == SC_PARABOLA_OUTSIDE);
}

int sc_iso_fit(const double *n, const double *d, const double *c, const double *loss, const double *budget_col,
               int nruns, const sc_iso_opts *o, sc_iso_result *res, sc_err *err) {
  memset(res, 0, sizeof *res);
  res->allow_extrapolated = o->allow_extrapolated;
  double *nominal = sc_malloc((size_t)(nruns ? nruns : 1) * sizeof *nominal, "budget labels", err);
  double *sorted = sc_malloc((size_t)(nruns ? nruns : 1) * sizeof *sorted, "budget labels", err);
  double *xs = sc_malloc((size_t)(nruns ? nruns : 1) * sizeof *xs, "parabola inputs", err);
  double *ls = sc_malloc((size_t)(nruns ? nruns : 1) * sizeof *ls, "parabola inputs", err);
  int rc = -1;
  if (!nominal || !sorted || !xs || !ls) goto done;
  assign_budgets(c, budget_col, nruns, o, nominal, sorted);
  /* Distinct labels, ascending. */
  int nl = 0;
  for (int i = 0; i < nruns; i++) {
    if (nominal[i] <= 0) {
      res->n_unassigned++;
      continue;
    }
    int seen = 0;
    for (int k = 0; k < nl && !seen; k++) seen = sorted[k] == nominal[i];
    if (!seen) sorted[nl++] = nominal[i];
  }
  qsort(sorted, (size_t)nl, sizeof *sorted, cmp_double);
  res->b = sc_calloc((size_t)(nl ? nl : 1), sizeof *res->b, "budgets", err);
  if (!res->b) goto done;
  res->nb = nl;
  for (int k = 0; k < nl; k++) {
    sc_iso_budget *b = &res->b[k];
    b->nominal = sorted[k];
    b->runs = sc_malloc((size_t)nruns * sizeof *b->runs, "budget runs", err);
    if (!b->runs) goto done;
    double cmin = INFINITY, cmax = 0;
    for (int i = 0; i < nruns; i++)
      if (nominal[i] == b->nominal)
        b->runs[b->n++] = i, b->flops += c[i], cmin = fmin(cmin, c[i]), cmax = fmax(cmax, c[i]);
    b->flops /= b->n;
    if (!o->budgets && !budget_col && cmax > cmin * (1 + o->tol) / (1 - o->tol))
      warn(res, "budget %.3g: its runs' FLOPs span %.3g to %.3g, wider than +-%g%%; name the budgets with --budgets",
           b->nominal, cmin, cmax, 100 * o->tol);
    b->in_window = b->flops >= o->lo && b->flops <= o->hi;
    for (int j = 0; j < b->n; j++) xs[j] = log10(n[b->runs[j]]), ls[j] = loss[b->runs[j]];
    sc_parabola_fit(xs, ls, b->n, &b->pn);
    for (int j = 0; j < b->n; j++) xs[j] = log10(d[b->runs[j]]);
    sc_parabola_fit(xs, ls, b->n, &b->pd);
    int enough = b->n >= o->min_points;
    b->used_n = b->in_window && enough && usable(&b->pn, o->allow_extrapolated);
    b->used_d = b->in_window && enough && usable(&b->pd, o->allow_extrapolated);
    if (!b->in_window) continue;
    if (!enough) {
      warn(res, "budget %.3g: %d run%s with a loss; a parabola needs %d: left out of the power laws", b->nominal, b->n,
           b->n == 1 ? "" : "s", o->min_points);
      continue;
    }
    const sc_parabola *ps[2] = {&b->pn, &b->pd};
    for (int q = 0; q < 2; q++) {
      const sc_parabola *p = ps[q];
      const char *what = q ? "D" : "N";
      if (p->status == SC_PARABOLA_OUTSIDE)
        warn(res,
             "budget %.3g: the %s* vertex %.4g lies outside the sampled %s range [%.4g, %.4g] (an extrapolated "
             "minimum, biased): %s",
             b->nominal, what, pow(10, p->x_star), what, pow(10, p->x_min), pow(10, p->x_max),
             o->allow_extrapolated ? "kept because of --allow-extrapolated"
                                   : "left out (--allow-extrapolated keeps it)");
      else if (p->status != SC_PARABOLA_OK)
        warn(res, "budget %.3g: %s parabola %s: left out of the power law", b->nominal, what,
             sc_parabola_status_name(p->status));
    }
  }
  fit_power_law(res->b, res->nb, 0, xs, ls, &res->n_law);
  fit_power_law(res->b, res->nb, 1, xs, ls, &res->d_law);
  const sc_power_law *laws[2] = {&res->n_law, &res->d_law};
  for (int q = 0; q < 2; q++) {
    if (laws[q]->n_points < 2)
      warn(res, "%s*(C) power law: %d budget%s in the window [%.3g, %.3g] FLOPs with a valid vertex; it needs 2",
           q ? "D" : "N", laws[q]->n_points, laws[q]->n_points == 1 ? "" : "s", o->lo, o->hi);
    else if (laws[q]->n_points == 2)
      warn(res, "%s*(C) power law: a line through only 2 budgets (no standard error, no check of the fit)",
           q ? "D" : "N");
  }
  rc = 0;
done:
  free(nominal);
  free(sorted);
  free(xs);
  free(ls);
  if (rc) sc_iso_free(res);
  return rc;
}

void sc_iso_free(sc_iso_result *res) {
  for (int k = 0; k < res->nb; k++) free(res->b[k].runs);
  free(res->b);
  res->b = NULL;
  res->nb = 0;
}

int sc_iso_bootstrap(const double *n, const double *d, const double *loss, const sc_iso_result *full, int k,
                     unsigned long seed, double *out, int *n_failed, sc_err *err) {
  int maxn = 1;
  for (int j = 0; j < full->nb; j++) maxn = full->b[j].n > maxn ? full->b[j].n : maxn;
  sc_iso_budget *b = sc_calloc((size_t)(full->nb ? full->nb : 1), sizeof *b, "bootstrap budgets", err);
  double *xn = sc_malloc((size_t)maxn * sizeof *xn, "bootstrap sample", err);
  double *xd = sc_malloc((size_t)maxn * sizeof *xd, "bootstrap sample", err);
  double *ls = sc_malloc((size_t)maxn * sizeof *ls, "bootstrap sample", err);
  double *px = sc_malloc((size_t)(full->nb ? full->nb : 1) * sizeof *px, "bootstrap power law", err);
  double *py = sc_malloc((size_t)(full->nb ? full->nb : 1) * sizeof *py, "bootstrap power law", err);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  int rc = -1;
  if (!b || !xn || !xd || !ls || !px || !py || !r) {
    if (!r) sc_fail(err, "out of host memory for a random number generator");
    goto done;
  }
  gsl_rng_set(r, seed + 1); /* mt19937 treats 0 as its default seed */
  *n_failed = 0;
  for (int s = 0; s < k; s++) {
    int ok = 1;
    for (int j = 0; j < full->nb; j++) {
      const sc_iso_budget *fb = &full->b[j];
      b[j] = *fb;
      if (!fb->used_n && !fb->used_d) continue;
      for (int i = 0; i < fb->n; i++) {
        int q = fb->runs[gsl_rng_uniform_int(r, (unsigned long)fb->n)];
        xn[i] = log10(n[q]), xd[i] = log10(d[q]), ls[i] = loss[q];
      }
      sc_parabola_fit(xn, ls, fb->n, &b[j].pn);
      sc_parabola_fit(xd, ls, fb->n, &b[j].pd);
      /* The estimator keeps the full fit's budgets; a resample that breaks one of them cannot be refitted the
       * same way and is counted as failed. */
      if ((fb->used_n && !usable(&b[j].pn, full->allow_extrapolated)) ||
          (fb->used_d && !usable(&b[j].pd, full->allow_extrapolated)))
        ok = 0;
    }
    sc_power_law ln, ld;
    fit_power_law(b, full->nb, 0, px, py, &ln);
    fit_power_law(b, full->nb, 1, px, py, &ld);
    double *o = out + (size_t)s * 4;
    if (!ok) {
      (*n_failed)++;
      o[0] = o[1] = o[2] = o[3] = NAN;
    } else {
      o[0] = ln.exponent, o[1] = ln.prefactor, o[2] = ld.exponent, o[3] = ld.prefactor;
    }
  }
  rc = 0;
done:
  free(b);
  free(xn);
  free(xd);
  free(ls);
  free(px);
  free(py);
  if (r) gsl_rng_free(r);
  return rc;
}
