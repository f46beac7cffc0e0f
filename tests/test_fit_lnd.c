/* Parametric L(N,D) fit on synthetic data (no shared data needed): objective against a direct float64
 * evaluation of E + (A N^-alpha + B D^-beta)^gamma, analytic gradient against finite differences, recovery of
 * known parameters with and without noise, bootstrap determinism and coverage of the 95% intervals. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit/lnd.h"
#include "harness.h"

/* The Transformer main fit of the paper and Epoch's Chinchilla refit, as generating parameters. */
static const double truth_gamma[SC_LND_NP] = {11.99, 13.36, 0.012, 0.527, 0.508, 0.293};
static double truth_chin[SC_LND_NP];

/* The paper's token/param design: 7 sizes x 6 ratios. */
enum { NRUNS = 42 };
typedef struct {
  double x[NRUNS], y[NRUNS], z[NRUNS];
} runs;

static void synth(const sc_lnd_opts *o, const double *p, double sigma, unsigned long seed, runs *r) {
  static const double ns[7] = {1.6e8, 4e8, 8.3e8, 1.4e9, 2.7e9, 4e9, 7e9}, ratio[6] = {22, 44, 110, 220, 550, 1100};
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  assert_non_null(g);
  gsl_rng_set(g, seed);
  for (int i = 0, k = 0; i < 7; i++)
    for (int j = 0; j < 6; j++, k++) {
      r->x[k] = log(ns[i]);
      r->y[k] = log(ns[i] * ratio[j]);
      r->z[k] = sc_lnd_predict(o, p, r->x[k], r->y[k]) + (sigma > 0 ? gsl_ran_gaussian(g, sigma) : 0);
    }
  gsl_rng_free(g);
}

static void opts(sc_lnd_opts *o, sc_lnd_form form) {
  sc_lnd_opts_default(o);
  o->form = form;
  o->threads = 2;
}

static int setup(void **state) {
  (void)state;
  truth_chin[SC_LND_A] = log(482.01);
  truth_chin[SC_LND_B] = log(2085.43);
  truth_chin[SC_LND_E] = log(1.8172);
  truth_chin[SC_LND_ALPHA] = 0.3478;
  truth_chin[SC_LND_BETA] = 0.3658;
  truth_chin[SC_LND_GAMMA] = 1;
  return 0;
}

/* The LSE formulation against a direct evaluation of the loss in linear space (long double), and the
 * Huber sum with weights. */
static void test_objective_reference(void **state) {
  (void)state;
  sc_lnd_opts o;
  opts(&o, SC_FORM_GAMMA);
  o.delta = 3e-3;
  runs r;
  synth(&o, truth_gamma, 0.01, 7, &r);
  double w[NRUNS];
  for (int i = 0; i < NRUNS; i++) w[i] = (i * 7) % 3;
  const double params[3][SC_LND_NP] = {{11.99, 13.36, 0.012, 0.527, 0.508, 0.293},
                                       {3.0, 4.5, -0.3, 0.1, 0.2, 1.4},
                                       {16.2, 17.3, 0.11, 0.73, 0.67, 0.24}};
  for (int q = 0; q < 3; q++) {
    const double *p = params[q];
    long double f = 0, fw = 0;
    for (int i = 0; i < NRUNS; i++) {
      long double n = expl(r.x[i]), d = expl(r.y[i]);
      long double l = expl(p[SC_LND_E]) +
                      powl(expl(p[SC_LND_A]) * powl(n, -p[SC_LND_ALPHA]) + expl(p[SC_LND_B]) * powl(d, -p[SC_LND_BETA]),
                           p[SC_LND_GAMMA]);
      long double res = r.z[i] - logl(l), ar = fabsl(res);
      long double h = ar <= o.delta ? 0.5L * res * res : o.delta * (ar - 0.5L * o.delta);
      f += h;
      fw += w[i] * h;
      assert_true(fabs(sc_lnd_predict(&o, p, r.x[i], r.y[i]) - (double)logl(l)) <= 1e-13);
    }
    sc_lnd_data d = {r.x, r.y, r.z, NULL, NRUNS}, dw = {r.x, r.y, r.z, w, NRUNS};
    double got = sc_lnd_objective(&d, &o, p, NULL), gotw = sc_lnd_objective(&dw, &o, p, NULL);
    if (fabs(got - (double)f) > 1e-12 * (double)f || fabs(gotw - (double)fw) > 1e-12 * (double)fw)
      fail_msg("params %d: objective %.17g (weighted %.17g), reference %.17Lg (%.17Lg)", q, got, gotw, f, fw);
  }
}

/* Analytic gradient against central differences, for every form and at points on both sides of the kinks. */
static void test_gradient_fd(void **state) {
  (void)state;
  runs r;
  sc_lnd_opts o;
  opts(&o, SC_FORM_GAMMA);
  synth(&o, truth_gamma, 0.004, 11, &r);
  double w[NRUNS];
  for (int i = 0; i < NRUNS; i++) w[i] = 1 + (i % 3);
  sc_lnd_data d = {r.x, r.y, r.z, w, NRUNS};
  const double params[3][SC_LND_NP] = {
      {11.9, 13.4, 0.02, 0.52, 0.51, 0.29}, {3.0, 4.5, -0.3, 0.1, 0.2, 1.4}, {16.2, 17.3, 0.11, 0.73, 0.67, 0.24}};
  for (int form = 0; form < 2; form++)
    for (int lse = 0; lse < 2; lse++)
      for (int q = 0; q < 3; q++) {
        opts(&o, form ? SC_FORM_CHINCHILLA : SC_FORM_GAMMA);
        o.lse = lse;
        o.delta = q == 1 ? 10.0 : 1e-3; /* the quadratic regime and the mostly linear one */
        double p[SC_LND_NP], g[SC_LND_NP];
        memcpy(p, params[q], sizeof p);
        sc_lnd_objective(&d, &o, p, g);
        for (int k = 0; k < sc_lnd_nfree(&o); k++) {
          double h = 1e-6 * (1 + fabs(p[k])), pp[SC_LND_NP], pm[SC_LND_NP];
          memcpy(pp, p, sizeof p);
          memcpy(pm, p, sizeof p);
          pp[k] += h;
          pm[k] -= h;
          double fd = (sc_lnd_objective(&d, &o, pp, NULL) - sc_lnd_objective(&d, &o, pm, NULL)) / (2 * h);
          double scale = fabs(fd) + 1e-6 * sc_lnd_objective(&d, &o, p, NULL) + 1e-12;
          if (fabs(g[k] - fd) > 1e-4 * scale)
            fail_msg("form %d lse %d point %d: d/d%s analytic %.10g, finite difference %.10g", form, lse, q,
                     sc_lnd_param_name(k), g[k], fd);
        }
        if (form) assert_true(g[SC_LND_GAMMA] == 0);
      }
}

static void fit(const runs *r, const sc_lnd_opts *o, sc_lnd_result *res) {
  sc_lnd_data d = {r->x, r->y, r->z, NULL, NRUNS};
  sc_err err;
  if (sc_lnd_fit(&d, o, NULL, res, &err)) fail_msg("%s", err.msg);
}

/* Noise-free data: the generating parameters are the minimum (objective 0) and must be found. */
static void test_recovery_exact(void **state) {
  (void)state;
  for (int form = 0; form < 2; form++) {
    sc_lnd_opts o;
    opts(&o, form ? SC_FORM_CHINCHILLA : SC_FORM_GAMMA);
    const double *truth = form ? truth_chin : truth_gamma;
    runs r;
    synth(&o, truth, 0, 1, &r);
    sc_lnd_result res;
    fit(&r, &o, &res);
    static const double tol[SC_LND_NP] = {1e-5, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6};
    for (int k = 0; k < SC_LND_NP; k++)
      if (fabs(res.p[k] - truth[k]) > tol[k])
        fail_msg("form %d: %s = %.9g, generated with %.9g", form, sc_lnd_param_name(k), res.p[k], truth[k]);
    assert_true(res.objective < 1e-18);
  }
}

/* Gaussian noise of 0.002 on ln L. Tolerances are 4x the root-mean-square error of these estimators over 50
 * noise seeds (measured: gamma form a 0.84, b 0.87, e 0.054, alpha 0.037, beta 0.030, gamma 0.019, N*
 * exponent 0.007, loss extrapolated to N = 3e10, D = 6e11 0.25%; Chinchilla form a 0.17, b 0.16, e 0.005,
 * alpha 0.010, beta 0.007, N* exponent 0.010, extrapolated loss 0.15%). */
static void test_recovery_noise(void **state) {
  (void)state;
  static const double tol[2][SC_LND_NP + 2] = {{3.5, 3.5, 0.22, 0.15, 0.12, 0.08, 0.03, 0.01},
                                               {0.7, 0.65, 0.021, 0.04, 0.03, 0, 0.04, 0.006}};
  for (int form = 0; form < 2; form++)
    for (unsigned long seed = 1; seed <= 3; seed++) {
      sc_lnd_opts o;
      opts(&o, form ? SC_FORM_CHINCHILLA : SC_FORM_GAMMA);
      const double *t = form ? truth_chin : truth_gamma;
      runs r;
      synth(&o, t, 0.002, seed, &r);
      sc_lnd_result res;
      fit(&r, &o, &res);
      const double *p = res.p;
      double dev[SC_LND_NP + 2];
      for (int k = 0; k < SC_LND_NP; k++) dev[k] = p[k] - t[k];
      dev[SC_LND_NP] =
          p[SC_LND_BETA] / (p[SC_LND_ALPHA] + p[SC_LND_BETA]) - t[SC_LND_BETA] / (t[SC_LND_ALPHA] + t[SC_LND_BETA]);
      dev[SC_LND_NP + 1] =
          exp(sc_lnd_predict(&o, p, log(3e10), log(6e11)) - sc_lnd_predict(&o, t, log(3e10), log(6e11))) - 1;
      for (int k = 0; k < SC_LND_NP + 2; k++)
        if (fabs(dev[k]) > tol[form][k] && !(form && k == SC_LND_GAMMA))
          fail_msg("form %d seed %lu: %s off by %.4g (tolerance %.4g)", form, seed,
                   k < SC_LND_NP    ? sc_lnd_param_name(k)
                   : k == SC_LND_NP ? "N* exponent"
                                    : "extrapolated loss",
                   dev[k], tol[form][k]);
    }
}

/* Same seed, same samples for any thread count; another seed, other samples. */
static void test_bootstrap_deterministic(void **state) {
  (void)state;
  sc_lnd_opts o;
  opts(&o, SC_FORM_GAMMA);
  runs r;
  synth(&o, truth_gamma, 0.003, 5, &r);
  sc_lnd_data d = {r.x, r.y, r.z, NULL, NRUNS};
  sc_lnd_result full;
  fit(&r, &o, &full);
  enum { K = 12 };
  double a[K * SC_LND_NP], b[K * SC_LND_NP], c[K * SC_LND_NP], oa[K], ob[K];
  sc_err err;
  o.threads = 1;
  assert_int_equal(sc_lnd_bootstrap(&d, &o, full.p, K, 42, a, oa, &err), 0);
  o.threads = 3;
  assert_int_equal(sc_lnd_bootstrap(&d, &o, full.p, K, 42, b, ob, &err), 0);
  assert_memory_equal(a, b, sizeof a);
  assert_memory_equal(oa, ob, sizeof oa);
  assert_int_equal(sc_lnd_bootstrap(&d, &o, full.p, K, 43, c, NULL, &err), 0);
  assert_memory_not_equal(a, c, sizeof a);
  /* The refits move: resampled data has other optima. */
  int moved = 0;
  for (int s = 0; s < K; s++) moved += fabs(a[s * SC_LND_NP + SC_LND_ALPHA] - full.p[SC_LND_ALPHA]) > 1e-4;
  assert_true(moved >= K - 1);
}

/* Every run can be drawn: noise-free runs on the law but one, 0.5 off it in ln L. A resample holds that run with
 * probability 1 - (1 - 1/42)^42 = 0.64, and then its Huber term alone is about delta * 0.5 = 5e-4 per copy; without
 * it the refit is exact (objective ~0). The share of resamples above 1e-4 is checked for the first, a middle and
 * the last run (over K = 100 resamples its sd is 0.05). */
static void test_bootstrap_draws_every_run(void **state) {
  (void)state;
  enum { K = 100 };
  sc_lnd_opts o;
  opts(&o, SC_FORM_CHINCHILLA);
  o.boot_topk = 0;
  static const int outliers[] = {0, NRUNS / 2, NRUNS - 1};
  double params[K * SC_LND_NP], objective[K];
  for (size_t q = 0; q < sizeof outliers / sizeof outliers[0]; q++) {
    runs r;
    synth(&o, truth_chin, 0, 9, &r);
    r.z[outliers[q]] += 0.5;
    sc_lnd_data d = {r.x, r.y, r.z, NULL, NRUNS};
    sc_lnd_result full;
    fit(&r, &o, &full);
    sc_err err;
    if (sc_lnd_bootstrap(&d, &o, full.p, K, 11, params, objective, &err)) fail_msg("%s", err.msg);
    int with = 0;
    for (int s = 0; s < K; s++) with += objective[s] > 1e-4;
    printf("  run %d of %d off the law: in %d of %d resamples\n", outliers[q], NRUNS, with, K);
    if (with < 45 || with > 80) fail_msg("run %d drawn in %d of %d resamples, expected about 64", outliers[q], with, K);
  }
}

/* Percentile 95% intervals over M synthetic data sets (fresh noise each) should contain the generating value
 * about 95% of the time. Each data set: 42 runs, noise 0.003 on ln L, K resamples refitted from the full fit
 * (boot_topk 0: measured coverage is the same with 4 screened grid starts, at 14x the cost). Thresholds:
 * with M = 60 and true coverage 0.95, a parameter's count has mean 57 and sd 1.7; 0.85 is 3.5 sd below. */
static void coverage(sc_lnd_form form, int M, int K, double min_each, double lo_avg, double hi_avg) {
  sc_lnd_opts o;
  opts(&o, form);
  o.boot_topk = 0;
  const double *t = form == SC_FORM_GAMMA ? truth_gamma : truth_chin;
  int nf = sc_lnd_nfree(&o), cover[SC_LND_NP] = {0};
  double *bs = malloc((size_t)K * SC_LND_NP * sizeof *bs), *v = malloc((size_t)K * sizeof *v);
  assert_non_null(bs);
  assert_non_null(v);
  for (int m = 0; m < M; m++) {
    runs r;
    synth(&o, t, 0.003, 1000 + (unsigned long)m, &r);
    sc_lnd_data d = {r.x, r.y, r.z, NULL, NRUNS};
    sc_lnd_result full;
    fit(&r, &o, &full);
    sc_err err;
    if (sc_lnd_bootstrap(&d, &o, full.p, K, (unsigned long)m, bs, NULL, &err)) fail_msg("%s", err.msg);
    for (int k = 0; k < nf; k++) {
      for (int s = 0; s < K; s++) v[s] = bs[s * SC_LND_NP + k];
      gsl_sort(v, 1, (size_t)K);
      double lo = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)K, 0.025);
      double hi = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)K, 0.975);
      cover[k] += lo <= t[k] && t[k] <= hi;
    }
  }
  double avg = 0;
  for (int k = 0; k < nf; k++) {
    printf("  %s form: 95%% interval of %-5s contains the generating value in %d of %d data sets\n",
           form == SC_FORM_GAMMA ? "gamma" : "chinchilla", sc_lnd_param_name(k), cover[k], M);
    avg += (double)cover[k] / M / nf;
    if ((double)cover[k] / M < min_each)
      fail_msg("coverage of %s is %d/%d, below %.2f", sc_lnd_param_name(k), cover[k], M, min_each);
  }
  if (avg < lo_avg || avg > hi_avg) fail_msg("mean coverage %.3f outside [%.2f, %.2f]", avg, lo_avg, hi_avg);
  free(bs);
  free(v);
}

static void test_bootstrap_coverage_chinchilla(void **state) {
  (void)state;
  coverage(SC_FORM_CHINCHILLA, 60, 150, 0.85, 0.90, 0.99);
}

/* The gamma form with 30 data sets: a count has sd 1.2 at 0.95, so 0.8 is 3.7 sd below. */
static void test_bootstrap_coverage_gamma(void **state) {
  (void)state;
  coverage(SC_FORM_GAMMA, 30, 100, 0.80, 0.88, 1.0);
}

static void test_errors(void **state) {
  (void)state;
  sc_lnd_opts o;
  opts(&o, SC_FORM_GAMMA);
  sc_lnd_data d = {NULL, NULL, NULL, NULL, 0};
  sc_lnd_result res;
  sc_err err;
  assert_int_equal(sc_lnd_fit(&d, &o, NULL, &res, &err), -1);
  if (!strstr(err.msg, "no runs")) fail_msg("unexpected: %s", err.msg);
  assert_int_equal(sc_lnd_grid(&o, -1, NULL), 8000);
  opts(&o, SC_FORM_CHINCHILLA);
  assert_int_equal(sc_lnd_grid(&o, -1, NULL), 2000);
  double p[SC_LND_NP];
  sc_lnd_grid(&o, 1999, p);
  assert_true(p[SC_LND_A] == 20 && p[SC_LND_B] == 20 && p[SC_LND_E] == 1 && p[SC_LND_ALPHA] == 1 &&
              p[SC_LND_BETA] == 1 && p[SC_LND_GAMMA] == 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_objective_reference),
      cmocka_unit_test(test_gradient_fd),
      cmocka_unit_test(test_recovery_exact),
      cmocka_unit_test(test_recovery_noise),
      cmocka_unit_test(test_bootstrap_deterministic),
      cmocka_unit_test(test_bootstrap_draws_every_run),
      cmocka_unit_test(test_bootstrap_coverage_chinchilla),
      cmocka_unit_test(test_bootstrap_coverage_gamma),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
