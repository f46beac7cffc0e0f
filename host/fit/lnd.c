#include "fit/lnd.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/parallel.h"

enum { RESTART_EVERY = 20 };

static const double grid_ab[] = {0, 5, 10, 15, 20};
static const double grid_e[] = {-1, -0.5, 0, 0.5, 1};
static const double grid_exp[] = {0, 0.2, 0.5, 1};
static const double grid_gamma[] = {0, 0.5, 1, 1.5};
enum { G_AB = 5, G_E = 5, G_EXP = 4, G_GAMMA = 4 };

void sc_lnd_opts_default(sc_lnd_opts *o) {
  memset(o, 0, sizeof *o);
  o->form = SC_FORM_GAMMA;
  o->lse = 1;
  o->delta = 1e-3;
  o->topk = 32;
  o->boot_topk = 4;
  o->max_iter = 3000;
  o->threads = 1;
}

int sc_lnd_nfree(const sc_lnd_opts *o) {
  return o->form == SC_FORM_GAMMA ? 6 : 5;
}

const char *sc_lnd_param_name(int k) {
  static const char *const names[SC_LND_NP] = {"a", "b", "e", "alpha", "beta", "gamma"};
  return k >= 0 && k < SC_LND_NP ? names[k] : "?";
}

static double gamma_of(const sc_lnd_opts *o, const double *p) {
  return o->form == SC_FORM_GAMMA ? p[SC_LND_GAMMA] : 1.0;
}

/* log(exp(u) + exp(v)) and the weight exp(u - lse) of u. */
static inline double lse2(double u, double v, double *wu) {
  double t = exp(-fabs(u - v));
  *wu = u >= v ? 1 / (1 + t) : t / (1 + t);
  return (u >= v ? u : v) + log1p(t);
}

/* ln L^ for one run and, when J is not NULL, its derivatives with respect to the SC_LND_NP parameters
 * (the gamma entry is 0 when gamma is fixed). */
static inline double pred_jac(const sc_lnd_opts *o, const double *p, double x, double y, double *J) {
  const double g = gamma_of(o, p), u1 = p[SC_LND_A] - p[SC_LND_ALPHA] * x, u2 = p[SC_LND_B] - p[SC_LND_BETA] * y;
  double pred, s, v1 = 0, ws = 0;
  if (o->lse) {
    s = lse2(u1, u2, &v1);
    pred = lse2(g * s, p[SC_LND_E], &ws);
  } else {
    s = u2 + p[SC_LND_E];
    pred = u1 + g * s;
  }
  if (!J) return pred;
  if (o->lse) {
    double c = ws * g;
    J[SC_LND_A] = c * v1;
    J[SC_LND_B] = c * (1 - v1);
    J[SC_LND_E] = 1 - ws;
    J[SC_LND_ALPHA] = -c * v1 * x;
    J[SC_LND_BETA] = -c * (1 - v1) * y;
    J[SC_LND_GAMMA] = ws * s;
  } else {
    J[SC_LND_A] = 1;
    J[SC_LND_B] = g;
    J[SC_LND_E] = g;
    J[SC_LND_ALPHA] = -x;
    J[SC_LND_BETA] = -g * y;
    J[SC_LND_GAMMA] = s;
  }
  if (o->form != SC_FORM_GAMMA) J[SC_LND_GAMMA] = 0;
  return pred;
}

static inline double huber(double r, double delta) {
  double ar = fabs(r);
  return ar <= delta ? 0.5 * r * r : delta * (ar - 0.5 * delta);
}

double sc_lnd_predict(const sc_lnd_opts *o, const double *p, double ln_n, double ln_d) {
  return pred_jac(o, p, ln_n, ln_d, NULL);
}

double sc_lnd_objective(const sc_lnd_data *d, const sc_lnd_opts *o, const double *p, double *grad) {
  const double delta = o->delta;
  double f = 0, J[SC_LND_NP];
  if (grad) memset(grad, 0, SC_LND_NP * sizeof *grad);
  for (int i = 0; i < d->n; i++) {
    double w = d->w ? d->w[i] : 1.0;
    if (w == 0) continue;
    double r = d->ln_l[i] - pred_jac(o, p, d->ln_n[i], d->ln_d[i], grad ? J : NULL);
    f += w * huber(r, delta);
    if (!grad) continue;
    double c = -w * (r > delta ? delta : r < -delta ? -delta : r); /* d f / d pred */
    for (int k = 0; k < SC_LND_NP; k++) grad[k] += c * J[k];
  }
  return f;
}

int sc_lnd_grid(const sc_lnd_opts *o, int k, double *p) {
  int ng = o->form == SC_FORM_GAMMA ? G_GAMMA : 1;
  int size = G_AB * G_EXP * G_AB * G_EXP * G_E * ng;
  if (!p || k < 0 || k >= size) return size;
  /* k = ((((ia * G_EXP + ial) * G_AB + ib) * G_EXP + ibe) * G_E + ie) * ng + ig */
  int ig = k % ng;
  k /= ng;
  int ie = k % G_E;
  k /= G_E;
  int ibe = k % G_EXP;
  k /= G_EXP;
  int ib = k % G_AB;
  k /= G_AB;
  int ial = k % G_EXP;
  int ia = k / G_EXP;
  p[SC_LND_A] = grid_ab[ia];
  p[SC_LND_B] = grid_ab[ib];
  p[SC_LND_E] = grid_e[ie];
  p[SC_LND_ALPHA] = grid_exp[ial];
  p[SC_LND_BETA] = grid_exp[ibe];
  p[SC_LND_GAMMA] = o->form == SC_FORM_GAMMA ? grid_gamma[ig] : 1.0;
  return size;
}

/* GSL glue. BFGS starts with the identity as its Hessian model, and the raw parameters are badly scaled and
 * nearly collinear (a - alpha ln N with ln N about 20), so each (re)start works in whitened coordinates z with
 * p = p0 + L^-T z, where L L^T = sum_i h_i J_i J_i^T is the Gauss-Newton metric of the Huber objective at p0
 * (J_i = d ln L^_i / dp, h_i = min(1, delta / |r_i|), the iteratively-reweighted least squares weight). */
typedef struct {
  const sc_lnd_data *d;
  const sc_lnd_opts *o;
  int nf;
  double p0[SC_LND_NP];
  gsl_matrix *L;
  gsl_vector *t;
  /* The last point evaluated and its objective and gradient dz. vector_bfgs2's line search asks for f and then,
   * at most of the same points, for df: the gradient costs little next to the objective's exp/log1p, so every
   * evaluation computes both and df at the last point is a copy. */
  int cached;
  double z[SC_LND_NP], f, g[SC_LND_NP];
} lnd_problem;

static void to_params(const gsl_vector *z, lnd_problem *P, double *p) {
  gsl_vector_memcpy(P->t, z);
  gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, P->L, P->t);
  memcpy(p, P->p0, sizeof P->p0);
  for (int k = 0; k < P->nf; k++) p[k] += gsl_vector_get(P->t, (size_t)k);
}

/* Evaluates the objective and its gradient dz at z unless z is the cached point. */
static void evaluate(const gsl_vector *z, lnd_problem *P) {
  int same = P->cached;
  for (int k = 0; k < P->nf && same; k++) same = P->z[k] == gsl_vector_get(z, (size_t)k);
  if (same) return;
  double p[SC_LND_NP], grad[SC_LND_NP];
  to_params(z, P, p);
  P->f = sc_lnd_objective(P->d, P->o, p, grad);
  gsl_vector_view g = gsl_vector_view_array(P->g, (size_t)P->nf);
  for (int k = 0; k < P->nf; k++) P->z[k] = gsl_vector_get(z, (size_t)k), P->g[k] = grad[k];
  gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, P->L, &g.vector); /* dz = L^-1 dp */
  P->cached = 1;
}

static double gsl_f(const gsl_vector *z, void *arg) {
  lnd_problem *P = arg;
  evaluate(z, P);
  return P->f;
}

static void gsl_fdf(const gsl_vector *z, void *arg, double *f, gsl_vector *g) {
  lnd_problem *P = arg;
  evaluate(z, P);
  *f = P->f;
  for (int k = 0; k < P->nf; k++) gsl_vector_set(g, (size_t)k, P->g[k]);
}

static void gsl_df(const gsl_vector *z, void *arg, gsl_vector *g) {
  double f;
  gsl_fdf(z, arg, &f, g);
}

/* Sets P->L to the Cholesky factor of the metric at P->p0 (ridge-regularized: the metric is singular where
 * a parameter has no effect, e.g. a and alpha when gamma = 0). */
static void set_metric(lnd_problem *P) {
  const sc_lnd_data *d = P->d;
  const int nf = P->nf;
  double J[SC_LND_NP];
  gsl_matrix_set_zero(P->L);
  for (int i = 0; i < d->n; i++) {
    double w = d->w ? d->w[i] : 1.0;
    if (w == 0) continue;
    double r = fabs(d->ln_l[i] - pred_jac(P->o, P->p0, d->ln_n[i], d->ln_d[i], J));
    double h = w * (r <= P->o->delta ? 1.0 : P->o->delta / r);
    for (int j = 0; j < nf; j++)
      for (int k = 0; k <= j; k++) *gsl_matrix_ptr(P->L, (size_t)j, (size_t)k) += h * J[j] * J[k];
  }
  double dmax = 0;
  for (int k = 0; k < nf; k++) dmax = fmax(dmax, gsl_matrix_get(P->L, (size_t)k, (size_t)k));
  double ridge = dmax > 0 ? 1e-6 * dmax : 1.0;
  for (int j = 0; j < nf; j++) {
    *gsl_matrix_ptr(P->L, (size_t)j, (size_t)j) += ridge;
    for (int k = 0; k < j; k++) gsl_matrix_set(P->L, (size_t)k, (size_t)j, gsl_matrix_get(P->L, (size_t)j, (size_t)k));
  }
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int bad = gsl_linalg_cholesky_decomp1(P->L);
  gsl_set_error_handler(old);
  if (bad) { /* numerically indefinite: fall back to the diagonal */
    gsl_matrix_set_identity(P->L);
    for (int k = 0; k < nf; k++) gsl_matrix_set(P->L, (size_t)k, (size_t)k, sqrt(fmax(dmax, 1e-300)));
  }
}

double sc_lnd_minimize(const sc_lnd_data *d, const sc_lnd_opts *o, double *p, int *iterations) {
  const int nf = sc_lnd_nfree(o);
  lnd_problem P = {
      .d = d, .o = o, .nf = nf, .L = gsl_matrix_alloc((size_t)nf, (size_t)nf), .t = gsl_vector_alloc((size_t)nf)};
  gsl_multimin_function_fdf F = {gsl_f, gsl_df, gsl_fdf, (size_t)nf, &P};
  double best = sc_lnd_objective(d, o, p, NULL);
  int iters = 0;
  gsl_multimin_fdfminimizer *s = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)nf);
  gsl_vector *z = gsl_vector_alloc((size_t)nf);
  if (!s || !z || !P.L || !P.t) best = NAN; /* GSL could not allocate its workspace */
  if (!isnan(best)) {
    gsl_vector_set_zero(z);
    /* Restart every RESTART_EVERY iterations from the current point with a fresh metric, while that still
     * lowers the objective: the Huber objective's curvature jumps where residuals cross +-delta, which leaves
     * BFGS's model stale, and a fresh Gauss-Newton metric converges much faster than a long BFGS run (on the
     * paper's fits: about 200 iterations instead of 1000-3000). Some optima lie at infinity along a valley
     * (E -> 0, or gamma -> 0 with a, b -> infinity), hence the generous iteration cap. */
    while (iters < o->max_iter) {
      memcpy(P.p0, p, sizeof P.p0);
      set_metric(&P);
      P.cached = 0; /* z now maps to other parameters */
      gsl_multimin_fdfminimizer_set(s, &F, z, 1.0, 0.1);
      for (int it = 0; it < RESTART_EVERY; it++) {
        iters++;
        if (gsl_multimin_fdfminimizer_iterate(s) != GSL_SUCCESS) break;
        if (gsl_multimin_test_gradient(s->gradient, 1e-14 * (1 + fabs(s->f))) == GSL_SUCCESS) break;
      }
      double f = s->f;
      if (!(f < best)) break;
      double gain = best - f;
      best = f;
      to_params(s->x, &P, p);
      if (gain <= 1e-12 * best) break;
    }
  }
  if (s) gsl_multimin_fdfminimizer_free(s);
  if (z) gsl_vector_free(z);
  if (P.L) gsl_matrix_free(P.L);
  if (P.t) gsl_vector_free(P.t);
  if (iterations) *iterations = iters;
  return best;
}

/* Objective at every grid start. The LSE form shares the inner LSE(a - alpha x, b - beta y) across the
 * (gamma, e) points, which halves the work. Task t covers one (a, alpha) pair. */
typedef struct {
  const sc_lnd_data *d;
  const sc_lnd_opts *o;
  double *f;
  atomic_int fail;
} screen_ctx;

static void screen_task(void *arg, int t, int thread) {
  (void)thread;
  screen_ctx *c = arg;
  const sc_lnd_data *d = c->d;
  const sc_lnd_opts *o = c->o;
  int ng = o->form == SC_FORM_GAMMA ? G_GAMMA : 1, per_ab = G_E * ng;
  int base = t * G_AB * G_EXP * per_ab;
  if (!o->lse) {
    double p[SC_LND_NP];
    for (int k = base; k < base + G_AB * G_EXP * per_ab; k++) {
      sc_lnd_grid(o, k, p);
      c->f[k] = sc_lnd_objective(d, o, p, NULL);
    }
    return;
  }
  double *s = malloc((size_t)(d->n ? d->n : 1) * sizeof *s);
  if (!s) {
    c->fail = 1;
    return;
  }
  double p[SC_LND_NP];
  sc_lnd_grid(o, base, p);
  const double a = p[SC_LND_A], al = p[SC_LND_ALPHA];
  for (int j = 0; j < G_AB * G_EXP; j++) {
    int k0 = base + j * per_ab;
    sc_lnd_grid(o, k0, p);
    double w;
    for (int i = 0; i < d->n; i++) s[i] = lse2(a - al * d->ln_n[i], p[SC_LND_B] - p[SC_LND_BETA] * d->ln_d[i], &w);
    for (int q = 0; q < per_ab; q++) {
      sc_lnd_grid(o, k0 + q, p);
      double g = p[SC_LND_GAMMA], e = p[SC_LND_E], f = 0;
      for (int i = 0; i < d->n; i++) {
        double r = d->ln_l[i] - lse2(g * s[i], e, &w);
        f += (d->w ? d->w[i] : 1.0) * huber(r, o->delta);
      }
      c->f[k0 + q] = f;
    }
  }
  free(s);
}

typedef struct {
  double f;
  int k;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
  const ranked *a = x, *b = y;
  if (a->f != b->f) return a->f < b->f ? -1 : 1;
  return (a->k > b->k) - (a->k < b->k);
}

/* Grid start indices ordered by objective (ties by index). */
static int screen(const sc_lnd_data *d, const sc_lnd_opts *o, int threads, ranked *out, sc_err *err) {
  int n = sc_lnd_grid(o, -1, NULL);
  double *f = sc_malloc((size_t)n * sizeof *f, "grid objectives", err);
  if (!f) return -1;
  screen_ctx c = {d, o, f, 0};
  atomic_init(&c.fail, 0);
  if (sc_parallel_for(G_AB * G_EXP, threads, screen_task, &c, err) < 0 || c.fail) {
    free(f);
    return c.fail ? sc_fail(err, "out of host memory screening the start grid") : -1;
  }
  for (int k = 0; k < n; k++) out[k] = (ranked){isnan(f[k]) ? INFINITY : f[k], k};
  qsort(out, (size_t)n, sizeof *out, cmp_ranked);
  free(f);
  return 0;
}

typedef struct {
  const sc_lnd_data *d;
  const sc_lnd_opts *o;
  double (*starts)[SC_LND_NP];
  double *obj;
  int *iters;
} starts_ctx;

static void start_task(void *arg, int i, int thread) {
  (void)thread;
  starts_ctx *c = arg;
  c->obj[i] = sc_lnd_minimize(c->d, c->o, c->starts[i], &c->iters[i]);
}

/* nscreen < 0: BFGS from every grid start; 0: from `warm` only; > 0: from the nscreen best-screened grid
 * starts (and from `warm` when given). */
static int fit_impl(const sc_lnd_data *d, const sc_lnd_opts *o, const double *warm, int nscreen, int threads,
                    sc_lnd_result *res, sc_err *err) {
  memset(res, 0, sizeof *res);
  int ngrid = sc_lnd_grid(o, -1, NULL);
  if (nscreen > ngrid) nscreen = -1;
  if (nscreen == 0 && !warm) return sc_fail(err, "no starting point for the L(N,D) fit");
  int nrun = (nscreen < 0 ? ngrid : nscreen) + (warm ? 1 : 0);
  ranked *order = sc_malloc((size_t)ngrid * sizeof *order, "grid ranking", err);
  double(*starts)[SC_LND_NP] = sc_malloc((size_t)nrun * sizeof *starts, "starts", err);
  double *obj = sc_malloc((size_t)nrun * sizeof *obj, "start objectives", err);
  int *iters = sc_calloc((size_t)nrun, sizeof *iters, "start iterations", err);
  int rc = -1;
  if (!order || !starts || !obj || !iters) goto done;
  int ns = 0;
  if (nscreen > 0) {
    if (screen(d, o, threads, order, err)) goto done;
    for (int i = 0; i < nscreen; i++) sc_lnd_grid(o, order[i].k, starts[ns++]);
  } else if (nscreen < 0) {
    for (int k = 0; k < ngrid; k++) sc_lnd_grid(o, k, starts[ns++]);
  }
  if (warm) {
    memcpy(starts[ns], warm, sizeof starts[ns]);
    if (o->form != SC_FORM_GAMMA) starts[ns][SC_LND_GAMMA] = 1.0;
    ns++;
  }
  starts_ctx c = {d, o, starts, obj, iters};
  if (sc_parallel_for(ns, threads, start_task, &c, err) < 0) goto done;
  int best = 0;
  for (int i = 0; i < ns; i++) {
    if (isnan(obj[i])) {
      sc_fail(err, "out of host memory for the BFGS workspace");
      goto done;
    }
    if (obj[i] < obj[best]) best = i;
  }
  if (!isfinite(obj[best])) {
    sc_fail(err, "the L(N,D) objective is not finite at any start (check that losses, N and D are positive)");
    goto done;
  }
  memcpy(res->p, starts[best], sizeof res->p);
  res->objective = obj[best];
  res->n_grid = ngrid;
  res->n_optimized = ns;
  res->iterations = iters[best];
  for (int i = 0; i < ns; i++) res->n_at_best += obj[i] <= obj[best] * (1 + 1e-8);
  double g[SC_LND_NP], gn = 0;
  sc_lnd_objective(d, o, res->p, g);
  for (int k = 0; k < sc_lnd_nfree(o); k++) gn += g[k] * g[k];
  res->grad_norm = sqrt(gn);
  rc = 0;
done:
  free(order);
  free(starts);
  free(obj);
  free(iters);
  return rc;
}

int sc_lnd_fit(const sc_lnd_data *d, const sc_lnd_opts *o, const double *warm, sc_lnd_result *res, sc_err *err) {
  if (d->n < 1) return sc_fail(err, "no runs to fit L(N,D) to");
  if (!(o->delta > 0)) return sc_fail(err, "the Huber delta must be positive, got %g", o->delta);
  return fit_impl(d, o, warm, o->topk > 0 ? o->topk : -1, o->threads, res, err);
}

typedef struct {
  const sc_lnd_data *d;
  const sc_lnd_opts *o;
  const double *full;
  unsigned long seed;
  double *params, *objective;
  atomic_int fail;
  sc_err *errs; /* one per thread */
} boot_ctx;

static void boot_task(void *arg, int k, int thread) {
  boot_ctx *c = arg;
  const int n = c->d->n;
  double *w = calloc((size_t)n, sizeof *w);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!w || !r) {
    c->fail = 1;
    free(w);
    if (r) gsl_rng_free(r);
    return;
  }
  /* mt19937 treats seed 0 as its default seed, hence the + 1. */
  gsl_rng_set(r, c->seed * 1000003UL + (unsigned long)k + 1);
  for (int i = 0; i < n; i++) w[gsl_rng_uniform_int(r, (unsigned long)n)] += 1;
  gsl_rng_free(r);
  sc_lnd_data dk = {c->d->ln_n, c->d->ln_d, c->d->ln_l, w, n};
  sc_lnd_result res;
  if (fit_impl(&dk, c->o, c->full, c->o->boot_topk, 1, &res, &c->errs[thread]))
    c->fail = 1;
  else {
    memcpy(c->params + (size_t)k * SC_LND_NP, res.p, sizeof res.p);
    if (c->objective) c->objective[k] = res.objective;
  }
  free(w);
  sc_progress_add(c->o->progress, 1);
}

int sc_lnd_bootstrap(const sc_lnd_data *d, const sc_lnd_opts *o, const double *full, int k, unsigned long seed,
                     double *params, double *objective, sc_err *err) {
  if (d->w) return sc_fail(err, "bootstrap of weighted data is not supported");
  int threads = o->threads < 1 ? 1 : o->threads;
  sc_err *errs = sc_calloc((size_t)threads, sizeof *errs, "per-thread errors", err);
  if (!errs) return -1;
  boot_ctx c = {d, o, full, seed, params, objective, 0, errs};
  atomic_init(&c.fail, 0);
  int rc = sc_parallel_for(k, threads, boot_task, &c, err) < 0 ? -1 : 0;
  if (!rc && c.fail) {
    rc = -1;
    const char *msg = "out of host memory";
    for (int t = 0; t < threads; t++)
      if (errs[t].msg[0]) msg = errs[t].msg;
    sc_fail(err, "bootstrap refit failed: %s", msg);
  }
  free(errs);
  return rc;
}
