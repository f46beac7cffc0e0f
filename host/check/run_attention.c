/* Causal attention (ops/attention.h), with RoPE (ops/rope.h) in front where a row says so, forward and backward
 * against the same composition in float64: RoPE, plain masked softmax attention, its gradients, RoPE^T. Values:
 * normal (q, k, v ~ N(0, 1)), or large = q and k scaled so that the largest causal score is max_score (default
 * 1e4) in magnitude before the 1/sqrt(dh) scale. Documents: segment ids and restarting positions. Then one decode
 * step: the last token of every sequence against the forward's (RoPE'd) keys and values written into the KV caches
 * by the prefill's cache fill, from the start of its document, compared with the float64 forward's last row; with
 * caches of halves, the forward of the halves they hold (the device's rotated keys rounded as base/half.h does).
 * Token-major rows give the device q, k, v, dout as (B, S, NH, dh) and read o, dq, dk, dv back the same way; the
 * references stay head-major. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/half.h"
#include "check/runners.h"
#include "ops/attention.h"
#include "ops/rope.h"
#include "ref/attention.h"
#include "ref/rope.h"

#define THETA 500000.0

static void destroy_attention(void *a) {
  sc_attention_destroy(a);
}
static void destroy_rope(void *r) {
  sc_rope_destroy(r);
}

void ck_run_attention(ck_scope *cs, const sc_check_row *row) {
  const sc_check_attention sh = row->attention;
  if (row->values != SC_VAL_NORMAL && row->values != SC_VAL_LARGE)
    ck_fail(cs, "attention rows are normal or large (scores)");
  const int B = sh.B, NH = sh.NH, S = sh.S, dh = sh.dh;
  const size_t n = (size_t)B * NH * S * dh, nb = n * 4, nl = (size_t)B * NH * S, ntok = (size_t)B * S;
  sc_rng r;
  sc_rng_seed(&r, row->seed);
  float *q = ck_falloc(cs, n), *k = ck_falloc(cs, n), *v = ck_falloc(cs, n), *dout = ck_falloc(cs, n);
  sc_rng_fill_normal(&r, q, n, 0, 1);
  sc_rng_fill_normal(&r, k, n, 0, 1);
  sc_rng_fill_normal(&r, v, n, 0, 1);
  sc_rng_fill_normal(&r, dout, n, 0, 1);
  /* Documents of the given lengths (cycled until S is covered): arbitrary segment ids, positions from 0. */
  int32_t *seg = sh.docs ? ck_calloc(cs, ntok, 4) : NULL, *pos = ck_calloc(cs, ntok, 4);
  int mp = 0;
  for (int b = 0; b < B; b++) {
    int doc = 0, at = 0, li = sh.docs ? b % sh.ndocs : 0;
    for (int s = 0; s < S; s++) {
      if (sh.docs && at == sh.docs[li]) doc++, at = 0, li = (li + 1) % sh.ndocs;
      if (seg) seg[b * S + s] = 7 * doc + b;
      pos[b * S + s] = at++;
      mp = pos[b * S + s] > mp ? pos[b * S + s] : mp;
    }
  }
  if (row->values == SC_VAL_LARGE) {
    double mx = 0;
    for (int bh = 0; bh < B * NH; bh++)
      for (int i = 0; i < S; i++)
        for (int j = 0; j <= i; j++) {
          double s = 0;
          for (int d = 0; d < dh; d++) s += (double)q[((size_t)bh * S + i) * dh + d] * k[((size_t)bh * S + j) * dh + d];
          mx = fabs(s) > mx ? fabs(s) : mx;
        }
    const float f = (float)sqrt((sh.max_score > 0 ? sh.max_score : 1e4) / mx);
    for (size_t i = 0; i < n; i++) q[i] *= f, k[i] *= f;
  }

  /* Device: [RoPE +] forward + backward [+ RoPE backward], on token-major copies for token-major rows. */
  const size_t BH = (size_t)B * NH, TH = sh.tokens ? (size_t)NH : 1;
  const int tok = sh.tokens ? SC_ROPE_TOKENS : 0;
  float *dev[4];
  const float *host[4] = {q, k, v, dout};
  for (int j = 0; j < 4; j++) {
    dev[j] = ck_falloc(cs, n);
    memcpy(dev[j], host[j], nb);
    ck_relayout(cs, dev[j], BH, TH, (size_t)S, (size_t)dh, 1);
  }
  sc_attention *a;
  CK(cs, sc_attention_create(
             cs->ctx, &(sc_attention_cfg){.head_dim = dh, .token_heads = (int)TH, .kv_half = sh.kv_half}, &a, cs->err));
  ck_own(cs, destroy_attention, a);
  const sc_view bq = ck_tensor(cs, dev[0], nb), bk = ck_tensor(cs, dev[1], nb);
  sc_attention_fwd_io f = {
      bq, bk, ck_tensor(cs, dev[2], nb), sc_view_of(NULL), ck_tensor(cs, NULL, nb), ck_tensor(cs, NULL, nl * 4)};
  if (seg) f.seg = ck_tensor(cs, seg, ntok * 4);
  sc_rope *rope = NULL;
  sc_view bpos = sc_view_of(NULL);
  if (sh.rope) {
    CK(cs, sc_rope_create(cs->ctx, dh, THETA, &rope, cs->err));
    ck_own(cs, destroy_rope, rope);
    bpos = ck_tensor(cs, pos, ntok * 4);
    f.q = ck_tensor(cs, NULL, nb), f.k = ck_tensor(cs, NULL, nb);
    CK(cs, sc_rope_apply(rope, B, NH, S, bpos, mp, bq, f.q, tok, cs->err));
    CK(cs, sc_rope_apply(rope, B, NH, S, bpos, mp, bk, f.k, tok, cs->err));
  }
  CK(cs, sc_attention_forward(a, B, NH, S, &f, cs->err));
  const sc_attention_bwd_io bw = {f.q,
                                  f.k,
                                  f.v,
                                  f.seg,
                                  f.o,
                                  f.lse,
                                  ck_tensor(cs, dev[3], nb),
                                  ck_tensor(cs, NULL, nb),
                                  ck_tensor(cs, NULL, nb),
                                  ck_tensor(cs, NULL, nb)};
  CK(cs, sc_attention_backward(a, B, NH, S, &bw, cs->err));
  if (sh.rope) {
    CK(cs, sc_rope_apply(rope, B, NH, S, bpos, mp, bw.dq, bw.dq, SC_ROPE_TRANSPOSE | tok, cs->err));
    CK(cs, sc_rope_apply(rope, B, NH, S, bpos, mp, bw.dk, bw.dk, SC_ROPE_TRANSPOSE | tok, cs->err));
  }
  float *o = ck_falloc(cs, n), *lse = ck_falloc(cs, nl), *dq = ck_falloc(cs, n), *dk = ck_falloc(cs, n);
  float *dv = ck_falloc(cs, n);
  ck_read(cs, f.o, o, nb), ck_read(cs, f.lse, lse, nl * 4);
  ck_read(cs, bw.dq, dq, nb), ck_read(cs, bw.dk, dk, nb), ck_read(cs, bw.dv, dv, nb);
  float *const back[4] = {o, dq, dk, dv};
  for (int j = 0; j < 4; j++) ck_relayout(cs, back[j], BH, TH, (size_t)S, (size_t)dh, 0);

  /* Decode of token S-1 over caches filled with the forward's (rotated) keys and values: appending its own k and v
   * at S-1 leaves them as they are. */
  const size_t nt = (size_t)B * NH * dh;
  float *qr = ck_falloc(cs, n), *kr = ck_falloc(cs, n), *tq = ck_falloc(cs, nt), *tk = ck_falloc(cs, nt);
  float *tv = ck_falloc(cs, nt);
  ck_read(cs, f.q, qr, nb), ck_read(cs, f.k, kr, nb);
  ck_relayout(cs, qr, BH, TH, (size_t)S, (size_t)dh, 0), ck_relayout(cs, kr, BH, TH, (size_t)S, (size_t)dh, 0);
  for (size_t bh = 0; bh < BH; bh++) {
    memcpy(tq + bh * dh, qr + (bh * S + S - 1) * dh, (size_t)dh * 4);
    memcpy(tk + bh * dh, kr + (bh * S + S - 1) * dh, (size_t)dh * 4);
    memcpy(tv + bh * dh, v + (bh * S + S - 1) * dh, (size_t)dh * 4);
  }
  int32_t *dpos = ck_calloc(cs, (size_t)B, 4), *dstart = ck_calloc(cs, (size_t)B, 4);
  for (int b = 0; b < B; b++) dpos[b] = S - 1, dstart[b] = seg ? S - 1 - pos[b * S + S - 1] : 0;
  const size_t nc = n * sc_attention_kv_bytes(sh.kv_half);
  const sc_attention_fill_io fill = {f.k, f.v, ck_tensor(cs, NULL, nc), ck_tensor(cs, NULL, nc)};
  CK(cs, sc_attention_cache_fill(a, B, NH, S, S, &fill, cs->err));
  const sc_attention_decode_io dio = {fill.kcache,
                                      fill.vcache,
                                      ck_tensor(cs, tq, nt * 4),
                                      ck_tensor(cs, tk, nt * 4),
                                      ck_tensor(cs, tv, nt * 4),
                                      ck_tensor(cs, NULL, nt * 4),
                                      ck_tensor(cs, NULL, (size_t)B * NH * 4)};
  CK(cs, sc_attention_decode(a, B, NH, S, dpos, dstart, &dio, cs->err));
  float *dec_o = ck_falloc(cs, nt), *dec_lse = ck_falloc(cs, (size_t)B * NH);
  ck_read(cs, dio.o, dec_o, nt * 4), ck_read(cs, dio.lse, dec_lse, (size_t)B * NH * 4);

  /* float64. */
  double *qd = ck_widen(cs, q, n), *kd = ck_widen(cs, k, n), *vd = ck_widen(cs, v, n), *dod = ck_widen(cs, dout, n);
  double *ro = ck_dalloc(cs, n), *rlse = ck_dalloc(cs, nl), *rdq = ck_dalloc(cs, n), *rdk = ck_dalloc(cs, n);
  double *rdv = ck_dalloc(cs, n);
  if (sh.rope) {
    sc_ref_rope(B, NH, S, dh, THETA, pos, qd, qd, 0);
    sc_ref_rope(B, NH, S, dh, THETA, pos, kd, kd, 0);
  }
  CK(cs, sc_ref_attention_forward(B, NH, S, dh, qd, kd, vd, seg, ro, rlse, cs->err));
  CK(cs, sc_ref_attention_backward(B, NH, S, dh, qd, kd, vd, seg, dod, rdq, rdk, rdv, cs->err));
  if (sh.rope) {
    sc_ref_rope(B, NH, S, dh, THETA, pos, rdq, rdq, 1);
    sc_ref_rope(B, NH, S, dh, THETA, pos, rdk, rdk, 1);
  }
  /* The decode's float64 forward: of the halves a cache of halves holds. */
  double *kh = kd, *vh = vd, *dro = ro, *drl = rlse;
  if (sh.kv_half) {
    kh = ck_dalloc(cs, n), vh = ck_dalloc(cs, n), dro = ck_dalloc(cs, n), drl = ck_dalloc(cs, nl);
    for (size_t i = 0; i < n; i++)
      kh[i] = sc_half_to_float(sc_half_from_float(kr[i])), vh[i] = sc_half_to_float(sc_half_from_float(v[i]));
    CK(cs, sc_ref_attention_forward(B, NH, S, dh, qd, kh, vh, seg, dro, drl, cs->err));
  }
  char variant[96];
  snprintf(variant, sizeof variant, "B%d NH%d S%d dh%d", B, NH, S, dh);
  ck_begin(cs, variant);
  ck_compare(cs, "o", o, ro, n, row->tol);
  ck_compare(cs, "lse", lse, rlse, nl, row->tol);
  ck_compare(cs, "dq", dq, rdq, n, row->tol_grad);
  ck_compare(cs, "dk", dk, rdk, n, row->tol_grad);
  ck_compare(cs, "dv", dv, rdv, n, row->tol_grad);
  double *last_o = ck_dalloc(cs, nt), *last_lse = ck_dalloc(cs, (size_t)B * NH);
  for (size_t bh = 0; bh < (size_t)B * NH; bh++) {
    memcpy(last_o + bh * dh, dro + (bh * S + S - 1) * dh, (size_t)dh * sizeof *last_o);
    last_lse[bh] = drl[bh * S + S - 1];
  }
  ck_compare(cs, "decode o", dec_o, last_o, nt, row->tol);
  ck_compare(cs, "decode lse", dec_lse, last_lse, (size_t)B * NH, row->tol);
  ck_end(cs);
}
