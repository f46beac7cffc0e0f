/* sc_fit_report called as a library (no CLI): a small synthetic runs table written here, fitted from its path and
 * from a table already loaded; fit.json holds each architecture's fitted parameters; an output directory that
 * cannot be created fails with a message naming it; the bootstrap intervals' quantiles. Needs no shared data. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "fit/report.h"
#include "harness.h"

/* Two architectures following L = E + A N^-alpha + B D^-beta at 3 budgets (C = 6 N D), 5 sizes around the
 * optimum each, loss noise 0.002. */
enum { NA = 2, NB = 3, PER = 5 };
static const char *const arch_names[NA] = {"small_arch", "other"};

static void write_runs(const char *path) {
  static const double budgets[NB] = {1e18, 1e19, 1e20};
  static const double law[NA][5] = {{1.8, 482, 2085, 0.35, 0.37}, {1.7, 300, 3000, 0.30, 0.40}}; /* E A B al be */
  sc_rng g;
  sc_rng_seed(&g, 5);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "arch,n_params,n_tokens,flops,val_loss\n");
  for (int a = 0; a < NA; a++) {
    const double *L = law[a];
    double G = pow(L[3] * L[1] / (L[4] * L[2]), 1 / (L[3] + L[4]));
    for (int b = 0; b < NB; b++)
      for (int j = 0; j < PER; j++) {
        double n = G * pow(budgets[b] / 6, L[4] / (L[3] + L[4])) * pow(4, (j - 2) / 2.0);
        double d = budgets[b] / (6 * n);
        double loss = L[0] + L[1] * pow(n, -L[3]) + L[2] * pow(d, -L[4]) + 0.002 * sc_rng_normal(&g);
        fprintf(f, "%s,%.17g,%.17g,%.17g,%.17g\n", arch_names[a], n, d, budgets[b], loss);
      }
  }
  assert_int_equal(fclose(f), 0);
}

/* A quick fit: few BFGS starts, no charts. */
static void quick_opts(sc_fit_report_opts *o) {
  sc_fit_report_opts_default(o);
  o->lnd.topk = 4;
  o->lnd.threads = 2;
  o->iso.lo = 5e17;
  o->iso.hi = 5e20;
  o->no_plots = 1;
}

static double json_num(const cJSON *root, const char *arch, const char *method, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "archs"), arch);
  x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, method), name);
  if (!cJSON_IsNumber(x)) fail_msg("fit.json has no number archs.%s.%s.%s", arch, method, name);
  return x->valuedouble;
}

static void assert_same(const char *what, double got, double want) {
  if (!(fabs(got - want) <= 1e-12 * (1 + fabs(want)))) fail_msg("%s: %.17g, want %.17g", what, got, want);
}

static void test_fit_json_holds_every_arch(void **state) {
  (void)state;
  char dir[512], csv[600], out[600], path[700];
  th_tmpdir("fit-report", dir, sizeof dir);
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  write_runs(csv);
  sc_fit_report_opts o;
  quick_opts(&o);
  o.runs = csv;
  o.out = out;
  static sc_fit_report_result res;
  TH_CHECK(sc_fit_report(&o, NULL, &res, TH_ERR));
  assert_int_equal(res.narch, NA);
  snprintf(path, sizeof path, "%s/fit.json", out);
  char *text;
  TH_CHECK(sc_read_file(path, &text, NULL, TH_ERR));
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) fail_msg("%s is not valid JSON", path);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "archs")), NA);
  /* What produced it, as every scalecl JSON records. */
  assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "scalecl"), "git_revision"));
  assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "environment"));
  for (int a = 0; a < NA; a++) {
    const sc_fit_report_arch *r = &res.arch[a];
    assert_string_equal(r->arch, arch_names[a]);
    assert_true(r->lnd_done && r->iso_done);
    assert_int_equal((int)json_num(j, r->arch, "lnd", "n_runs"), NB * PER);
    for (int k = 0; k < SC_LND_NP; k++)
      assert_same(sc_lnd_param_name(k), json_num(j, r->arch, "lnd", sc_lnd_param_name(k)), r->lnd.p[k]);
    assert_same("E", json_num(j, r->arch, "lnd", "E"), r->lnd_values[SC_FIT_BIG_E]);
    assert_same("objective", json_num(j, r->arch, "lnd", "objective"), r->lnd.objective);
    assert_same("isoflop a", json_num(j, r->arch, "isoflop", "a"), r->n_law.exponent);
    assert_same("isoflop b", json_num(j, r->arch, "isoflop", "b"), r->d_law.exponent);
    assert_int_equal(r->n_law.n_points, NB);
    /* The data follow their law: the exponents are close to the generating ones (0.35, 0.37; 0.30, 0.40). */
    assert_true(fabs(r->lnd.p[SC_LND_ALPHA] - (a ? 0.30 : 0.35)) < 0.1);
  }
  cJSON_Delete(j);
  snprintf(path, sizeof path, "%s/isoflop_minima.csv", out);
  char *minima;
  TH_CHECK(sc_read_file(path, &minima, NULL, TH_ERR));
  int lines = 0;
  for (char *s = minima; *s; s++) lines += *s == '\n';
  free(minima);
  assert_int_equal(lines, 1 + NA * NB);

  /* The same rows passed loaded, one arch, table only: the same fit, and the table names the file. */
  sc_runs rs;
  TH_CHECK(sc_runs_load(csv, &rs, TH_ERR));
  o.runs = NULL;
  o.table = &rs;
  o.out = NULL;
  o.archs = arch_names[1];
  char *table = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&table, &len);
  assert_non_null(f);
  static sc_fit_report_result one;
  TH_CHECK(sc_fit_report(&o, f, &one, TH_ERR));
  assert_int_equal(fclose(f), 0);
  sc_runs_free(&rs);
  if (!strstr(table, csv) || !strstr(table, arch_names[1]) || strstr(table, arch_names[0]))
    fail_msg("the table does not name %s and only %s:\n%s", csv, arch_names[1], table);
  free(table);
  assert_int_equal(one.narch, 1);
  for (int k = 0; k < SC_LND_NP; k++) assert_same(sc_lnd_param_name(k), one.arch[0].lnd.p[k], res.arch[1].lnd.p[k]);
}

/* An out directory below a regular file cannot be created; the message names it. */
static void test_unwritable_out_dir(void **state) {
  (void)state;
  char dir[512], csv[600], file[600], out[700];
  th_tmpdir("fit-report-unwritable", dir, sizeof dir);
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  snprintf(file, sizeof file, "%s/a_file", dir);
  snprintf(out, sizeof out, "%s/out", file);
  write_runs(csv);
  sc_err err;
  TH_CHECK(sc_write_file_atomic(file, "x\n", 2, TH_ERR));
  sc_fit_report_opts o;
  quick_opts(&o);
  o.runs = csv;
  o.methods = SC_FIT_ISO;
  o.out = out;
  assert_int_equal(sc_fit_report(&o, NULL, NULL, &err), -1);
  if (!strstr(err.msg, out)) fail_msg("the error does not name %s: %s", out, err.msg);
  /* An out path that is a regular file: the message names the file it could not write there. */
  o.out = file;
  assert_int_equal(sc_fit_report(&o, NULL, NULL, &err), -1);
  if (!strstr(err.msg, file)) fail_msg("the error does not name %s: %s", file, err.msg);
}

/* The intervals' quantiles on a sample with known ones: 0..100 shuffled between non-finite values (dropped). */
static void test_ci95_quantiles(void **state) {
  (void)state;
  double v[103], lo, hi;
  for (int i = 0; i <= 100; i++) v[i] = (i * 37) % 101;
  v[101] = NAN, v[102] = INFINITY;
  sc_fit_ci95(v, 103, &lo, &hi);
  assert_true(lo == 2.5 && hi == 97.5);
  double two[3] = {NAN, 4, 2};
  sc_fit_ci95(two, 3, &lo, &hi);
  assert_true(lo == 2.05 && hi == 3.95);
  double one[2] = {NAN, 4};
  sc_fit_ci95(one, 2, &lo, &hi);
  assert_true(isnan(lo) && isnan(hi));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_json_holds_every_arch),
      cmocka_unit_test(test_unwritable_out_dir),
      cmocka_unit_test(test_ci95_quantiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
