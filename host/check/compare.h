/* Device float32 results against float64 references: one tolerance, one element-by-element comparison, and a
 * check case's result that keeps the worst comparison of its outputs. scalecl check and the op tests both judge
 * through these, so a case passes or fails the same way in both. */
#ifndef SCALECL_CHECK_COMPARE_H
#define SCALECL_CHECK_COMPARE_H

#include <stddef.h>

/* Every element within atol + amax*max|ref| + rtol*|ref|, and the normalised mean squared error
 * sum (got-ref)^2 / sum ref^2 (sum (got-ref)^2 when ref is all zero) at most nmse. amax (0 unless given) scales the
 * absolute floor with the output's largest value: where float32 rounding of large terms that cancel sets the error
 * of small elements (extreme gates), as a fraction of the largest it stays put from one draw of data to the next. */
typedef struct {
  double atol, rtol, nmse, amax;
} sc_tol;

typedef struct {
  double max_abs;     /* worst |got - ref| */
  double max_rel;     /* worst |got - ref| / |ref| */
  double worst_ratio; /* worst |got - ref| / (atol + rtol*|ref|): above 1 fails (inf: a non-finite mismatch) */
  size_t worst;       /* index of the worst ratio */
  double nmse;        /* over the elements where both are finite */
  int nonfinite;      /* elements where got or ref is inf/NaN and the other is not the same value */
  int fails;          /* elements out of tolerance, non-finite mismatches included */
  double abs_floor;   /* the absolute part of every element's bound: atol + amax * max|ref| */
} sc_cmp;

/* Element by element; a NaN (or an inf of the same sign) on both sides is a match. */
sc_cmp sc_compare(const float *got, const double *ref, size_t n, sc_tol tol);
sc_cmp sc_compare_d(const double *got, const double *ref, size_t n, sc_tol tol);

/* One check case (an op-case row in one variant): its outputs' comparisons, summarised. */
typedef struct {
  char op[16];
  char label[200]; /* "<variant> <tag> [<values>, offsets]" */
  double worst_ratio, worst_err, worst_bound, worst_nmse, nmse_bound;
  char worst_out[96], nmse_out[96]; /* the outputs (copied: a runner's names die with its row); "" before any */
  char failure[600];                /* the first failure, empty while none */
} sc_check_result;

void sc_check_result_begin(sc_check_result *r, const char *op, const char *label);
/* Compares one output; the first failure (elements out of tolerance, then NMSE) is kept in r->failure. */
void sc_check_result_compare(sc_check_result *r, const char *output, const float *got, const double *ref, size_t n,
                             sc_tol tol);
/* Records a failure that is not a comparison (a guard overwritten, a value that must be exact); the first stays. */
void sc_check_result_fail(sc_check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sc_check_result_passed(const sc_check_result *r);

/* The verdict over n results: the number that failed (0: every case passed; n = 0 is no pass). */
typedef struct {
  int cases, failed;
  const sc_check_result *worst; /* the highest error ratio, NULL when n = 0 */
} sc_check_verdict;
sc_check_verdict sc_check_verdict_of(const sc_check_result *r, int n);
/* "PASS: 57 cases, worst ..." or "FAIL: 2 of 57 cases ..."; a verdict passes iff cases > 0 and failed == 0. */
int sc_check_verdict_passed(const sc_check_verdict *v);
void sc_check_verdict_line(const sc_check_verdict *v, char *buf, size_t cap);

#endif
