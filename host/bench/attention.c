/* `scalecl bench attention`: causal attention forward and forward+backward throughput, decode step
 * time against the cache length, and peak device memory, on resident buffers. */
#include "bench/attention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "base/progress.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "model/flops.h"

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
  sc_timing fwd, fb;
  size_t peak_bytes;
} seq_result;

int sc_bench_attention_time(sc_ctx *c, sc_attention *a, int dh, int B, int NH, int S, int doc_len, int samples,
                            double min_sample_s, FILE *profile, sc_timing *fwd, sc_timing *fb, sc_err *err) {
  run_arg r = {a, B, NH, S, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem *bufs[] = {&r.q, &r.k, &r.v, &r.o, &r.dout, &r.dq, &r.dk, &r.dv};
  const size_t n = (size_t)B * NH * S * dh;
  int rc = -1;
  for (int i = 0; i < (fb ? 8 : 4); i++)
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
  if (fwd && sc_bench_time(c, run_once, &r, samples, min_sample_s, fwd, err)) goto done;
  r.backward = 1;
  if (fb && sc_bench_time(c, run_once, &r, samples, min_sample_s, fb, err)) goto done;
  r.backward = fb != NULL;
  if (profile && sc_bench_kernel_profile(c, run_once, &r, profile, err)) goto done;
  rc = 0;
done:
  for (int i = 0; i < 8; i++) sc_buffer_release(c, *bufs[i]);
  sc_buffer_release(c, r.lse);
  sc_buffer_release(c, r.seg);
  return rc;
}

/* Times one (dh, S) configuration; peak_bytes covers its tensors and the op's scratch. */
static int bench_seq(sc_ctx *c, const sc_attention_cfg *cfg, int B, int NH, int S, int doc_len, int samples,
                     int backward, FILE *profile, seq_result *res, sc_err *err) {
  memset(res, 0, sizeof *res);
  res->dh = cfg->head_dim, res->S = S;
  const size_t base = c->bytes_allocated;
  c->bytes_peak = base;
  sc_attention *a = NULL;
  if (sc_attention_create(c, cfg, &a, err)) return -1;
  const int rc = sc_bench_attention_time(c, a, cfg->head_dim, B, NH, S, doc_len, samples, 0.0, profile, &res->fwd,
                                         backward ? &res->fb : NULL, err);
  res->peak_bytes = c->bytes_peak - base;
  sc_attention_destroy(a);
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

/* Step time of one new token per sequence at cache length len (the step attends to len + 1 keys). The caches are
 * filled as a prefill fills them, from uniform float rows (the k rows stand in for the q and k of the token). */
static int bench_decode(sc_ctx *c, const sc_attention_cfg *cfg, int B, int NH, int len, int samples, sc_timing *t,
                        sc_err *err) {
  dec_arg d = {NULL, B, NH, len + 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem rows[2] = {NULL, NULL}, *bufs[] = {&d.kc, &d.vc, &d.o};
  const size_t cache = (size_t)B * NH * d.cap * cfg->head_dim, tok = (size_t)B * NH * cfg->head_dim;
  const size_t kvb = sc_attention_kv_bytes(cfg->kv_half);
  int rc = -1;
  d.pos = sc_calloc((size_t)B, sizeof *d.pos, "decode positions", err);
  if (!d.pos || sc_attention_create(c, cfg, &d.a, err)) goto done;
  for (int b = 0; b < B; b++) d.pos[b] = len;
  for (int i = 0; i < 3; i++)
    if (sc_buffer_create(c, i < 2 ? cache * kvb : tok * 4, "benchmark decode tensor", bufs[i], err)) goto done;
  for (int i = 0; i < 2; i++)
    if (sc_buffer_create(c, cache * 4, "benchmark decode rows", &rows[i], err) ||
        sc_bench_fill_uniform(c, rows[i], cache, 91u + (unsigned)i, -1, 1, err))
      goto done;
  const sc_attention_fill_io fill = {sc_view_of(rows[0]), sc_view_of(rows[1]), sc_view_of(d.kc), sc_view_of(d.vc)};
  if (sc_attention_cache_fill(d.a, B, NH, d.cap, d.cap, &fill, err)) goto done;
  d.q = d.k = rows[0], d.v = rows[1];
  rc = sc_bench_time(c, dec_once, &d, samples, 0.05, t, err);
done:
  for (int i = 0; i < 3; i++) sc_buffer_release(c, *bufs[i]);
  for (int i = 0; i < 2; i++) sc_buffer_release(c, rows[i]);
  sc_attention_destroy(d.a);
  free(d.pos);
  return rc;
}

enum { S_DH, S_SEQ, S_PASS, S_PEAK_MIB = S_PASS + SC_BENCH_PASS_NCOLS, S_BYTES_PER_TOKEN, S_N };
static const sc_col seq_cols[S_N] = {
    {"head_dim", NULL, SC_COL_NUM, NULL, 0},    {"seq_len", "tokens", SC_COL_NUM, NULL, 0},      SC_BENCH_PASS_COLUMNS,
    {"peak_mib", "MiB", SC_COL_NUM, "%.1f", 0}, {"bytes_per_token", "B", SC_COL_NUM, "%.0f", 0},
};
enum { D_DH, D_LEN, D_MS, D_TOKENS_PER_S = D_MS + 3, D_CPU_MS, D_FLOPS, D_BYTES, D_N };
static const sc_col dec_cols[D_N] = {
    {"head_dim", NULL, SC_COL_NUM, NULL, 0},
    {"cache_len", "tokens", SC_COL_NUM, NULL, 0},
    {"step_ms", "ms", SC_COL_NUM, "%.3f", 0},
    {"step_ms_mean", "ms", SC_COL_NUM, "%.3f", 0},
    {"step_ms_sd", "ms", SC_COL_NUM, "%.3f", 0},
    {"tokens_per_s", "tokens/s per sequence", SC_COL_NUM, "%.0f", 0},
    {"cpu_norm_step_ms", "ms of process CPU time / compute units", SC_COL_NUM, "%.3f", 0},
    SC_BENCH_ROOFLINE_COLUMNS,
};

int bench_attention_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *peak = NULL;
  sc_output out = {0};
  sc_longs seqs = {{512, 2048, 8192}, 3}, dhs = {{64, 128}, 2}, declens = {{0, 1024, 4096, 16384}, 4};
  long heads = 8, samples = 3, doc_len = 0, tune[3] = {0, 0, 0};
  int forward_only = 0, profile = 0, kv = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      SC_OUTPUT_OPTIONS(&out),
      {"peak", SC_OPT_INFILE, &peak, "FILE",
       .help = "take the reference GEMM rate from `scalecl peak --json FILE` instead of measuring 1024^3"},
      {"seq", SC_OPT_LONGS, &seqs, "LIST", .help = "sequence lengths", .lo = 1, .hi = 1 << 20},
      {"head-dims", SC_OPT_LONGS, &dhs, "LIST", .help = "head dims", .lo = 16, .hi = 256, .mult = 16},
      {"heads", SC_OPT_LONG, &heads, "N", .help = "heads; batch is 1", .lo = 1, .hi = 4096},
      {"decode-lens", SC_OPT_LONGS, &declens, "LIST", .help = "decode cache lengths, or 'none' to skip decode", .lo = 0,
       .hi = 1 << 24, .flags = SC_OPT_NONE},
      {"kv-cache", SC_OPT_ENUM, &kv, "f32|f16",
       .help = "decode cache element: f32, or f16 (IEEE half: half the bytes a step reads)",
       .choices = sc_attention_kv_names},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N timed calls after one warm-up", .lo = 1,
       .hi = 1000},
      {"forward-only", SC_OPT_FLAG, &forward_only, NULL, .help = "skip forward+backward"},
      {"profile", SC_OPT_FLAG, &profile, NULL,
       .help = "after each configuration, time every kernel of one more call (launches serialised)"},
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
      "scalecl bench attention [--format table|md|csv|json] [--json FILE|-] [--peak FILE] [--seq LIST]\n"
      "                        [--head-dims LIST] [--decode-lens LIST] [--kv-cache f32|f16] [--samples N]\n"
      "                        [--doc-len N] [--profile] [--device SEL]",
      "Causal attention at B=1, NH=8: forward and forward+backward time, tokens/s and GFLOP/s with the\n"
      "paper's causal FLOP count (distill_scaling; backward = 2x forward), as a percentage of the device's\n"
      "reference GEMM rate (the GEMM path scalecl uses there); peak device memory per configuration (must\n"
      "grow linearly in S); decode step time (append + attend, one token per sequence) against the KV-cache\n"
      "length. Host clock around clFinish, one warm-up call, median (with mean and sd) of the samples. The\n"
      "1-minute load average is printed because other processes on a shared machine distort CPU timings; on\n"
      "a CPU device the 'cpu_norm' columns divide by the process CPU time per compute unit instead, against\n"
      "the reference GEMM measured the same way (not with --peak), which stays comparable under load.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  const int backward = !forward_only, nS = seqs.n, nD = dhs.n, nL = declens.n;
  const long *S = seqs.v, *D = dhs.v, *L = declens.v;

  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  const int cpu = c.dev.type == CL_DEVICE_TYPE_CPU, cus = sc_bench_compute_units(&c);
  FILE *h = out.human;
  const double load0 = sc_bench_print_device(h, &c);
  int rc = -1;
  sc_gemm_ref ref;
  const sc_flops_opts fo = sc_flops_paper_opts();
  cJSON *root = NULL;
  /* NULL once ended: the line must be gone before the tables print; none with --profile, which prints as it goes */
  sc_progress prog, *pp = profile ? NULL : &prog;
  if (pp) sc_progress_begin(pp, "bench attention", (long)nD * (nS + nL));
  sc_table *tabs[2] = {sc_table_create("sequences", seq_cols, S_N, err), sc_table_create("decode", dec_cols, D_N, err)};
  if (!tabs[0] || !tabs[1] || sc_bench_gemm_ref(&c, peak, &ref, err)) goto done;
  sc_bench_print_gemm_ref(h, &c, &ref);
  if (cpu)
    fprintf(h,
            "CPU device: 'cpu_norm' rates divide by the process CPU time / %d CUs, i.e. what the run would reach with\n"
            "the machine to itself; compare them with the reference GEMM measured the same way.\n",
            cus);
  if (tune[0] || tune[1] || tune[2])
    fprintf(h, "tuning: fwd rows %ld, bwd key tiles %ld, work items %ld (0 = default)\n", tune[0], tune[1], tune[2]);
  if (doc_len)
    fprintf(h, "documents of %ld tokens (FLOPs counted as one causal sequence of S, the paper's count)\n", doc_len);
  seq_result first[SC_ARGS_MAX_LIST], last[SC_ARGS_MAX_LIST];
  for (int d = 0; d < nD; d++)
    for (int s = 0; s < nS; s++) {
      seq_result x;
      const sc_attention_cfg cfg = {
          .head_dim = (int)D[d], .fwd_rows = (int)tune[0], .bwd_key_tiles = (int)tune[1], .work_items = (int)tune[2]};
      if (profile) fprintf(h, "dh=%ld S=%ld %s, kernel by kernel:\n", D[d], S[s], backward ? "fwd+bwd" : "fwd");
      if (bench_seq(&c, &cfg, 1, (int)heads, (int)S[s], (int)doc_len, (int)samples, backward, profile ? h : NULL, &x,
                    err))
        goto done;
      if (s == 0) first[d] = x;
      last[d] = x;
      for (int pass = 0; pass < 1 + backward; pass++) {
        sc_table_row(tabs[0]);
        sc_table_num(tabs[0], S_DH, x.dh);
        sc_table_num(tabs[0], S_SEQ, x.S);
        /* Forward: q, k, v (and segment ids) in, o and lse out; backward: q, k, v, o, lse, dout (and segment ids)
         * in, dq, dk, dv out. */
        const double n = (double)heads * x.S * x.dh, m = (double)heads * x.S, seg = doc_len ? x.S : 0;
        const double words = pass ? 12 * n + 2 * m + 2 * seg : 4 * n + m + seg;
        sc_bench_pass_cells(tabs[0], S_PASS, &c, pass ? "fwd+bwd" : "fwd", pass ? &x.fb : &x.fwd,
                            (pass ? 3 : 1) * sc_flops_attention_core(&fo, x.S, (double)heads, x.dh, x.dh), 4.0 * words,
                            x.S, &ref);
        sc_table_num(tabs[0], S_PEAK_MIB, x.peak_bytes / 1048576.0);
        sc_table_num(tabs[0], S_BYTES_PER_TOKEN, (double)x.peak_bytes / x.S);
      }
      sc_progress_add(pp, 1);
    }
  for (int d = 0; d < nD; d++)
    for (int l = 0; l < nL; l++) {
      sc_timing t;
      const sc_attention_cfg cfg = {.head_dim = (int)D[d],
                                    .fwd_rows = (int)tune[0],
                                    .bwd_key_tiles = (int)tune[1],
                                    .work_items = (int)tune[2],
                                    .kv_half = kv};
      if (bench_decode(&c, &cfg, 1, (int)heads, (int)L[l], (int)samples, &t, err)) goto done;
      sc_table_row(tabs[1]);
      sc_table_num(tabs[1], D_DH, (double)D[d]);
      sc_table_num(tabs[1], D_LEN, (double)L[l]);
      sc_bench_cells(tabs[1], D_MS, sc_figure_time(&t.wall, 1e3));
      sc_table_num(tabs[1], D_TOKENS_PER_S, 1 / t.wall.median);
      if (cpu) sc_table_num(tabs[1], D_CPU_MS, 1e3 * t.cpu_s / cus);
      /* The step's scores and weighted sum over len + 1 keys (a multiply-add each per head dim); it reads q, k, v
       * and the len cached keys and values, and writes o and the appended key and value (cache elements). */
      const double hd = (double)heads * (double)D[d];
      sc_table_num(tabs[1], D_FLOPS, 4 * hd * (double)(L[l] + 1));
      sc_table_num(tabs[1], D_BYTES, 16 * hd + (double)sc_attention_kv_bytes(kv) * hd * (2 * (double)L[l] + 2));
      sc_progress_add(pp, 1);
    }
  sc_progress_end(pp), pp = NULL;
  const double load1 = sc_loadavg();
  if ((root = sc_bench_json_run(
           &c, &ref,
           "distill_scaling causal attention core; fwd+bwd = 3x fwd; decode: 4 x heads x head_dim x (cache_len + 1)",
           heads, samples, load0, load1))) {
    cJSON_AddNumberToObject(root, "doc_len", (double)doc_len);
    cJSON_AddStringToObject(root, "kv_cache", sc_attention_kv_names[kv]);
  }
  if (sc_bench_emit(&out, &c, "attention", root, tabs, nL ? 2 : 1, err)) goto done;
  /* Linear memory: bytes per token stay flat across S (a quadratic term would grow with S). */
  for (int d = 0; d < nD && nS > 1; d++)
    fprintf(h,
            "dh %d: peak device memory %.0f B/token at S=%d and %.0f B/token at S=%d (ratio %.2f; 1 = linear in S)\n",
            first[d].dh, (double)first[d].peak_bytes / first[d].S, first[d].S, (double)last[d].peak_bytes / last[d].S,
            last[d].S, ((double)last[d].peak_bytes / last[d].S) / ((double)first[d].peak_bytes / first[d].S));
  fprintf(h, "load average %.2f at end\n", load1);
  rc = 0;
done:
  sc_progress_end(pp);
  cJSON_Delete(root);
  sc_table_destroy(tabs[0]);
  sc_table_destroy(tabs[1]);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
