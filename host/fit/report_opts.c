/* The options of sc_fit_report: their defaults and the words that spell their values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/args.h"
#include "base/parallel.h"
#include "fit/report.h"

static const char *const method_names[] = {
    [SC_FIT_LND] = "lnd", [SC_FIT_ISO] = "isoflop", [SC_FIT_LND | SC_FIT_ISO] = "both"};
static const char *const form_names[] = {[SC_FORM_GAMMA] = "gamma", [SC_FORM_CHINCHILLA] = "chinchilla"};

void sc_fit_report_opts_default(sc_fit_report_opts *o) {
  memset(o, 0, sizeof *o);
  o->methods = SC_FIT_LND | SC_FIT_ISO;
  o->seed = 1;
  o->ratio_hi = INFINITY;
  sc_lnd_opts_default(&o->lnd);
  sc_iso_opts_default(&o->iso);
  o->lnd.threads = sc_cpu_count();
}

/* The index of s among names[first..n) (NULL entries skipped); choices lists them for the error. */
static int parse_word(const char *s, const char *what, const char *const *names, int first, int n, const char *choices,
                      int *out, sc_err *err) {
  for (int k = first; k < n; k++)
    if (names[k] && strcmp(s, names[k]) == 0) return *out = k, 0;
  return sc_fail(err, "%s: '%s' is not %s", what, s, choices);
}

int sc_fit_parse_methods(const char *s, const char *what, int *methods, sc_err *err) {
  return parse_word(s, what, method_names, 1, 4, "both, lnd or isoflop", methods, err);
}

const char *sc_fit_methods_name(int methods) {
  return method_names[methods];
}

int sc_fit_parse_form(const char *s, const char *what, sc_lnd_form *form, sc_err *err) {
  int k = 0;
  if (parse_word(s, what, form_names, 0, 2, "gamma or chinchilla", &k, err)) return -1;
  *form = (sc_lnd_form)k;
  return 0;
}

const char *sc_fit_form_name(sc_lnd_form form) {
  return form_names[form];
}

int sc_fit_parse_starts(const char *s, const char *what, int *topk, sc_err *err) {
  long l = 0;
  if (strcmp(s, "all") != 0 && sc_parse_long(s, what, 1, 1000000, &l, err)) return -1;
  *topk = (int)l;
  return 0;
}

int sc_fit_parse_window(const char *s, const char *what, double *lo, double *hi, sc_err *err) {
  char l[64], h[64], wl[128], wh[128];
  const char *c = strchr(s, ':');
  if (!c || c == s || !c[1] || (size_t)(c - s) >= sizeof l)
    return sc_fail(err, "%s: expected LO:HI in FLOPs, e.g. 5e18:2e20, got '%s'", what, s);
  snprintf(l, sizeof l, "%.*s", (int)(c - s), s);
  snprintf(h, sizeof h, "%s", c + 1);
  snprintf(wl, sizeof wl, "%s LO", what);
  snprintf(wh, sizeof wh, "%s HI", what);
  if (sc_parse_double(l, wl, lo, err) || sc_parse_double(h, wh, hi, err)) return -1;
  return *lo < *hi ? 0 : sc_fail(err, "%s: LO must be below HI, got '%s'", what, s);
}

int sc_fit_parse_budgets(const char *s, const char *what, double *v, int max, int *n, sc_err *err) {
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
