/* What a runner (check/runners.h) works in: one scope per table row. It owns the row's host allocations, device
 * tensors and op objects, releases them all when the row ends however it ends, and collects the row's results
 * (one per variant). A runner reports an error (a failed allocation or device call, which is not a wrong number)
 * through ck_fail, which unwinds to sc_check_run_row (check/check.h) by longjmp: the runners are straight-line
 * test code with one exit path, so no error can leak a buffer. Wrong numbers are results, never errors. */
#ifndef SCALECL_CHECK_SCOPE_H
#define SCALECL_CHECK_SCOPE_H

#include <setjmp.h>

#include "check/cases.h"
#include "check/tensors.h"

typedef void (*sc_check_emit)(void *user, const sc_check_result *r);

typedef struct {
  void (*destroy)(void *);
  void *p;
} ck_owned;

typedef struct ck_scope {
  sc_ctx *ctx;
  const sc_check_row *row;
  jmp_buf jmp;
  sc_err *err;
  void **allocs; /* host allocations, freed when the row ends */
  size_t nallocs, cap;
  ck_owned owned[16]; /* op objects, destroyed when the row ends (last first) */
  int nowned;
  sc_tensors ts;
  char guard[300]; /* a guard overwritten since the last result began; it fails the next result */
  sc_check_result res;
  sc_check_emit emit;
  void *user;
} ck_scope;

/* The scope of one row; ck_close releases everything it holds (the tensors without reading their guards). */
void ck_open(ck_scope *s, sc_ctx *ctx, const sc_check_row *row, sc_check_emit emit, void *user, sc_err *err);
void ck_close(ck_scope *s);

/* Sets the error and unwinds to the row's start. */
_Noreturn void ck_fail(ck_scope *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Unwinds with the error a library call left in s->err: CK(s, sc_x(..., s->err)). */
#define CK(s, call)                                     \
  do {                                                  \
    if ((call) != 0) ck_fail((s), "%s", (s)->err->msg); \
  } while (0)

/* Zeroed host memory, freed when the row ends (n may be 0). */
void *ck_calloc(ck_scope *s, size_t n, size_t size);
float *ck_falloc(ck_scope *s, size_t n);
double *ck_dalloc(ck_scope *s, size_t n);
double *ck_widen(ck_scope *s, const float *x, size_t n); /* a float64 copy */
/* x (BH, S, D) head-major rearranged in place into token-major (BH / NH, S, NH, D) (to_tokens), or back; NH <= 1
 * leaves it as it is. For ops that take both layouts: the references stay head-major. */
void ck_relayout(ck_scope *s, float *x, size_t BH, size_t NH, size_t S, size_t D, int to_tokens);
/* An op object to destroy when the row ends. */
void ck_own(ck_scope *s, void (*destroy)(void *), void *p);

/* Device tensors (check/tensors.h) at the row's offsets; ck_release reads the guards (an overwritten one fails the
 * next result) and frees them, so a runner that loops over variants starts each with none. */
sc_view ck_tensor(ck_scope *s, const void *host, size_t bytes);
void ck_read(ck_scope *s, sc_view v, void *host, size_t bytes);
void ck_release(ck_scope *s);

/* One result: begin labels it "<variant> <tag> [<values>, offsets]", compare judges an output, end releases the
 * tensors still held (ck_release) and emits it. */
void ck_begin(ck_scope *s, const char *variant);
void ck_compare(ck_scope *s, const char *output, const float *got, const double *ref, size_t n, sc_tol tol);
void ck_end(ck_scope *s);

#endif
