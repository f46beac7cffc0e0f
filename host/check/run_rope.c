/* RoPE (ops/rope.h): random rows rotated forward and backward (in place) on the device against the float64
 * reference, and the round trip against x. Positions: documents restarting at 0 (a boundary at 11 in the first
 * sequence, every 5 in the second) or far ones (down from 40000 in steps of 997, and from 16384), where a float32
 * angle would be off by ~1e-3 rad; the far rows first rotate at the document positions, so the op's table grows
 * between two calls. Values as sc_fill_values gives them. */
#include <stdio.h>

#include "check/runners.h"
#include "ops/rope.h"
#include "ref/heads.h"
#include "ref/rope.h"

static void destroy_rope(void *r) {
  sc_rope_destroy(r);
}

void ck_run_rope(ck_scope *cs, const sc_check_row *row) {
  const sc_check_rope sh = row->rope;
  const int B = sh.B, NH = sh.NH, S = sh.S, dh = sh.dh;
  if (B != 2) ck_fail(cs, "rope rows have B = 2 (two position patterns)");
  int32_t *pos = ck_calloc(cs, (size_t)B * S, sizeof *pos), *near = ck_calloc(cs, (size_t)B * S, sizeof *pos);
  for (int s = 0; s < S; s++) {
    near[s] = s < 11 ? s : s - 11, near[S + s] = s % 5;
    pos[s] = sh.far ? 40000 - s * 997 : near[s];
    pos[S + s] = sh.far ? 16384 + s : near[S + s];
  }
  const size_t n = (size_t)B * NH * S * dh;
  float *x = ck_falloc(cs, n), *y = ck_falloc(cs, n), *z = ck_falloc(cs, n);
  double *yd = ck_dalloc(cs, n);
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  sc_fill_values(&rng, row->values, x, n);
  /* xd: x as the references take it (head-major), xin: as the device got it */
  double *xin = ck_widen(cs, x, n), *xd = xin;
  if (sh.tokens) sc_ref_heads_split((size_t)B, (size_t)S, (size_t)NH, (size_t)dh, xin, xd = ck_dalloc(cs, n));
  const int fwd = sh.tokens ? SC_ROPE_X_TOKENS : 0, bwd = SC_ROPE_TRANSPOSE | (sh.tokens ? SC_ROPE_Y_TOKENS : 0);
  int mp = 0;
  for (int i = 0; i < B * S; i++) mp = pos[i] > mp ? pos[i] : mp;
  sc_rope *r;
  CK(cs, sc_rope_create(cs->ctx, dh, sh.theta, &r, cs->err));
  ck_own(cs, destroy_rope, r);
  const sc_view bx = ck_tensor(cs, x, n * 4), by = ck_tensor(cs, NULL, n * 4);
  const sc_view bp = ck_tensor(cs, pos, (size_t)B * S * 4);
  if (sh.far) CK(cs, sc_rope_apply(r, B, NH, S, ck_tensor(cs, near, (size_t)B * S * 4), S - 1, bx, by, fwd, cs->err));
  CK(cs, sc_rope_apply(r, B, NH, S, bp, mp, bx, by, fwd, cs->err));
  ck_read(cs, by, y, n * 4);
  /* in place, or into x's buffer when the layout changes */
  const sc_view bz = sh.tokens ? bx : by;
  CK(cs, sc_rope_apply(r, B, NH, S, bp, mp, by, bz, bwd, cs->err));
  ck_read(cs, bz, z, n * 4);
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, xd, yd, 0);
  double *zd = ck_widen(cs, y, n);
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, zd, zd, 1);
  if (sh.tokens) {
    double *zh = zd;
    sc_ref_heads_merge((size_t)B, (size_t)S, (size_t)NH, (size_t)dh, zh, zd = ck_dalloc(cs, n));
  }
  char variant[96];
  snprintf(variant, sizeof variant, "B%d NH%d S%d dh%d theta %g max pos %d", B, NH, S, dh, sh.theta, mp);
  ck_begin(cs, variant);
  ck_compare(cs, "forward", y, yd, n, row->tol);
  ck_compare(cs, "backward", z, zd, n, row->tol);
  ck_compare(cs, "backward(forward(x)) = x", z, xin, n, row->tol);
  ck_end(cs);
}
