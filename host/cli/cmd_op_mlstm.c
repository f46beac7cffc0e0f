/* `scalecl op mlstm`: runs the device mLSTM kernels on tensors from a safetensors file and writes the results
 * to another, so outside implementations (e.g. mlstm_kernels' PyTorch references) can be checked against ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/op_util.h"
#include "cli/subcommand.h"
#include "model/safetensors.h"
#include "ops/mlstm.h"

/* Host tensors by name; the order is the output file's order. */
enum { Q, K, V, I, F, C0, N0, M0, DH, H, NOUT, MOUT, CLAST, NLAST, MLAST, DQ, DK, DV, DI, DF, DC0, NT };
static const char *const names[NT] = {"q",      "k",  "v",  "i",     "f",     "c0",     "n0",
                                      "m0",     "dh", "h",  "n_out", "m_out", "c_last", "n_last",
                                      "m_last", "dq", "dk", "dv",    "di",    "df",     "dc0"};

typedef struct {
  float *host[NT];
  int ndim[NT];
  int64_t shape[NT][4];
  cl_mem dev[NT];
} tensors;

static size_t numel(const tensors *t, int j) {
  size_t n = 1;
  for (int d = 0; d < t->ndim[j]; d++) n *= (size_t)t->shape[j][d];
  return n;
}

static void set_shape(tensors *t, int j, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t s[4] = {a, b, c, d};
  t->ndim[j] = ndim;
  memcpy(t->shape[j], s, sizeof s);
}

/* Loads q k v i f (and c0 n0 m0, dh when present or needed), checking every shape against q's. */
static int load_inputs(const sc_st_file *in, int backward, tensors *t, sc_err *err) {
  int64_t qs[4] = {-1, -1, -1, -1};
  if (sc_st_get_f32(in, "q", 4, qs, &t->host[Q], err)) return -1;
  const int64_t B = qs[0], NH = qs[1], S = qs[2], dqk = qs[3];
  if (B < 1 || NH < 1 || S < 1)
    return sc_fail(err, "tensor 'q' in %s has an empty dimension: shape (%lld, %lld, %lld, %lld)", in->path,
                   (long long)B, (long long)NH, (long long)S, (long long)dqk);
  set_shape(t, Q, 4, B, NH, S, dqk);
  set_shape(t, K, 4, B, NH, S, dqk);
  int64_t vs[4] = {B, NH, S, -1};
  if (sc_st_get_f32(in, "k", 4, t->shape[K], &t->host[K], err) || sc_st_get_f32(in, "v", 4, vs, &t->host[V], err))
    return -1;
  const int64_t dv = vs[3];
  set_shape(t, V, 4, B, NH, S, dv);
  if (dqk < 8 || dqk > 512 || dqk % 8)
    return sc_fail(err, "tensor 'q' in %s has head dim %lld; the kernels need a multiple of 8 from 8 to 512", in->path,
                   (long long)dqk);
  if (dv < 8 || dv > 512 || dv % 8)
    return sc_fail(err, "tensor 'v' in %s has head dim %lld; the kernels need a multiple of 8 from 8 to 512", in->path,
                   (long long)dv);
  set_shape(t, I, 3, B, NH, S, 0), set_shape(t, F, 3, B, NH, S, 0);
  set_shape(t, C0, 4, B, NH, dqk, dv), set_shape(t, N0, 3, B, NH, dqk, 0), set_shape(t, M0, 3, B, NH, 1, 0);
  set_shape(t, DH, 4, B, NH, S, dv);
  if (sc_st_get_f32(in, "i", 3, t->shape[I], &t->host[I], err) ||
      sc_st_get_f32(in, "f", 3, t->shape[F], &t->host[F], err))
    return -1;
  for (int j = C0; j <= M0; j++) {
    const sc_st_tensor *st = sc_st_find(in, names[j]);
    if (!st) continue;
    /* m0 is (B, NH, 1) upstream; (B, NH) is accepted too. */
    if (j == M0 && st->ndim == 2) t->ndim[M0] = 2;
    if (sc_st_get_f32(in, names[j], t->ndim[j], t->shape[j], &t->host[j], err)) return -1;
  }
  if (backward && sc_st_get_f32(in, "dh", 4, t->shape[DH], &t->host[DH], err)) return sc_wrap(err, "--backward: ");
  return 0;
}

/* Runs the forward (and backward) on the device and fills the output tensors' host copies. */
static int compute(sc_ctx *c, int L, float eps, int backward, tensors *t, sc_err *err) {
  const size_t B = (size_t)t->shape[Q][0], NH = (size_t)t->shape[Q][1], S = (size_t)t->shape[Q][2];
  const int64_t dqk = t->shape[Q][3], dv = t->shape[V][3];
  set_shape(t, H, 4, (int64_t)B, (int64_t)NH, (int64_t)S, dv);
  set_shape(t, NOUT, 3, (int64_t)B, (int64_t)NH, (int64_t)S, 0),
      set_shape(t, MOUT, 3, (int64_t)B, (int64_t)NH, (int64_t)S, 0);
  set_shape(t, CLAST, 4, (int64_t)B, (int64_t)NH, dqk, dv), set_shape(t, NLAST, 3, (int64_t)B, (int64_t)NH, dqk, 0);
  set_shape(t, MLAST, 3, (int64_t)B, (int64_t)NH, 1, 0);
  /* Gradients have their input's shape (dq..df, dc0 <- q..f, c0). */
  for (int j = DQ; j <= DC0; j++)
    t->ndim[j] = t->ndim[j - DQ], memcpy(t->shape[j], t->shape[j - DQ], sizeof t->shape[j]);
  const int last = backward ? DC0 : MLAST;
  for (int j = 0; j <= last; j++)
    if ((t->host[j] || j >= H) && sc_op_upload(c, t->host[j], numel(t, j) * sizeof(float), names[j], &t->dev[j], err))
      return -1;
  sc_mlstm *op;
  const sc_mlstm_cfg cfg = {.chunk = L, .dqk = (int)dqk, .dv = (int)dv};
  if (sc_mlstm_create(c, &cfg, &op, err)) return -1;
  sc_view d[NT];
  for (int j = 0; j < NT; j++) d[j] = sc_view_of(t->dev[j]);
  const sc_mlstm_fwd_io f = {d[Q],  d[K], d[V],    d[I],    d[F],     d[C0],    d[N0],
                             d[M0], d[H], d[NOUT], d[MOUT], d[CLAST], d[NLAST], d[MLAST]};
  const sc_mlstm_bwd_io b = {d[Q],    d[K],  d[V],  d[I],  d[F],  d[C0], d[N0], d[M0],
                             d[NOUT], d[DH], d[DQ], d[DK], d[DV], d[DI], d[DF], d[DC0]};
  int rc = sc_mlstm_forward(op, B * NH, S, eps, &f, err);
  if (!rc && backward) rc = sc_mlstm_backward(op, B * NH, S, eps, &b, err);
  sc_mlstm_destroy(op);
  for (int j = H; !rc && j <= last; j++) rc = sc_op_download(c, t->dev[j], numel(t, j), names[j], &t->host[j], err);
  return rc;
}

static int write_outputs(const char *path, const tensors *t, int backward, int L, float eps, const char *device,
                         sc_err *err) {
  sc_st_entry e[NT];
  int n = 0;
  for (int j = H; j <= (backward ? DC0 : MLAST); j++) {
    e[n] = (sc_st_entry){names[j], SC_ST_F32, t->ndim[j], {0}, t->host[j]};
    memcpy(e[n].shape, t->shape[j], sizeof t->shape[j]);
    n++;
  }
  char chunk[16], epss[32];
  snprintf(chunk, sizeof chunk, "%d", L);
  snprintf(epss, sizeof epss, "%g", (double)eps);
  const char *const meta[] = {"op",
                              backward ? "mlstm forward+backward" : "mlstm forward",
                              "chunk",
                              chunk,
                              "eps",
                              epss,
                              "device",
                              device,
                              "scalecl_version",
                              SCALECL_VERSION};
  return sc_st_write(path, e, n, meta, 5, err);
}

int op_mlstm_main(int argc, char **argv, sc_err *err) {
  const char *in_path = NULL, *out_path = NULL, *sel = NULL;
  long L = 64;
  double eps = 1e-6;
  int backward = 0;
  const sc_option opts[] = {
      {"in", SC_OPT_INFILE, &in_path, "FILE",
       .help = "input safetensors: q k v (B,NH,S,D), i f (B,NH,S); optional c0 n0 m0; dh for --backward",
       .flags = SC_OPT_REQUIRED},
      {"out", SC_OPT_OUTFILE, &out_path, "FILE", .help = "output safetensors (written atomically)",
       .flags = SC_OPT_REQUIRED},
      {"chunk", SC_OPT_LONG, &L, "L", .help = "chunk size", .choices = sc_mlstm_chunk_choices},
      {"backward", SC_OPT_FLAG, &backward, NULL,
       .help = "also run the custom backward (needs dh) and write dq dk dv di df dc0"},
      {"eps", SC_OPT_DOUBLE, &eps, "E", .help = "normalizer epsilon, added after the max (as upstream)", .lo = 0,
       .hi = 1, .flags = SC_OPT_HI_OPEN},
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
  };
  const sc_args args = {
      "scalecl op mlstm --in IN.safetensors --out OUT.safetensors [--chunk L] [--backward] [--eps E]\n"
      "                 [--device SEL]",
      "Runs the chunkwise mLSTM cell (exponential input gate, max-state stabilizer, q scaled by dqk^-1/2)\n"
      "in float32 on the device. Inputs (F32 or F64; F16/BF16 accepted): q, k (B,NH,S,dqk), v (B,NH,S,dv),\n"
      "i, f (B,NH,S) gate pre-activations; optional initial state c0 (B,NH,dqk,dv), n0 (B,NH,dqk),\n"
      "m0 (B,NH,1) or (B,NH), zeros when absent; with --backward also dh (B,NH,S,dv).\n"
      "Outputs (F32): h (B,NH,S,dv), n_out, m_out (B,NH,S) (the normalizer and stabilizer the backward\n"
      "uses), c_last, n_last, m_last (B,NH,1); with --backward dq, dk, dv, di, df, dc0 from the custom\n"
      "backward (normalizer treated as a constant, as mlstm_kernels' chunkwise custbw). S need not be a\n"
      "multiple of L; dqk, dv: multiples of 8 up to 512.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;

  sc_st_file in;
  if (sc_st_open(&in, in_path, err)) return 1;
  tensors t;
  memset(&t, 0, sizeof t);
  sc_ctx c;
  memset(&c, 0, sizeof c);
  int rc = 1, ctx_open = 0;
  if (load_inputs(&in, backward, &t, err)) goto done;
  if (sc_ctx_open(&c, sel, err)) goto done;
  ctx_open = 1;
  if (compute(&c, (int)L, (float)eps, backward, &t, err) ||
      write_outputs(out_path, &t, backward, (int)L, (float)eps, c.dev.name, err))
    goto done;
  printf("mlstm %s: B=%lld NH=%lld S=%lld dqk=%lld dv=%lld chunk=%ld on %s -> %s\n",
         backward ? "forward+backward" : "forward", (long long)t.shape[Q][0], (long long)t.shape[Q][1],
         (long long)t.shape[Q][2], (long long)t.shape[Q][3], (long long)t.shape[V][3], L, c.dev.name, out_path);
  rc = 0;
done:
  for (int j = 0; j < NT; j++) {
    free(t.host[j]);
    if (t.dev[j]) sc_buffer_release(&c, t.dev[j]);
  }
  if (ctx_open) sc_ctx_close(&c);
  sc_st_close(&in);
  return rc;
}
