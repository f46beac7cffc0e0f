/* The elementwise layers (ops/elementwise.h) against float64 references (ref/swiglu.h, ref/softcap.h; the gates
 * and output gate as ref/xlstm.c writes them): the plain ones over B·T·NH·dh values with a and b of the row's
 * values and d ~ N(0, 1) as the incoming gradient; the gates reading one fused [i; f] projection or two, with
 * document resets and a bias gradient that accumulates. */
#include <stdio.h>

#include "check/runners.h"
#include "ops/elementwise.h"
#include "ref/softcap.h"
#include "ref/swiglu.h"

static const double gate_cap = 15, doc_reset = -25;

static void destroy_ew(void *e) {
  sc_elementwise_destroy(e);
}

static sc_elementwise *make_ew(ck_scope *cs) {
  sc_elementwise *e;
  CK(cs, sc_elementwise_create(cs->ctx, NULL, &e, cs->err));
  ck_own(cs, destroy_ew, e);
  return e;
}

/* Host inputs and outputs of the plain layers. */
typedef struct {
  size_t n;
  float *a, *b, *d, *out[3];
  double *ad, *bd, *dd, *ref[3];
} pw_data;

/* v: a, b, d, out0, out1, out2. */
typedef void (*pw_launch)(ck_scope *cs, sc_elementwise *e, const sc_check_pointwise *sh, int n, const sc_view *v);

/* Inputs, the device run of `run` and the outputs read back; the caller fills ref[] and calls pw_finish. */
static pw_data pw_run(ck_scope *cs, const sc_check_row *row, pw_launch run) {
  const sc_check_pointwise sh = row->pointwise;
  pw_data p = {.n = (size_t)sh.B * sh.T * sh.NH * sh.dh};
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  p.a = ck_falloc(cs, p.n), p.b = ck_falloc(cs, p.n), p.d = ck_falloc(cs, p.n);
  sc_fill_values(&rng, row->values, p.a, p.n);
  sc_fill_values(&rng, row->values, p.b, p.n);
  sc_rng_fill_normal(&rng, p.d, p.n, 0, 1);
  p.ad = ck_widen(cs, p.a, p.n), p.bd = ck_widen(cs, p.b, p.n), p.dd = ck_widen(cs, p.d, p.n);
  for (int k = 0; k < 3; k++) p.out[k] = ck_falloc(cs, p.n), p.ref[k] = ck_dalloc(cs, p.n);
  const size_t bytes = p.n * sizeof(float);
  sc_view v[6] = {ck_tensor(cs, p.a, bytes), ck_tensor(cs, p.b, bytes), ck_tensor(cs, p.d, bytes)};
  for (int k = 0; k < 3; k++) v[3 + k] = ck_tensor(cs, NULL, bytes);
  run(cs, make_ew(cs), &sh, (int)p.n, v);
  for (int k = 0; k < 3; k++) ck_read(cs, v[3 + k], p.out[k], bytes);
  return p;
}

/* Compares out[k] with ref[k] under names[k] (the first with the forward's tolerance). */
static void pw_finish(ck_scope *cs, const sc_check_row *row, const pw_data *p, const char *const *names, int nout) {
  char variant[32];
  snprintf(variant, sizeof variant, "n%zu", p->n);
  ck_begin(cs, variant);
  for (int k = 0; k < nout; k++) ck_compare(cs, names[k], p->out[k], p->ref[k], p->n, k ? row->tol_grad : row->tol);
  ck_end(cs);
}

/* v: g, u, dz, z, dg, du. */
static void swiglu_launch(ck_scope *cs, sc_elementwise *e, const sc_check_pointwise *sh, int n, const sc_view *v) {
  (void)sh;
  CK(cs, sc_swiglu_forward(e, n, v[0], v[1], v[3], cs->err));
  CK(cs, sc_swiglu_backward(e, n, v[0], v[1], v[2], v[4], v[5], cs->err));
}

void ck_run_swiglu(ck_scope *cs, const sc_check_row *row) {
  pw_data p = pw_run(cs, row, swiglu_launch);
  sc_ref_swiglu_forward(p.n, p.ad, p.bd, p.ref[0]);
  sc_ref_swiglu_backward(p.n, p.ad, p.bd, p.dd, p.ref[1], p.ref[2]);
  static const char *const names[] = {"z", "dg", "du"};
  pw_finish(cs, row, &p, names, 3);
}

/* v: x, (unused), dy, y, dx. */
static void softcap_launch(ck_scope *cs, sc_elementwise *e, const sc_check_pointwise *sh, int n, const sc_view *v) {
  CK(cs, sc_softcap_forward(e, n, sh->cap, v[0], v[3], cs->err));
  CK(cs, sc_softcap_backward(e, n, sh->cap, v[0], v[2], v[4], cs->err));
}

void ck_run_softcap(ck_scope *cs, const sc_check_row *row) {
  pw_data p = pw_run(cs, row, softcap_launch);
  sc_ref_softcap_forward(p.n, row->pointwise.cap, p.ad, p.ref[0]);
  sc_ref_softcap_backward(p.n, row->pointwise.cap, p.ad, p.dd, p.ref[1]);
  static const char *const names[] = {"y", "dx"};
  pw_finish(cs, row, &p, names, 2);
}

/* v: o, h, dy, y, do, dh. */
static void ogate_launch(ck_scope *cs, sc_elementwise *e, const sc_check_pointwise *sh, int n, const sc_view *v) {
  (void)sh;
  CK(cs, sc_ogate_forward(e, n, v[0], v[1], v[3], cs->err));
  CK(cs, sc_ogate_backward(e, n, v[0], v[1], v[2], v[4], v[5], cs->err));
}

void ck_run_ogate(ck_scope *cs, const sc_check_row *row) {
  pw_data p = pw_run(cs, row, ogate_launch);
  for (size_t i = 0; i < p.n; i++) {
    const double s = sc_ref_sigmoid(p.ad[i]), sm = sc_ref_sigmoid(-p.ad[i]);
    p.ref[0][i] = s * p.bd[i];
    p.ref[1][i] = p.dd[i] * p.bd[i] * s * sm;
    p.ref[2][i] = p.dd[i] * s;
  }
  static const char *const names[] = {"y", "do", "dh"};
  pw_finish(cs, row, &p, names, 3);
}

/* v: x, y: x += y twice (the second time in place on a view that already holds a sum), read from x. */
static void residual_launch(ck_scope *cs, sc_elementwise *e, const sc_check_pointwise *sh, int n, const sc_view *v) {
  (void)sh;
  CK(cs, sc_residual_add(e, n, v[0], v[1], cs->err));
  CK(cs, sc_residual_add(e, n, v[0], v[1], cs->err));
  CK(cs, sc_residual_add(e, n, v[3], v[0], cs->err));
}

void ck_run_residual(ck_scope *cs, const sc_check_row *row) {
  pw_data p = pw_run(cs, row, residual_launch);
  for (size_t i = 0; i < p.n; i++) {
    const float once = p.a[i] + p.b[i]; /* float sums, so that cancellation rounds as on the device */
    p.ref[0][i] = once + p.b[i];
  }
  static const char *const names[] = {"x + y + y"};
  pw_finish(cs, row, &p, names, 1);
}

/* Gates: xi and xf in one fused (B, T, ld) tensor when ld is set, else two packed (B, T, NH) tensors. */
void ck_run_gates(ck_scope *cs, const sc_check_row *row) {
  sc_elementwise *e = make_ew(cs);
  const sc_check_pointwise sh = row->pointwise;
  const int B = sh.B, T = sh.T, NH = sh.NH, fused = sh.ld != 0, L = fused ? sh.ld : NH;
  const size_t rows = (size_t)B * T, ng = rows * NH, nin = rows * L;
  sc_rng rng;
  sc_rng_seed(&rng, row->seed);
  float *in[2] = {ck_falloc(cs, nin), ck_falloc(cs, nin)}, *bias[2] = {ck_falloc(cs, NH), ck_falloc(cs, NH)};
  float *dg[2] = {ck_falloc(cs, ng), ck_falloc(cs, ng)}, *db[2] = {ck_falloc(cs, NH), ck_falloc(cs, NH)};
  float *g[2] = {ck_falloc(cs, ng), ck_falloc(cs, ng)}, *dx[2] = {ck_falloc(cs, nin), ck_falloc(cs, nin)};
  int32_t *doc = ck_calloc(cs, rows, sizeof *doc);
  for (int k = 0; k < 2; k++) {
    sc_fill_values(&rng, row->values, in[k], nin);
    sc_rng_fill_normal(&rng, bias[k], NH, k ? 4 : -10, 3);
    sc_rng_fill_normal(&rng, dg[k], ng, 0, 1);
    sc_rng_fill_normal(&rng, db[k], NH, 0, 1);
  }
  for (size_t r = 0; sh.docs && r < rows; r++) doc[r] = (r % T) % 7 == 0;
  /* Where each token's (i, f) pre-activation lives in in[] and dx[]. */
  const int kf = fused ? 0 : 1, cf = fused ? NH : 0;
  double *ref_g[2] = {ck_dalloc(cs, ng), ck_dalloc(cs, ng)}, *ref_dx[2] = {ck_dalloc(cs, ng), ck_dalloc(cs, ng)};
  double *ref_db[2] = {ck_dalloc(cs, NH), ck_dalloc(cs, NH)};
  float *got_dx[2] = {ck_falloc(cs, ng), ck_falloc(cs, ng)};
  for (int k = 0; k < 2; k++)
    for (int h = 0; h < NH; h++) ref_db[k][h] = db[k][h];
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < NH; h++) {
        const size_t r = (size_t)b * T + t, hd = ((size_t)b * NH + h) * T + t, tok = r * NH + h;
        for (int k = 0; k < 2; k++) {
          const double pre = (double)in[k ? kf : 0][r * L + (k ? cf : 0) + h] + bias[k][h];
          const int reset = k == 1 && doc[r];
          ref_g[k][hd] = reset ? doc_reset : sc_ref_softcap(pre, gate_cap);
          ref_dx[k][tok] = reset ? 0 : dg[k][hd] * sc_ref_softcap_grad(pre, gate_cap);
          ref_db[k][h] += ref_dx[k][tok];
        }
      }
  const sc_view xi = ck_tensor(cs, in[0], nin * 4), xf = fused ? sc_view_at(xi, NH * 4) : ck_tensor(cs, in[1], nin * 4);
  const sc_view dxi = ck_tensor(cs, NULL, nin * 4),
                dxf = fused ? sc_view_at(dxi, NH * 4) : ck_tensor(cs, NULL, nin * 4);
  const sc_view bi = ck_tensor(cs, bias[0], NH * 4), bf = ck_tensor(cs, bias[1], NH * 4);
  const sc_view ds = sh.docs ? ck_tensor(cs, doc, rows * 4) : sc_view_of(NULL);
  const sc_view gi = ck_tensor(cs, NULL, ng * 4), gf = ck_tensor(cs, NULL, ng * 4);
  const sc_view di = ck_tensor(cs, dg[0], ng * 4), df = ck_tensor(cs, dg[1], ng * 4);
  const sc_view dbi = ck_tensor(cs, db[0], NH * 4), dbf = ck_tensor(cs, db[1], NH * 4);
  CK(cs, sc_gates_forward(e, B, T, NH, sh.ld, &(sc_gates_fwd_io){xi, xf, bi, bf, ds, gi, gf}, cs->err));
  CK(cs, sc_gates_backward(e, B, T, NH, sh.ld, &(sc_gates_bwd_io){xi, xf, bi, bf, ds, di, df, dxi, dxf, dbi, dbf},
                           cs->err));
  ck_read(cs, gi, g[0], ng * 4), ck_read(cs, gf, g[1], ng * 4);
  ck_read(cs, dxi, dx[0], nin * 4);
  if (!fused) ck_read(cs, dxf, dx[1], nin * 4);
  ck_read(cs, dbi, db[0], NH * 4), ck_read(cs, dbf, db[1], NH * 4);
  for (size_t r = 0; r < rows; r++)
    for (int h = 0; h < NH; h++) {
      got_dx[0][r * NH + h] = dx[0][r * L + h];
      got_dx[1][r * NH + h] = dx[kf][r * L + cf + h];
    }
  char variant[64];
  snprintf(variant, sizeof variant, "B%d T%d NH%d ld%d", B, T, NH, L);
  ck_begin(cs, variant);
  ck_compare(cs, "i", g[0], ref_g[0], ng, row->tol);
  ck_compare(cs, "f", g[1], ref_g[1], ng, row->tol);
  ck_compare(cs, "dxi", got_dx[0], ref_dx[0], ng, row->tol_grad);
  ck_compare(cs, "dxf", got_dx[1], ref_dx[1], ng, row->tol_grad);
  ck_compare(cs, "dbi", db[0], ref_db[0], NH, row->tol_grad);
  ck_compare(cs, "dbf", db[1], ref_db[1], NH, row->tol_grad);
  ck_end(cs);
}
