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

#include "check/cases.h"
#include "check/compare.h"
#include "check/tensors.h"
#include "runtime/context.h"

/* Runs a library call that takes TH_ERR as its sc_err; fails the test with its message on error. */
#define TH_CHECK(call)                          \
  do {                                          \
    static sc_err th_e_;                        \
    if ((call) != 0) fail_msg("%s", th_e_.msg); \
  } while (0)
#define TH_ERR (&th_e_)

/* Zeroed allocations that fail the test when memory runs out (n may be 0). */
void *th_calloc(size_t n, size_t size);
float *th_falloc(size_t n);
double *th_dalloc(size_t n);

/* Sets (value NULL: unsets) an environment variable and reloads the settings that library code reads. */
void th_setenv(const char *name, const char *value);

/* Sets c's tile override as the tuner does: key "<family>_<variant>" ("mlstm_gpu") and tiles "NAME=V ..." replace
 * the picked tiles of that key, and force that variant; key NULL clears it. */
void th_override_tiles(sc_ctx *c, const char *key, const char *tiles);
/* c's recorded pick of family ran variant `want` ("cpu"/"gpu") with every tile of c's override in force; fails the
 * test otherwise (a forced variant or tile an op ignored would test one form twice). */
void th_assert_pick(const sc_ctx *c, const char *family, const char *want);

/* Opens the test device ($SCALECL_DEVICE or default); fails the test with the message if none. */
void th_ctx_open(sc_ctx *c);
/* A device context for the whole binary: cmocka group fixtures that open and close th_ctx. */
extern sc_ctx th_ctx;
int th_ctx_setup(void **state);
int th_ctx_teardown(void **state);

/* The device tensors of a test (check/tensors.h); errors and overwritten guards fail the test. */
typedef sc_tensors th_tensors;
void th_tensors_init(th_tensors *ts, sc_ctx *c, int offsets);
/* A new tensor of `bytes` filled from host (zeros when host is NULL). */
sc_view th_tensor(th_tensors *ts, const void *host, size_t bytes);
void th_tensor_read(th_tensors *ts, sc_view v, void *host, size_t bytes);
/* Releases every tensor, failing the test if a guard was overwritten. */
void th_tensors_release(th_tensors *ts);

/* Random numbers (sc_rng), tolerances (sc_tol) and comparisons (sc_compare) are check/'s. */
/* Fails the test when an element is out of tolerance (non-finite mismatches included) or the NMSE is above
 * tol.nmse; prints the worst error with the label. */
void th_assert_close(const char *label, const float *got, const double *ref, size_t n, sc_tol tol);
void th_assert_close_d(const char *label, const double *got, const double *ref, size_t n, sc_tol tol);

/* Central finite differences (five-point, error O(h⁴)) of loss(ctx), a function of x[0..n), against the
 * analytic gradient grad: every element when n <= samples, else `samples` distinct elements drawn with seed.
 * The step is h·max(1, |x_i|); x is restored. An element's error is |grad_i − fd_i| / max(|grad_i|, |fd_i|, 1e-3):
 * relative, and absolute for gradients below 1e-3 (where the differences' own rounding is not negligible). */
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

/* ../shared/data or $SCALECL_SHARED_DATA; NULL if absent. */
const char *th_shared_data_dir(void);
/* The same directory, or the running test skips (TH_SKIP) when it is absent. */
const char *th_need_shared_data(void);

/* Skips the running test, printing why ("  SKIP: <reason>"); counted for th_exit_status. */
#define TH_SKIP(...)           \
  do {                         \
    th_note_skip(__VA_ARGS__); \
    skip();                    \
  } while (0)
void th_note_skip(const char *fmt, ...);
/* A test binary's exit status: cmocka's count of failed tests, or 77 when none failed and all n of them skipped
 * through TH_SKIP. CMakeLists.txt gives every test SKIP_RETURN_CODE 77, so ctest then reports it as Skipped rather
 * than Passed. */
int th_exit_status(int failed, size_t n);
/* cmocka_run_group_tests with that exit status: main's return value in a binary whose tests can skip. */
#define TH_RUN_GROUP(tests, setup, teardown) \
  th_exit_status(cmocka_run_group_tests(tests, setup, teardown), sizeof(tests) / sizeof((tests)[0]))
/* Number of paths matching a glob pattern. */
int th_count_glob(const char *pattern);
/* Path of the scalecl executable built next to the tests. */
const char *th_scalecl_bin(void);
/* Runs a shell command; returns its exit status (-1 if it did not exit) and up to cap - 1 bytes of its stdout. */
int th_run_capture(const char *cmd, char *out, size_t cap);
/* The same with the command formatted printf-style. */
int th_run_capturef(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A fresh empty temporary directory (mkdtemp under $TMPDIR), removed with its contents when the
 * test exits (kept if SCALECL_KEEP_TMP is set). */
const char *th_tmpdir(const char *tag, char *buf, size_t buflen);

#endif
