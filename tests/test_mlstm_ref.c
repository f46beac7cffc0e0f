/* The float64 mLSTM references agree with each other (parallel, recurrent, chunkwise), and the custom
 * backward matches finite differences of a per-head LayerNorm loss (scale invariant, as the spec requires). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref/mlstm.h"

typedef struct {
  sc_ref_mlstm_dims d;
  double *q, *k, *v, *i, *f, *c0, *n0, *m0;
} inputs;

static void fill(sc_rng *r, double *x, size_t n, double mean, double std) {
  for (size_t j = 0; j < n; j++) x[j] = mean + std * sc_rng_normal(r);
}

static inputs make(size_t BH, size_t S, size_t dqk, size_t dv, double eps, double f_off, int with_state,
                   uint64_t seed) {
  inputs in = {{BH, S, dqk, dv, eps}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  sc_rng r;
  sc_rng_seed(&r, seed);
  in.q = th_dalloc(BH * S * dqk), in.k = th_dalloc(BH * S * dqk), in.v = th_dalloc(BH * S * dv);
  in.i = th_dalloc(BH * S), in.f = th_dalloc(BH * S);
  fill(&r, in.q, BH * S * dqk, 0, 1), fill(&r, in.k, BH * S * dqk, 0, 1), fill(&r, in.v, BH * S * dv, 0, 1);
  fill(&r, in.i, BH * S, 0, 1), fill(&r, in.f, BH * S, f_off, 1);
  if (with_state) {
    in.c0 = th_dalloc(BH * dqk * dv), in.n0 = th_dalloc(BH * dqk), in.m0 = th_dalloc(BH);
    fill(&r, in.c0, BH * dqk * dv, 0, 1), fill(&r, in.n0, BH * dqk, 0, 1), fill(&r, in.m0, BH, 0, 1);
  }
  return in;
}

static void release(inputs *in) {
  free(in->q), free(in->k), free(in->v), free(in->i), free(in->f), free(in->c0), free(in->n0), free(in->m0);
}

#define OK(call)                             \
  do {                                       \
    sc_err e_;                               \
    if ((call) != 0) fail_msg("%s", e_.msg); \
  } while (0)
#define ERR (&e_)

/* eps = 0: the forms differ only in where the stabilizer starts, which cancels exactly. */
static void check_forms(double eps, double atol, double rtol, double f_off) {
  const size_t BH = 2, S = 75, dqk = 16, dv = 24;
  inputs in = make(BH, S, dqk, dv, eps, f_off, 0, 11);
  double *hp = th_dalloc(BH * S * dv), *hr = th_dalloc(BH * S * dv), *hc = th_dalloc(BH * S * dv),
         *hc2 = th_dalloc(BH * S * dv);
  OK(sc_ref_mlstm_parallel(&in.d, in.q, in.k, in.v, in.i, in.f, hp, NULL, NULL, ERR));
  OK(sc_ref_mlstm_recurrent(&in.d, in.q, in.k, in.v, in.i, in.f, NULL, NULL, NULL, hr, NULL, NULL, NULL, ERR));
  OK(sc_ref_mlstm_chunkwise(&in.d, 16, in.q, in.k, in.v, in.i, in.f, NULL, NULL, NULL, hc, NULL, NULL, NULL, NULL, NULL,
                            ERR));
  OK(sc_ref_mlstm_chunkwise(&in.d, 64, in.q, in.k, in.v, in.i, in.f, NULL, NULL, NULL, hc2, NULL, NULL, NULL, NULL,
                            NULL, ERR));
  th_assert_close_d("recurrent vs parallel", hr, hp, BH * S * dv, (sc_tol){atol, rtol, 1e-20, 0});
  th_assert_close_d("chunkwise L=16 vs parallel", hc, hp, BH * S * dv, (sc_tol){atol, rtol, 1e-20, 0});
  th_assert_close_d("chunkwise L=64 vs parallel", hc2, hp, BH * S * dv, (sc_tol){atol, rtol, 1e-20, 0});
  free(hp), free(hr), free(hc), free(hc2);
  release(&in);
}

static void test_forms_agree_eps0(void **state) {
  (void)state;
  check_forms(0, 1e-10, 1e-10, 0);
  check_forms(0, 1e-10, 1e-10, 3);
}

static void test_forms_agree_eps(void **state) {
  (void)state;
  /* With eps = 1e-6 in stabilized units the forms differ at the 1e-6 relative level. */
  check_forms(1e-6, 1e-6, 1e-5, 0);
  check_forms(1e-6, 1e-6, 1e-5, 3);
}

static void test_states_agree(void **state) {
  (void)state;
  const size_t BH = 3, S = 37, dqk = 8, dv = 16;
  inputs in = make(BH, S, dqk, dv, 1e-6, 1, 1, 12);
  double *hr = th_dalloc(BH * S * dv), *hc = th_dalloc(BH * S * dv);
  double *cr = th_dalloc(BH * dqk * dv), *cc = th_dalloc(BH * dqk * dv), *nr = th_dalloc(BH * dqk),
         *nc = th_dalloc(BH * dqk);
  double mr[3], mc[3];
  OK(sc_ref_mlstm_recurrent(&in.d, in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, hr, cr, nr, mr, ERR));
  OK(sc_ref_mlstm_chunkwise(&in.d, 16, in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, hc, NULL, NULL, cc, nc, mc,
                            ERR));
  /* Both carry the same stabilizer recursion, so even with eps > 0 only rounding separates them. */
  th_assert_close_d("h with initial state", hc, hr, BH * S * dv, (sc_tol){1e-12, 1e-10, 1e-20, 0});
  th_assert_close_d("C_last", cc, cr, BH * dqk * dv, (sc_tol){1e-12, 1e-12, 1e-20, 0});
  th_assert_close_d("n_last", nc, nr, BH * dqk, (sc_tol){1e-12, 1e-12, 1e-20, 0});
  th_assert_close_d("m_last", mc, mr, BH, (sc_tol){1e-12, 1e-12, 1e-20, 0});
  free(hr), free(hc), free(cr), free(cc), free(nr), free(nc);
  release(&in);
}

/* loss = sum over (head, t) of sum_e (LN(h_t)[e] + off[e])^2, LN over dv; ln_eps 1e-5 is the upstream test loss. */
static double ln_eps;
static double ln_loss(const inputs *in, size_t L, const double *off, double *dh) {
  const size_t BH = in->d.BH, S = in->d.S, dv = in->d.dv;
  double *h = th_dalloc(BH * S * dv), loss = 0;
  OK(sc_ref_mlstm_chunkwise(&in->d, L, in->q, in->k, in->v, in->i, in->f, in->c0, in->n0, in->m0, h, NULL, NULL, NULL,
                            NULL, NULL, ERR));
  for (size_t r = 0; r < BH * S; r++) {
    const double *x = h + r * dv;
    double mu = 0, var = 0;
    for (size_t e = 0; e < dv; e++) mu += x[e] / (double)dv;
    for (size_t e = 0; e < dv; e++) var += (x[e] - mu) * (x[e] - mu) / (double)dv;
    const double rs = 1 / sqrt(var + ln_eps);
    double gy[512], sg = 0, sgy = 0;
    for (size_t e = 0; e < dv; e++) {
      const double y = (x[e] - mu) * rs;
      loss += (y + off[e]) * (y + off[e]);
      gy[e] = 2 * (y + off[e]);
      sg += gy[e], sgy += gy[e] * y;
    }
    if (dh)
      for (size_t e = 0; e < dv; e++)
        dh[r * dv + e] = rs * (gy[e] - sg / (double)dv - (x[e] - mu) * rs * sgy / (double)dv);
  }
  free(h);
  return loss;
}

static void fd_check(const char *name, inputs *in, size_t L, const double *off, double *x, const double *grad,
                     size_t n) {
  double *fd = th_dalloc(n), hstep = 1e-6;
  for (size_t j = 0; j < n; j++) {
    const double x0 = x[j];
    x[j] = x0 + hstep;
    const double lp = ln_loss(in, L, off, NULL);
    x[j] = x0 - hstep;
    const double lm = ln_loss(in, L, off, NULL);
    x[j] = x0;
    fd[j] = (lp - lm) / (2 * hstep);
  }
  double scale = 0;
  for (size_t j = 0; j < n; j++) scale = fmax(scale, fabs(fd[j]));
  /* Exact up to the eps of the normalizer and of the LayerNorm, whose effect is eps_LN / var(h) ~ 1e-4. */
  char label[64];
  snprintf(label, sizeof label, "custom bwd vs FD (LN eps %g): %s", ln_eps, name);
  const double tol = ln_eps > 0 ? 1e-3 : 1e-5;
  /* NMSE: at most tol^2, the mean squared error of an element off by its relative tolerance. */
  th_assert_close_d(label, grad, fd, n, (sc_tol){tol * scale, tol, tol * tol, 0});
  free(fd);
}

static void test_bwd_finite_differences(void **state) {
  (void)state;
  const size_t BH = 2, S = 21, dqk = 8, dv = 8, L = 8;
  for (int variant = 0; variant < 4; variant++) {
    ln_eps = variant < 2 ? 1e-5 : 0;
    inputs in = make(BH, S, dqk, dv, 1e-6, variant % 2 ? 3 : 0, variant % 2, 13 + (uint64_t)variant);
    double off[8];
    sc_rng r;
    sc_rng_seed(&r, 99);
    fill(&r, off, dv, 0, 1);
    double *dh = th_dalloc(BH * S * dv), *nout = th_dalloc(BH * S), *h = th_dalloc(BH * S * dv);
    ln_loss(&in, L, off, dh);
    OK(sc_ref_mlstm_chunkwise(&in.d, L, in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, h, nout, NULL, NULL, NULL,
                              NULL, ERR));
    double *dq = th_dalloc(BH * S * dqk), *dk = th_dalloc(BH * S * dqk), *dvv = th_dalloc(BH * S * dv),
           *di = th_dalloc(BH * S), *df = th_dalloc(BH * S), *dc0 = th_dalloc(BH * dqk * dv);
    OK(sc_ref_mlstm_chunkwise_bwd(&in.d, L, in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, nout, dh, dq, dk, dvv,
                                  di, df, dc0, ERR));
    printf(" f offset %d, initial state %s\n", variant % 2 ? 3 : 0, variant % 2 ? "random" : "zero");
    fd_check("dq", &in, L, off, in.q, dq, BH * S * dqk);
    fd_check("dk", &in, L, off, in.k, dk, BH * S * dqk);
    fd_check("dv", &in, L, off, in.v, dvv, BH * S * dv);
    fd_check("di", &in, L, off, in.i, di, BH * S);
    fd_check("df", &in, L, off, in.f, df, BH * S);
    if (in.c0) fd_check("dc0", &in, L, off, in.c0, dc0, BH * dqk * dv);
    free(dh), free(nout), free(h), free(dq), free(dk), free(dvv), free(di), free(df), free(dc0);
    release(&in);
  }
}

/* The custom backward depends on the chunking only through eps. */
static void test_bwd_chunk_invariant(void **state) {
  (void)state;
  const size_t BH = 2, S = 50, dqk = 16, dv = 8;
  inputs in = make(BH, S, dqk, dv, 1e-6, 2, 1, 14);
  sc_rng r;
  sc_rng_seed(&r, 5);
  double *dh = th_dalloc(BH * S * dv), *h = th_dalloc(BH * S * dv), *nout = th_dalloc(BH * S);
  fill(&r, dh, BH * S * dv, 0, 1);
  double *g[2][6];
  const size_t Ls[2] = {16, 64}, ns[6] = {BH * S * dqk, BH * S * dqk, BH * S * dv, BH * S, BH * S, BH * dqk * dv};
  for (int c = 0; c < 2; c++) {
    for (int j = 0; j < 6; j++) g[c][j] = th_dalloc(ns[j]);
    OK(sc_ref_mlstm_chunkwise(&in.d, Ls[c], in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, h, nout, NULL, NULL,
                              NULL, NULL, ERR));
    OK(sc_ref_mlstm_chunkwise_bwd(&in.d, Ls[c], in.q, in.k, in.v, in.i, in.f, in.c0, in.n0, in.m0, nout, dh, g[c][0],
                                  g[c][1], g[c][2], g[c][3], g[c][4], g[c][5], ERR));
  }
  const char *names[6] = {"dq", "dk", "dv", "di", "df", "dc0"};
  for (int j = 0; j < 6; j++) {
    char label[64];
    snprintf(label, sizeof label, "bwd L=16 vs L=64: %s", names[j]);
    th_assert_close_d(label, g[0][j], g[1][j], ns[j], (sc_tol){1e-5, 1e-4, 1e-20, 0});
    free(g[0][j]), free(g[1][j]);
  }
  free(dh), free(h), free(nout);
  release(&in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forms_agree_eps0),    cmocka_unit_test(test_forms_agree_eps),
      cmocka_unit_test(test_states_agree),        cmocka_unit_test(test_bwd_finite_differences),
      cmocka_unit_test(test_bwd_chunk_invariant),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
