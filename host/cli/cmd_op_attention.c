/* `scalecl op attention`: runs RoPE + causal attention (and its backward) on tensors from a safetensors
 * file and writes the results to another, for cross-checks against other implementations. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/op_util.h"
#include "cli/subcommand.h"
#include "model/safetensors.h"
#include "ops/attention.h"
#include "ops/rope.h"

enum { T_Q, T_K, T_V, T_DO, T_DQ, T_DK, T_DV, T_O, T_COUNT };

typedef struct {
  sc_st_file in;
  float *host[T_COUNT];
  float *lse;
  int32_t *pos, *seg;
  cl_mem dev[T_COUNT], dlse, dpos, dseg, qr, kr;
  sc_attention *att;
  sc_rope *rope;
} op_state;

static int check_finite(const float *x, size_t n, const char *name, const char *path, sc_err *err) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return sc_fail(err, "tensor '%s' in %s has a non-finite value (%g) at flat index %zu", name, path, x[i], i);
  return 0;
}

/* Non-finite results from finite inputs: inputs so large that dot products overflow float32 (say so and by how
 * much), else a defect to report. */
static int explain_nonfinite(const op_state *s, size_t n, int backward, sc_err *err) {
  double big = 0;
  for (int t = 0; t < (backward ? 4 : 3); t++)
    for (size_t i = 0; i < n; i++) big = fmax(big, fabs(s->host[t][i]));
  if (big * big * 256 > FLT_MAX)
    return sc_wrap(err,
                   "the inputs in %s overflow float32 (largest magnitude %.3g: products of two such values exceed "
                   "%.3g); scale q, k, v (and do) down: ",
                   s->in.path, big, FLT_MAX);
  return sc_wrap(err, "internal error with finite inputs of magnitude at most %.3g; please report with %s: ", big,
                 s->in.path);
}

/* Reads q, k, v (and do, pos, seg) and checks that their shapes agree. */
static int load_inputs(op_state *s, int backward, int rope, int64_t shape[4], sc_err *err) {
  static const char *const names[] = {"q", "k", "v", "do"};
  shape[0] = shape[1] = shape[2] = shape[3] = -1;
  for (int t = 0; t < (backward ? 4 : 3); t++) {
    int64_t sh[4] = {shape[0], shape[1], shape[2], shape[3]};
    if (sc_st_get_f32(&s->in, names[t], 4, sh, &s->host[t], err)) return -1;
    memcpy(shape, sh, sizeof sh);
  }
  if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1)
    return sc_fail(err, "tensor 'q' in %s has an empty dimension: shape (%lld, %lld, %lld, %lld)", s->in.path,
                   (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3]);
  const size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
  for (int t = 0; t < (backward ? 4 : 3); t++)
    if (check_finite(s->host[t], n, names[t], s->in.path, err)) return -1;
  if (shape[3] % 16 || shape[3] > 256)
    return sc_fail(err, "tensor 'q' in %s has head dim %lld (last axis); supported are multiples of 16 up to 256",
                   s->in.path, (long long)shape[3]);
  if (shape[0] * shape[1] * (shape[2] + 16) * shape[3] >= 2147483647LL)
    return sc_fail(err, "tensors in %s have %lld elements, above 2^31; split the batch", s->in.path, (long long)n);
  int64_t bs[2] = {shape[0], shape[2]};
  const size_t nbs = (size_t)(bs[0] * bs[1]);
  if (sc_st_find(&s->in, "seg") && sc_st_get_i32(&s->in, "seg", 2, bs, &s->seg, err)) return -1;
  if (sc_st_find(&s->in, "pos")) {
    if (!rope)
      return sc_fail(err,
                     "%s has positions 'pos' but --rope-theta is not given; pass --rope-theta 500000 to apply "
                     "RoPE with them, or drop 'pos'",
                     s->in.path);
    if (sc_st_get_i32(&s->in, "pos", 2, bs, &s->pos, err)) return -1;
    for (size_t i = 0; i < nbs; i++)
      if (s->pos[i] < 0 || s->pos[i] >= SC_ROPE_MAX_POS)
        return sc_fail(err,
                       "tensor 'pos' in %s has the position %d at (%zu, %zu), outside [0, %d); positions restart at "
                       "0 in each document",
                       s->in.path, s->pos[i], i / (size_t)bs[1], i % (size_t)bs[1], SC_ROPE_MAX_POS);
  }
  return 0;
}

static int run(sc_ctx *c, op_state *s, const char *out, int backward, double theta, sc_err *err) {
  int64_t shape[4];
  if (load_inputs(s, backward, theta > 0, shape, err)) return -1;
  const int B = (int)shape[0], NH = (int)shape[1], S = (int)shape[2], dh = (int)shape[3];
  const size_t n = (size_t)B * NH * S * dh, nb = n * sizeof(float), nl = (size_t)B * NH * S;
  static const char *const dnames[T_COUNT] = {"q", "k", "v", "do", "dq", "dk", "dv", "o"};
  for (int t = 0; t < T_COUNT; t++)
    if ((backward || (t != T_DO && t != T_DQ && t != T_DK && t != T_DV)) &&
        sc_op_upload(c, t <= T_DO ? s->host[t] : NULL, nb, dnames[t], &s->dev[t], err))
      return -1;
  if (sc_op_upload(c, NULL, nl * sizeof(float), "lse", &s->dlse, err)) return -1;
  if (s->seg && sc_op_upload(c, s->seg, (size_t)B * S * sizeof(int32_t), "seg", &s->dseg, err)) return -1;
  sc_attention_cfg cfg = {.head_dim = dh};
  if (sc_attention_create(c, &cfg, &s->att, err)) return -1;
  sc_view q = sc_view_of(s->dev[T_Q]), k = sc_view_of(s->dev[T_K]);
  int maxpos = S - 1;
  if (theta > 0) {
    int32_t *pos = s->pos;
    if (!pos) {
      if (!(pos = s->pos = sc_malloc((size_t)B * S * sizeof *pos, "positions", err))) return -1;
      for (size_t i = 0; i < (size_t)B * S; i++) pos[i] = (int32_t)(i % (size_t)S);
    }
    for (size_t i = 0; i < (size_t)B * S; i++) maxpos = pos[i] > maxpos ? pos[i] : maxpos;
    if (sc_op_upload(c, pos, (size_t)B * S * sizeof(int32_t), "pos", &s->dpos, err) ||
        sc_op_upload(c, NULL, nb, "rotated q", &s->qr, err) || sc_op_upload(c, NULL, nb, "rotated k", &s->kr, err) ||
        sc_rope_create(c, dh, theta, &s->rope, err) ||
        sc_rope_apply(s->rope, B, NH, S, sc_view_of(s->dpos), maxpos, q, sc_view_of(s->qr), 0, err) ||
        sc_rope_apply(s->rope, B, NH, S, sc_view_of(s->dpos), maxpos, k, sc_view_of(s->kr), 0, err))
      return -1;
    q = sc_view_of(s->qr), k = sc_view_of(s->kr);
  }
  const sc_attention_fwd_io f = {
      q, k, sc_view_of(s->dev[T_V]), sc_view_of(s->dseg), sc_view_of(s->dev[T_O]), sc_view_of(s->dlse)};
  if (sc_attention_forward(s->att, B, NH, S, &f, err)) return -1;
  if (backward) {
    const sc_view dq = sc_view_of(s->dev[T_DQ]), dk = sc_view_of(s->dev[T_DK]), pos = sc_view_of(s->dpos);
    const sc_attention_bwd_io b = {
        q, k, f.v, f.seg, f.o, f.lse, sc_view_of(s->dev[T_DO]), dq, dk, sc_view_of(s->dev[T_DV])};
    if (sc_attention_backward(s->att, B, NH, S, &b, err)) return -1;
    if (theta > 0 && (sc_rope_apply(s->rope, B, NH, S, pos, maxpos, dq, dq, SC_ROPE_TRANSPOSE, err) ||
                      sc_rope_apply(s->rope, B, NH, S, pos, maxpos, dk, dk, SC_ROPE_TRANSPOSE, err)))
      return -1;
  }
  sc_st_entry e[5];
  int ne = 0;
  for (int t = backward ? T_DQ : T_O; t <= T_O; t++) {
    if (sc_op_download(c, s->dev[t], n, dnames[t], &s->host[t], err)) return -1;
    if (check_finite(s->host[t], n, dnames[t], "the results", err)) return explain_nonfinite(s, n, backward, err);
    e[ne++] = (sc_st_entry){dnames[t], SC_ST_F32, 4, {B, NH, S, dh}, s->host[t]};
  }
  if (sc_op_download(c, s->dlse, nl, "lse", &s->lse, err)) return -1;
  e[ne++] = (sc_st_entry){"lse", SC_ST_F32, 3, {B, NH, S}, s->lse};
  char th[32];
  snprintf(th, sizeof th, "%.17g", theta);
  const char *meta[] = {"op", "attention", "rope_theta", theta > 0 ? th : "none", "device", c->dev.name};
  if (sc_st_write(out, e, ne, meta, 3, err)) return -1;
  printf("attention B=%d NH=%d S=%d dh=%d%s%s%s: wrote o, lse%s to %s\n", B, NH, S, dh, s->seg ? ", documents" : "",
         theta > 0 ? ", RoPE theta " : "", theta > 0 ? th : "", backward ? ", dq, dk, dv" : "", out);
  return 0;
}

int op_attention_main(int argc, char **argv, sc_err *err) {
  const char *in = NULL, *out = NULL, *sel = NULL;
  int backward = 0;
  double theta = 0;
  const sc_option opts[] = {
      {"in", SC_OPT_INFILE, &in, "FILE",
       .help = "input safetensors: q, k, v (B,NH,S,dh) float; optional pos, seg (B,S) int; do for --backward",
       .flags = SC_OPT_REQUIRED},
      {"out", SC_OPT_OUTFILE, &out, "FILE", .help = "output safetensors: o, lse (B,NH,S); dq, dk, dv with --backward",
       .flags = SC_OPT_REQUIRED},
      {"backward", SC_OPT_FLAG, &backward, NULL, .help = "also compute dq, dk, dv from the upstream gradient 'do'"},
      {"rope-theta", SC_OPT_DOUBLE, &theta, "T",
       .help = "apply RoPE (adjacent pairs, base T; the paper uses 500000) to q and k, positions from 'pos'", .lo = 1,
       .hi = INFINITY, .flags = SC_OPT_LO_OPEN},
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
  };
  const sc_args args = {
      "scalecl op attention --in IN.safetensors --out OUT.safetensors [--backward] [--rope-theta T]\n"
      "                     [--device SEL]",
      "Causal multi-head attention, scale 1/sqrt(dh), on the device. With 'seg' a token attends only to\n"
      "earlier tokens of the same segment id (document). With --rope-theta, q and k are rotated first\n"
      "(positions from 'pos', else 0..S-1) and dq, dk are gradients w.r.t. the un-rotated inputs.\n"
      "lse is the natural-log log-sum-exp of each row's scaled, masked scores. Head dims: multiples\n"
      "of 16 up to 256 (64, 80, 96, 128 in the models). Inputs may be F32, F64, F16 or BF16.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  op_state s;
  memset(&s, 0, sizeof s);
  if (sc_st_open(&s.in, in, err)) return 1;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) {
    sc_st_close(&s.in);
    return 1;
  }
  int rc = run(&c, &s, out, backward, theta, err);
  for (int t = 0; t < T_COUNT; t++) {
    sc_buffer_release(&c, s.dev[t]);
    free(s.host[t]);
  }
  cl_mem extra[] = {s.dlse, s.dpos, s.dseg, s.qr, s.kr};
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) sc_buffer_release(&c, extra[i]);
  free(s.lse), free(s.pos), free(s.seg);
  sc_attention_destroy(s.att);
  sc_rope_destroy(s.rope);
  sc_ctx_close(&c);
  sc_st_close(&s.in);
  return rc ? 1 : 0;
}
