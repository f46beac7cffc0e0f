/* `scalecl bench mlstm`: chunkwise mLSTM forward and forward+backward throughput, with the quadratic parallel
 * form for contrast, in tokens/s and GFLOP/s by the paper's "tfla" chunkwise count, as a fraction of the
 * device's reference GEMM rate (the GEMM path scalecl uses there). */
#include "bench/mlstm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "base/progress.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "model/flops.h"

enum { T_Q, T_K, T_V, T_I, T_F, T_H, T_NOUT, T_MOUT, T_DH, T_DQ, T_DK, T_DV, T_DI, T_DF, T_COUNT };

typedef struct {
  sc_mlstm *op;
  size_t BH, S;
  int backward;
  cl_mem t[T_COUNT];
} run_arg;

static int run_once(void *p, sc_err *err) {
  run_arg *r = p;
  sc_view t[T_COUNT];
  for (int j = 0; j < T_COUNT; j++) t[j] = sc_view_of(r->t[j]);
  const sc_view none = sc_view_of(NULL);
  const sc_mlstm_fwd_io f = {t[T_Q], t[T_K], t[T_V],    t[T_I],    t[T_F], none, none,
                             none,   t[T_H], t[T_NOUT], t[T_MOUT], none,   none, none};
  if (sc_mlstm_forward(r->op, r->BH, r->S, 1e-6f, &f, err)) return -1;
  if (!r->backward) return 0;
  const sc_mlstm_bwd_io b = {t[T_Q],    t[T_K],  t[T_V],  t[T_I],  t[T_F],  none,    none,    none,
                             t[T_NOUT], t[T_DH], t[T_DQ], t[T_DK], t[T_DV], t[T_DI], t[T_DF], none};
  return sc_mlstm_backward(r->op, r->BH, r->S, 1e-6f, &b, err);
}

/* A first call that takes over long_call_s (the quadratic form at long S) is the measurement itself: its one-off
 * kernel codegen is then small beside it, and repeating it would cost minutes. Otherwise warm-up plus median. */
static int time_pass(sc_ctx *c, run_arg *r, int samples, double min_sample_s, double long_call_s, sc_timing *t,
                     sc_err *err) {
  if (long_call_s <= 0) return sc_bench_time(c, run_once, r, samples, min_sample_s, t, err);
  const double w0 = sc_now(), c0 = sc_cpu_seconds();
  if (run_once(r, err) || sc_finish(c, err)) return -1;
  double wall = sc_now() - w0;
  t->cpu_s = sc_cpu_seconds() - c0;
  t->wall = sc_stats_of(&wall, 1);
  if (wall > long_call_s) return 0;
  return sc_bench_time(c, run_once, r, samples, min_sample_s, t, err);
}

int sc_bench_mlstm_time(sc_ctx *c, sc_mlstm *op, int dqk, int dv, size_t heads, size_t S, int samples,
                        double min_sample_s, double long_call_s, FILE *profile, sc_timing *fwd, sc_timing *fb,
                        sc_err *err) {
  run_arg r;
  memset(&r, 0, sizeof r);
  r.op = op, r.BH = heads, r.S = S;
  int rc = -1;
  for (int j = 0; j < T_COUNT; j++) {
    const size_t per = j == T_Q || j == T_K || j == T_DQ || j == T_DK   ? (size_t)dqk
                       : j == T_V || j == T_H || j == T_DH || j == T_DV ? (size_t)dv
                                                                        : 1;
    if (!fb && j >= T_DH) break;
    /* Forget pre-activations around +3 (forget gate ~0.95), everything else uniform in [-1, 1]. */
    if (sc_buffer_create(c, heads * S * per * 4, "benchmark tensor", &r.t[j], err) ||
        (j <= T_F || j == T_DH ? sc_bench_fill_uniform(c, r.t[j], heads * S * per, 11u + (unsigned)j,
                                                       j == T_F ? 2.0f : -1.0f, j == T_F ? 4.0f : 1.0f, err)
                               : 0))
      goto done;
  }
  if (fwd && time_pass(c, &r, samples, min_sample_s, long_call_s, fwd, err)) goto done;
  if (fb) {
    r.backward = 1;
    if (time_pass(c, &r, samples, min_sample_s, long_call_s, fb, err)) goto done;
  }
  if (profile && sc_bench_kernel_profile(c, run_once, &r, profile, err)) goto done;
  rc = 0;
done:
  for (int j = 0; j < T_COUNT; j++)
    if (r.t[j]) sc_buffer_release(c, r.t[j]);
  return rc;
}

/* Times the forward and (unless forward_only) forward+backward of one configuration at chunk L, with the device
 * memory it peaked at. */
static int bench_one(sc_ctx *c, int L, int dqk, int dv, size_t heads, size_t S, int samples, int forward_only,
                     FILE *profile, sc_timing *fwd, sc_timing *fb, size_t *peak_bytes, sc_err *err) {
  const size_t base = c->bytes_allocated;
  c->bytes_peak = base;
  const sc_mlstm_cfg cfg = {.chunk = L, .dqk = dqk, .dv = dv};
  sc_mlstm *op;
  if (sc_mlstm_create(c, &cfg, &op, err)) return -1;
  const int rc =
      sc_bench_mlstm_time(c, op, dqk, dv, heads, S, samples, 0.0, 5.0, profile, fwd, forward_only ? NULL : fb, err);
  *peak_bytes = c->bytes_peak - base;
  sc_mlstm_destroy(op);
  return rc;
}

enum { C_FORM, C_DQK, C_DV, C_CHUNK, C_SEQ, C_PASS, C_PEAK_MIB = C_PASS + SC_BENCH_PASS_NCOLS, C_N };
static const sc_col cols[C_N] = {
    {"form", NULL, SC_COL_STR, NULL, 0},        {"dqk", NULL, SC_COL_NUM, NULL, 0},
    {"dv", NULL, SC_COL_NUM, NULL, 0},          {"chunk", "tokens", SC_COL_NUM, NULL, 0},
    {"seq_len", "tokens", SC_COL_NUM, NULL, 0}, SC_BENCH_PASS_COLUMNS,
    {"peak_mib", "MiB", SC_COL_NUM, "%.1f", 0},
};

int bench_mlstm_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *peak = NULL;
  sc_output out = {0};
  sc_shapes dims = {{{64, 128}, {256, 512}}, 2};
  sc_longs chunks = {{32, 64, 128}, 3}, pseq = {{2048, 8192}, 2};
  long seq = 8192, heads = 8, samples = 3;
  int forward_only = 0, profile = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      SC_OUTPUT_OPTIONS(&out),
      {"peak", SC_OPT_INFILE, &peak, "FILE",
       .help = "take the reference GEMM rate from `scalecl peak --json FILE` instead of measuring 1024^3"},
      {"seq", SC_OPT_LONG, &seq, "N", .help = "sequence length of the chunkwise runs", .lo = 1, .hi = 1 << 24},
      {"heads", SC_OPT_LONG, &heads, "N", .help = "heads; batch is 1", .lo = 1, .hi = 4096},
      {"dims", SC_OPT_SHAPES, &dims, "DQK:DV,...", .help = "head-dim pairs", .lo = 8, .hi = 512, .mult = 8, .rank = 2,
       .sep = ':'},
      {"chunks", SC_OPT_LONGS, &chunks, "LIST", .help = "chunk sizes", .choices = sc_mlstm_chunk_choices},
      {"parallel-seq", SC_OPT_LONGS, &pseq, "LIST",
       .help = "sequence lengths of the quadratic parallel form, or 'none'", .lo = 1, .hi = 1 << 16,
       .flags = SC_OPT_NONE},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N timed calls after one warm-up", .lo = 1,
       .hi = 1000},
      {"forward-only", SC_OPT_FLAG, &forward_only, NULL, .help = "skip forward+backward"},
      {"profile", SC_OPT_FLAG, &profile, NULL,
       .help = "after each configuration, time every kernel of one more call (launches serialised)"},
  };
  const sc_args args = {
      "scalecl bench mlstm [--format table|md|csv|json] [--json FILE|-] [--peak FILE] [--seq N] [--heads N]\n"
      "                    [--dims LIST] [--chunks LIST] [--parallel-seq LIST] [--samples N] [--forward-only]\n"
      "                    [--profile] [--device SEL]",
      "The mLSTM cell at B=1, NH=8: chunkwise forward and forward+backward for each (dqk, dv) and chunk\n"
      "size at S=8192, then the quadratic parallel form (one chunk of length S) at S=2048 and 8192.\n"
      "Reports ms per call, tokens/s, and GFLOP/s by the paper's 'tfla' chunkwise count (backward =\n"
      "2x forward, so forward+backward = 3x; the parallel rows count the same formula with L = S), as a\n"
      "percentage of the device's reference GEMM rate (the GEMM path scalecl uses there). On CPU devices\n"
      "'cpu_norm' rates use the process CPU time / compute units (what the run would reach with the\n"
      "machine to itself), compared with the reference GEMM measured the same way. Host clock around\n"
      "clFinish, one warm-up call, median (with mean and sd) of the samples (a first call over 5 s is taken\n"
      "as the single sample); the 1-minute load average is printed at start and end.\n"
      "Env: SCALECL_MLSTM_WORKSPACE_MB bounds the chunk scratch (heads run in groups to fit).",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  long(*D)[SC_ARGS_MAX_RANK] = dims.v, *Ls = chunks.v, *PS = pseq.v;
  const int nD = dims.n, nL = chunks.n, nP = pseq.n;

  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  FILE *h = out.human;
  const double load0 = sc_bench_print_device(h, &c);
  int rc = -1;
  sc_gemm_ref ref;
  sc_flops_opts fo = sc_flops_paper_opts();
  fo.mlstm = SC_MLSTM_TFLA;
  cJSON *root = NULL;
  /* No progress line with --profile, which prints as it goes; the line must be gone before the table prints. */
  sc_progress prog, *pp = profile ? NULL : &prog;
  if (pp) sc_progress_begin(pp, "bench mlstm", (long)nD * (nL + nP));
  sc_table *t = sc_table_create("results", cols, C_N, err);
  if (!t || sc_bench_gemm_ref(&c, peak, &ref, err)) goto done;
  sc_bench_print_gemm_ref(h, &c, &ref);
  for (int d = 0; d < nD; d++)
    for (int j = 0; j < nL + nP; j++) {
      const int parallel = j >= nL;
      const size_t S = parallel ? (size_t)PS[j - nL] : (size_t)seq;
      const int L = parallel ? (int)((S + 15) / 16 * 16) : (int)Ls[j];
      const char *form = parallel ? "parallel" : "chunkwise";
      sc_timing tm[2];
      size_t peak_bytes = 0;
      if (profile) fprintf(h, "%s dqk=%ld dv=%ld L=%d S=%zu, kernel by kernel:\n", form, D[d][0], D[d][1], L, S);
      if (bench_one(&c, L, (int)D[d][0], (int)D[d][1], (size_t)heads, S, (int)samples, forward_only, profile ? h : NULL,
                    &tm[0], &tm[1], &peak_bytes, err)) {
        sc_wrap(err, "%s dqk=%ld dv=%ld L=%d S=%zu: ", form, D[d][0], D[d][1], L, S);
        goto done;
      }
      for (int pass = 0; pass < 2 - forward_only; pass++) {
        sc_table_row(t);
        sc_table_str(t, C_FORM, form);
        sc_table_num(t, C_DQK, (double)D[d][0]);
        sc_table_num(t, C_DV, (double)D[d][1]);
        sc_table_num(t, C_CHUNK, L);
        sc_table_num(t, C_SEQ, (double)S);
        const double f =
            (pass ? 3 : 1) * sc_flops_mlstm_cell(&fo, (double)S, (double)heads, L, (double)D[d][0], (double)D[d][1]);
        /* Per token and head, forward: q, k, v, i, f in, h, n, m out; backward: q, k, v, i, f, n, dh in, dq, dk, dv,
         * di, df out. */
        const double dqk = (double)D[d][0], dv = (double)D[d][1], fwd_words = 2 * dqk + 2 * dv + 4;
        const double words = pass ? fwd_words + 4 * dqk + 3 * dv + 5 : fwd_words;
        sc_bench_pass_cells(t, C_PASS, &c, pass ? "fwd+bwd" : "fwd", &tm[pass], f, 4.0 * words * (double)heads * S,
                            (double)S, &ref);
        sc_table_num(t, C_PEAK_MIB, (double)peak_bytes / 1048576.0);
      }
      sc_progress_add(pp, 1);
    }
  sc_progress_end(pp), pp = NULL;
  const double load1 = sc_loadavg();
  root =
      sc_bench_json_run(&c, &ref, "paper tfla chunkwise forward; fwd+bwd = 3x forward", heads, samples, load0, load1);
  if (sc_bench_emit(&out, &c, "mlstm", root, &t, 1, err)) goto done;
  fprintf(h, "load average %.2f at end\n", load1);
  rc = 0;
done:
  sc_progress_end(pp);
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
