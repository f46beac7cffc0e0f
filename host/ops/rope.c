#include "ops/rope.h"

#include <math.h>
#include <stdlib.h>

#include "runtime/program.h"

struct sc_rope {
  sc_ctx *c;
  int dh;
  double theta;
  cl_program prog;
  cl_kernel k;
  cl_mem table;
  int table_rows; /* positions 0..table_rows-1 are in the table */
};

int sc_rope_create(sc_ctx *c, int head_dim, double theta, sc_rope **out, sc_err *err) {
  *out = NULL;
  if (head_dim < 2 || head_dim % 2) return sc_fail(err, "rope: head dim %d must be even and positive", head_dim);
  if (!(theta > 1.0) || !isfinite(theta)) return sc_fail(err, "rope: theta %g must be a finite number above 1", theta);
  sc_rope *r = sc_calloc(1, sizeof *r, "rope state", err);
  if (!r) return -1;
  r->c = c;
  r->dh = head_dim;
  r->theta = theta;
  if (sc_program_build(c, "rope.cl", NULL, NULL, &r->prog, NULL, err) ||
      sc_kernel_create(r->prog, "rope", &r->k, err)) {
    sc_rope_destroy(r);
    return -1;
  }
  *out = r;
  return 0;
}

void sc_rope_destroy(sc_rope *r) {
  if (!r) return;
  if (r->k) clReleaseKernel(r->k);
  if (r->prog) clReleaseProgram(r->prog);
  sc_buffer_release(r->c, r->table);
  free(r);
}

/* Grows the cos/sin table to max_pos + 1 rows (doubling, to amortise decode's one-row steps). */
static int grow_table(sc_rope *r, int max_pos, sc_err *err) {
  if (max_pos < r->table_rows) return 0;
  int rows = r->table_rows ? r->table_rows : 64;
  while (rows <= max_pos) rows = rows > (1 << 29) ? max_pos + 1 : 2 * rows;
  const int half = r->dh / 2;
  float *t = sc_malloc((size_t)rows * half * 2 * sizeof(float), "rope table", err);
  if (!t) return -1;
  for (int j = 0; j < half; j++) {
    const double freq = pow(r->theta, -2.0 * j / r->dh);
    for (int p = 0; p < rows; p++) {
      t[((size_t)p * half + j) * 2] = (float)cos(p * freq);
      t[((size_t)p * half + j) * 2 + 1] = (float)sin(p * freq);
    }
  }
  sc_buffer_release(r->c, r->table);
  r->table = NULL;
  r->table_rows = 0;
  int rc = sc_buffer_create(r->c, (size_t)rows * half * 2 * sizeof(float), "rope table", &r->table, err);
  if (!rc) rc = sc_buffer_write(r->c, r->table, 0, (size_t)rows * half * 2 * sizeof(float), t, err);
  free(t);
  if (!rc) r->table_rows = rows;
  return rc;
}

int sc_rope_apply(sc_rope *r, int B, int NH, int S, cl_mem pos, int max_pos, cl_mem x, cl_mem y, int backward,
                  sc_err *err) {
  if (B < 1 || NH < 1 || S < 1) return sc_fail(err, "rope: B=%d, NH=%d, S=%d must all be at least 1", B, NH, S);
  if (max_pos < 0) return sc_fail(err, "rope: max position %d is negative", max_pos);
  if (grow_table(r, max_pos, err)) return -1;
  const int BH = B * NH;
  const float sign = backward ? -1.0f : 1.0f;
  const size_t m = sizeof(cl_mem);
  const size_t sz[] = {m, m, m, m, 4, 4, 4, 4, 4, 4};
  const void *const vals[] = {&x, &y, &pos, &r->table, &S, &NH, &BH, &r->dh, &max_pos, &sign};
  if (sc_set_args(r->k, "rope", (int)(sizeof sz / sizeof sz[0]), sz, vals, err)) return -1;
  const size_t global[2] = {(size_t)S, (size_t)BH};
  return sc_launch(r->c, r->k, 2, global, NULL, "rope", err);
}
