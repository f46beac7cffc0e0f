/* scalecl bench train: whole training steps (data, forward+backward, gradient norm, clipping, AdamW; the loss
 * and norm read back as the trainer does) next to forward+backward alone on the same batch, so the optimizer's,
 * data's and bookkeeping's share of a step shows. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/output.h"
#include "base/paths.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "data/prepare.h"
#include "data/tokenizer.h"
#include "model/flops.h"
#include "model/init.h"
#include "model/presets.h"
#include "train/trainer.h"

enum { C_PASS, C_MS, C_TOK = C_MS + 3, C_MFU, C_OVER, C_FLOPS, C_BYTES, C_COUNT };
static const sc_col cols[C_COUNT] = {
    {"pass", NULL, SC_COL_STR, NULL, 0},
    {"ms", "ms per step", SC_COL_NUM, "%.1f", 0},
    {"ms_mean", "ms per step", SC_COL_NUM, "%.1f", 0},
    {"ms_sd", "ms per step", SC_COL_NUM, "%.2f", 0},
    {"tokens_per_s", "tokens/s", SC_COL_NUM, "%.0f", 0},
    {"mfu_pct", "% of fma_peak_gflops", SC_COL_NUM, "%.1f", 0},
    {"overhead_pct", "% over forward+backward", SC_COL_NUM, "%.1f", 0},
    SC_BENCH_ROOFLINE_COLUMNS,
};

typedef struct {
  sc_trainer *t;
  const int32_t *tok;
  const uint8_t *doc;
  int nm; /* micro-batches per step */
  int64_t step, updates;
} arg;

static int fwbwd(void *p, sc_err *err) {
  arg *a = p;
  sc_lm *lm = sc_trainer_lm(a->t);
  float loss;
  if (sc_lm_zero_grads(lm, err)) return -1;
  for (int k = 0; k < a->nm; k++)
    if (sc_lm_forward(lm, a->tok, a->doc, &loss, NULL, err) || sc_lm_backward(lm, err)) return -1;
  return 0;
}

static int train_step(void *p, sc_err *err) {
  arg *a = p;
  sc_step_info info;
  return sc_trainer_step(a->t, a->step++, &a->updates, &info, err);
}

int bench_train_main(int argc, char **argv, sc_err *err) {
  const char *sel = NULL, *model = NULL, *peak = NULL, *data = NULL;
  long B = 8, M = 0, T = 512, samples = 3;
  sc_output out = {0};
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &model, "PRESET", .help = "model preset or config file", .flags = SC_OPT_REQUIRED},
      {"batch", SC_OPT_LONG, &B, "B", .help = "sequences per step", .lo = 1, .hi = 1 << 16},
      {"micro-batch", SC_OPT_LONG, &M, "M", .help = "sequences per forward (0: B)", .lo = 0, .hi = 1 << 16},
      {"ctx", SC_OPT_LONG, &T, "T", .help = "tokens per sequence", .lo = 2, .hi = 1 << 20},
      {"data", SC_OPT_STRING, &data, "SHARDS", .help = "token shards (default $SCALECL_DATA_DIR/gcide)"},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "timed samples (median)", .lo = 1, .hi = 1000},
      {"peak", SC_OPT_INFILE, &peak, "FILE", .help = "take the FMA peak from `scalecl peak --json FILE`"},
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "OpenCL device (see 'scalecl devices')"},
      SC_OUTPUT_OPTIONS(&out),
  };
  const sc_args args = {
      "scalecl bench train --model PRESET [--batch B] [--micro-batch M] [--ctx T] [--data SHARDS] [--samples N]\n"
      "                    [--peak FILE] [--format table|md|csv|json] [--json FILE|-] [--device SEL]",
      "Times whole AdamW training steps (data from the shards, forward+backward over the micro-batches, the\n"
      "gradient norm on the device, clipping, the fused update, loss and norm read back) and forward+backward\n"
      "alone on one batch of the same data; overhead_pct is the step's cost above forward+backward.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (M == 0) M = B;
  if (B % M) {
    sc_fail(err, "--micro-batch %ld must divide --batch %ld", M, B);
    return 2;
  }
  if (sc_output_begin(&out, err)) return 2;
  char gcide[4096];
  if (!data) {
    snprintf(gcide, sizeof gcide, "%s/gcide", sc_data_dir());
    if (!sc_is_dir(gcide)) {
      sc_fail(err, "no --data and no default corpus at %s; run 'scalecl prepare --default' first", gcide);
      return 1;
    }
    data = gcide;
  }
  sc_model_config cfg;
  sc_flops fw;
  const sc_flops_opts fo = sc_flops_paper_opts();
  if (sc_model_config_resolve(model, &cfg, err) || sc_flops_forward(&cfg, T, &fo, &fw, err)) return 1;
  sc_shard_set set;
  if (sc_shard_set_open(&set, data, SC_SPLIT_TRAIN, err)) return 1;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) {
    sc_shard_set_close(&set);
    return 1;
  }
  sc_bench_print_device(out.human, &c);
  sc_trainer *t = NULL;
  sc_params p = {0};
  sc_train_arenas ar = {0};
  int32_t *tok = NULL;
  uint8_t *doc = NULL;
  sc_loader l;
  int loader_open = 0;
  cJSON *root = NULL;
  sc_table *tb = NULL;
  double peak_gf = 0;
  const char *peak_src = NULL;
  sc_trainer_cfg tc = sc_trainer_defaults();
  tc.batch = (int)B, tc.micro_batch = (int)M, tc.ctx = (int)T, tc.seed = 1;
  tc.sched = (sc_schedule){SC_SCHED_CONSTANT, 1e-4, 0.1, 0, 0, 1000000};
  int rc = sc_bench_fma_peak(&c, peak, &peak_gf, &peak_src, err) || sc_trainer_create(&c, &cfg, &tc, &set, &t, err) ||
           sc_params_build(&cfg, &p, err) || !(ar.params = sc_params_alloc(&p, err)) ||
           !(ar.m = sc_params_alloc(&p, err)) || !(ar.v = sc_params_alloc(&p, err)) ||
           sc_init_params(&p, ar.params, 1, 0, err) || sc_trainer_load(t, &ar, NULL, err);
  const size_t n = (size_t)M * (size_t)T;
  if (!rc)
    rc = !(tok = sc_malloc(n * sizeof *tok, "tokens", err)) || !(doc = sc_malloc(n, "document starts", err)) ||
         !(tb = sc_table_create("results", cols, C_COUNT, err));
  if (!rc) {
    const sc_loader_cfg lc = {.B = (int)M, .T = (int)T - 1, .seed = 2, .eot = SC_TOK_EOS, .vocab = (int)cfg.vocab_size};
    rc = sc_loader_open(&l, &set, &lc, err) || (loader_open = 1, sc_loader_next(&l, tok, doc, err));
  }
  arg a = {t, tok, doc, (int)(B / M), 0, 0};
  const double tokens = (double)(B * T), flops = 3 * fw.total * (double)B;
  double fb_ms = 0;
  for (int pass = 0; pass < 2 && !rc; pass++) {
    sc_timing tm;
    if ((rc = sc_bench_time(&c, pass ? train_step : fwbwd, &a, (int)samples, 0.2, &tm, err))) break;
    const double ms = 1e3 * tm.wall.median;
    sc_table_row(tb);
    sc_table_str(tb, C_PASS, pass ? "train step" : "forward+backward");
    sc_bench_cells(tb, C_MS, sc_figure_time(&tm.wall, 1e3));
    sc_table_num(tb, C_TOK, tokens / tm.wall.median);
    sc_table_num(tb, C_MFU, 100 * 1e-9 * flops / tm.wall.median / peak_gf);
    if (pass) sc_table_num(tb, C_OVER, 100 * (ms / fb_ms - 1));
    /* Parameters read and gradients written once, and the tokens; AdamW also reads parameters, gradients and both
     * moments and writes parameters and moments (7 words per parameter). */
    sc_table_num(tb, C_FLOPS, flops);
    sc_table_num(tb, C_BYTES, 4 * (pass ? 9.0 : 2.0) * (double)sc_model_params(&cfg) + 4 * tokens);
    fb_ms = ms;
  }
  if (!rc) {
    fprintf(out.human,
            "model %s (%s, %lld parameters), batch %ld (micro-batch %ld) x ctx %ld; FMA peak %.1f GFLOP/s (%s)\n",
            cfg.name, sc_arch_name(cfg.arch), (long long)sc_model_params(&cfg), B, M, T, peak_gf, peak_src);
    if ((root = sc_bench_json_root(&c))) {
      cJSON_AddStringToObject(root, "model", cfg.name);
      cJSON_AddStringToObject(root, "arch", sc_arch_name(cfg.arch));
      cJSON_AddNumberToObject(root, "n_params", (double)sc_model_params(&cfg));
      cJSON_AddNumberToObject(root, "batch", (double)B);
      cJSON_AddNumberToObject(root, "micro_batch", (double)M);
      cJSON_AddNumberToObject(root, "ctx", (double)T);
      cJSON_AddNumberToObject(root, "train_flops_per_step", flops);
      cJSON_AddStringToObject(root, "flop_count", "paper (scalecl flops): 3x forward; the optimizer not counted");
      cJSON_AddNumberToObject(root, "fma_peak_gflops", peak_gf);
      cJSON_AddStringToObject(root, "fma_peak_source", peak_src);
      cJSON_AddStringToObject(root, "data", data);
    }
    rc = sc_bench_emit(&out, &c, "train", root, &tb, 1, err);
  }
  cJSON_Delete(root);
  sc_table_destroy(tb);
  if (loader_open) sc_loader_close(&l);
  free(tok), free(doc), free(ar.params), free(ar.m), free(ar.v);
  sc_params_free(&p);
  sc_trainer_destroy(t);
  sc_ctx_close(&c);
  sc_shard_set_close(&set);
  return rc ? 1 : 0;
}
