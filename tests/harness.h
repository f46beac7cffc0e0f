/* Shared test helpers: device context, deterministic random data, tolerance checks against
 * float64 references, and the location of ../shared/data. */
#ifndef SCALECL_TEST_HARNESS_H
#define SCALECL_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three headers above first. */
#include <cmocka.h>

#include "runtime/context.h"

/* Runs a library call that takes TH_ERR as its sc_err; fails the test with its message on error. */
#define TH_CHECK(call)                        \
  do {                                        \
    static sc_err th_e_;                      \
    if ((call) != 0) fail_msg("%s", th_e_.msg); \
  } while (0)
#define TH_ERR (&th_e_)

/* Zeroed allocations that fail the test when memory runs out (n may be 0). */
void *th_calloc(size_t n, size_t size);
float *th_falloc(size_t n);
double *th_dalloc(size_t n);

/* Sets (value NULL: unsets) an environment variable and reloads the settings that library code reads. */
void th_setenv(const char *name, const char *value);

/* Opens the test device ($SCALECL_DEVICE or default); fails the test with the message if none. */
void th_ctx_open(sc_ctx *c);

typedef struct {
  uint64_t s;
} th_rng;
void th_rng_seed(th_rng *r, uint64_t seed);
double th_uniform(th_rng *r);  /* [0,1) */
double th_normal(th_rng *r);   /* N(0,1) */
void th_fill_normal(th_rng *r, float *x, size_t n, double mean, double std);
void th_fill_uniform(th_rng *r, float *x, size_t n, double lo, double hi);

typedef struct {
  double max_abs;  /* worst |got - ref| */
  double max_rel;  /* worst |got - ref| / |ref| */
  size_t worst;    /* index of the worst violation of atol + rtol*|ref| (or of max_abs) */
  double nmse;     /* sum (got-ref)^2 / sum ref^2 */
  int nonfinite;   /* count of inf/NaN in got */
  int fails;       /* elements violating |got-ref| <= atol + rtol*|ref| */
} th_cmp;

th_cmp th_compare(const float *got, const double *ref, size_t n, double atol, double rtol);
th_cmp th_compare_d(const double *got, const double *ref, size_t n, double atol, double rtol);
/* Asserts no failures and no non-finite values; prints the worst error with the label. */
void th_assert_close(const char *label, const float *got, const double *ref, size_t n, double atol, double rtol);
void th_assert_close_d(const char *label, const double *got, const double *ref, size_t n, double atol, double rtol);

/* Central finite differences (five-point, error O(h⁴)) of loss(ctx), a function of x[0..n), against the
 * analytic gradient grad: every element when n <= samples, else `samples` distinct elements drawn with seed.
 * The step is h·max(1, |x_i|); x is restored. An element's error is |grad_i − fd_i| / max(|grad_i|, |fd_i|, 1e-3): relative, and absolute
 * for gradients below 1e-3 (where the differences' own rounding is not negligible). */
typedef struct {
  double worst;             /* largest error */
  size_t index;             /* its element */
  double analytic, numeric; /* its two values */
  size_t checked;           /* elements compared */
} th_fd;
th_fd th_fd_check(double (*loss)(void *ctx), void *ctx, double *x, const double *grad, size_t n, size_t samples,
                  uint64_t seed, double h);
/* Prints the label and the worst element; fails the test when worst > tol. */
void th_assert_fd(const char *label, th_fd r, double tol);

/* ../shared/data or $SCALECL_SHARED_DATA; NULL if absent (tests then skip with a message). */
const char *th_shared_data_dir(void);
/* Number of paths matching a glob pattern. */
int th_count_glob(const char *pattern);
/* Path of the scalecl executable built next to the tests. */
const char *th_scalecl_bin(void);
/* Runs a shell command; returns its exit status (-1 if it did not exit) and up to cap - 1 bytes of its stdout. */
int th_run_capture(const char *cmd, char *out, size_t cap);
/* A fresh empty temporary directory (mkdtemp under $TMPDIR), removed with its contents when the
 * test exits (kept if SCALECL_KEEP_TMP is set). */
const char *th_tmpdir(const char *tag, char *buf, size_t buflen);

#endif
