/* Causal attention (ops/attention.h) on the test device against the float64 reference (ref/attention.h),
 * with RoPE (ops/rope.h) applied in front where a row says so, through the op-case table: odd lengths, every head
 * dim, documents (segment ids, restarting positions) including documents of length 1, large logits, view offsets.
 * Then properties: isolation of documents, decode rollout against the full forward (after a prefill's cache fill,
 * and over caches of halves), the bits a half cache stores, finite differences on the reference, errors, and the
 * `scalecl op attention` command end to end. Every test runs under both kernel variants (runtime/variant.h): the
 * groups set SCALECL_KERNEL_VARIANT before the ops are created; the device tests run once more under the gpu
 * variant's direct-load form (LS=0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/half.h"
#include "model/safetensors.h"
#include "op_cases.h"
#include "ops/attention.h"
#include "ops/rope.h"
#include "ref/attention.h"
#include "ref/rope.h"
#include "runtime/variant.h"

#define FWD_TOL ((sc_tol){1e-4, 1e-3, 1e-8, 0})
#define BWD_TOL ((sc_tol){1e-3, 1e-2, 1e-7, 0})
#define THETA 500000.0

static sc_ctx ctx;
static sc_attention *atts[17]; /* by head dim / 16 */
static sc_rope *ropes[17];
static const char *variant; /* the group's kernel variant */

static int setup(const char *v) {
  variant = v;
  th_setenv("SCALECL_KERNEL_VARIANT", v); /* also for the `scalecl op` child processes */
  th_ctx_open(&ctx);
  return 0;
}

static int setup_cpu(void **state) {
  (void)state;
  return setup("cpu");
}

static int setup_gpu(void **state) {
  (void)state;
  return setup("gpu");
}

/* The gpu variant reading its operands straight from global memory (LS=0, as on llvmpipe), with a non-square
 * register tile. */
static int setup_gpu_direct(void **state) {
  setup_gpu(state);
  th_override_tiles(&ctx, "attention_gpu", "LS=0 WR=2 WC=4 NEXP=1");
  return 0;
}

/* ... and its one-pass backward: dQ from the dK/dV kernel into 3 partial slots per head, fewer than the key blocks
 * of the longer cases, so that groups take several blocks. */
static int setup_gpu_dqp(void **state) {
  setup_gpu(state);
  th_override_tiles(&ctx, "attention_gpu", "LS=0 WR=2 WC=4 NEXP=1 DQP=3");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < 17; i++) {
    sc_attention_destroy(atts[i]);
    sc_rope_destroy(ropes[i]);
    atts[i] = NULL, ropes[i] = NULL;
  }
  sc_ctx_close(&ctx);
  th_setenv("SCALECL_KERNEL_VARIANT", NULL);
  return 0;
}

static sc_attention *att_for(int dh) {
  static sc_err err;
  if (!atts[dh / 16]) {
    sc_attention_cfg cfg = {.head_dim = dh};
    if (sc_attention_create(&ctx, &cfg, &atts[dh / 16], &err)) fail_msg("%s", err.msg);
  }
  return atts[dh / 16];
}

/* The group's variant is the one that ran (a forced variant the op ignored would test one variant twice). */
static void test_variant_picked(void **state) {
  (void)state;
  att_for(16);
  for (int i = 0; i < ctx.n_picks; i++)
    if (!strcmp(ctx.picks[i].family, "attention")) {
      printf("attention variant %s, tiles '%s' (%s)\n", sc_variant_name((sc_variant)ctx.picks[i].variant),
             ctx.picks[i].tiles, ctx.picks[i].why);
      th_assert_pick(&ctx, "attention", variant);
      return;
    }
  fail_msg("no kernel variant recorded for attention");
}

static sc_rope *rope_for(int dh) {
  static sc_err err;
  if (!ropes[dh / 16] && sc_rope_create(&ctx, dh, THETA, &ropes[dh / 16], &err)) fail_msg("%s", err.msg);
  return ropes[dh / 16];
}

/* One problem: inputs, optional documents and RoPE, and the device's outputs. */
typedef struct {
  int B, NH, S, dh;
  float *q, *k, *v, *dout; /* dout NULL: forward only */
  int32_t *seg, *pos;      /* seg NULL: one document; pos NULL: 0..S-1 */
  int rope;                /* apply RoPE (theta 500000) to q and k first */
  int offsets;             /* device tensors at odd offsets (harness.h th_tensors) */
  float *o, *lse, *dq, *dk, *dv;
} problem;

static size_t nel(const problem *p) {
  return (size_t)p->B * p->NH * p->S * p->dh;
}

static void problem_init(problem *p, int B, int NH, int S, int dh, int backward, uint64_t seed, double std) {
  memset(p, 0, sizeof *p);
  p->B = B, p->NH = NH, p->S = S, p->dh = dh;
  const size_t n = nel(p);
  sc_rng r;
  sc_rng_seed(&r, seed);
  p->q = th_calloc(1, n * 4), p->k = th_calloc(1, n * 4), p->v = th_calloc(1, n * 4);
  sc_rng_fill_normal(&r, p->q, n, 0, std);
  sc_rng_fill_normal(&r, p->k, n, 0, std);
  sc_rng_fill_normal(&r, p->v, n, 0, 1);
  if (backward) {
    p->dout = th_calloc(1, n * 4);
    sc_rng_fill_normal(&r, p->dout, n, 0, 1);
  }
}

/* Documents of the given lengths (cycled until S is covered): segment ids and restarting positions. */
static void problem_docs(problem *p, const int *lens, int nlens) {
  p->seg = th_calloc(1, (size_t)p->B * p->S * 4);
  p->pos = th_calloc(1, (size_t)p->B * p->S * 4);
  for (int b = 0; b < p->B; b++) {
    int doc = 0, at = 0, li = b % nlens;
    for (int s = 0; s < p->S; s++) {
      if (at == lens[li]) doc++, at = 0, li = (li + 1) % nlens;
      p->seg[b * p->S + s] = 7 * doc + b; /* arbitrary ids, not 0..n */
      p->pos[b * p->S + s] = at++;
    }
  }
}

static void problem_free(problem *p) {
  free(p->q), free(p->k), free(p->v), free(p->dout), free(p->seg), free(p->pos);
  free(p->o), free(p->lse), free(p->dq), free(p->dk), free(p->dv);
}

static int32_t *default_pos(const problem *p) {
  int32_t *pos = th_calloc(1, (size_t)p->B * p->S * 4);
  for (int b = 0; b < p->B; b++)
    for (int s = 0; s < p->S; s++) pos[b * p->S + s] = p->pos ? p->pos[b * p->S + s] : s;
  return pos;
}

static int max_pos(const int32_t *pos, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; i++) m = pos[i] > m ? pos[i] : m;
  return m;
}

static th_tensors ts; /* the device tensors of one device_run or rollout */

static sc_view upload(const void *host, size_t bytes) {
  return th_tensor(&ts, host, bytes);
}

static void *download(sc_view m, size_t bytes) {
  void *h = th_calloc(1, bytes);
  th_tensor_read(&ts, m, h, bytes);
  return h;
}

/* Runs [RoPE] + forward [+ backward + RoPE backward] on the device; fills p->o, lse, dq, dk, dv. */
static void device_run(problem *p) {
  const size_t n = nel(p), nb = n * 4, nl = (size_t)p->B * p->NH * p->S * 4;
  sc_attention *a = att_for(p->dh);
  th_tensors_init(&ts, &ctx, p->offsets);
  const sc_view q = upload(p->q, nb), k = upload(p->k, nb);
  sc_attention_fwd_io f = {q, k, upload(p->v, nb), sc_view_of(NULL), upload(NULL, nb), upload(NULL, nl)};
  if (p->seg) f.seg = upload(p->seg, (size_t)p->B * p->S * 4);
  sc_view pos = sc_view_of(NULL);
  int32_t *hpos = default_pos(p);
  const int mp = max_pos(hpos, (size_t)p->B * p->S);
  if (p->rope) {
    pos = upload(hpos, (size_t)p->B * p->S * 4);
    f.q = upload(NULL, nb), f.k = upload(NULL, nb);
    TH_CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, q, f.q, 0, TH_ERR));
    TH_CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, k, f.k, 0, TH_ERR));
  }
  TH_CHECK(sc_attention_forward(a, p->B, p->NH, p->S, &f, TH_ERR));
  p->o = download(f.o, nb);
  p->lse = download(f.lse, nl);
  if (p->dout) {
    const sc_attention_bwd_io b = {
        f.q, f.k, f.v, f.seg, f.o, f.lse, upload(p->dout, nb), upload(NULL, nb), upload(NULL, nb), upload(NULL, nb)};
    TH_CHECK(sc_attention_backward(a, p->B, p->NH, p->S, &b, TH_ERR));
    if (p->rope) {
      TH_CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, b.dq, b.dq, SC_ROPE_TRANSPOSE, TH_ERR));
      TH_CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, b.dk, b.dk, SC_ROPE_TRANSPOSE, TH_ERR));
    }
    p->dq = download(b.dq, nb), p->dk = download(b.dk, nb), p->dv = download(b.dv, nb);
  }
  th_tensors_release(&ts);
  free(hpos);
}

static double *to_double(const float *x, size_t n) {
  double *d = th_calloc(1, n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

typedef struct {
  double *o, *lse, *dq, *dk, *dv;
} reference;

/* The same composition in float64: RoPE, plain masked softmax attention, its gradients, RoPE^T. */
static reference reference_run(const problem *p) {
  const size_t n = nel(p);
  reference r = {th_calloc(1, n * 8), th_calloc(1, (size_t)p->B * p->NH * p->S * 8), NULL, NULL, NULL};
  double *q = to_double(p->q, n), *k = to_double(p->k, n), *v = to_double(p->v, n);
  int32_t *pos = default_pos(p);
  if (p->rope) {
    sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, q, q, 0);
    sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, k, k, 0);
  }
  TH_CHECK(sc_ref_attention_forward(p->B, p->NH, p->S, p->dh, q, k, v, p->seg, r.o, r.lse, TH_ERR));
  if (p->dout) {
    double *dout = to_double(p->dout, n);
    r.dq = th_calloc(1, n * 8), r.dk = th_calloc(1, n * 8), r.dv = th_calloc(1, n * 8);
    TH_CHECK(sc_ref_attention_backward(p->B, p->NH, p->S, p->dh, q, k, v, p->seg, dout, r.dq, r.dk, r.dv, TH_ERR));
    if (p->rope) {
      sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, r.dq, r.dq, 1);
      sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, r.dk, r.dk, 1);
    }
    free(dout);
  }
  free(q), free(k), free(v), free(pos);
  return r;
}

static void reference_free(reference *r) {
  free(r->o), free(r->lse), free(r->dq), free(r->dk), free(r->dv);
}

static void test_attention_cases(void **state) {
  (void)state;
  th_run_op_cases(&ctx, "attention");
}

/* Every token its own document: o = v exactly (up to rounding); the table's "len-1 docs" row checks the rest. */
static void test_documents_of_length_one(void **state) {
  (void)state;
  static const int one[] = {1};
  problem p;
  problem_init(&p, 2, 3, 33, 64, 1, 400, 1.0);
  problem_docs(&p, one, 1);
  device_run(&p);
  const size_t n = nel(&p);
  double *v = to_double(p.v, n);
  th_assert_close("len-1 docs: o equals v", p.o, v, n, (sc_tol){1e-6, 1e-6, 1e-8, 0});
  free(v);
  problem_free(&p);
}

/* The same tokens as one packed sequence of documents and as each document alone (positions 0..len-1,
 * no segment ids): outputs and gradients of every document must agree. */
static void test_documents_are_isolated(void **state) {
  (void)state;
  static const int lens[] = {1, 30, 1, 17, 51};
  const int NH = 2, dh = 64, S = 100;
  problem all;
  problem_init(&all, 1, NH, S, dh, 1, 500, 1.0);
  problem_docs(&all, lens, 5);
  all.rope = 1;
  device_run(&all);
  const size_t n = nel(&all);
  double *o = th_calloc(1, n * 8), *lse = th_calloc(1, (size_t)NH * S * 8), *dq = th_calloc(1, n * 8),
         *dk = th_calloc(1, n * 8), *dv = th_calloc(1, n * 8);
  for (int d = 0, a = 0; d < 5; a += lens[d++]) {
    problem one;
    problem_init(&one, 1, NH, lens[d], dh, 1, 0, 1.0);
    one.rope = 1;
    for (int h = 0; h < NH; h++) {
      const size_t src = ((size_t)h * S + a) * dh, dst = (size_t)h * lens[d] * dh, len = (size_t)lens[d] * dh;
      memcpy(one.q + dst, all.q + src, len * 4), memcpy(one.k + dst, all.k + src, len * 4);
      memcpy(one.v + dst, all.v + src, len * 4), memcpy(one.dout + dst, all.dout + src, len * 4);
    }
    device_run(&one);
    for (int h = 0; h < NH; h++) {
      const size_t src = (size_t)h * lens[d] * dh, dst = ((size_t)h * S + a) * dh;
      for (size_t i = 0; i < (size_t)lens[d] * dh; i++)
        o[dst + i] = one.o[src + i], dq[dst + i] = one.dq[src + i], dk[dst + i] = one.dk[src + i],
                dv[dst + i] = one.dv[src + i];
      for (int i = 0; i < lens[d]; i++) lse[(size_t)h * S + a + i] = one.lse[(size_t)h * lens[d] + i];
    }
    problem_free(&one);
  }
  th_assert_close("packed vs alone: o", all.o, o, n, (sc_tol){1e-5, 1e-4, 1e-8, 0});
  th_assert_close("packed vs alone: lse", all.lse, lse, (size_t)NH * S, (sc_tol){1e-5, 1e-4, 1e-8, 0});
  th_assert_close("packed vs alone: dq", all.dq, dq, n, (sc_tol){1e-5, 1e-3, 1e-8, 0});
  th_assert_close("packed vs alone: dk", all.dk, dk, n, (sc_tol){1e-5, 1e-3, 1e-8, 0});
  th_assert_close("packed vs alone: dv", all.dv, dv, n, (sc_tol){1e-5, 1e-3, 1e-8, 0});
  free(o), free(lse), free(dq), free(dk), free(dv);
  problem_free(&all);
}

/* Rounds x to halves in place. */
static void round_half(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = sc_half_to_float(sc_half_from_float(x[i]));
}

/* An op of head dim dh whose decode caches hold halves, created for one test. */
static sc_attention *att_half(int dh) {
  sc_attention *a = NULL;
  TH_CHECK(sc_attention_create(&ctx, &(sc_attention_cfg){.head_dim = dh, .kv_half = 1}, &a, TH_ERR));
  return a;
}

/* The first P rows of every head of x (B·NH heads of S rows), as (B, NH, P, dh). */
static float *first_rows(const float *x, int BH, int S, int P, int dh) {
  float *y = th_calloc(1, (size_t)BH * P * dh * 4);
  for (int bh = 0; bh < BH; bh++) memcpy(y + (size_t)bh * P * dh, x + (size_t)bh * S * dh, (size_t)P * dh * 4);
  return y;
}

/* Positions 0..P-1 through the prefill's cache fill (k after RoPE), then decode one token at a time (RoPE on the
 * single token, append, attend to the document so far), every step against the full forward at that position.
 * With kv_half the caches hold halves: k and v are halves from the start and RoPE is off, so that the forward sees
 * exactly the values the caches hold. */
static void rollout(int B, int NH, int S, int dh, const int *lens, int nlens, uint64_t seed, int P, int kv_half) {
  problem p;
  problem_init(&p, B, NH, S, dh, 0, seed, 1.0);
  if (lens) problem_docs(&p, lens, nlens);
  p.rope = !kv_half;
  const size_t n = nel(&p), nt = (size_t)B * NH * dh, nc = n * sc_attention_kv_bytes(kv_half);
  if (kv_half) round_half(p.k, n), round_half(p.v, n);
  device_run(&p);
  reference r = reference_run(&p);
  sc_attention *a = kv_half ? att_half(dh) : att_for(dh);
  th_tensors_init(&ts, &ctx, 1); /* every tensor of the decode step at an odd offset */
  const sc_attention_decode_io io = {upload(NULL, nc),
                                     upload(NULL, nc),
                                     upload(NULL, nt * 4),
                                     upload(NULL, nt * 4),
                                     upload(NULL, nt * 4),
                                     upload(NULL, nt * 4),
                                     upload(NULL, (size_t)B * NH * 4)};
  const sc_view pb = upload(NULL, (size_t)B * 4);
  float *qh = th_calloc(1, nt * 4), *kh = th_calloc(1, nt * 4), *vh = th_calloc(1, nt * 4), *o = th_calloc(1, n * 4),
        *lse = th_calloc(1, (size_t)B * NH * S * 4), *ot = th_calloc(1, nt * 4), *lt = th_calloc(1, (size_t)B * NH * 4);
  int32_t *pos = th_calloc(1, (size_t)B * 4), *start = th_calloc(1, (size_t)B * 4), *rpos = th_calloc(1, (size_t)B * 4);
  if (P) {
    const int BH = B * NH;
    float *kp = first_rows(p.k, BH, S, P, dh), *vp = first_rows(p.v, BH, S, P, dh);
    int32_t *pp = th_calloc(1, (size_t)B * P * 4);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < P; t++) pp[b * P + t] = p.pos ? p.pos[b * S + t] : t;
    const sc_attention_fill_io fill = {upload(kp, (size_t)BH * P * dh * 4), upload(vp, (size_t)BH * P * dh * 4),
                                       io.kcache, io.vcache};
    if (p.rope)
      TH_CHECK(sc_rope_apply(rope_for(dh), B, NH, P, upload(pp, (size_t)B * P * 4), max_pos(pp, (size_t)B * P), fill.k,
                             fill.k, 0, TH_ERR));
    TH_CHECK(sc_attention_cache_fill(a, B, NH, P, S, &fill, TH_ERR));
    /* the prefill's rows are the forward's own: only the decoded rows are compared */
    for (int bh = 0; bh < BH; bh++) {
      memcpy(o + (size_t)bh * S * dh, p.o + (size_t)bh * S * dh, (size_t)P * dh * 4);
      memcpy(lse + (size_t)bh * S, p.lse + (size_t)bh * S, (size_t)P * 4);
    }
    free(kp), free(vp), free(pp);
  }
  for (int t = P; t < S; t++) {
    for (int b = 0; b < B; b++) {
      pos[b] = t;
      rpos[b] = p.pos ? p.pos[b * S + t] : t;
      start[b] = t - rpos[b];
    }
    for (size_t bh = 0; bh < (size_t)B * NH; bh++) {
      const size_t src = (bh * S + t) * dh;
      memcpy(qh + bh * dh, p.q + src, dh * 4), memcpy(kh + bh * dh, p.k + src, dh * 4);
      memcpy(vh + bh * dh, p.v + src, dh * 4);
    }
    TH_CHECK(sc_buffer_write(&ctx, io.q.buf, io.q.off, nt * 4, qh, TH_ERR));
    TH_CHECK(sc_buffer_write(&ctx, io.k.buf, io.k.off, nt * 4, kh, TH_ERR));
    TH_CHECK(sc_buffer_write(&ctx, io.v.buf, io.v.off, nt * 4, vh, TH_ERR));
    TH_CHECK(sc_buffer_write(&ctx, pb.buf, pb.off, (size_t)B * 4, rpos, TH_ERR));
    if (p.rope) {
      TH_CHECK(sc_rope_apply(rope_for(dh), B, NH, 1, pb, max_pos(rpos, (size_t)B), io.q, io.q, 0, TH_ERR));
      TH_CHECK(sc_rope_apply(rope_for(dh), B, NH, 1, pb, max_pos(rpos, (size_t)B), io.k, io.k, 0, TH_ERR));
    }
    TH_CHECK(sc_attention_decode(a, B, NH, S, pos, lens ? start : NULL, &io, TH_ERR));
    th_tensor_read(&ts, io.o, ot, nt * 4);
    th_tensor_read(&ts, io.lse, lt, (size_t)B * NH * 4);
    for (size_t bh = 0; bh < (size_t)B * NH; bh++) {
      memcpy(o + (bh * S + t) * dh, ot + bh * dh, dh * 4);
      lse[bh * S + t] = lt[bh];
    }
  }
  double *fo = to_double(p.o, n), *fl = to_double(p.lse, (size_t)B * NH * S);
  char label[128];
  snprintf(label, sizeof label, "decode rollout B%d NH%d S%d dh%d%s, prefill %d%s", B, NH, S, dh, lens ? " docs" : "",
           P, kv_half ? ", f16 cache" : "");
  printf("%s:\n", label);
  th_assert_close("  decode o vs full forward", o, fo, n, FWD_TOL);
  th_assert_close("  decode lse vs full forward", lse, fl, (size_t)B * NH * S, FWD_TOL);
  th_assert_close("  decode o vs float64", o, r.o, n, FWD_TOL);
  th_assert_close("  decode lse vs float64", lse, r.lse, (size_t)B * NH * S, FWD_TOL);
  th_tensors_release(&ts);
  free(qh), free(kh), free(vh), free(o), free(lse), free(ot), free(lt), free(pos), free(start), free(rpos);
  free(fo), free(fl);
  reference_free(&r);
  problem_free(&p);
  if (kv_half) sc_attention_destroy(a);
}

static void test_decode_rollout(void **state) {
  (void)state;
  static const int lens[] = {9, 1, 30, 7};
  rollout(2, 2, 40, 64, lens, 4, 600, 0, 0);  /* batch of 2, documents restarting at different steps */
  rollout(1, 3, 600, 16, NULL, 0, 601, 0, 0); /* long enough for the cache to be split into chunks */
  rollout(2, 2, 40, 64, lens, 4, 602, 17, 0); /* a prefill ending inside a document */
  rollout(2, 2, 40, 32, lens, 4, 603, 12, 1); /* caches of halves */
  rollout(1, 3, 300, 64, NULL, 0, 604, 200, 1);
}

/* The positions go to the device only when they change: a start that moves at the same position is seen, and
 * moving it back gives the first step's output bit for bit. */
static void test_decode_start_moves(void **state) {
  (void)state;
  enum { B = 1, NH = 2, CAP = 8, DH = 16, N = B * NH * CAP * DH, NT = B * NH * DH };
  sc_rng r;
  sc_rng_seed(&r, 900);
  float x[N], tok[3][NT], out[3][NT];
  sc_rng_fill_normal(&r, x, N, 0, 1);
  for (int i = 0; i < 3; i++) sc_rng_fill_normal(&r, tok[i], NT, 0, 1);
  th_tensors_init(&ts, &ctx, 1);
  const sc_attention_decode_io io = {upload(x, sizeof x),    upload(x, sizeof x),    upload(tok[0], NT * 4),
                                     upload(tok[1], NT * 4), upload(tok[2], NT * 4), upload(NULL, NT * 4),
                                     sc_view_of(NULL)};
  const int32_t pos = 5, starts[3] = {0, 4, 0};
  for (int i = 0; i < 3; i++) {
    TH_CHECK(sc_attention_decode(att_for(DH), B, NH, CAP, &pos, &starts[i], &io, TH_ERR));
    th_tensor_read(&ts, io.o, out[i], NT * 4);
  }
  double moved = 0;
  for (int i = 0; i < NT; i++) moved = fmax(moved, fabs((double)out[1][i] - out[0][i]));
  if (!(moved > 1e-3)) fail_msg("start 4 instead of 0 at position 5 changed o by %g", moved);
  if (memcmp(out[0], out[2], sizeof out[0])) fail_msg("start 0 again at position 5 gave another o");
  th_tensors_release(&ts);
}

/* Caches of halves hold exactly what base/half.h rounds to (ties to even, subnormals, saturation, infinities, NaN),
 * at the right places, through both writers: the prefill's cache fill, from head-major and token-major rows, and
 * decode's append; the positions past them keep what they held. */
static void test_half_cache_rounding(void **state) {
  (void)state;
  enum { B = 2, NH = 2, P = 3, CAP = 5, DH = 16, BH = B * NH };
  static const float special[DH] = {
      1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-24f, 0x1p-25f, 0x1.8p-24f, 0x1.ffcp-15f, 65519.0f, 65520.0f, -1e6f,
      INFINITY,        -INFINITY,           NAN,      -0.0f,    1e-30f,     3.14159f,     -2.71828f};
  const size_t nc = (size_t)BH * CAP * DH;
  /* value c of head bh at position t: the specials, shifted per head and position, scaled by a power of 2 for v */
  float val[2][BH][CAP][DH];
  for (int x = 0; x < 2; x++)
    for (int bh = 0; bh < BH; bh++)
      for (int t = 0; t < CAP; t++)
        for (int c = 0; c < DH; c++) val[x][bh][t][c] = special[(c + bh + 3 * t) % DH] * (x ? 0.5f : 1.0f);
  uint16_t *sentinel = th_calloc(nc, 2), *got = th_calloc(nc, 2);
  for (size_t i = 0; i < nc; i++) sentinel[i] = 0x1234;
  for (int tm = 0; tm < 2; tm++) {
    sc_attention *a = NULL;
    TH_CHECK(sc_attention_create(&ctx, &(sc_attention_cfg){.head_dim = DH, .token_heads = tm ? NH : 0, .kv_half = 1},
                                 &a, TH_ERR));
    th_tensors_init(&ts, &ctx, 1);
    float rows[2][BH * P * DH], tok[2][BH * DH], q[BH * DH] = {0};
    for (int x = 0; x < 2; x++)
      for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
          const int bh = b * NH + h;
          for (int t = 0; t < P; t++) {
            const size_t row = tm ? ((size_t)b * P + t) * NH + h : (size_t)bh * P + t;
            memcpy(rows[x] + row * DH, val[x][bh][t], sizeof val[x][bh][t]);
          }
          memcpy(tok[x] + (size_t)bh * DH, val[x][bh][P], sizeof val[x][bh][P]);
        }
    const sc_attention_fill_io fill = {upload(rows[0], sizeof rows[0]), upload(rows[1], sizeof rows[1]),
                                       upload(sentinel, nc * 2), upload(sentinel, nc * 2)};
    TH_CHECK(sc_attention_cache_fill(a, B, NH, P, CAP, &fill, TH_ERR));
    const int32_t pos[B] = {P, P};
    const sc_attention_decode_io dec = {fill.kcache,
                                        fill.vcache,
                                        upload(q, sizeof q),
                                        upload(tok[0], sizeof tok[0]),
                                        upload(tok[1], sizeof tok[1]),
                                        upload(NULL, sizeof q),
                                        sc_view_of(NULL)};
    TH_CHECK(sc_attention_decode(a, B, NH, CAP, pos, NULL, &dec, TH_ERR));
    for (int x = 0; x < 2; x++) {
      th_tensor_read(&ts, x ? fill.vcache : fill.kcache, got, nc * 2);
      for (int bh = 0; bh < BH; bh++)
        for (int t = 0; t < CAP; t++)
          for (int c = 0; c < DH; c++) {
            const uint16_t g = got[((size_t)bh * CAP + t) * DH + c];
            const uint16_t want = t > P ? 0x1234 : sc_half_from_float(val[x][bh][t][c]);
            const int nan = (want & 0x7c00) == 0x7c00 && (want & 0x3ff);
            if (nan ? !((g & 0x7c00) == 0x7c00 && (g & 0x3ff)) : g != want)
              fail_msg("%s rows, %s cache, head %d position %d [%d]: %.9g stored as 0x%04x, expected 0x%04x",
                       tm ? "token-major" : "head-major", x ? "v" : "k", bh, t, c, val[x][bh][t][c], g, want);
          }
    }
    th_tensors_release(&ts);
    sc_attention_destroy(a);
  }
  free(sentinel), free(got);
}

/* Loss sum(o * W) through RoPE and attention: the float64 gradients against central differences. */
static void test_reference_finite_differences(void **state) {
  (void)state;
  enum { B = 1, NH = 2, S = 7, DHS = 6, N = B * NH * S * DHS };
  static const int32_t seg[S] = {3, 3, 5, 9, 9, 9, 9}, pos[S] = {0, 1, 0, 0, 1, 2, 3};
  const double theta = 50.0; /* a small base so every pair rotates noticeably at these positions */
  sc_rng r;
  sc_rng_seed(&r, 800);
  double x[3][N], w[N], g[3][N], num[3][N], tmp[3][N], o[N], lse[B * NH * S];
  for (int t = 0; t < 3; t++)
    for (int i = 0; i < N; i++) x[t][i] = sc_rng_normal(&r);
  for (int i = 0; i < N; i++) w[i] = sc_rng_normal(&r);
    /* loss(x) = sum(attention(rope(q), rope(k), v) * w) */
#define LOSS(out)                                                                                 \
  do {                                                                                            \
    sc_ref_rope(B, NH, S, DHS, theta, pos, x[0], tmp[0], 0);                                      \
    sc_ref_rope(B, NH, S, DHS, theta, pos, x[1], tmp[1], 0);                                      \
    TH_CHECK(sc_ref_attention_forward(B, NH, S, DHS, tmp[0], tmp[1], x[2], seg, o, lse, TH_ERR)); \
    out = 0;                                                                                      \
    for (int i_ = 0; i_ < N; i_++) out += o[i_] * w[i_];                                          \
  } while (0)
  sc_ref_rope(B, NH, S, DHS, theta, pos, x[0], tmp[0], 0);
  sc_ref_rope(B, NH, S, DHS, theta, pos, x[1], tmp[1], 0);
  TH_CHECK(sc_ref_attention_backward(B, NH, S, DHS, tmp[0], tmp[1], x[2], seg, w, g[0], g[1], g[2], TH_ERR));
  sc_ref_rope(B, NH, S, DHS, theta, pos, g[0], g[0], 1);
  sc_ref_rope(B, NH, S, DHS, theta, pos, g[1], g[1], 1);
  const double h = 1e-5;
  for (int t = 0; t < 3; t++)
    for (int i = 0; i < N; i++) {
      const double keep = x[t][i];
      double lp, lm;
      x[t][i] = keep + h;
      LOSS(lp);
      x[t][i] = keep - h;
      LOSS(lm);
      x[t][i] = keep;
      num[t][i] = (lp - lm) / (2 * h);
    }
#undef LOSS
  th_assert_close_d("fd dq (through RoPE)", g[0], num[0], N, (sc_tol){1e-8, 1e-6, 1e-16, 0});
  th_assert_close_d("fd dk (through RoPE)", g[1], num[1], N, (sc_tol){1e-8, 1e-6, 1e-16, 0});
  th_assert_close_d("fd dv", g[2], num[2], N, (sc_tol){1e-8, 1e-6, 1e-16, 0});
}

/* Bad arguments fail with a message that names the problem. */
static void test_errors(void **state) {
  (void)state;
  sc_err err;
  sc_attention *a = NULL;
  sc_attention_cfg cfg = {.head_dim = 24};
  assert_int_equal(sc_attention_create(&ctx, &cfg, &a, &err), -1);
  assert_non_null(strstr(err.msg, "head dim 24"));
  assert_null(a);
  th_tensors_init(&ts, &ctx, 0);
  const sc_view m = upload(NULL, 64 * 64 * 4), none = sc_view_of(NULL);
  int32_t pos = 4, start = 0;
  const sc_attention_decode_io dec = {m, m, m, m, m, m, none};
  assert_int_equal(sc_attention_decode(att_for(16), 1, 1, 4, &pos, &start, &dec, &err), -1);
  assert_non_null(strstr(err.msg, "cache capacity 4"));
  pos = 2, start = 3;
  assert_int_equal(sc_attention_decode(att_for(16), 1, 1, 4, &pos, &start, &dec, &err), -1);
  assert_non_null(strstr(err.msg, "start 3"));
  const sc_attention_fill_io fill = {m, m, m, m};
  assert_int_equal(sc_attention_cache_fill(att_for(16), 1, 1, 5, 4, &fill, &err), -1);
  assert_non_null(strstr(err.msg, "5 positions do not fit a cache of 4"));
  sc_attention_fwd_io f = {m, m, m, none, m, m};
  assert_int_equal(sc_attention_forward(att_for(16), 1, 1, 0, &f, &err), -1);
  assert_non_null(strstr(err.msg, "S=0"));
  f.lse = none; /* a missing output is named */
  assert_int_equal(sc_attention_forward(att_for(16), 1, 1, 1, &f, &err), -1);
  assert_non_null(strstr(err.msg, "'lse'"));
  th_tensors_release(&ts);
}

/* The gpu tiles check accepts the defaults on a 32 KiB, 1024-item device and names the tiles and the limit that a
 * bad set breaks. */
static void test_gpu_tiles_check(void **state) {
  (void)state;
  sc_err err;
  sc_device_info d = {.max_wg = 1024, .local_mem = 32768};
  snprintf(d.name, sizeof d.name, "test device");
  static const char *const ok = "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16";
  assert_int_equal(sc_attention_tiles_check(&d, ok, 64, &err), 0);
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=4", 256, &err), 0);
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16", 256, &err), -1);
  assert_non_null(strstr(err.msg, "__local memory")), assert_non_null(strstr(err.msg, "TC=16"));
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=3 WC=4 TK=16 TC=16", 64, &err), -1);
  assert_non_null(strstr(err.msg, "WR=3"));
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16", 64, &err), -1);
  assert_non_null(strstr(err.msg, "TC must be"));
  /* The direct form reads rows in float8s: head dim 12 only staged. */
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=16 WR=4 WC=4 TK=4 TC=4 LS=1", 12, &err), 0);
  assert_int_equal(sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=16 WR=4 WC=4 TK=4 TC=4 LS=0", 12, &err), -1);
  assert_non_null(strstr(err.msg, "of 8 with LS=0"));
  /* The one-pass backward's dQ partials: direct form only, head dim a multiple of BR/WR (8 here), 0 to 64 slots. */
  static const char *const dqp_ok = "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LS=0 DQP=8";
  assert_int_equal(sc_attention_tiles_check(&d, dqp_ok, 64, &err), 0);
  assert_int_equal(
      sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LS=1 DQP=8", 64, &err), -1);
  assert_non_null(strstr(err.msg, "DQP"));
  assert_int_equal(
      sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LS=0 DQP=65", 64, &err), -1);
  assert_int_equal(
      sc_attention_tiles_check(&d, "WG=64 DCH=1024 BR=64 BC=32 WR=2 WC=4 TK=16 TC=16 LS=0 DQP=8", 48, &err), -1);
  assert_non_null(strstr(err.msg, "BR/WR"));
  d.max_wg = 32;
  assert_int_equal(sc_attention_tiles_check(&d, ok, 64, &err), -1);
  assert_non_null(strstr(err.msg, "test device"));
}

/* Flash tiles fitted to a 32 KiB device at head dim 128: into half of it by default (TC, TK, then BR halved), into
 * all of it with LMAX=1, where the defaults fit as they are; the tuner's fit test fits before it checks. */
static void test_gpu_tiles_fit(void **state) {
  (void)state;
  sc_err err;
  sc_device_info d = {.max_wg = 1024, .local_mem = 32768};
  long br, tk, tc;
  assert_int_equal(sc_attention_fit_flash(&d, 128, SC_ATTENTION_GPU_TILES, &br, &tk, &tc, &err), 0);
  assert_int_equal(br, 16), assert_int_equal(tk, 4), assert_int_equal(tc, 4);
  assert_int_equal(sc_attention_fit_flash(&d, 128, "BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LMAX=1", &br, &tk, &tc, &err), 0);
  assert_int_equal(br, 32), assert_int_equal(tk, 16), assert_int_equal(tc, 16);
  assert_int_equal(sc_attention_fit_flash(&d, 128, "BR=32 BC=32 WR=4 WC=4 TK=16 TC=16 LMAX=2", &br, &tk, &tc, &err),
                   -1);
  assert_non_null(strstr(err.msg, "LMAX"));
  /* The defaults need TC 4 at head dim 256: the bare check refuses them, the fitted one (the tuner's) accepts. */
  assert_int_equal(sc_attention_tiles_check(&d, SC_ATTENTION_GPU_TILES, 256, &err), -1);
  assert_int_equal(sc_attention_tiles_usable(&d, SC_ATTENTION_GPU_TILES, 256, &err), 0);
  d.max_wg = 32;
  assert_int_equal(sc_attention_tiles_usable(&d, SC_ATTENTION_GPU_TILES, 64, &err), -1);
  assert_non_null(strstr(err.msg, "work-groups"));
}

/* Runs `scalecl op attention ARGS`, stdout and stderr into dir/log; returns the exit status. */
static int run_op(const char *dir, const char *args) {
  char cmd[20000];
  snprintf(cmd, sizeof cmd, "%s op attention %s > %s/log 2>&1", th_scalecl_bin(), args, dir);
  const int st = system(cmd);
  return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void assert_log_has(const char *dir, const char *text) {
  char path[4200], *log;
  size_t len;
  static sc_err err;
  snprintf(path, sizeof path, "%s/log", dir);
  if (sc_read_file(path, &log, &len, &err)) fail_msg("%s", err.msg);
  if (!strstr(log, text)) fail_msg("expected '%s' in the command's output, got:\n%s", text, log);
  printf("  message: %s", log);
  free(log);
}

static float *get_f32(const sc_st_file *f, const char *name, int ndim, const int64_t *shape) {
  static sc_err err;
  int64_t sh[4];
  float *x;
  memcpy(sh, shape, (size_t)ndim * sizeof *sh);
  if (sc_st_get_f32(f, name, ndim, sh, &x, &err)) fail_msg("%s", err.msg);
  return x;
}

/* `scalecl op attention` end to end: safetensors in, the binary, safetensors out, against float64. */
static void test_op_command(void **state) {
  (void)state;
  static const int lens[] = {13, 1, 20};
  char dir[4096], in[4200], out[4200], args[9000];
  th_tmpdir("op-attention", dir, sizeof dir);
  snprintf(in, sizeof in, "%s/in.safetensors", dir);
  snprintf(out, sizeof out, "%s/out.safetensors", dir);
  for (int variant = 0; variant < 2; variant++) { /* 0: documents, RoPE, backward; 1: plain forward */
    problem p;
    problem_init(&p, 2, 2, 37, 16, variant == 0, 900 + variant, 1.0);
    const int64_t sh[4] = {2, 2, 37, 16}, shl[3] = {2, 2, 37};
    sc_st_entry e[6] = {{"q", SC_ST_F32, 4, {2, 2, 37, 16}, p.q},
                        {"k", SC_ST_F32, 4, {2, 2, 37, 16}, p.k},
                        {"v", SC_ST_F32, 4, {2, 2, 37, 16}, p.v}};
    int ne = 3;
    if (variant == 0) {
      problem_docs(&p, lens, 3);
      p.rope = 1;
      e[ne++] = (sc_st_entry){"do", SC_ST_F32, 4, {2, 2, 37, 16}, p.dout};
      e[ne++] = (sc_st_entry){"pos", SC_ST_I32, 2, {2, 37}, p.pos};
      e[ne++] = (sc_st_entry){"seg", SC_ST_I32, 2, {2, 37}, p.seg};
    }
    TH_CHECK(sc_st_write(in, e, ne, NULL, 0, TH_ERR));
    snprintf(args, sizeof args, "--in %s --out %s%s", in, out, variant == 0 ? " --backward --rope-theta 500000" : "");
    if (run_op(dir, args) != 0) assert_log_has(dir, "(the command failed)");
    sc_st_file f;
    TH_CHECK(sc_st_open(&f, out, TH_ERR));
    reference r = reference_run(&p);
    const size_t n = nel(&p);
    float *o = get_f32(&f, "o", 4, sh), *lse = get_f32(&f, "lse", 3, shl);
    th_assert_close(variant ? "op: o" : "op docs+rope: o", o, r.o, n, FWD_TOL);
    th_assert_close(variant ? "op: lse" : "op docs+rope: lse", lse, r.lse, (size_t)2 * 2 * 37, FWD_TOL);
    free(o), free(lse);
    if (variant == 0) {
      float *dq = get_f32(&f, "dq", 4, sh), *dk = get_f32(&f, "dk", 4, sh), *dv = get_f32(&f, "dv", 4, sh);
      th_assert_close("op docs+rope: dq", dq, r.dq, n, BWD_TOL);
      th_assert_close("op docs+rope: dk", dk, r.dk, n, BWD_TOL);
      th_assert_close("op docs+rope: dv", dv, r.dv, n, BWD_TOL);
      free(dq), free(dk), free(dv);
    } else {
      assert_null(sc_st_find(&f, "dq"));
    }
    sc_st_close(&f);
    reference_free(&r);

    /* Failures: exit status 1 with a message naming the tensor, 2 for usage errors. */
    if (variant == 0) {
      TH_CHECK(sc_st_write(in, e, 4, NULL, 0, TH_ERR)); /* q k v do, no pos */
      snprintf(args, sizeof args, "--in %s --out %s --backward --rope-theta 1e4", in, out);
      assert_int_equal(run_op(dir, args), 0);
      TH_CHECK(sc_st_write(in, e, 3, NULL, 0, TH_ERR)); /* no do */
      snprintf(args, sizeof args, "--in %s --out %s --backward", in, out);
      assert_int_equal(run_op(dir, args), 1);
      assert_log_has(dir, "tensor 'do' is missing");
      e[3] = e[4]; /* q k v pos, no --rope-theta */
      TH_CHECK(sc_st_write(in, e, 4, NULL, 0, TH_ERR));
      snprintf(args, sizeof args, "--in %s --out %s", in, out);
      assert_int_equal(run_op(dir, args), 1);
      assert_log_has(dir, "--rope-theta");
      /* A position beyond the stated limit names the element; finite inputs that overflow float32 say so. */
      p.pos[5] = 2147483647;
      TH_CHECK(sc_st_write(in, e, 4, NULL, 0, TH_ERR));
      snprintf(args, sizeof args, "--in %s --out %s --rope-theta 500000", in, out);
      assert_int_equal(run_op(dir, args), 1);
      assert_log_has(dir, "tensor 'pos'");
      assert_log_has(dir, "has the position 2147483647 at (0, 5), outside [0, 16777216)");
      for (size_t i = 0; i < n; i++) p.q[i] = p.k[i] = 1e20f;
      TH_CHECK(sc_st_write(in, e, 3, NULL, 0, TH_ERR));
      snprintf(args, sizeof args, "--in %s --out %s", in, out);
      assert_int_equal(run_op(dir, args), 1);
      assert_log_has(dir, "overflow float32 (largest magnitude 1e+20");
    } else {
      e[2].shape[2] = 36, e[2].data = p.v; /* v shorter than q */
      TH_CHECK(sc_st_write(in, e, 3, NULL, 0, TH_ERR));
      snprintf(args, sizeof args, "--in %s --out %s", in, out);
      assert_int_equal(run_op(dir, args), 1);
      assert_log_has(dir, "tensor 'v'");
      snprintf(args, sizeof args, "--in %s --out %s --rope-theta=abc", in, out);
      assert_int_equal(run_op(dir, args), 2);
      snprintf(args, sizeof args, "--in %s --out %s --backwrd", in, out);
      assert_int_equal(run_op(dir, args), 2);
      assert_log_has(dir, "--backward");
      snprintf(args, sizeof args, "--in %s/missing.safetensors --out %s", dir, out);
      assert_int_equal(run_op(dir, args), 2); /* --in is checked with the options, before any work */
      assert_log_has(dir, "missing.safetensors");
    }
    problem_free(&p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_variant_picked),
      cmocka_unit_test(test_attention_cases),
      cmocka_unit_test(test_documents_of_length_one),
      cmocka_unit_test(test_documents_are_isolated),
      cmocka_unit_test(test_decode_rollout),
      cmocka_unit_test(test_half_cache_rounding),
      cmocka_unit_test(test_decode_start_moves),
      cmocka_unit_test(test_reference_finite_differences),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_gpu_tiles_check),
      cmocka_unit_test(test_gpu_tiles_fit),
      cmocka_unit_test(test_op_command),
  };
  const struct CMUnitTest direct[] = {
      cmocka_unit_test(test_variant_picked),          cmocka_unit_test(test_attention_cases),
      cmocka_unit_test(test_documents_of_length_one), cmocka_unit_test(test_documents_are_isolated),
      cmocka_unit_test(test_decode_rollout),
  };
  const int failed = cmocka_run_group_tests_name("cpu variant", tests, setup_cpu, teardown) +
                     cmocka_run_group_tests_name("gpu variant", tests, setup_gpu, teardown);
  return failed + cmocka_run_group_tests_name("gpu variant, LS=0", direct, setup_gpu_direct, teardown) +
         cmocka_run_group_tests_name("gpu variant, LS=0, DQP=3", direct, setup_gpu_dqp, teardown);
}
