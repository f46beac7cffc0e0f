#include "check/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The absolute part of the bound: atol, plus amax times the largest finite |ref|. */
static double abs_floor(const double *ref, size_t n, sc_tol tol) {
  double mx = 0;
  for (size_t i = 0; tol.amax > 0 && i < n; i++)
    if (isfinite(ref[i]) && fabs(ref[i]) > mx) mx = fabs(ref[i]);
  return tol.atol + tol.amax * mx;
}

static sc_cmp compare(const float *gf, const double *gd, const double *ref, size_t n, sc_tol tol) {
  sc_cmp c = {0};
  double se = 0, sr = 0;
  c.abs_floor = abs_floor(ref, n, tol);
  for (size_t i = 0; i < n; i++) {
    const double g = gf ? (double)gf[i] : gd[i], r = ref[i];
    double ratio;
    if (!isfinite(g) || !isfinite(r)) {
      if ((isnan(g) && isnan(r)) || g == r) continue;
      c.nonfinite++;
      ratio = INFINITY;
    } else {
      const double d = fabs(g - r), bound = c.abs_floor + tol.rtol * fabs(r);
      se += d * d;
      sr += r * r;
      if (d > c.max_abs) c.max_abs = d;
      if (r != 0 && d / fabs(r) > c.max_rel) c.max_rel = d / fabs(r);
      ratio = bound > 0 ? d / bound : d > 0 ? INFINITY : 0;
    }
    if (!(ratio <= 1)) c.fails++;
    if (ratio > c.worst_ratio) c.worst_ratio = ratio, c.worst = i;
  }
  c.nmse = sr > 0 ? se / sr : se;
  return c;
}

sc_cmp sc_compare(const float *got, const double *ref, size_t n, sc_tol tol) {
  return compare(got, NULL, ref, n, tol);
}

sc_cmp sc_compare_d(const double *got, const double *ref, size_t n, sc_tol tol) {
  return compare(NULL, got, ref, n, tol);
}

void sc_check_result_begin(sc_check_result *r, const char *op, const char *label) {
  memset(r, 0, sizeof *r);
  snprintf(r->op, sizeof r->op, "%s", op);
  snprintf(r->label, sizeof r->label, "%s", label);
}

void sc_check_result_compare(sc_check_result *c, const char *output, const float *got, const double *ref, size_t n,
                             sc_tol tol) {
  const sc_cmp r = sc_compare(got, ref, n, tol);
  if (!c->worst_out[0] || r.worst_ratio > c->worst_ratio) {
    c->worst_ratio = r.worst_ratio;
    snprintf(c->worst_out, sizeof c->worst_out, "%s", output);
    c->worst_err = n ? fabs((double)got[r.worst] - ref[r.worst]) : 0;
    c->worst_bound = n ? r.abs_floor + tol.rtol * fabs(ref[r.worst]) : 0;
  }
  if (!c->nmse_out[0] || r.nmse / tol.nmse > c->worst_nmse / c->nmse_bound) {
    c->worst_nmse = r.nmse, c->nmse_bound = tol.nmse;
    snprintf(c->nmse_out, sizeof c->nmse_out, "%s", output);
  }
  if (r.fails)
    sc_check_result_fail(c,
                         "%s: %d of %zu elements out of tolerance (atol %.1e amax %.1e rtol %.1e; %d non-finite "
                         "mismatches); worst at %zu: got %.9g ref %.9g",
                         output, r.fails, n, tol.atol, tol.amax, tol.rtol, r.nonfinite, r.worst, (double)got[r.worst],
                         ref[r.worst]);
  else if (!(r.nmse <= tol.nmse))
    sc_check_result_fail(c, "%s: NMSE %.3e above its bound %.0e", output, r.nmse, tol.nmse);
}

void sc_check_result_fail(sc_check_result *r, const char *fmt, ...) {
  if (*r->failure) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->failure, sizeof r->failure, fmt, ap);
  va_end(ap);
}

int sc_check_result_passed(const sc_check_result *r) {
  return !*r->failure;
}

sc_check_verdict sc_check_verdict_of(const sc_check_result *r, int n) {
  sc_check_verdict v = {n, 0, NULL};
  for (int i = 0; i < n; i++) {
    v.failed += !sc_check_result_passed(&r[i]);
    if (!v.worst || !(r[i].worst_ratio <= v.worst->worst_ratio)) v.worst = &r[i];
  }
  return v;
}

int sc_check_verdict_passed(const sc_check_verdict *v) {
  return v->cases > 0 && v->failed == 0;
}

void sc_check_verdict_line(const sc_check_verdict *v, char *buf, size_t cap) {
  if (!v->cases) {
    snprintf(buf, cap, "FAIL: no case ran (check --op)");
    return;
  }
  const sc_check_result *w = v->worst;
  if (v->failed)
    snprintf(buf, cap, "FAIL: %d of %d cases out of tolerance; worst %s %s (%s at %.3g times its bound)", v->failed,
             v->cases, w->op, w->label, w->worst_out[0] ? w->worst_out : "-", w->worst_ratio);
  else
    snprintf(buf, cap, "PASS: %d cases within tolerance; worst %s %s (%s at %.2g%% of its bound)", v->cases, w->op,
             w->label, w->worst_out[0] ? w->worst_out : "-", 100 * w->worst_ratio);
}
