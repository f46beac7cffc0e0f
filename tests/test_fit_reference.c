/* The parametric fit against the paper's own best fits (xlstm_fit_reference.csv, 684 settings: arch x Huber
 * delta x LSE or not x gamma or not x experiment set x token/param range, all at ctx 8192). Every setting whose
 * runs all have an exact loss in xlstm_scaling_runs.csv is refitted here. Skipped without ../shared/data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/csv.h"
#include "fit/lnd.h"
#include "fit/runs.h"
#include "harness.h"

typedef struct {
  char arch[32], set[32];
  double lo, hi;
  sc_lnd_opts o;
  double p[SC_LND_NP], objective;
  int main_setting;
  int line;
} setting;

typedef struct {
  sc_runs rs;
  setting *s;
  int n;
} fixture;

static int setup(void **state) {
  static fixture fx;
  *state = NULL;
  const char *dir = th_shared_data_dir();
  if (!dir) return 0;
  char path[4096];
  sc_err err;
  snprintf(path, sizeof path, "%s/xlstm_scaling_runs.csv", dir);
  if (sc_runs_load(path, &fx.rs, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  sc_csv t;
  snprintf(path, sizeof path, "%s/xlstm_fit_reference.csv", dir);
  if (sc_csv_read(path, &t, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return -1;
  }
  static const char *const cols[] = {
      "arch", "huber_delta", "use_lse", "fit_gamma", "experiment_set", "token_param_range", "a",  "b",
      "e",    "alpha",       "beta",    "gamma",     "objective",      "is_main_setting",   "ctx"};
  int c[15];
  for (int k = 0; k < 15; k++)
    if ((c[k] = sc_csv_col(&t, cols[k])) < 0) {
      fprintf(stderr, "%s: no column %s\n", path, cols[k]);
      return -1;
    }
  fx.s = calloc((size_t)t.nrows, sizeof *fx.s);
  if (!fx.s) return -1;
  for (int r = 0; r < t.nrows; r++) {
    setting *s = &fx.s[fx.n++];
    snprintf(s->arch, sizeof s->arch, "%s", sc_csv_cell(&t, r, c[0]));
    snprintf(s->set, sizeof s->set, "%s", sc_csv_cell(&t, r, c[4]));
    if (sscanf(sc_csv_cell(&t, r, c[5]), "%lf-%lf", &s->lo, &s->hi) != 2 || atoi(sc_csv_cell(&t, r, c[14])) != 8192)
      return -1;
    sc_lnd_opts_default(&s->o);
    s->o.threads = 2;
    s->o.delta = atof(sc_csv_cell(&t, r, c[1]));
    s->o.lse = strcmp(sc_csv_cell(&t, r, c[2]), "True") == 0;
    s->o.form = strcmp(sc_csv_cell(&t, r, c[3]), "True") == 0 ? SC_FORM_GAMMA : SC_FORM_CHINCHILLA;
    for (int k = 0; k < SC_LND_NP; k++) s->p[k] = atof(sc_csv_cell(&t, r, c[6 + k]));
    s->objective = atof(sc_csv_cell(&t, r, c[12]));
    s->main_setting = strcmp(sc_csv_cell(&t, r, c[13]), "True") == 0;
    s->line = t.lines[r];
  }
  sc_csv_free(&t);
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  if (fx) {
    sc_runs_free(&fx->rs);
    free(fx->s);
  }
  return 0;
}

/* The runs of a setting as the reference code selects them (ctx 8192, experiment set, D/N range inclusive);
 * returns 0 when some of them have no exact loss. */
typedef struct {
  double x[512], y[512], z[512];
  int n;
} data;

static int select_runs(const fixture *fx, const setting *s, data *d) {
  sc_run_filter f;
  sc_run_filter_init(&f);
  f.arch = s->arch;
  f.ctx = 8192;
  f.set = s->set;
  f.ratio_lo = s->lo;
  f.ratio_hi = s->hi;
  sc_run_sel sel;
  sc_err err;
  if (sc_runs_select(&fx->rs, &f, &sel, NULL, 0, &err)) fail_msg("%s", err.msg);
  int complete = sel.n_missing == 0 && sel.n > 0 && sel.n <= 512;
  d->n = sel.n;
  for (int i = 0; complete && i < sel.n; i++) {
    const sc_run *r = &fx->rs.r[sel.idx[i]];
    d->x[i] = log(r->n), d->y[i] = log(r->d), d->z[i] = log(sel.loss[i]);
  }
  sc_run_sel_free(&sel);
  return complete;
}

#define NEED_DATA(state)                                                          \
  do {                                                                            \
    if (!*(state)) TH_SKIP("../shared/data (or $SCALECL_SHARED_DATA) is absent"); \
  } while (0)

/* Our objective at the paper's parameters equals the stored objective: the same runs, loss target and
 * functional forms (every form, delta and set whose runs are complete). */
static void test_objective_at_paper_params(void **state) {
  NEED_DATA(state);
  fixture *fx = *state;
  int checked = 0;
  double worst = 0;
  for (int i = 0; i < fx->n; i++) {
    const setting *s = &fx->s[i];
    data d;
    if (!select_runs(fx, s, &d)) continue;
    sc_lnd_data ld = {d.x, d.y, d.z, NULL, d.n};
    double f = sc_lnd_objective(&ld, &s->o, s->p, NULL), rel = fabs(f / s->objective - 1);
    worst = fmax(worst, rel);
    if (rel > 1e-4)
      fail_msg("reference line %d (%s %s %g-%g delta %g lse %d %s): objective %.10g, stored %.10g", s->line, s->arch,
               s->set, s->lo, s->hi, s->o.delta, s->o.lse, s->o.form == SC_FORM_GAMMA ? "gamma" : "no gamma", f,
               s->objective);
    checked++;
  }
  printf("  %d complete settings; worst relative difference %.2g\n", checked, worst);
  assert_int_equal(checked, 456); /* 38 files x (9 Transformer + 3 xLSTM token/param) */
}

/* Our fit reaches the paper's objective, or lower, in every complete setting. 16 screened starts per setting,
 * twice what these data need (measured: all settings pass with 8, worst ratio 1 + 7.4e-6; one fails with 2 or
 * 4, six with 1); test_fit_prescreen shows on the main setting that screening finds the minimum of all 8000
 * starts. */
static void test_fit_reaches_paper(void **state) {
  NEED_DATA(state);
  fixture *fx = *state;
  int fitted = 0, worst_i = -1, every = 1, complete = 0;
#ifdef __SANITIZE_ADDRESS__
  /* Unoptimized sanitizer builds take a minute for all settings: every 4th here, all in the normal build. */
  every = 4;
  printf("  sanitizer build: every %dth complete setting\n", every);
#endif
  double worst = -INFINITY, t0 = sc_now();
  for (int i = 0; i < fx->n; i++) {
    setting *s = &fx->s[i];
    data d;
    if (!select_runs(fx, s, &d) || complete++ % every) continue;
    sc_lnd_opts o = s->o;
    o.topk = 16;
    sc_lnd_data ld = {d.x, d.y, d.z, NULL, d.n};
    sc_lnd_result res;
    sc_err err;
    if (sc_lnd_fit(&ld, &o, NULL, &res, &err)) fail_msg("line %d: %s", s->line, err.msg);
    double ratio = res.objective / s->objective - 1;
    if (ratio > worst) worst = ratio, worst_i = i;
    if (ratio > 1e-4)
      fail_msg("reference line %d (%s %s %g-%g delta %g lse %d %s): objective %.10g > paper %.10g x (1 + 1e-4)",
               s->line, s->arch, s->set, s->lo, s->hi, s->o.delta, s->o.lse,
               s->o.form == SC_FORM_GAMMA ? "gamma" : "no gamma", res.objective, s->objective);
    fitted++;
  }
  printf("  %d settings fitted in %.1f s; worst objective / paper - 1 = %.3g (reference line %d)\n", fitted,
         sc_now() - t0, worst, worst_i >= 0 ? fx->s[worst_i].line : -1);
  assert_int_equal(complete, 456);
  assert_int_equal(fitted, (456 + every - 1) / every);
}

/* The paper's headline fits with scalecl fit's defaults (32 screened starts). */
static void test_main_setting(void **state) {
  NEED_DATA(state);
  fixture *fx = *state;
  int found = 0;
  for (int i = 0; i < fx->n; i++) {
    const setting *s = &fx->s[i];
    if (!s->main_setting) continue;
    data d;
    assert_true(select_runs(fx, s, &d));
    assert_int_equal(d.n, strcmp(s->arch, "xlstm") == 0 ? 35 : 31);
    sc_lnd_opts o;
    sc_lnd_opts_default(&o);
    o.threads = 2;
    sc_lnd_data ld = {d.x, d.y, d.z, NULL, d.n};
    sc_lnd_result res;
    sc_err err;
    if (sc_lnd_fit(&ld, &o, NULL, &res, &err)) fail_msg("%s", err.msg);
    printf("  %-11s ours  a %.5f b %.5f e %.5f alpha %.5f beta %.5f gamma %.5f objective %.10g\n", s->arch, res.p[0],
           res.p[1], res.p[2], res.p[3], res.p[4], res.p[5], res.objective);
    printf("  %-11s paper a %.5f b %.5f e %.5f alpha %.5f beta %.5f gamma %.5f objective %.10g\n", s->arch, s->p[0],
           s->p[1], s->p[2], s->p[3], s->p[4], s->p[5], s->objective);
    static const double tol[SC_LND_NP] = {0.02, 0.02, 0.02, 0.005, 0.005, 0.005};
    for (int k = 0; k < SC_LND_NP; k++)
      if (fabs(res.p[k] - s->p[k]) > tol[k])
        fail_msg("%s: %s = %.6f, paper %.6f (tolerance %g)", s->arch, sc_lnd_param_name(k), res.p[k], s->p[k], tol[k]);
    assert_true(res.objective <= s->objective * (1 + 1e-4));
    found++;
  }
  assert_int_equal(found, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_objective_at_paper_params),
      cmocka_unit_test(test_fit_reaches_paper),
      cmocka_unit_test(test_main_setting),
  };
  return TH_RUN_GROUP(tests, setup, teardown);
}
