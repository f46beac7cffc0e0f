/* scalecl fit end to end: a synthetic runs table (no shared data needed) through the command, checked against
 * the library fits on the same rows; outputs, bootstrap determinism, error messages, missing gnuplot; and the
 * paper's runs when ../shared/data is present. */
#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "fit/isoflop.h"
#include "fit/lnd.h"
#include "harness.h"

static int run(const char *args, char *out, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s fit %s 2>&1", th_scalecl_bin(), args);
  return th_run_capture(cmd, out, cap);
}

static cJSON *load_json(const char *dir) {
  char path[4096], *text;
  snprintf(path, sizeof path, "%s/fit.json", dir);
  sc_err err;
  if (sc_read_file(path, &text, NULL, &err)) fail_msg("%s", err.msg);
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) fail_msg("%s is not valid JSON", path);
  return j;
}

static double num(const cJSON *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *x = o;
  for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
    x = cJSON_IsArray(x) ? cJSON_GetArrayItem(x, atoi(t)) : cJSON_GetObjectItemCaseSensitive(x, t);
    if (!x) fail_msg("fit.json has no %s", path);
  }
  if (!cJSON_IsNumber(x)) return NAN; /* null: a value that does not exist */
  return x->valuedouble;
}

static int file_size(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

/* Two architectures following L = E + A N^-alpha + B D^-beta, swept over 4 budgets (C = 6 N D, 7 sizes
 * around the optimum, FLOPs jittered +-4%), loss noise 0.002; one row without a loss. */
enum { NB = 4, PER = 7, NA = 2, NROW = NA * NB * PER };
static const char *const arch_names[NA] = {"alpha_arch", "beta"};
static double rows[NROW][4]; /* N, D, C, loss */

static void write_table(const char *path) {
  static const double budgets[NB] = {1e18, 3e18, 1e19, 3e19};
  static const double law[NA][5] = {{1.8, 482, 2085, 0.35, 0.37}, {1.7, 300, 3000, 0.30, 0.40}};
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 9);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "arch,n_params,n_tokens,flops,val_loss,notes\n");
  for (int a = 0, i = 0; a < NA; a++) {
    const double *L = law[a];
    double G = pow(L[3] * L[1] / (L[4] * L[2]), 1 / (L[3] + L[4]));
    for (int b = 0; b < NB; b++)
      for (int j = 0; j < PER; j++, i++) {
        double c = budgets[b] * (1 + 0.04 * sin(3.1 * i));
        double n = G * pow(c / 6, L[4] / (L[3] + L[4])) * pow(4, (j - 3) / 3.0);
        double d = c / (6 * n);
        double loss = L[0] + L[1] * pow(n, -L[3]) + L[2] * pow(d, -L[4]) + gsl_ran_gaussian(g, 0.002);
        rows[i][0] = n, rows[i][1] = d, rows[i][2] = c, rows[i][3] = loss;
        if (a == 1 && b == 2 && j == 6) {
          rows[i][3] = NAN;
          fprintf(f, "%s,%.17g,%.17g,%.17g,,\"lost, run crashed\"\n", arch_names[a], n, d, c);
        } else {
          fprintf(f, "%s,%.17g,%.17g,%.17g,%.17g,\n", arch_names[a], n, d, c, loss);
        }
      }
  }
  fclose(f);
  gsl_rng_free(g);
}

/* The command's numbers are the library's on the same rows. */
static void check_against_library(const cJSON *j, int a) {
  double x[NB * PER], y[NB * PER], z[NB * PER], n[NB * PER], d[NB * PER], c[NB * PER], l[NB * PER];
  int m = 0;
  for (int i = a * NB * PER; i < (a + 1) * NB * PER; i++) {
    if (isnan(rows[i][3])) continue;
    n[m] = rows[i][0], d[m] = rows[i][1], c[m] = rows[i][2], l[m] = rows[i][3];
    x[m] = log(n[m]), y[m] = log(d[m]), z[m] = log(l[m]);
    m++;
  }
  sc_lnd_opts o;
  sc_lnd_opts_default(&o);
  o.threads = 2;
  sc_lnd_data ld = {x, y, z, NULL, m};
  sc_lnd_result res;
  sc_err err;
  if (sc_lnd_fit(&ld, &o, NULL, &res, &err)) fail_msg("%s", err.msg);
  char key[128];
  for (int k = 0; k < SC_LND_NP; k++) {
    snprintf(key, sizeof key, "archs.%s.lnd.%s", arch_names[a], sc_lnd_param_name(k));
    if (fabs(num(j, key) - res.p[k]) > 1e-9 * (1 + fabs(res.p[k])))
      fail_msg("%s %.12g, library %.12g", key, num(j, key), res.p[k]);
  }
  snprintf(key, sizeof key, "archs.%s.lnd.objective", arch_names[a]);
  assert_true(fabs(num(j, key) / res.objective - 1) < 1e-12);
  snprintf(key, sizeof key, "archs.%s.lnd.A", arch_names[a]);
  assert_true(fabs(num(j, key) / exp(res.p[SC_LND_A]) - 1) < 1e-12);
  snprintf(key, sizeof key, "archs.%s.lnd.n_runs", arch_names[a]);
  assert_int_equal((int)num(j, key), m);
  snprintf(key, sizeof key, "archs.%s.lnd.n_skipped_missing_loss", arch_names[a]);
  assert_int_equal((int)num(j, key), NB * PER - m);
  sc_iso_opts io;
  sc_iso_opts_default(&io);
  io.lo = 5e17;
  io.hi = 5e19;
  sc_iso_result r;
  if (sc_iso_fit(n, d, c, l, NULL, m, &io, &r, &err)) fail_msg("%s", err.msg);
  snprintf(key, sizeof key, "archs.%s.isoflop.a", arch_names[a]);
  assert_true(fabs(num(j, key) - r.n_law.exponent) < 1e-12);
  snprintf(key, sizeof key, "archs.%s.isoflop.B", arch_names[a]);
  assert_true(fabs(num(j, key) / r.d_law.prefactor - 1) < 1e-12);
  assert_int_equal(r.n_law.n_points, NB);
  sc_iso_free(&r);
}

static void test_synthetic_end_to_end(void **state) {
  (void)state;
  char dir[512], csv[600], out1[600], out2[600], args[4096];
  th_tmpdir("fit-cli", dir, sizeof dir);
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  snprintf(out1, sizeof out1, "%s/out1", dir);
  snprintf(out2, sizeof out2, "%s/out2", dir);
  write_table(csv);
  static char text[65536];
  snprintf(args, sizeof args, "--runs %s --out %s --window 5e17:5e19 --bootstrap 24 --seed 7 --threads 2", csv, out1);
  if (run(args, text, sizeof text) != 0) fail_msg("scalecl fit failed:\n%s", text);
  static const char *const want[] = {"alpha_arch", "beta", "IsoFLOP", "power laws", "95% CI (24 resamples"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!strstr(text, want[i])) fail_msg("'%s' missing from the table:\n%s", want[i], text);
  cJSON *j = load_json(out1);
  for (int a = 0; a < NA; a++) check_against_library(j, a);
  /* Intervals exist and bracket the estimates they belong to. */
  assert_true(num(j, "archs.beta.isoflop.ci95.a.0") <= num(j, "archs.beta.isoflop.a") &&
              num(j, "archs.beta.isoflop.a") <= num(j, "archs.beta.isoflop.ci95.a.1"));
  const cJSON *ci = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "archs"), "beta"), "lnd"),
      "ci95");
  assert_non_null(ci);
  static const char *const params[] = {"a", "b", "e", "alpha", "beta", "gamma", "A", "B", "E", "alloc_a", "alloc_b"};
  for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(ci, params[k]);
    if (!cJSON_IsArray(iv) || cJSON_GetArraySize(iv) != 2) fail_msg("no ci95.%s", params[k]);
    assert_true(cJSON_GetArrayItem(iv, 0)->valuedouble <= cJSON_GetArrayItem(iv, 1)->valuedouble);
  }
  /* Budgets came from clustering (no isoflop_budget column); the minima CSV has one row per budget. */
  const cJSON *budgets = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "archs"), "alpha_arch"), "isoflop"),
      "budgets");
  assert_int_equal(cJSON_GetArraySize(budgets), NB);
  char path[700], *minima;
  snprintf(path, sizeof path, "%s/isoflop_minima.csv", out1);
  sc_err err;
  if (sc_read_file(path, &minima, NULL, &err)) fail_msg("%s", err.msg);
  int lines = 0;
  for (char *s = minima; *s; s++) lines += *s == '\n';
  assert_int_equal(lines, 1 + NA * NB);
  free(minima);
  /* Charts, when gnuplot is installed (the platform script installs it). */
  const cJSON *plots = cJSON_GetObjectItemCaseSensitive(j, "plots");
  if (cJSON_GetArraySize(plots) == 0) {
    printf("  note: no charts (%s)\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "plots_note")));
  } else {
    static const char *const charts[] = {"isoflop_alpha_arch", "isoflop_beta", "optimal_nd", "pareto",
                                         "lnd_alpha_arch",     "lnd_beta"};
    for (size_t k = 0; k < sizeof charts / sizeof charts[0]; k++)
      for (int e = 0; e < 2; e++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", charts[k], e ? "png" : "svg");
        if (file_size(out1, name) < 2000) fail_msg("%s/%s missing or tiny", out1, name);
      }
    /* What the charts say (the gnuplot scripts): extrapolation is drawn apart from the fitted range with a band,
     * and the L(N,D) colours follow fixed D/N bins, so both architectures use the same colour for a bin. */
    char *gp;
    snprintf(path, sizeof path, "%s/plots/optimal_nd.gp", out1);
    if (sc_read_file(path, &gp, NULL, &err)) fail_msg("%s", err.msg);
    static const char *const optimal[] = {"extrapolated beyond the fitted budgets", "filledcurves", "± 95% band",
                                          "dt 2"};
    for (size_t k = 0; k < sizeof optimal / sizeof optimal[0]; k++)
      if (!strstr(gp, optimal[k])) fail_msg("optimal_nd.gp lacks '%s'", optimal[k]);
    free(gp);
    char *la, *lb;
    snprintf(path, sizeof path, "%s/plots/lnd_alpha_arch.gp", out1);
    if (sc_read_file(path, &la, NULL, &err)) fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/plots/lnd_beta.gp", out1);
    if (sc_read_file(path, &lb, NULL, &err)) fail_msg("%s", err.msg);
    const char *bin = strstr(la, "title 'D/N "), *other;
    assert_non_null(bin);
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int)(strchr(bin + 12, ' ') - bin), bin); /* "title 'D/N 20–40" */
    assert_non_null(other = strstr(lb, key));
    /* The colour precedes the title on the same plot element: compare the 'lc rgb' nearest before each. */
    const char *ca = bin, *cb = other;
    while (ca > la && strncmp(ca, "rgb '", 5)) ca--;
    while (cb > lb && strncmp(cb, "rgb '", 5)) cb--;
    assert_int_equal(strncmp(ca, cb, 13), 0);
    assert_non_null(strstr(la, "lines: the fitted L(N,D)"));
    free(la), free(lb);
  }
  /* Same seed with one thread: the same fit.json apart from timings and the thread count. */
  snprintf(args, sizeof args, "--runs %s --out %s --window 5e17:5e19 --bootstrap 24 --seed 7 --threads 1 --no-plots",
           csv, out2);
  if (run(args, text, sizeof text) != 0) fail_msg("scalecl fit failed:\n%s", text);
  cJSON *j2 = load_json(out2);
  for (int a = 0; a < NA; a++)
    for (int m = 0; m < 2; m++) {
      const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "archs"), arch_names[a]);
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j2, "archs"), arch_names[a]);
      const char *method = m ? "isoflop" : "lnd";
      char *s1 =
          cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, method), "ci95"));
      char *s2 =
          cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(y, method), "ci95"));
      assert_non_null(s1);
      assert_non_null(s2);
      assert_string_equal(s1, s2);
      free(s1);
      free(s2);
    }
  cJSON_Delete(j);
  cJSON_Delete(j2);
}

static void expect_error(const char *args, int rc, const char *needle) {
  static char text[65536];
  int got = run(args, text, sizeof text);
  if (got != rc || !strstr(text, needle))
    fail_msg("scalecl fit %s: exit %d (want %d), output lacks '%s':\n%s", args, got, rc, needle, text);
}

static void write_text(const char *path, const char *text) {
  sc_err err;
  if (sc_write_file_atomic(path, text, strlen(text), &err)) fail_msg("%s", err.msg);
}

static void test_errors(void **state) {
  (void)state;
  char dir[512], csv[600], bad[600], args[4096];
  th_tmpdir("fit-cli-err", dir, sizeof dir);
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  write_table(csv);
  snprintf(bad, sizeof bad, "%s/bad.csv", dir);
  write_text(bad, "arch,n_params,n_tokens,flops,val_loss\nx,1e8,2e9,1.2e18,3.1\nx,1e8,2e9\nx,2e8,1e9,1.2e18,3.0\n");
  snprintf(args, sizeof args, "--runs %s", bad);
  expect_error(args, 1, "bad.csv:3: 3 fields, the header has 5");
  write_text(bad, "arch,n_params,n_tokens,flops,val_loss\nx,1e8,2e9,1.2e18,3.1\nx,-5,2e9,1.2e18,3.0\n");
  expect_error(args, 1, "bad.csv:3: column 'n_params' must be a positive number");
  /* Every bad row at once, not one per run of the command. */
  write_text(bad,
             "arch,n_params,n_tokens,flops,val_loss\nx,-1,2e9,1.2e18,3.1\nx,1e8,2e9,1.2e18,0\ny,1e8,2e9,1.2e18,3\n");
  expect_error(args, 1, "bad.csv has 2 bad rows (fix or delete them):\n  ");
  expect_error(args, 1, "bad.csv:3: val_loss must be a positive number");
  write_text(bad, "arch,params,n_tokens,flops,val_loss\nx,1e8,2e9,1.2e18,3.1\n");
  expect_error(args, 1, "has no column 'n_params'");
  snprintf(args, sizeof args, "--runs %s --arch gamma_arch", csv);
  expect_error(args, 1, "--arch gamma_arch removed the last 56 rows (available: alpha_arch, beta)");
  snprintf(args, sizeof args, "--runs %s --ctx 8192", csv);
  expect_error(args, 1, "has no ctx column");
  snprintf(args, sizeof args, "--runs %s --min-ratio 1e6", csv);
  expect_error(args, 1, "token/param range [1e+06, inf] removed the last");
  snprintf(args, sizeof args, "--runs %s --window 1e30:1e31 --method isoflop", csv);
  expect_error(args, 0, "N*(C) power law: 0 budgets in the window");
  snprintf(args, sizeof args, "--runs %s --bootstrapp 3", csv);
  expect_error(args, 2, "did you mean '--bootstrap'");
  snprintf(args, sizeof args, "--runs %s --form kaplan", csv);
  expect_error(args, 2, "--form: 'kaplan' is not gamma or chinchilla");
  expect_error("", 2, "missing required option --runs FILE.csv");
  expect_error("--help", 0, "usage: scalecl fit");
}

/* Hostile rows (found by fuzzing): names that would break CSV cells or gnuplot scripts and values near 1e300
 * are refused naming file:line; a huge but finite loss draws charts with a bounded number of ticks (one tick
 * per 0.2 of loss range used to write gigabytes of script). */
static void test_hostile_rows(void **state) {
  (void)state;
  char dir[512], bad[600], args[4096], out[600];
  th_tmpdir("fit-cli-hostile", dir, sizeof dir);
  snprintf(bad, sizeof bad, "%s/bad.csv", dir);
  snprintf(args, sizeof args, "--runs %s --no-plots", bad);
  static const char *const names[] = {"\"\"\"x\"", "a'b", "\"a,b\"", "a\\b", "\"a\rb\""};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char text[512];
    snprintf(text, sizeof text, "arch,n_params,n_tokens,flops,val_loss\n%s,1e8,2e9,1.2e18,3.1\n", names[i]);
    write_text(bad, text);
    expect_error(args, 1, "bad.csv:2: column 'arch'");
  }
  write_text(bad, "arch,n_params,n_tokens,flops,val_loss\n");
  expect_error(args, 1, "bad.csv has a header but no runs");
  write_text(bad, "arch,n_params,n_tokens,flops,val_loss\nx,1e300,2e9,1.2e18,3.1\n");
  expect_error(args, 1, "bad.csv:2: column 'n_params' must be a positive number up to 1e+40");
  write_text(bad, "arch,n_params,n_tokens,flops,val_loss\nx,1e8,2e9,1.2e18,1e300\n");
  expect_error(args, 1, "bad.csv:2: val_loss must be a positive number up to 1e+40");
  /* The synthetic table plus one run with a loss of 1e9. */
  char csv[600];
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  write_table(csv);
  FILE *f = fopen(csv, "a");
  assert_non_null(f);
  fprintf(f, "beta,1e8,2e9,1.2e18,1e9,\n");
  fclose(f);
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(args, sizeof args, "--runs %s --out %s --window 5e17:5e19 --starts 4", csv, out);
  expect_error(args, 0, "");
  char plots[700];
  snprintf(plots, sizeof plots, "%s/plots", out);
  int gp = file_size(plots, "pareto.gp");
  assert_true(gp > 0 && gp < 20000);
  assert_true(file_size(out, "pareto.svg") > 0);
}

/* Without gnuplot the command says so and still writes fit.json and the minima CSV. */
static void test_missing_gnuplot(void **state) {
  (void)state;
  char dir[512], csv[600], out[600], args[4096];
  th_tmpdir("fit-cli-nognuplot", dir, sizeof dir);
  snprintf(csv, sizeof csv, "%s/runs.csv", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  write_table(csv);
  static char text[65536];
  snprintf(args, sizeof args, "--runs %s --out %s --window 5e17:5e19 --starts 4", csv, out);
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "SCALECL_GNUPLOT=/nonexistent/gnuplot %s fit %s 2>&1", th_scalecl_bin(), args);
  assert_int_equal(th_run_capture(cmd, text, sizeof text), 0);
  if (!strstr(text, "SCALECL_GNUPLOT=/nonexistent/gnuplot is not an executable file"))
    fail_msg("no warning:\n%s", text);
  assert_true(file_size(out, "fit.json") > 0 && file_size(out, "isoflop_minima.csv") > 0);
  assert_int_equal(file_size(out, "pareto.png"), -1);
  cJSON *j = load_json(out);
  assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "plots_note")), "no plots"));
  cJSON_Delete(j);
}

/* The paper's runs through the command: its main setting and the Transformer IsoFLOP law. */
static void test_paper_runs(void **state) {
  (void)state;
  const char *data = th_need_shared_data();
  char dir[512], args[4096];
  th_tmpdir("fit-cli-paper", dir, sizeof dir);
  static char text[65536];
  snprintf(args, sizeof args, "--runs %s/xlstm_scaling_runs.csv --ctx 8192 --set tokenparam --out %s --no-plots", data,
           dir);
  if (run(args, text, sizeof text) != 0) fail_msg("scalecl fit failed:\n%s", text);
  cJSON *j = load_json(dir);
  assert_true(num(j, "archs.transformer.lnd.objective") <= 7.147497404750157e-05 * (1 + 1e-4));
  assert_true(num(j, "archs.xlstm.lnd.objective") <= 8.557159872113113e-05 * (1 + 1e-4));
  assert_int_equal((int)num(j, "archs.xlstm.lnd.n_runs"), 35);
  assert_true(fabs(num(j, "archs.transformer.isoflop.a") - 0.574909) < 1e-6);
  assert_true(fabs(num(j, "archs.transformer.isoflop.b") - 0.424271) < 1e-6);
  assert_int_equal((int)num(j, "archs.xlstm.isoflop.n_skipped_missing_loss"), 58);
  assert_int_equal((int)num(j, "archs.xlstm.isoflop.n_budgets_a"), 2);
  cJSON_Delete(j);
  /* The table's xLSTM budgets that lose runs without an exact loss get the --approx-loss hint. */
  if (!strstr(text, "hint: 2 budgets had too few runs with an exact loss; 58 runs have only an approximate loss"))
    fail_msg("no --approx-loss hint:\n%s", text);
  /* Three context lengths are not pooled silently (that moved the Transformer's b from 0.424 to 0.308). */
  snprintf(args, sizeof args, "--runs %s/xlstm_scaling_runs.csv --method isoflop --no-plots", data);
  expect_error(args, 1, "holds runs at 3 context lengths: 2048 (171 runs), 8192 (318 runs), 16384 (151 runs)");
  snprintf(args, sizeof args, "--runs %s/xlstm_scaling_runs.csv --method isoflop --no-plots --pool-ctx", data);
  expect_error(args, 0, "contexts pooled: 2048 (171 runs), 8192 (318 runs), 16384 (151 runs)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_synthetic_end_to_end), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_missing_gnuplot),      cmocka_unit_test(test_hostile_rows),
      cmocka_unit_test(test_paper_runs),
  };
  return TH_RUN_GROUP(tests, NULL, NULL);
}
