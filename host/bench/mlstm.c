/* `scalecl bench mlstm`: chunkwise mLSTM forward and forward+backward throughput, with the quadratic parallel
 * form for contrast, in tokens/s and GFLOP/s by the paper's "tfla" chunkwise count, as a fraction of the
 * device's CLBlast SGEMM rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "model/flops.h"
#include "ops/mlstm.h"

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

/* A first call that takes over 5 s (the quadratic form at long S) is the measurement itself: its one-off kernel
 * codegen is then under 2% of it, and repeating it would cost minutes. Otherwise warm-up plus median. */
static int time_pass(sc_ctx *c, run_arg *r, int samples, sc_bench_timing *t, sc_err *err) {
  const double w0 = sc_now(), c0 = sc_cpu_seconds();
  if (run_once(r, err) || sc_finish(c, err)) return -1;
  t->wall_s = sc_now() - w0, t->cpu_s = sc_cpu_seconds() - c0;
  if (t->wall_s > 5.0) return 0;
  return sc_bench_time(c, run_once, r, samples, 0.0, t, err);
}

/* Times the forward and (unless forward_only) forward+backward of one configuration at chunk L. */
static int bench_one(sc_ctx *c, int L, int dqk, int dv, size_t heads, size_t S, int samples, int forward_only,
                     int profile, sc_bench_timing *fwd, sc_bench_timing *fb, size_t *peak_bytes, sc_err *err) {
  run_arg r;
  memset(&r, 0, sizeof r);
  r.BH = heads, r.S = S;
  const size_t base = c->bytes_allocated;
  c->bytes_peak = base;
  const sc_mlstm_cfg cfg = {.chunk = L, .dqk = dqk, .dv = dv};
  if (sc_mlstm_create(c, &cfg, &r.op, err)) return -1;
  int rc = -1;
  for (int j = 0; j < T_COUNT; j++) {
    const size_t per = j == T_Q || j == T_K || j == T_DQ || j == T_DK   ? (size_t)dqk
                       : j == T_V || j == T_H || j == T_DH || j == T_DV ? (size_t)dv
                                                                        : 1;
    if (forward_only && j >= T_DH) break;
    /* Forget pre-activations around +3 (forget gate ~0.95), everything else uniform in [-1, 1]. */
    if (sc_buffer_create(c, heads * S * per * 4, "benchmark tensor", &r.t[j], err) ||
        (j <= T_F || j == T_DH ? sc_bench_fill_uniform(c, r.t[j], heads * S * per, 11u + (unsigned)j,
                                                       j == T_F ? 2.0f : -1.0f, j == T_F ? 4.0f : 1.0f, err)
                               : 0))
      goto done;
  }
  if (time_pass(c, &r, samples, fwd, err)) goto done;
  if (!forward_only) {
    r.backward = 1;
    if (time_pass(c, &r, samples, fb, err)) goto done;
  }
  *peak_bytes = c->bytes_peak - base;
  if (profile) {
    /* One more call with every launch bracketed by clFinish: where the time goes, kernel by kernel. */
    sc_mlstm_set_profiling(r.op, 1);
    if (run_once(&r, err)) goto done;
    const sc_mlstm_profile *pr = sc_mlstm_get_profile(r.op);
    double tw = 0;
    for (int k = 0; k < SC_MLSTM_K_COUNT; k++) tw += pr->wall[k];
    const int cus = sc_bench_compute_units(c);
    for (int k = 0; k < SC_MLSTM_K_COUNT; k++)
      if (pr->calls[k])
        printf("    %-18s %4ld launches %9.2f ms %5.1f%% | cpu-norm %9.2f ms\n", sc_mlstm_kernel_names[k], pr->calls[k],
               1e3 * pr->wall[k], 100 * pr->wall[k] / tw, 1e3 * pr->cpu[k] / cus);
  }
  rc = 0;
done:
  for (int j = 0; j < T_COUNT; j++)
    if (r.t[j]) sc_buffer_release(c, r.t[j]);
  sc_mlstm_destroy(r.op);
  return rc;
}

int bench_mlstm_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *json = NULL, *peak = NULL;
  sc_shapes dims = {{{64, 128}, {256, 512}}, 2};
  sc_longs chunks = {{32, 64, 128}, 3}, pseq = {{2048, 8192}, 2};
  long seq = 8192, heads = 8, samples = 3;
  int forward_only = 0, profile = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      {"json", SC_OPT_OUTFILE, &json, "FILE", .help = "also write the results as JSON to FILE ('-' for stdout)"},
      {"peak", SC_OPT_INFILE, &peak, "FILE",
       .help = "take the CLBlast SGEMM rate from `scalecl peak --json FILE` instead of measuring 1024^3"},
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
      "scalecl bench mlstm [--json FILE] [--peak FILE] [--seq N] [--heads N] [--dims LIST]\n"
      "                    [--chunks LIST] [--parallel-seq LIST] [--samples N] [--forward-only]\n"
      "                    [--profile] [--device SEL]",
      "The mLSTM cell at B=1, NH=8: chunkwise forward and forward+backward for each (dqk, dv) and chunk\n"
      "size at S=8192, then the quadratic parallel form (one chunk of length S) at S=2048 and 8192.\n"
      "Reports ms per call, tokens/s, and GFLOP/s by the paper's 'tfla' chunkwise count (backward =\n"
      "2x forward, so forward+backward = 3x; the parallel rows count the same formula with L = S), as a\n"
      "fraction of the device's CLBlast SGEMM rate. On CPU devices 'cpu-norm' rates use the process CPU\n"
      "time / compute units (what the run would reach with the machine to itself), compared with the\n"
      "SGEMM rate measured the same way. Host clock around clFinish, one warm-up call, median of the\n"
      "samples (a first call over 5 s is taken as the single sample); the 1-minute load average is\n"
      "printed at start and end.\n"
      "Env: SCALECL_MLSTM_WORKSPACE_MB bounds the chunk scratch (heads run in groups to fit).",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  long(*D)[SC_ARGS_MAX_RANK] = dims.v, *Ls = chunks.v, *PS = pseq.v;
  const int nD = dims.n, nL = chunks.n, nP = pseq.n;

  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  const int cpu = c.dev.type == CL_DEVICE_TYPE_CPU, cus = sc_bench_compute_units(&c);
  const double load0 = sc_bench_print_device(&c);
  int rc = -1;
  double sgemm = 0, sgemm_cpu = 0;
  sc_flops_opts fo = sc_flops_paper_opts();
  fo.mlstm = SC_MLSTM_TFLA;
  cJSON *root = cJSON_CreateObject(), *jres = cJSON_CreateArray();
  if (sc_bench_sgemm_ref(&c, peak, &sgemm, &sgemm_cpu, err)) goto done;
  if (peak) {
    printf("CLBlast SGEMM: %.1f GFLOP/s (best in %s)\n", sgemm, peak);
  } else {
    printf("CLBlast SGEMM 1024^3: %.1f GFLOP/s", sgemm);
    if (cpu) printf(" (%.1f GFLOP/s cpu-norm)", sgemm_cpu);
    printf("\n");
  }
  printf("\n%-9s %4s %4s %5s %6s %-8s %10s %10s %8s %6s", "form", "dqk", "dv", "L", "S", "pass", "ms", "tok/s", "GF/s",
         "%gemm");
  if (cpu) printf(" | %13s %6s", "cpu-norm GF/s", "%gemm");
  printf(" | %8s\n", "peak MiB");
  fflush(stdout);
  for (int d = 0; d < nD; d++)
    for (int j = 0; j < nL + nP; j++) {
      const int parallel = j >= nL;
      const size_t S = parallel ? (size_t)PS[j - nL] : (size_t)seq;
      const int L = parallel ? (int)((S + 15) / 16 * 16) : (int)Ls[j];
      sc_bench_timing t[2] = {{0, 0}, {0, 0}};
      size_t peak_bytes = 0;
      if (bench_one(&c, L, (int)D[d][0], (int)D[d][1], (size_t)heads, S, (int)samples, forward_only, profile, &t[0],
                    &t[1], &peak_bytes, err)) {
        sc_wrap(err, "%s dqk=%ld dv=%ld L=%d S=%zu: ", parallel ? "parallel" : "chunkwise", D[d][0], D[d][1], L, S);
        goto done;
      }
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "form", parallel ? "parallel" : "chunkwise");
      cJSON_AddNumberToObject(e, "batch", 1);
      cJSON_AddNumberToObject(e, "heads", (double)heads);
      cJSON_AddNumberToObject(e, "dqk", (double)D[d][0]);
      cJSON_AddNumberToObject(e, "dv", (double)D[d][1]);
      cJSON_AddNumberToObject(e, "chunk", L);
      cJSON_AddNumberToObject(e, "seq_len", (double)S);
      cJSON_AddNumberToObject(e, "peak_device_bytes", (double)peak_bytes);
      for (int pass = 0; pass < 2 - forward_only; pass++) {
        const double f =
            (pass ? 3 : 1) * sc_flops_mlstm_cell(&fo, (double)S, (double)heads, L, (double)D[d][0], (double)D[d][1]);
        const double gf = 1e-9 * f / t[pass].wall_s, gfc = 1e-9 * f * cus / t[pass].cpu_s;
        printf("%-9s %4ld %4ld %5d %6zu %-8s %10.2f %10.0f %8.1f %5.0f%%", parallel ? "parallel" : "chunkwise", D[d][0],
               D[d][1], L, S, pass ? "fwd+bwd" : "fwd", 1e3 * t[pass].wall_s, (double)S / t[pass].wall_s, gf,
               100 * gf / sgemm);
        if (cpu && sgemm_cpu > 0) printf(" | %13.1f %5.0f%%", gfc, 100 * gfc / sgemm_cpu);
        if (cpu && sgemm_cpu <= 0) printf(" | %13.1f %6s", gfc, "n/a");
        printf(" | %8.1f\n", (double)peak_bytes / 1048576.0);
        fflush(stdout);
        sc_bench_json_pass(e, pass ? "fwd_bwd" : "fwd", &c, &t[pass], "flops_tfla", f, (double)S, sgemm, sgemm_cpu);
      }
      cJSON_AddItemToArray(jres, e);
    }
  const double load1 = sc_loadavg();
  printf("load average %.2f at end\n", load1);
  if (json) {
    sc_bench_json_device(root, &c, peak, sgemm, sgemm_cpu);
    cJSON_AddStringToObject(root, "flop_count", "paper tfla chunkwise forward; fwd+bwd = 3x forward");
    cJSON_AddNumberToObject(root, "load_average_start", load0);
    cJSON_AddNumberToObject(root, "load_average_end", load1);
    cJSON_AddItemToObject(root, "results", jres);
    jres = NULL;
    if (sc_bench_write_json(root, json, err)) goto done;
  }
  rc = 0;
done:
  cJSON_Delete(jres);
  cJSON_Delete(root);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
