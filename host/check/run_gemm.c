/* GEMM: every row through every backend the device runs (the host's BLAS only on CPU devices) and all four transpose
 * pairs: A, B, C with padded leading dimensions (and padded strides when batched), C holding NaN when beta = 0 (it must
 * not be read), padding that must stay untouched. Values: A and B as sc_fill_values gives them; the row's atol is per
 * sqrt(K). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check/runners.h"
#include "ops/gemm.h"
#include "ref/gemm.h"

static void destroy_gemm(void *g) {
  sc_gemm_destroy(g);
}

static void gemm_form(ck_scope *cs, sc_gemm *gemm, sc_gemm_backend be, int ta, int tb) {
  const sc_check_row *row = cs->row;
  const sc_check_gemm s = row->gemm;
  size_t lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 1, ldc = s.n + 2;
  size_t arows = ta ? s.k : s.m, brows = tb ? s.n : s.k;
  size_t sA = arows * lda + 5, sB = brows * ldb + 7, sC = s.m * ldc + 1;
  size_t nA = sA * s.batch, nB = sB * s.batch, nC = sC * s.batch;
  float *A = ck_falloc(cs, nA), *B = ck_falloc(cs, nB), *C = ck_falloc(cs, nC), *Cout = ck_falloc(cs, nC);
  float *got = ck_falloc(cs, s.m * s.n);
  double *ref = ck_dalloc(cs, s.m * s.n);
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  sc_fill_values(&rng, row->values, A, nA);
  sc_fill_values(&rng, row->values, B, nB);
  sc_rng_fill_normal(&rng, C, nC, 0, 1);
  if (s.beta == 0.0f)
    for (size_t i = 0; i < nC; i++) C[i] = NAN;
  const sc_view dA = ck_tensor(cs, A, nA * 4), dB = ck_tensor(cs, B, nB * 4), dC = ck_tensor(cs, C, nC * 4);
  CK(cs, s.batch == 1
             ? sc_gemm_run(gemm, be, ta, tb, s.m, s.n, s.k, s.alpha, dA, lda, dB, ldb, s.beta, dC, ldc, cs->err)
             : sc_gemm_run_batched(gemm, be, ta, tb, s.m, s.n, s.k, s.alpha, dA, lda, sA, dB, ldb, sB, s.beta, dC, ldc,
                                   sC, s.batch, cs->err));
  ck_read(cs, dC, Cout, nC * 4);
  ck_release(cs);
  char variant[160];
  snprintf(variant, sizeof variant, "%s %c%c %zux%zux%zu alpha=%g beta=%g batch %zu", sc_gemm_backend_name(be),
           ta ? 'T' : 'N', tb ? 'T' : 'N', s.m, s.n, s.k, s.alpha, s.beta, s.batch);
  ck_begin(cs, variant);
  const sc_tol tol = {row->tol.atol * sqrt((double)s.k), row->tol.rtol, row->tol.nmse, 0};
  for (size_t b = 0; b < s.batch; b++) {
    sc_ref_gemm(ta, tb, s.m, s.n, s.k, s.alpha, A + b * sA, lda, B + b * sB, ldb, s.beta, C + b * sC, ldc, ref);
    for (size_t i = 0; i < s.m; i++) memcpy(got + i * s.n, Cout + b * sC + i * ldc, s.n * 4);
    ck_compare(cs, "C", got, ref, s.m * s.n, tol);
    /* Padding between rows and batches is untouched. */
    for (size_t i = 0; i < s.m; i++)
      for (size_t j = s.n; j < ldc && (b * sC + i * ldc + j) < sC * s.batch; j++)
        if (memcmp(C + b * sC + i * ldc + j, Cout + b * sC + i * ldc + j, 4))
          sc_check_result_fail(&cs->res, "padding at row %zu column %zu of batch %zu was written", i, j, b);
  }
  ck_end(cs);
}

void ck_run_gemm(ck_scope *cs, const sc_check_row *row) {
  (void)row;
  sc_gemm *gemm;
  CK(cs, sc_gemm_create(cs->ctx, &gemm, cs->err));
  ck_own(cs, destroy_gemm, gemm);
  for (int be = SC_GEMM_AUTO + 1; be < SC_GEMM_COUNT; be++)
    for (int ta = 0; ta < 2 && sc_gemm_available(gemm, (sc_gemm_backend)be); ta++)
      for (int tb = 0; tb < 2; tb++) gemm_form(cs, gemm, (sc_gemm_backend)be, ta, tb);
}
