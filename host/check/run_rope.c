/* RoPE (ops/rope.h): random rows rotated forward and backward (in place) on the device against the float64
 * reference, and the round trip against x. Positions: documents restarting at 0 (a boundary at 11 in the first
 * sequence, every 5 in the second) or far ones (down from 40000 in steps of 997, and from 16384), where a float32
 * angle would be off by ~1e-3 rad; the far rows first rotate at the document positions, so the op's table grows
 * between two calls. Values as sc_fill_values gives them. Token-major rows run on (B, S, NH, dh) copies. */
#include <stdio.h>

#include "check/runners.h"
#include "ops/rope.h"
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
  double *xd = ck_widen(cs, x, n);
  const size_t BH = (size_t)B * NH, TH = sh.tokens ? (size_t)NH : 1;
  const int tok = sh.tokens ? SC_ROPE_TOKENS : 0;
  ck_relayout(cs, x, BH, TH, (size_t)S, (size_t)dh, 1); /* the device's layout; the references stay head-major */
  int mp = 0;
  for (int i = 0; i < B * S; i++) mp = pos[i] > mp ? pos[i] : mp;
  sc_rope *r;
  CK(cs, sc_rope_create(cs->ctx, dh, sh.theta, &r, cs->err));
  ck_own(cs, destroy_rope, r);
  const sc_view bx = ck_tensor(cs, x, n * 4), by = ck_tensor(cs, NULL, n * 4);
  const sc_view bp = ck_tensor(cs, pos, (size_t)B * S * 4);
  if (sh.far) CK(cs, sc_rope_apply(r, B, NH, S, ck_tensor(cs, near, (size_t)B * S * 4), S - 1, bx, by, tok, cs->err));
  CK(cs, sc_rope_apply(r, B, NH, S, bp, mp, bx, by, tok, cs->err));
  ck_read(cs, by, y, n * 4);
  CK(cs, sc_rope_apply(r, B, NH, S, bp, mp, by, by, SC_ROPE_TRANSPOSE | tok, cs->err)); /* in place */
  ck_read(cs, by, z, n * 4);
  ck_relayout(cs, y, BH, TH, (size_t)S, (size_t)dh, 0), ck_relayout(cs, z, BH, TH, (size_t)S, (size_t)dh, 0);
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, xd, yd, 0);
  double *zd = ck_widen(cs, y, n);
  sc_ref_rope(B, NH, S, dh, sh.theta, pos, zd, zd, 1);
  char variant[96];
  snprintf(variant, sizeof variant, "B%d NH%d S%d dh%d theta %g max pos %d", B, NH, S, dh, sh.theta, mp);
  ck_begin(cs, variant);
  ck_compare(cs, "forward", y, yd, n, row->tol);
  ck_compare(cs, "backward", z, zd, n, row->tol);
  ck_compare(cs, "backward(forward(x)) = x", z, xd, n, row->tol);
  ck_end(cs);
}
