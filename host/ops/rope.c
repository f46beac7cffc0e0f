#include "ops/rope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"

static const char *const table_name[] = {"rope table"};

struct sc_rope {
  sc_ctx *c;
  int dh;
  double theta;
  sc_kernels ks;
  sc_scratch w; /* the cos/sin table: LO rows of angle lo*w, then hi rows of angle hi*LO*w */
  int hi_rows;  /* positions 0..hi_rows*LO-1 are covered */
};

enum { LO = 1024 }; /* pos = hi * LO + lo; keep in step with cl/rope.cl */

int sc_rope_create(sc_ctx *c, int head_dim, double theta, sc_rope **out, sc_err *err) {
  *out = NULL;
  if (head_dim < 2 || head_dim % 2) return sc_fail(err, "rope: head dim %d must be even and positive", head_dim);
  if (!(theta > 1.0) || !isfinite(theta)) return sc_fail(err, "rope: theta %g must be a finite number above 1", theta);
  sc_rope *r = sc_calloc(1, sizeof *r, "rope state", err);
  if (!r) return -1;
  r->c = c;
  r->dh = head_dim;
  r->theta = theta;
  sc_scratch_init(&r->w, c, 1, table_name, "pass the largest position actually used as max_pos");
  static const char *const names[] = {"rope"};
  char defs[16];
  int rv = 16;
  while (head_dim % rv) rv /= 2; /* head_dim is even: rv ends at 2 at the least */
  snprintf(defs, sizeof defs, "RV=%d", rv);
  if (sc_kernels_build(c, "rope.cl", defs, names, 1, &r->ks, err)) {
    sc_rope_destroy(r);
    return -1;
  }
  *out = r;
  return 0;
}

void sc_rope_destroy(sc_rope *r) {
  if (!r) return;
  sc_kernels_release(&r->ks);
  sc_scratch_release(&r->w);
  free(r);
}

/* Grows the table to cover max_pos (hi rows doubling, to amortise decode's one-row steps). The angles are
 * computed in float64 on the host: pos * freq in float32 would be off by ~1e-3 rad at pos ~ 16k; the kernel
 * combines the two float32 factors with one angle addition (~1e-7). */
static int grow_table(sc_rope *r, int max_pos, sc_err *err) {
  if (max_pos < r->hi_rows * LO) return 0;
  int hi = r->hi_rows ? r->hi_rows : 1;
  while (hi * LO <= max_pos) hi *= 2;
  const int half = r->dh / 2, rows = LO + hi;
  float *t = sc_malloc((size_t)rows * half * 2 * sizeof(float), "rope table", err);
  if (!t) return -1;
  for (int j = 0; j < half; j++) {
    const double freq = pow(r->theta, -2.0 * j / r->dh);
    for (int p = 0; p < rows; p++) {
      const double angle = (p < LO ? p : (double)(p - LO) * LO) * freq;
      t[((size_t)p * half + j) * 2] = (float)cos(angle);
      t[((size_t)p * half + j) * 2 + 1] = (float)sin(angle);
    }
  }
  r->hi_rows = 0;
  const size_t bytes = (size_t)rows * half * 2 * sizeof(float);
  int rc = sc_scratch_need(&r->w, 0, bytes, err);
  if (!rc) rc = sc_buffer_write(r->c, r->w.buf[0], 0, bytes, t, err);
  free(t);
  if (!rc) r->hi_rows = hi;
  return rc;
}

int sc_rope_apply(sc_rope *r, int B, int NH, int S, sc_view pos, int max_pos, sc_view x, sc_view y, int flags,
                  sc_err *err) {
  if (B < 1 || NH < 1 || S < 1) return sc_fail(err, "rope: B=%d, NH=%d, S=%d must all be at least 1", B, NH, S);
  if (max_pos < 0 || max_pos >= SC_ROPE_MAX_POS)
    return sc_fail(err,
                   "rope: max position %d is outside [0, %d) (positions restart at each document; a larger one "
                   "is almost surely a corrupt input)",
                   max_pos, SC_ROPE_MAX_POS);
  const sc_view req[] = {pos, x, y};
  static const char *const names[] = {"pos", "x", "y"};
  if (sc_views_present("rope", req, names, 3, err) || grow_table(r, max_pos, err)) return -1;
  sc_kargs a;
  sc_kargs_begin(&a, r->ks.k[0], "rope");
  sc_karg_view(&a, x), sc_karg_view(&a, y), sc_karg_view(&a, pos), sc_karg_mem(&a, r->w.buf[0]);
  sc_karg_i32(&a, S), sc_karg_i32(&a, NH), sc_karg_i32(&a, B), sc_karg_i32(&a, r->dh), sc_karg_i32(&a, max_pos);
  sc_karg_f32(&a, flags & SC_ROPE_TRANSPOSE ? -1.0f : 1.0f), sc_karg_i32(&a, !!(flags & SC_ROPE_TOKENS));
  if (sc_kargs_end(&a, err)) return -1;
  const size_t global[2] = {(size_t)S, (size_t)B};
  return sc_launch(r->c, r->ks.k[0], 2, global, NULL, "rope", err);
}
