#include "check/scope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ck_open(ck_scope *s, sc_ctx *ctx, const sc_check_row *row, sc_check_emit emit, void *user, sc_err *err) {
  memset(s, 0, sizeof *s);
  s->ctx = ctx, s->row = row, s->emit = emit, s->user = user, s->err = err;
  sc_tensors_init(&s->ts, ctx, row->offsets);
}

void ck_close(ck_scope *s) {
  char ignored[8];
  sc_err quiet; /* the row's error, if any, is already in s->err */
  (void)sc_tensors_release(&s->ts, ignored, sizeof ignored, &quiet);
  while (s->nowned > 0) {
    s->nowned--;
    s->owned[s->nowned].destroy(s->owned[s->nowned].p);
  }
  for (size_t i = 0; i < s->nallocs; i++) free(s->allocs[i]);
  free(s->allocs);
  s->allocs = NULL, s->nallocs = s->cap = 0;
}

void ck_fail(ck_scope *s, const char *fmt, ...) {
  char msg[SC_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sc_fail(s->err, "check %s '%s': %s", s->row->op, s->row->tag, msg);
  longjmp(s->jmp, 1);
}

void *ck_calloc(ck_scope *s, size_t n, size_t size) {
  if (s->nallocs == s->cap) {
    const size_t cap = s->cap ? 2 * s->cap : 64;
    void **a = realloc(s->allocs, cap * sizeof *a);
    if (!a) ck_fail(s, "out of host memory for the list of allocations");
    s->allocs = a, s->cap = cap;
  }
  void *p = calloc(n ? n : 1, size);
  if (!p) ck_fail(s, "out of host memory (%zu x %zu bytes); try a smaller case with --tiny", n, size);
  s->allocs[s->nallocs++] = p;
  return p;
}

float *ck_falloc(ck_scope *s, size_t n) {
  return ck_calloc(s, n, sizeof(float));
}

double *ck_dalloc(ck_scope *s, size_t n) {
  return ck_calloc(s, n, sizeof(double));
}

double *ck_widen(ck_scope *s, const float *x, size_t n) {
  double *d = ck_dalloc(s, n);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

void ck_relayout(ck_scope *s, float *x, size_t BH, size_t NH, size_t S, size_t D, int to_tokens) {
  if (NH <= 1) return;
  float *tmp = ck_falloc(s, BH * S * D);
  for (size_t bh = 0; bh < BH; bh++)
    for (size_t t = 0; t < S; t++) {
      const size_t head = (bh * S + t) * D, token = ((bh / NH * S + t) * NH + bh % NH) * D;
      memcpy(tmp + (to_tokens ? token : head), x + (to_tokens ? head : token), D * sizeof *x);
    }
  memcpy(x, tmp, BH * S * D * sizeof *x);
}

void ck_own(ck_scope *s, void (*destroy)(void *), void *p) {
  if (s->nowned == (int)(sizeof s->owned / sizeof s->owned[0])) {
    destroy(p);
    ck_fail(s, "more than %d op objects in one case", s->nowned);
  }
  s->owned[s->nowned++] = (ck_owned){destroy, p};
}

sc_view ck_tensor(ck_scope *s, const void *host, size_t bytes) {
  sc_view v;
  CK(s, sc_tensor_new(&s->ts, host, bytes, &v, s->err));
  return v;
}

void ck_read(ck_scope *s, sc_view v, void *host, size_t bytes) {
  CK(s, sc_tensor_read(&s->ts, v, host, bytes, s->err));
}

void ck_release(ck_scope *s) {
  char guard[sizeof s->guard];
  const int rc = sc_tensors_release(&s->ts, guard, sizeof guard, s->err);
  if (rc < 0) ck_fail(s, "%s", s->err->msg);
  if (rc > 0 && !*s->guard) snprintf(s->guard, sizeof s->guard, "%s", guard);
}

void ck_begin(ck_scope *s, const char *variant) {
  const sc_check_row *row = s->row;
  char label[sizeof s->res.label];
  snprintf(label, sizeof label, "%s%s%s [%s%s]", variant, *row->tag ? " " : "", row->tag, sc_values_name(row->values),
           row->offsets ? ", offsets" : "");
  sc_check_result_begin(&s->res, row->op, label);
}

void ck_compare(ck_scope *s, const char *output, const float *got, const double *ref, size_t n, sc_tol tol) {
  sc_check_result_compare(&s->res, output, got, ref, n, tol);
}

void ck_end(ck_scope *s) {
  if (s->ts.n) ck_release(s);
  if (*s->guard) sc_check_result_fail(&s->res, "%s", s->guard);
  *s->guard = '\0';
  s->emit(s->user, &s->res);
}
