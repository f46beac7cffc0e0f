/* scalecl bench model: forward and forward+backward steps of a whole model on the device: time per step,
 * tokens/s, the paper's model FLOPs per second and MFU against the device's FMA peak, and the memory plan. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/output.h"
#include "bench/bench.h"
#include "bench/peak.h"
#include "bench/util.h"
#include "model/flops.h"
#include "model/init.h"
#include "model/lm.h"
#include "model/presets.h"

enum { C_PASS, C_MS, C_TOK = C_MS + 3, C_GFLOPS, C_MFU, C_FLOPS, C_BYTES, C_COUNT };
static const sc_col cols[C_COUNT] = {
    {"pass", NULL, SC_COL_STR, NULL, 0},
    {"ms", "ms per step", SC_COL_NUM, "%.1f", 0},
    {"ms_mean", "ms per step", SC_COL_NUM, "%.1f", 0},
    {"ms_sd", "ms per step", SC_COL_NUM, "%.2f", 0},
    {"tokens_per_s", "tokens/s", SC_COL_NUM, "%.0f", 0},
    {"model_gflops", "GFLOP/s of the paper's count", SC_COL_NUM, "%.1f", 0},
    {"mfu_pct", "% of fma_peak_gflops", SC_COL_NUM, "%.1f", 0},
    SC_BENCH_ROOFLINE_COLUMNS,
};

enum { F_PASS, F_FAMILY, F_MS, F_PCT, F_COUNT };
static const sc_col fcols[F_COUNT] = {
    {"pass", NULL, SC_COL_STR, NULL, 0},
    {"family", NULL, SC_COL_STR, NULL, 0},
    {"ms", "ms per step (queue drained around each family)", SC_COL_NUM, "%.1f", 0},
    {"pct_of_step", "% of the profiled step", SC_COL_NUM, "%.1f", 0},
};

typedef struct {
  sc_lm *lm;
  const int32_t *tokens;
  int backward;
} step_arg;

/* One step; the loss read-back makes it synchronous, as a training step is. */
static int step(void *p, sc_err *err) {
  step_arg *s = p;
  float loss;
  if (sc_lm_forward(s->lm, s->tokens, NULL, &loss, NULL, err)) return -1;
  return s->backward ? sc_lm_backward(s->lm, err) : 0;
}

/* One profiled step of each pass: the time per layer family and the rest ("other": embedding, elementwise
 * ops, copies) as rows of t. */
static int profile_families(sc_ctx *c, sc_lm *lm, const int32_t *tok, sc_table *t, sc_err *err) {
  for (int pass = 0; pass < 2; pass++) {
    step_arg a = {lm, tok, pass};
    sc_lm_set_profiling(lm, 1);
    const double t0 = sc_now();
    if (step(&a, err) || sc_finish(c, err)) return -1;
    const double total = sc_now() - t0;
    double s[SC_LM_T_COUNT], rest = total;
    sc_lm_profile(lm, s);
    sc_lm_set_profiling(lm, 0);
    for (int f = 0; f <= SC_LM_T_COUNT; f++) {
      const double v = f < SC_LM_T_COUNT ? s[f] : rest;
      if (f < SC_LM_T_COUNT) rest -= s[f];
      sc_table_row(t);
      sc_table_str(t, F_PASS, pass ? "forward+backward" : "forward");
      sc_table_str(t, F_FAMILY, f < SC_LM_T_COUNT ? sc_lm_family_names[f] : "other");
      sc_table_num(t, F_MS, 1e3 * v);
      sc_table_num(t, F_PCT, 100 * v / total);
    }
  }
  return 0;
}

int bench_model_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *model = NULL, *peak = NULL;
  long B = 8, T = 512, samples = 3, seed = 1;
  int profile = 0;
  sc_output out = {0};
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &model, "PRESET|FILE|DIR", .help = "model preset, config.json or checkpoint directory",
       .flags = SC_OPT_REQUIRED},
      {"batch", SC_OPT_LONG, &B, "B", .help = "sequences per step", .lo = 1, .hi = 4096},
      {"ctx", SC_OPT_LONG, &T, "T", .help = "tokens per sequence", .lo = 2, .hi = 1 << 20},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples", .lo = 1, .hi = 100},
      {"seed", SC_OPT_LONG, &seed, "S", .help = "init seed of the parameters", .lo = 0, .hi = 2147483647.0},
      {"peak", SC_OPT_INFILE, &peak, "FILE", .help = "take the FMA peak from `scalecl peak --json FILE`"},
      {"profile", SC_OPT_FLAG, &profile, NULL,
       .help = "also time each layer family (GEMM, mLSTM/attention, norms, head+loss, other) in one step"},
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "device index or name substring"},
      SC_OUTPUT_OPTIONS(&out),
  };
  const sc_args args = {
      "scalecl bench model --model PRESET [--batch B] [--ctx T] [--samples N] [--peak FILE] [--profile]\n"
      "                    [--format table|md|csv|json] [--json FILE|-] [--device SEL]",
      "Times whole steps of a model on the device with random tokens (one document per sequence): forward, and\n"
      "forward+backward (gradients of every parameter). model_gflops counts the paper's FLOPs (scalecl flops;\n"
      "training = 3 x forward); MFU divides them by the device's FMA peak. Also prints the memory plan.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  sc_model_config cfg;
  sc_flops fw;
  const sc_flops_opts fo = sc_flops_paper_opts();
  if (sc_model_config_resolve(model, &cfg, err) || sc_flops_forward(&cfg, T, &fo, &fw, err)) return 1;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_bench_print_device(out.human, &c);
  sc_lm *lm = NULL;
  float *arena = NULL;
  int32_t *tok = NULL;
  cJSON *root = NULL;
  sc_table *t = NULL, *ft = NULL;
  double peak_gf = 0;
  const char *peak_src = NULL;
  int rc = sc_bench_fma_peak(&c, peak, &peak_gf, &peak_src, err);
  c.bytes_peak = c.bytes_allocated; /* the model's peak, not the peak measurement's buffers */
  if (!rc) rc = sc_lm_create(&c, &cfg, (int)B, (int)T, NULL, &lm, err);
  if (!rc) {
    const sc_params *p = sc_lm_params(lm);
    rc = !(arena = sc_params_alloc(p, err)) || sc_init_params(p, arena, (uint64_t)seed, 0, err) ||
         sc_lm_upload_params(lm, arena, err) || !(tok = sc_malloc((size_t)(B * T) * sizeof *tok, "tokens", err));
  }
  if (!rc) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < B * T; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      tok[i] = (int32_t)((s >> 33) % (uint64_t)cfg.vocab_size);
    }
    rc = !(t = sc_table_create("results", cols, C_COUNT, err));
  }
  const double tokens = (double)(B * T), flops_fw = fw.total * (double)B;
  for (int pass = 0; pass < 2 && !rc; pass++) {
    step_arg a = {lm, tok, pass};
    sc_timing tm;
    if ((rc = sc_bench_time(&c, step, &a, (int)samples, 0.2, &tm, err))) break;
    const double flops = pass ? 3 * flops_fw : flops_fw, gf = 1e-9 * flops / tm.wall.median;
    sc_table_row(t);
    sc_table_str(t, C_PASS, pass ? "forward+backward" : "forward");
    sc_bench_cells(t, C_MS, sc_figure_time(&tm.wall, 1e3));
    sc_table_num(t, C_TOK, tokens / tm.wall.median);
    sc_table_num(t, C_GFLOPS, gf);
    sc_table_num(t, C_MFU, 100 * gf / peak_gf);
    /* The parameters read once and the tokens; the backward also writes every gradient once. */
    sc_table_num(t, C_FLOPS, flops);
    sc_table_num(t, C_BYTES, 4 * (pass ? 2.0 : 1.0) * (double)sc_model_params(&cfg) + 4 * tokens);
  }
  if (!rc) {
    const sc_lm_plan *m = sc_lm_memory(lm);
    fprintf(out.human,
            "model %s (%s, %lld parameters), batch %ld x ctx %ld; FMA peak %.1f GFLOP/s (%s)\n"
            "device memory: plan %.1f MiB (parameters %.1f, gradients %.1f, activations %.1f, scratch %.1f, op "
            "scratch %.1f), %.0f bytes per token; peak allocated %.1f MiB\n",
            cfg.name, sc_arch_name(cfg.arch), (long long)sc_model_params(&cfg), B, T, peak_gf, peak_src,
            m->total / 1048576.0, m->params / 1048576.0, m->grads / 1048576.0, m->acts / 1048576.0,
            m->scratch / 1048576.0, m->ops / 1048576.0, (double)m->total / tokens, c.bytes_peak / 1048576.0);
    if ((root = sc_bench_json_root(&c))) {
      cJSON_AddStringToObject(root, "model", cfg.name);
      cJSON_AddStringToObject(root, "arch", sc_arch_name(cfg.arch));
      cJSON_AddNumberToObject(root, "n_params", (double)sc_model_params(&cfg));
      cJSON_AddNumberToObject(root, "batch", (double)B);
      cJSON_AddNumberToObject(root, "ctx", (double)T);
      cJSON_AddNumberToObject(root, "fw_flops_per_step", flops_fw);
      cJSON_AddStringToObject(root, "flop_count", "paper (scalecl flops); forward+backward = 3x forward");
      cJSON_AddNumberToObject(root, "fma_peak_gflops", peak_gf);
      cJSON_AddStringToObject(root, "fma_peak_source", peak_src);
      cJSON_AddNumberToObject(root, "memory_plan_bytes", (double)m->total);
      cJSON_AddNumberToObject(root, "bytes_per_token", (double)m->total / tokens);
      cJSON_AddNumberToObject(root, "peak_allocated_bytes", (double)c.bytes_peak);
    }
    sc_table *tables[2] = {t, NULL};
    if (profile && !(rc = !(ft = sc_table_create("families", fcols, F_COUNT, err))))
      rc = profile_families(&c, lm, tok, ft, err);
    tables[1] = ft;
    if (!rc) rc = sc_bench_emit(&out, &c, "model", root, tables, ft ? 2 : 1, err);
  }
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_table_destroy(ft);
  free(tok);
  free(arena);
  sc_lm_destroy(lm);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
