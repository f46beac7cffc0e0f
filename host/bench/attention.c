/* `scalecl bench attention`: causal attention forward and forward+backward throughput, decode step
 * time against the cache length, and peak device memory, on resident buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "model/flops.h"
#include "ops/attention.h"

typedef struct {
  sc_attention *a;
  int B, NH, S, backward;
  cl_mem q, k, v, o, lse, dout, dq, dk, dv, seg; /* seg NULL: one document */
} run_arg;

static int run_once(void *p, sc_err *err) {
  run_arg *r = p;
  const sc_attention_fwd_io f = {sc_view_of(r->q),   sc_view_of(r->k), sc_view_of(r->v),
                                 sc_view_of(r->seg), sc_view_of(r->o), sc_view_of(r->lse)};
  if (sc_attention_forward(r->a, r->B, r->NH, r->S, &f, err)) return -1;
  if (!r->backward) return 0;
  const sc_attention_bwd_io b = {
      f.q, f.k, f.v, f.seg, f.o, f.lse, sc_view_of(r->dout), sc_view_of(r->dq), sc_view_of(r->dk), sc_view_of(r->dv)};
  return sc_attention_backward(r->a, r->B, r->NH, r->S, &b, err);
}

typedef struct {
  int dh, S;
  sc_bench_timing fwd, fb;
  size_t peak_bytes;
} seq_result;

/* Times one (dh, S) configuration; peak_bytes covers its tensors and the op's scratch. */
static int bench_seq(sc_ctx *c, const sc_attention_cfg *cfg, int B, int NH, int S, int doc_len, int samples,
                     int backward, seq_result *res, sc_err *err) {
  memset(res, 0, sizeof *res);
  res->dh = cfg->head_dim, res->S = S;
  const size_t base = c->bytes_allocated;
  c->bytes_peak = base;
  run_arg r = {NULL, B, NH, S, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem *bufs[] = {&r.q, &r.k, &r.v, &r.o, &r.dout, &r.dq, &r.dk, &r.dv};
  const size_t n = (size_t)B * NH * S * cfg->head_dim;
  int rc = -1;
  if (sc_attention_create(c, cfg, &r.a, err)) return -1;
  for (int i = 0; i < (backward ? 8 : 4); i++)
    if (sc_buffer_create(c, n * sizeof(float), "benchmark tensor", bufs[i], err) ||
        sc_bench_fill_uniform(c, *bufs[i], n, 17u + (unsigned)i, -1, 1, err))
      goto done;
  if (sc_buffer_create(c, (size_t)B * NH * S * sizeof(float), "benchmark lse", &r.lse, err)) goto done;
  if (doc_len > 0) {
    int32_t *seg = sc_malloc((size_t)B * S * sizeof *seg, "benchmark segment ids", err);
    if (!seg) goto done;
    for (int i = 0; i < B * S; i++) seg[i] = (i % S) / doc_len;
    const int wrc = sc_buffer_create(c, (size_t)B * S * sizeof *seg, "benchmark seg", &r.seg, err) ||
                    sc_buffer_write(c, r.seg, 0, (size_t)B * S * sizeof *seg, seg, err);
    free(seg);
    if (wrc) goto done;
  }
  if (sc_bench_time(c, run_once, &r, samples, 0.0, &res->fwd, err)) goto done;
  if (backward) {
    r.backward = 1;
    if (sc_bench_time(c, run_once, &r, samples, 0.0, &res->fb, err)) goto done;
  }
  res->peak_bytes = c->bytes_peak - base;
  rc = 0;
done:
  for (int i = 0; i < 8; i++) sc_buffer_release(c, *bufs[i]);
  sc_buffer_release(c, r.lse);
  sc_buffer_release(c, r.seg);
  sc_attention_destroy(r.a);
  return rc;
}

typedef struct {
  sc_attention *a;
  int B, NH, cap;
  int32_t *pos;
  cl_mem kc, vc, q, k, v, o;
} dec_arg;

static int dec_once(void *p, sc_err *err) {
  dec_arg *d = p;
  const sc_attention_decode_io io = {sc_view_of(d->kc), sc_view_of(d->vc), sc_view_of(d->q), sc_view_of(d->k),
                                     sc_view_of(d->v),  sc_view_of(d->o),  sc_view_of(NULL)};
  return sc_attention_decode(d->a, d->B, d->NH, d->cap, d->pos, NULL, &io, err);
}

/* Step time of one new token per sequence at cache length len (the step attends to len + 1 keys). */
static int bench_decode(sc_ctx *c, const sc_attention_cfg *cfg, int B, int NH, int len, int samples, sc_bench_timing *t,
                        sc_err *err) {
  dec_arg d = {NULL, B, NH, len + 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem *bufs[] = {&d.kc, &d.vc, &d.q, &d.k, &d.v, &d.o};
  const size_t cache = (size_t)B * NH * d.cap * cfg->head_dim, tok = (size_t)B * NH * cfg->head_dim;
  int rc = -1;
  d.pos = sc_calloc((size_t)B, sizeof *d.pos, "decode positions", err);
  if (!d.pos || sc_attention_create(c, cfg, &d.a, err)) goto done;
  for (int b = 0; b < B; b++) d.pos[b] = len;
  for (int i = 0; i < 6; i++)
    if (sc_buffer_create(c, (i < 2 ? cache : tok) * sizeof(float), "benchmark decode tensor", bufs[i], err) ||
        sc_bench_fill_uniform(c, *bufs[i], i < 2 ? cache : tok, 91u + (unsigned)i, -1, 1, err))
      goto done;
  rc = sc_bench_time(c, dec_once, &d, samples, 0.05, t, err);
done:
  for (int i = 0; i < 6; i++) sc_buffer_release(c, *bufs[i]);
  sc_attention_destroy(d.a);
  free(d.pos);
  return rc;
}

int bench_attention_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *json = NULL, *peak = NULL;
  sc_longs seqs = {{512, 2048, 8192}, 3}, dhs = {{64, 128}, 2}, declens = {{0, 1024, 4096, 16384}, 4};
  long heads = 8, samples = 3, doc_len = 0, tune[3] = {0, 0, 0};
  int forward_only = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      {"json", SC_OPT_OUTFILE, &json, "FILE", .help = "also write the results as JSON to FILE ('-' for stdout)"},
      {"peak", SC_OPT_INFILE, &peak, "FILE",
       .help = "take the CLBlast SGEMM rate from `scalecl peak --json FILE` instead of measuring 1024^3"},
      {"seq", SC_OPT_LONGS, &seqs, "LIST", .help = "sequence lengths", .lo = 1, .hi = 1 << 20},
      {"head-dims", SC_OPT_LONGS, &dhs, "LIST", .help = "head dims", .lo = 16, .hi = 256, .mult = 16},
      {"heads", SC_OPT_LONG, &heads, "N", .help = "heads; batch is 1", .lo = 1, .hi = 4096},
      {"decode-lens", SC_OPT_LONGS, &declens, "LIST", .help = "decode cache lengths, or 'none' to skip decode", .lo = 0,
       .hi = 1 << 24, .flags = SC_OPT_NONE},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N timed calls after one warm-up", .lo = 1,
       .hi = 1000},
      {"forward-only", SC_OPT_FLAG, &forward_only, NULL, .help = "skip forward+backward"},
      {"doc-len", SC_OPT_LONG, &doc_len, "N",
       .help = "pack documents of N tokens (segment ids); FLOPs still counted as one causal sequence", .lo = 1,
       .hi = 1 << 20},
      {"fwd-rows", SC_OPT_LONG, &tune[0], "N", .help = "query rows per forward work-item, a tuning knob; 16 by default",
       .lo = 1, .hi = 32},
      {"bwd-key-tiles", SC_OPT_LONG, &tune[1], "N",
       .help = "key tiles of 16 per backward block, a tuning knob; 4 by default", .lo = 1, .hi = 8},
      {"work-items", SC_OPT_LONG, &tune[2], "N",
       .help = "target work-items per backward/decode launch, a tuning knob; 4 per compute unit by default", .lo = 1,
       .hi = 1 << 20},
  };
  const sc_args args = {
      "scalecl bench attention [--json FILE] [--peak FILE] [--seq LIST] [--head-dims LIST]\n"
      "                        [--decode-lens LIST] [--samples N] [--doc-len N] [--device SEL]",
      "Causal attention at B=1, NH=8: forward and forward+backward time, tokens/s and GFLOP/s with the\n"
      "paper's causal FLOP count (distill_scaling; backward = 2x forward), as a fraction of the device's\n"
      "CLBlast SGEMM rate; peak device memory per configuration (must grow linearly in S); decode step\n"
      "time (append + attend, one token per sequence) against the KV-cache length. Host clock around\n"
      "clFinish, one warm-up call, median of the samples. The 1-minute load average is printed because\n"
      "other processes on a shared machine distort CPU timings; on a CPU device the 'cpu-norm' columns\n"
      "divide by the process CPU time per compute unit instead, against CLBlast measured the same way\n"
      "(not with --peak), which stays comparable under load.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  const int backward = !forward_only, nS = seqs.n, nD = dhs.n, nL = declens.n;
  const long *S = seqs.v, *D = dhs.v, *L = declens.v;

  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  const int cpu = c.dev.type == CL_DEVICE_TYPE_CPU, cus = sc_bench_compute_units(&c);
  const double load0 = sc_bench_print_device(&c);
  int rc = -1;
  double sgemm = 0, sgemm_cpu = 0; /* GFLOP/s by wall time, and per CPU time x CUs ("as if idle") */
  const sc_flops_opts fo = sc_flops_paper_opts();
  cJSON *root = cJSON_CreateObject(), *jseq = cJSON_CreateArray(), *jdec = cJSON_CreateArray();
  if (sc_bench_sgemm_ref(&c, peak, &sgemm, &sgemm_cpu, err)) goto done;
  if (peak) {
    printf("CLBlast SGEMM: %.1f GFLOP/s (best in %s)\n", sgemm, peak);
  } else {
    printf("CLBlast SGEMM 1024^3: %.1f GFLOP/s", sgemm);
    if (cpu) printf(" (%.1f GFLOP/s per CPU time x %d CUs)", sgemm_cpu, cus);
    printf("\n");
  }
  if (cpu)
    printf(
        "CPU device: 'cpu-norm' rates divide by the process CPU time / %d CUs, i.e. what the run would reach with\n"
        "the machine to itself; compare them with the CLBlast rate measured the same way.\n",
        cus);
  if (tune[0] || tune[1] || tune[2])
    printf("tuning: fwd rows %ld, bwd key tiles %ld, work items %ld (0 = default)\n", tune[0], tune[1], tune[2]);
  if (doc_len)
    printf("documents of %ld tokens (FLOPs counted as one causal sequence of S, the paper's count)\n", doc_len);
  printf("\n%4s %6s %-8s %10s %10s %8s %6s", "dh", "S", "pass", "ms", "tok/s", "GF/s", "%gemm");
  if (cpu) printf(" | %13s %6s", "cpu-norm GF/s", "%gemm");
  printf(" | %9s %8s\n", "peak MiB", "B/token");
  fflush(stdout);
  seq_result first[SC_ARGS_MAX_LIST], last[SC_ARGS_MAX_LIST];
  for (int d = 0; d < nD; d++)
    for (int s = 0; s < nS; s++) {
      seq_result x;
      const sc_attention_cfg cfg = {(int)D[d], (int)tune[0], (int)tune[1], (int)tune[2]};
      if (bench_seq(&c, &cfg, 1, (int)heads, (int)S[s], (int)doc_len, (int)samples, backward, &x, err)) goto done;
      if (s == 0) first[d] = x;
      last[d] = x;
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "batch", 1);
      cJSON_AddNumberToObject(e, "heads", (double)heads);
      cJSON_AddNumberToObject(e, "head_dim", x.dh);
      cJSON_AddNumberToObject(e, "seq_len", x.S);
      for (int pass = 0; pass < 1 + backward; pass++) {
        const sc_bench_timing *t = pass ? &x.fb : &x.fwd;
        const double f = (pass ? 3 : 1) * sc_flops_attention_core(&fo, x.S, (double)heads, x.dh, x.dh),
                     gf = 1e-9 * f / t->wall_s, gfc = 1e-9 * f * cus / t->cpu_s;
        printf("%4d %6d %-8s %10.2f %10.0f %8.1f %5.0f%%", x.dh, x.S, pass ? "fwd+bwd" : "fwd", 1e3 * t->wall_s,
               x.S / t->wall_s, gf, 100 * gf / sgemm);
        if (cpu && sgemm_cpu > 0) printf(" | %13.1f %5.0f%%", gfc, 100 * gfc / sgemm_cpu);
        if (cpu && sgemm_cpu <= 0) printf(" | %13.1f %6s", gfc, "n/a");
        printf(" | %9.1f %8.0f\n", x.peak_bytes / 1048576.0, (double)x.peak_bytes / x.S);
        fflush(stdout);
        sc_bench_json_pass(e, pass ? "fwd_bwd" : "fwd", &c, t, "flops", f, x.S, sgemm, sgemm_cpu);
      }
      cJSON_AddNumberToObject(e, "peak_device_bytes", (double)x.peak_bytes);
      cJSON_AddItemToArray(jseq, e);
    }
  /* Linear memory: bytes per token stay flat across S (a quadratic term would grow with S). */
  for (int d = 0; d < nD && nS > 1; d++)
    printf("dh %d: peak device memory %.0f B/token at S=%d and %.0f B/token at S=%d (ratio %.2f; 1 = linear in S)\n",
           first[d].dh, (double)first[d].peak_bytes / first[d].S, first[d].S, (double)last[d].peak_bytes / last[d].S,
           last[d].S, ((double)last[d].peak_bytes / last[d].S) / ((double)first[d].peak_bytes / first[d].S));
  if (nL) {
    printf("\n%4s %10s %10s %10s", "dh", "cache len", "step ms", "tok/s");
    if (cpu) printf(" %14s", "cpu-norm ms");
    printf("\n");
  }
  for (int d = 0; d < nD; d++)
    for (int l = 0; l < nL; l++) {
      sc_bench_timing t;
      const sc_attention_cfg cfg = {(int)D[d], (int)tune[0], (int)tune[1], (int)tune[2]};
      if (bench_decode(&c, &cfg, 1, (int)heads, (int)L[l], (int)samples, &t, err)) goto done;
      printf("%4ld %10ld %10.3f %10.0f", D[d], L[l], 1e3 * t.wall_s, 1 / t.wall_s);
      if (cpu) printf(" %14.3f", 1e3 * t.cpu_s / cus);
      printf("\n");
      fflush(stdout);
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "batch", 1);
      cJSON_AddNumberToObject(e, "heads", (double)heads);
      cJSON_AddNumberToObject(e, "head_dim", (double)D[d]);
      cJSON_AddNumberToObject(e, "cache_len", (double)L[l]);
      cJSON_AddNumberToObject(e, "step_seconds", t.wall_s);
      cJSON_AddNumberToObject(e, "step_cpu_seconds", t.cpu_s);
      cJSON_AddItemToArray(jdec, e);
    }
  const double load1 = sc_loadavg();
  printf("load average %.2f at end\n", load1);
  if (json) {
    sc_bench_json_device(root, &c, peak, sgemm, sgemm_cpu);
    cJSON_AddStringToObject(root, "flop_count", "distill_scaling causal attention core; fwd+bwd = 3x fwd");
    cJSON_AddNumberToObject(root, "doc_len", (double)doc_len);
    cJSON_AddNumberToObject(root, "load_average_start", load0);
    cJSON_AddNumberToObject(root, "load_average_end", load1);
    cJSON_AddItemToObject(root, "sequences", jseq);
    cJSON_AddItemToObject(root, "decode", jdec);
    jseq = jdec = NULL;
    if (sc_bench_write_json(root, json, err)) goto done;
  }
  rc = 0;
done:
  cJSON_Delete(root);
  cJSON_Delete(jseq);
  cJSON_Delete(jdec);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
