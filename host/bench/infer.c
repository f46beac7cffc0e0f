/* scalecl bench infer: llama-bench style inference timing of both architectures (model/infer.h): per model, batch
 * and prefill length the time to first token (prefill + first decoding step), the mean step time over the
 * generated tokens, decode tokens/s and the device memory after prefill, the median (with mean and sd) over
 * repetitions after an untimed warm-up; the ratios of the paper's claim (§4.10) and, with --plot, charts against the
 * paper's numbers. */
#include "model/infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/output.h"
#include "bench/bench.h"
#include "bench/infer_plot.h"
#include "bench/util.h"
#include "model/init.h"
#include "model/presets.h"
#include "model/sample.h"
#include "ops/attention.h"

/* Each timing takes three columns: median, mean, sd. */
enum {
  C_MODEL,
  C_ARCH,
  C_PARAMS,
  C_BATCH,
  C_PREFILL,
  C_TTFT,
  C_STEP = C_TTFT + 3,
  C_TOK = C_STEP + 3,
  C_MEM,
  C_BUILD,
  C_WARM,
  C_STATUS,
  C_COUNT
};
static const sc_col cols[C_COUNT] = {
    {"model", NULL, SC_COL_STR, NULL, 0},
    {"arch", NULL, SC_COL_STR, NULL, 0},
    {"params_m", "million parameters", SC_COL_NUM, "%.1f", 0},
    {"batch", NULL, SC_COL_NUM, "%.0f", 0},
    {"prefill", "tokens", SC_COL_NUM, "%.0f", 0},
    {"ttft_ms", "ms, prefill + first step", SC_COL_NUM, "%.2f", 0},
    {"ttft_mean", "ms", SC_COL_NUM, "%.2f", 0},
    {"ttft_sd", "ms", SC_COL_NUM, "%.2f", 0},
    {"step_ms", "ms per decoding step (a run's mean)", SC_COL_NUM, "%.3f", 0},
    {"step_mean", "ms", SC_COL_NUM, "%.3f", 0},
    {"step_sd", "ms", SC_COL_NUM, "%.3f", 0},
    {"tokens_per_s", "decoded tokens/s over the batch, by the median step", SC_COL_NUM, "%.1f", 0},
    {"mem_mib", "device MiB allocated after prefill", SC_COL_NUM, "%.1f", 0},
    {"build_ms", "ms to create the model and build its kernels", SC_COL_NUM, "%.0f", 0},
    {"warmup_ms", "ms of the untimed first run (code generated at first launch)", SC_COL_NUM, "%.0f", 0},
    {"status", NULL, SC_COL_STR, NULL, 0},
};

enum { G_BATCH, G_XLSTM, G_LLAMA, G_LO, G_HI, G_XSTEP, G_LSTEP, G_TTFT, G_COUNT };
static const sc_col gcols[G_COUNT] = {
    {"batch", NULL, SC_COL_NUM, "%.0f", 0},
    {"xlstm", NULL, SC_COL_STR, NULL, 0},
    {"llama", NULL, SC_COL_STR, NULL, 0},
    {"prefill_lo", "tokens", SC_COL_NUM, "%.0f", 0},
    {"prefill_hi", "tokens", SC_COL_NUM, "%.0f", 0},
    {"xlstm_step_ratio", "step(hi) / step(lo)", SC_COL_NUM, "%.3f", 0},
    {"llama_step_ratio", "step(hi) / step(lo)", SC_COL_NUM, "%.3f", 0},
    {"ttft_ratio", "xLSTM / Llama TTFT at hi", SC_COL_NUM, "%.3f", 0},
};

static const char *const grid_names[] = {"cpu", "paper", NULL};
static const char *const cpu_models = "xlstm-cpu-5m,llama-cpu-5m";
static const char *const paper_models =
    "xlstm-160m-timing,llama-162m,xlstm-400m-timing,llama-400m-timing,xlstm-830m-timing,llama-834m,"
    "xlstm-1.4b-timing,llama-1.4b,xlstm-2.7b-timing,llama-2.7b-timing,xlstm-7b-timing,llama-7b-timing";
static const sc_longs cpu_prefill = {{0, 256, 1024, 4096}, 4}, cpu_batch = {{1}, 1};
static const sc_longs paper_prefill = {{0, 128, 256, 512, 1024, 2048, 4096, 8192, 12288, 16384}, 10};
static const sc_longs paper_batch = {{1, 2, 4, 8, 16, 32, 64, 128, 256}, 9};

typedef struct {
  sc_infer *inf;
  sc_sampler *greedy;
  int B, P, gen, V;
  const int32_t *prompt;
  int32_t *tok;
  float *logits;
  double ttft, step;
} run_arg;

static void pick(run_arg *r, int step) {
  for (int b = 0; b < r->B; b++)
    r->tok[b] = sc_sampler_next(r->greedy, r->logits + (size_t)b * r->V, (uint64_t)b, (uint64_t)step);
}

/* Prefill, first step (TTFT), then gen - 1 more steps, greedy, every step's logits read back as a generator
 * would. A prefill of 0 starts from the empty state with token 0 as the first step's input. */
static int run_once(run_arg *r, sc_err *err) {
  const double t0 = sc_now();
  if (sc_infer_prefill(r->inf, r->P, r->prompt, r->P ? r->logits : NULL, err)) return -1;
  if (r->P)
    pick(r, 0);
  else
    memset(r->tok, 0, (size_t)r->B * sizeof *r->tok);
  if (sc_infer_step(r->inf, r->tok, r->logits, err)) return -1;
  pick(r, 1);
  const double t1 = sc_now();
  for (int g = 1; g < r->gen; g++) {
    if (sc_infer_step(r->inf, r->tok, r->logits, err)) return -1;
    pick(r, g + 1);
  }
  r->ttft = t1 - t0, r->step = (sc_now() - t1) / (r->gen - 1);
  return 0;
}

/* One point of the grid into the table's last row and pt; a point that does not fit the device is a row saying
 * so (the plan is checked before anything is allocated). */
static int measure(sc_ctx *c, const sc_model_config *cfg, const sc_lm_opts *lo, const float *arena, int B, int P,
                   int gen, int reps, sc_table *t, sc_infer_point *pt, sc_err *err) {
  sc_lm_plan plan;
  if (sc_infer_plan(cfg, B, P, P + gen, lo, &plan, err)) return -1;
  if (plan.total > (size_t)c->dev.global_mem || plan.largest > (size_t)c->dev.max_alloc) {
    char s[128];
    const int whole = plan.total > (size_t)c->dev.global_mem;
    snprintf(s, sizeof s, "does not fit: %s %.0f MiB, the device %s %.0f", whole ? "needs" : "a buffer of",
             (whole ? plan.total : plan.largest) / 1048576.0, whole ? "has" : "allocates at most",
             (double)(whole ? c->dev.global_mem : c->dev.max_alloc) / 1048576.0);
    sc_table_str(t, C_STATUS, s);
    return 0;
  }
  run_arg r = {.B = B, .P = P, .gen = gen, .V = (int)cfg->vocab_size};
  sc_sampler greedy = {0};
  int32_t *prompt = sc_malloc(((size_t)B * P + 1) * sizeof *prompt, "prompt tokens", err);
  r.tok = sc_malloc((size_t)B * sizeof *r.tok, "step tokens", err);
  r.logits = sc_malloc((size_t)B * r.V * sizeof *r.logits, "logits", err);
  double *ttft = sc_malloc((size_t)reps * sizeof *ttft, "timings", err),
         *step = sc_malloc((size_t)reps * sizeof *step, "timings", err);
  int rc = !prompt || !r.tok || !r.logits || !ttft || !step ||
           sc_sampler_init(&greedy, r.V, &(sc_sample_cfg){.temperature = 0, .top_p = 1}, err);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; !rc && i < (size_t)B * P; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    prompt[i] = (int32_t)((s >> 33) % (uint64_t)r.V);
  }
  r.prompt = prompt, r.greedy = &greedy;
  const double t0 = sc_now();
  if (!rc) rc = sc_infer_create(c, cfg, B, P, P + gen, lo, &r.inf, err) || sc_infer_upload_params(r.inf, arena, err);
  if (!rc) rc = sc_finish(c, err);
  const double build = sc_now() - t0;
  /* the warm-up: PoCL generates each kernel's code at its first launch, and the ops grow their scratch */
  const double t1 = sc_now();
  if (!rc) rc = run_once(&r, err);
  const double warm = sc_now() - t1;
  const size_t mem = c->bytes_allocated;
  for (int i = 0; i < reps && !rc; i++) {
    rc = run_once(&r, err);
    ttft[i] = r.ttft, step[i] = r.step;
  }
  if (!rc) {
    const sc_stats ts = sc_stats_of(ttft, reps), ss = sc_stats_of(step, reps);
    pt->ok = 1, pt->ttft = ts.median, pt->step = ss.median;
    pt->ttft_sd = reps > 1 ? ts.sd : 0, pt->step_sd = reps > 1 ? ss.sd : 0;
    sc_bench_cells(t, C_TTFT, sc_figure_time(&ts, 1e3));
    sc_bench_cells(t, C_STEP, sc_figure_time(&ss, 1e3));
    sc_table_num(t, C_TOK, B / ss.median);
    sc_table_num(t, C_MEM, mem / 1048576.0);
    sc_table_num(t, C_BUILD, 1e3 * build);
    sc_table_num(t, C_WARM, 1e3 * warm);
    sc_table_str(t, C_STATUS, "ok");
  }
  sc_infer_destroy(r.inf);
  sc_sampler_free(&greedy);
  free(prompt), free(r.tok), free(r.logits), free(ttft), free(step);
  return rc ? -1 : 0;
}

static const sc_infer_point *find(const sc_infer_point *pts, int n, const char *model, long B, long P) {
  for (int i = 0; i < n; i++)
    if (pts[i].ok && pts[i].B == B && pts[i].P == P && !strcmp(pts[i].model, model)) return &pts[i];
  return NULL;
}

/* Per batch, the i-th xLSTM model of the list with the i-th Llama: step time at the longest prefill both ran over
 * the step time at 256 (or the shortest non-zero prefill), and their TTFT ratio at the longest. */
static void goals(const sc_infer_point *pts, int n, const sc_model_config *cfgs, int nm, const sc_longs *pre,
                  const sc_longs *bat, sc_table *g) {
  for (int bi = 0; bi < bat->n; bi++)
    for (int xi = 0, li = 0;; xi++, li++) {
      while (xi < nm && cfgs[xi].arch != SC_ARCH_XLSTM) xi++;
      while (li < nm && cfgs[li].arch != SC_ARCH_LLAMA) li++;
      if (xi >= nm || li >= nm) break;
      const char *const x = cfgs[xi].name, *const l = cfgs[li].name;
      long lo = -1, hi = -1;
      for (int p = 0; p < pre->n; p++) {
        const long P = pre->v[p];
        if (P <= 0 || !find(pts, n, x, bat->v[bi], P) || !find(pts, n, l, bat->v[bi], P)) continue;
        if (lo < 0 || (P == 256) || (P < lo && lo != 256)) lo = P;
        if (P > hi) hi = P;
      }
      if (lo < 0 || hi <= lo) continue;
      const sc_infer_point *xl = find(pts, n, x, bat->v[bi], lo), *xh = find(pts, n, x, bat->v[bi], hi),
                           *ll = find(pts, n, l, bat->v[bi], lo), *lh = find(pts, n, l, bat->v[bi], hi);
      sc_table_row(g);
      sc_table_num(g, G_BATCH, (double)bat->v[bi]);
      sc_table_str(g, G_XLSTM, x);
      sc_table_str(g, G_LLAMA, l);
      sc_table_num(g, G_LO, (double)lo);
      sc_table_num(g, G_HI, (double)hi);
      sc_table_num(g, G_XSTEP, xh->step / xl->step);
      sc_table_num(g, G_LSTEP, lh->step / ll->step);
      sc_table_num(g, G_TTFT, xh->ttft / lh->ttft);
    }
}

/* Splits a comma-separated list in place. */
static int split_models(char *list, char **names, int cap, sc_err *err) {
  int n = 0;
  for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
    if (n == cap) return sc_fail(err, "--model: more than %d models; split the run", cap);
    names[n++] = p;
  }
  if (!n) return sc_fail(err, "--model: no model named; give presets such as %s", cpu_models);
  return n;
}

enum { MAX_MODELS = 32 };

int bench_infer_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *model = NULL, *plot = NULL, *csv = NULL;
  sc_longs pre = {{0}, 0}, bat = {{0}, 0};
  long gen = 32, reps = 3, seed = 1;
  int grid = 0, kv = 0;
  sc_output out = {0};
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &model, "LIST",
       .help = "comma-separated presets, config files or checkpoint directories (default: the grid's)"},
      {"grid", SC_OPT_ENUM, &grid, "NAME",
       .help = "defaults of --model, --prefill and --batch: cpu (5m presets, prefill 0..4096, batch 1) or paper "
               "(the -timing models, prefill 0..16384, batch 1..256)",
       .choices = grid_names},
      {"prefill", SC_OPT_LONGS, &pre, "P[,P...]", .help = "prefill lengths in tokens", .lo = 0, .hi = 1 << 20},
      {"batch", SC_OPT_LONGS, &bat, "B[,B...]", .help = "batch sizes", .lo = 1, .hi = 4096},
      {"gen", SC_OPT_LONG, &gen, "N", .help = "generated tokens per run (the first is TTFT's step)", .lo = 2,
       .hi = 1 << 16},
      {"kv-cache", SC_OPT_ENUM, &kv, "f32|f16",
       .help = "Llama KV cache element: f32, or f16 (IEEE half: half the memory and bytes per step)",
       .choices = sc_attention_kv_names},
      {"reps", SC_OPT_LONG, &reps, "N", .help = "timed repetitions after the warm-up", .lo = 1, .hi = 1000},
      {"seed", SC_OPT_LONG, &seed, "S", .help = "init seed of the parameters", .lo = 0, .hi = 2147483647.0},
      {"plot", SC_OPT_OUTDIR, &plot, "DIR",
       .help = "write TTFT and step-time charts (SVG, PNG) with the paper's H100 numbers, and infer.md"},
      {"csv", SC_OPT_OUTFILE, &csv, "FILE", .help = "also write the results table as CSV"},
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "device index or name substring"},
      SC_OUTPUT_OPTIONS(&out),
  };
  const sc_args args = {
      "scalecl bench infer [--model LIST] [--grid cpu|paper] [--prefill P,...] [--batch B,...] [--gen N] [--reps N]\n"
      "                    [--kv-cache f32|f16] [--plot DIR] [--csv FILE] [--format table|md|csv|json]\n"
      "                    [--json FILE|-] [--device SEL]",
      "Times inference as llama-bench does, for every model, batch and prefill length: random prompts, greedy\n"
      "decoding with every step's logits read back. ttft_ms is the prefill plus the first decoding step (a prefill of\n"
      "0 starts from the empty state: one step), step_ms the mean of the next N - 1 steps, each the median over the\n"
      "repetitions with mean and sd beside. One untimed warm-up run per point absorbs code generation (warmup_ms);\n"
      "build_ms (model creation and kernel builds) is apart. Points whose memory plan exceeds the device are\n"
      "reported and skipped. The goals table pairs the i-th xLSTM with the i-th Llama of the list: step-time ratios\n"
      "between the longest prefill and 256 (the paper: xLSTM flat, Llama growing) and the TTFT ratio at the longest\n"
      "prefill (the paper: xLSTM below).",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  if (!pre.n) pre = grid ? paper_prefill : cpu_prefill;
  if (!bat.n) bat = grid ? paper_batch : cpu_batch;
  char *list = strdup(model ? model : grid ? paper_models : cpu_models), *names[MAX_MODELS];
  if (!list) {
    sc_fail(err, "out of host memory");
    return 1;
  }
  const int nm = split_models(list, names, MAX_MODELS, err);
  sc_model_config *cfgs = nm > 0 ? calloc((size_t)nm, sizeof *cfgs) : NULL;
  sc_infer_point *pts = cfgs ? calloc((size_t)(nm * pre.n * bat.n), sizeof *pts) : NULL;
  int rc = nm > 0 && !pts ? sc_fail(err, "out of host memory") : nm < 0;
  for (int m = 0; m < nm && !rc; m++) rc = sc_model_config_resolve(names[m], &cfgs[m], err);
  sc_ctx c = {0};
  int opened = 0;
  if (!rc && !(rc = sc_ctx_open(&c, sel, err))) opened = 1;
  sc_table *t = NULL, *g = NULL;
  cJSON *root = NULL;
  double load0 = -1;
  if (!rc) {
    load0 = sc_bench_print_device(out.human, &c);
    rc = !(t = sc_table_create("results", cols, C_COUNT, err)) || !(g = sc_table_create("goals", gcols, G_COUNT, err));
  }
  int np = 0;
  const sc_lm_opts lo = {.kv_half = kv};
  for (int m = 0; m < nm && !rc; m++) {
    sc_params p;
    float *arena = NULL;
    rc = sc_params_build(&cfgs[m], &p, err) || !(arena = sc_params_alloc(&p, err)) ||
         sc_init_params(&p, arena, (uint64_t)seed, 0, err);
    for (int bi = 0; bi < bat.n && !rc; bi++)
      for (int pi = 0; pi < pre.n && !rc; pi++) {
        sc_infer_point *pt = &pts[np++];
        *pt = (sc_infer_point){.arch = cfgs[m].arch, .B = bat.v[bi], .P = pre.v[pi]};
        snprintf(pt->model, sizeof pt->model, "%s", cfgs[m].name);
        sc_table_row(t);
        sc_table_str(t, C_MODEL, cfgs[m].name);
        sc_table_str(t, C_ARCH, sc_arch_name(cfgs[m].arch));
        sc_table_num(t, C_PARAMS, 1e-6 * (double)p.n_params);
        sc_table_num(t, C_BATCH, (double)pt->B);
        sc_table_num(t, C_PREFILL, (double)pt->P);
        rc = measure(&c, &cfgs[m], &lo, arena, (int)pt->B, (int)pt->P, (int)gen, (int)reps, t, pt, err);
        if (!rc)
          fprintf(stderr, "%s batch %ld prefill %ld: %s\n", cfgs[m].name, pt->B, pt->P,
                  pt->ok ? "done" : "does not fit");
      }
    free(arena);
    sc_params_free(&p);
  }
  if (!rc) {
    goals(pts, np, cfgs, nm, &pre, &bat, g);
    double l1, l5;
    sc_loadavg2(&l1, &l5);
    fprintf(out.human,
            "load average %.2f at start, %.2f (1 min) / %.2f (5 min) at end; gen %ld, reps %ld, KV cache %s\n", load0,
            l1, l5, gen, reps, sc_attention_kv_names[kv]);
    if ((root = sc_bench_json_root(&c))) {
      cJSON_AddNumberToObject(root, "gen", (double)gen);
      cJSON_AddNumberToObject(root, "reps", (double)reps);
      cJSON_AddStringToObject(root, "kv_cache", sc_attention_kv_names[kv]);
      cJSON_AddNumberToObject(root, "load_start", load0);
      cJSON_AddNumberToObject(root, "load_end", l1);
    }
    sc_table *tables[2] = {t, g};
    rc = sc_bench_emit(&out, &c, "infer", root, tables, 2, err);
  }
  if (!rc && csv) {
    FILE *f = fopen(csv, "w");
    rc = !f ? sc_fail(err, "--csv %s: cannot write the file", csv) : sc_table_print(f, t, SC_FORMAT_CSV, err);
    if (f && fclose(f) && !rc) rc = sc_fail(err, "--csv %s: write error (disk full?)", csv);
  }
  if (!rc && plot) rc = sc_infer_plot(plot, pts, np, t, g, c.dev.name, err);
  cJSON_Delete(root);
  sc_table_destroy(t), sc_table_destroy(g);
  if (opened) sc_ctx_close(&c);
  free(pts), free(cfgs), free(list);
  return rc ? 1 : 0;
}
