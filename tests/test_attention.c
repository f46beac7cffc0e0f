/* Causal attention (ops/attention.h) on the test device against the float64 reference (ref/attention.h),
 * with RoPE (ops/rope.h) applied in front where a test says so: odd lengths, every head dim, documents
 * (segment ids, restarting positions) including documents of length 1, isolation of documents, decode
 * rollout against the full forward, large logits, finite differences on the reference, and the
 * `scalecl op attention` command end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/attention.h"
#include "ops/rope.h"
#include "ref/attention.h"
#include "ref/rope.h"
#include "safetensors.h"

#define FWD_ATOL 1e-4
#define FWD_RTOL 1e-3
#define BWD_ATOL 1e-3
#define BWD_RTOL 1e-2
#define THETA 500000.0

static sc_ctx ctx;
static sc_attention *atts[9]; /* by head dim / 16 */
static sc_rope *ropes[9];

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < 9; i++) {
    sc_attention_destroy(atts[i]);
    sc_rope_destroy(ropes[i]);
  }
  sc_ctx_close(&ctx);
  return 0;
}

static sc_attention *att_for(int dh) {
  static sc_err err;
  if (!atts[dh / 16]) {
    sc_attention_cfg cfg = {dh, 0, 0};
    if (sc_attention_create(&ctx, &cfg, &atts[dh / 16], &err)) fail_msg("%s", err.msg);
  }
  return atts[dh / 16];
}

static sc_rope *rope_for(int dh) {
  static sc_err err;
  if (!ropes[dh / 16] && sc_rope_create(&ctx, dh, THETA, &ropes[dh / 16], &err)) fail_msg("%s", err.msg);
  return ropes[dh / 16];
}

#define CHECK(call)                          \
  do {                                       \
    static sc_err e_;                        \
    if ((call) != 0) fail_msg("%s", e_.msg); \
  } while (0)
#define E (&e_)

/* One problem: inputs, optional documents and RoPE, and the device's outputs. */
typedef struct {
  int B, NH, S, dh;
  float *q, *k, *v, *dout; /* dout NULL: forward only */
  int32_t *seg, *pos;      /* seg NULL: one document; pos NULL: 0..S-1 */
  int rope;                /* apply RoPE (theta 500000) to q and k first */
  float *o, *lse, *dq, *dk, *dv;
} problem;

static size_t nel(const problem *p) {
  return (size_t)p->B * p->NH * p->S * p->dh;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) fail_msg("out of memory (%zu bytes)", n);
  return p;
}

static void problem_init(problem *p, int B, int NH, int S, int dh, int backward, uint64_t seed, double std) {
  memset(p, 0, sizeof *p);
  p->B = B, p->NH = NH, p->S = S, p->dh = dh;
  const size_t n = nel(p);
  th_rng r;
  th_rng_seed(&r, seed);
  p->q = xmalloc(n * 4), p->k = xmalloc(n * 4), p->v = xmalloc(n * 4);
  th_fill_normal(&r, p->q, n, 0, std);
  th_fill_normal(&r, p->k, n, 0, std);
  th_fill_normal(&r, p->v, n, 0, 1);
  if (backward) {
    p->dout = xmalloc(n * 4);
    th_fill_normal(&r, p->dout, n, 0, 1);
  }
}

/* Documents of the given lengths (cycled until S is covered): segment ids and restarting positions. */
static void problem_docs(problem *p, const int *lens, int nlens) {
  p->seg = xmalloc((size_t)p->B * p->S * 4);
  p->pos = xmalloc((size_t)p->B * p->S * 4);
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
  int32_t *pos = xmalloc((size_t)p->B * p->S * 4);
  for (int b = 0; b < p->B; b++)
    for (int s = 0; s < p->S; s++) pos[b * p->S + s] = p->pos ? p->pos[b * p->S + s] : s;
  return pos;
}

static int max_pos(const int32_t *pos, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; i++) m = pos[i] > m ? pos[i] : m;
  return m;
}

static cl_mem upload(const void *host, size_t bytes) {
  cl_mem m;
  CHECK(sc_buffer_create(&ctx, bytes, "test tensor", &m, E));
  if (host) CHECK(sc_buffer_write(&ctx, m, 0, bytes, host, E));
  return m;
}

static void *download(cl_mem m, size_t bytes) {
  void *h = xmalloc(bytes);
  CHECK(sc_buffer_read(&ctx, m, 0, bytes, h, E));
  return h;
}

/* Runs [RoPE] + forward [+ backward + RoPE backward] on the device; fills p->o, lse, dq, dk, dv. */
static void device_run(problem *p) {
  const size_t n = nel(p), nb = n * 4, nl = (size_t)p->B * p->NH * p->S * 4;
  sc_attention *a = att_for(p->dh);
  cl_mem q = upload(p->q, nb), k = upload(p->k, nb), v = upload(p->v, nb), o = upload(NULL, nb), lse = upload(NULL, nl);
  cl_mem seg = p->seg ? upload(p->seg, (size_t)p->B * p->S * 4) : NULL, pos = NULL, qr = q, kr = k;
  int32_t *hpos = default_pos(p);
  const int mp = max_pos(hpos, (size_t)p->B * p->S);
  if (p->rope) {
    pos = upload(hpos, (size_t)p->B * p->S * 4);
    qr = upload(NULL, nb), kr = upload(NULL, nb);
    CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, q, qr, 0, E));
    CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, k, kr, 0, E));
  }
  CHECK(sc_attention_forward(a, p->B, p->NH, p->S, qr, kr, v, seg, o, lse, E));
  p->o = download(o, nb);
  p->lse = download(lse, nl);
  if (p->dout) {
    cl_mem dout = upload(p->dout, nb), dq = upload(NULL, nb), dk = upload(NULL, nb), dv = upload(NULL, nb);
    CHECK(sc_attention_backward(a, p->B, p->NH, p->S, qr, kr, v, seg, o, lse, dout, dq, dk, dv, E));
    if (p->rope) {
      CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, dq, dq, 1, E));
      CHECK(sc_rope_apply(rope_for(p->dh), p->B, p->NH, p->S, pos, mp, dk, dk, 1, E));
    }
    p->dq = download(dq, nb), p->dk = download(dk, nb), p->dv = download(dv, nb);
    sc_buffer_release(&ctx, dout), sc_buffer_release(&ctx, dq), sc_buffer_release(&ctx, dk);
    sc_buffer_release(&ctx, dv);
  }
  if (p->rope) sc_buffer_release(&ctx, qr), sc_buffer_release(&ctx, kr), sc_buffer_release(&ctx, pos);
  sc_buffer_release(&ctx, q), sc_buffer_release(&ctx, k), sc_buffer_release(&ctx, v);
  sc_buffer_release(&ctx, o), sc_buffer_release(&ctx, lse), sc_buffer_release(&ctx, seg);
  free(hpos);
}

static double *to_double(const float *x, size_t n) {
  double *d = xmalloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

typedef struct {
  double *o, *lse, *dq, *dk, *dv;
} reference;

/* The same composition in float64: RoPE, plain masked softmax attention, its gradients, RoPE^T. */
static reference reference_run(const problem *p) {
  const size_t n = nel(p);
  reference r = {xmalloc(n * 8), xmalloc((size_t)p->B * p->NH * p->S * 8), NULL, NULL, NULL};
  double *q = to_double(p->q, n), *k = to_double(p->k, n), *v = to_double(p->v, n);
  int32_t *pos = default_pos(p);
  if (p->rope) {
    sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, q, q, 0);
    sc_ref_rope(p->B, p->NH, p->S, p->dh, THETA, pos, k, k, 0);
  }
  CHECK(sc_ref_attention_forward(p->B, p->NH, p->S, p->dh, q, k, v, p->seg, r.o, r.lse, E));
  if (p->dout) {
    double *dout = to_double(p->dout, n);
    r.dq = xmalloc(n * 8), r.dk = xmalloc(n * 8), r.dv = xmalloc(n * 8);
    CHECK(sc_ref_attention_backward(p->B, p->NH, p->S, p->dh, q, k, v, p->seg, dout, r.dq, r.dk, r.dv, E));
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

/* Device vs reference, forward (and backward when the problem has dout). */
static void check_problem(problem *p, const char *tag) {
  device_run(p);
  reference r = reference_run(p);
  const size_t n = nel(p), nl = (size_t)p->B * p->NH * p->S;
  char label[160];
#define LABEL(what) \
  (snprintf(label, sizeof label, "%s B%d NH%d S%d dh%d %s", tag, p->B, p->NH, p->S, p->dh, what), label)
  th_assert_close(LABEL("o"), p->o, r.o, n, FWD_ATOL, FWD_RTOL);
  th_assert_close(LABEL("lse"), p->lse, r.lse, nl, FWD_ATOL, FWD_RTOL);
  if (p->dout) {
    th_assert_close(LABEL("dq"), p->dq, r.dq, n, BWD_ATOL, BWD_RTOL);
    th_assert_close(LABEL("dk"), p->dk, r.dk, n, BWD_ATOL, BWD_RTOL);
    th_assert_close(LABEL("dv"), p->dv, r.dv, n, BWD_ATOL, BWD_RTOL);
  }
#undef LABEL
  reference_free(&r);
}

/* Every head dim at odd lengths (1, 17, 129), one document, no RoPE. */
static void test_head_dims_odd_lengths(void **state) {
  (void)state;
  static const int dhs[] = {16, 64, 80, 96, 128}, Ss[] = {1, 17, 129};
  for (int a = 0; a < 5; a++)
    for (int s = 0; s < 3; s++) {
      problem p;
      problem_init(&p, 2, 2, Ss[s], dhs[a], 1, 100 + 10 * a + s, 1.0);
      check_problem(&p, "plain");
      problem_free(&p);
    }
}

/* Packed documents (lengths including 1) with restarting positions and RoPE, every head dim. */
static void test_documents_rope(void **state) {
  (void)state;
  static const int dhs[] = {16, 64, 80, 96, 128}, lens[] = {5, 1, 23, 1, 1, 40, 9};
  for (int a = 0; a < 5; a++) {
    problem p;
    problem_init(&p, 2, 2, 129, dhs[a], 1, 200 + a, 1.0);
    problem_docs(&p, lens, 7);
    p.rope = 1;
    check_problem(&p, "docs+rope");
    problem_free(&p);
  }
}

/* S = 1000 (not a multiple of any tile), with and without documents. */
static void test_long_sequence(void **state) {
  (void)state;
  static const int lens[] = {300, 1, 129, 17, 553};
  for (int docs = 0; docs < 2; docs++) {
    problem p;
    problem_init(&p, 1, 1, 1000, 16, 1, 300 + docs, 1.0);
    if (docs) problem_docs(&p, lens, 5);
    p.rope = 1;
    check_problem(&p, docs ? "long docs+rope" : "long rope");
    problem_free(&p);
  }
}

/* Every token its own document: o = v and lse = q.k/sqrt(dh) exactly (up to rounding). */
static void test_documents_of_length_one(void **state) {
  (void)state;
  static const int one[] = {1};
  problem p;
  problem_init(&p, 2, 3, 33, 64, 1, 400, 1.0);
  problem_docs(&p, one, 1);
  check_problem(&p, "len-1 docs");
  const size_t n = nel(&p);
  double *v = to_double(p.v, n);
  th_assert_close("len-1 docs: o equals v", p.o, v, n, 1e-6, 1e-6);
  free(v);
  problem_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_head_dims_odd_lengths),
      cmocka_unit_test(test_documents_rope),
      cmocka_unit_test(test_long_sequence),
      cmocka_unit_test(test_documents_of_length_one),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
