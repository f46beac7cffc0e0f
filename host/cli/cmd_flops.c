#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "cli/commands.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/presets.h"

/* One column per key of a model's FLOP accounting; the wide ones are in CSV and JSON only. */
enum {
  C_MODEL,
  C_ORIGIN,
  C_ARCH,
  C_CTX,
  C_MODE,
  C_PARAMS,
  C_D,
  C_LAYERS,
  C_HEADS,
  C_DQK,
  C_DV,
  C_DFF,
  C_VOCAB,
  C_CHUNK,
  C_FW_SEQ,
  C_LINEAR,
  C_SEQ_MIX,
  C_OTHER,
  C_FW_TOKEN,
  C_TRAIN_SEQ,
  C_TRAIN_TOKEN,
  C_SIX_N,
  C_OVER_6N,
  C_N
};
static const sc_col cols[C_N] = {
    {"model", NULL, SC_COL_STR, NULL, 0},
    {"origin", NULL, SC_COL_STR, NULL, 1},
    {"arch", NULL, SC_COL_STR, NULL, 0},
    {"ctx", "tokens", SC_COL_NUM, NULL, 1},
    {"mode", NULL, SC_COL_STR, NULL, 1},
    {"n_params", NULL, SC_COL_NUM, "%.0f", 0},
    {"d_model", NULL, SC_COL_NUM, NULL, 0},
    {"n_layers", NULL, SC_COL_NUM, NULL, 0},
    {"n_heads", NULL, SC_COL_NUM, NULL, 0},
    {"d_qk", NULL, SC_COL_NUM, NULL, 0},
    {"d_v", NULL, SC_COL_NUM, NULL, 0},
    {"d_ff", NULL, SC_COL_NUM, NULL, 0},
    {"vocab_size", NULL, SC_COL_NUM, NULL, 1},
    {"chunk_size", "tokens", SC_COL_NUM, NULL, 0},
    {"fw_flops_per_seq", "FLOP", SC_COL_NUM, NULL, 1},
    {"linear", "FLOP per sequence", SC_COL_NUM, NULL, 1},
    {"seq_mix", "FLOP per sequence", SC_COL_NUM, NULL, 1},
    {"other", "FLOP per sequence", SC_COL_NUM, NULL, 1},
    {"fw_flops_per_token", "FLOP", SC_COL_NUM, "%.4e", 0},
    {"train_flops_per_seq", "FLOP", SC_COL_NUM, NULL, 1},
    {"train_flops_per_token", "FLOP", SC_COL_NUM, "%.4e", 0},
    {"six_n", "FLOP per token", SC_COL_NUM, NULL, 1},
    {"train_over_6n", NULL, SC_COL_NUM, "%.4f", 0},
};

static void flops_row(sc_table *t, const sc_model_config *c, long ctx, const sc_flops_opts *o, const sc_flops *fw) {
  const double n = (double)sc_model_params(c), tpt = sc_flops_train_per_token(fw, ctx);
  sc_table_row(t);
  sc_table_str(t, C_MODEL, c->name);
  sc_table_str(t, C_ORIGIN, c->origin);
  sc_table_str(t, C_ARCH, sc_arch_name(c->arch));
  sc_table_num(t, C_CTX, (double)ctx);
  sc_table_str(t, C_MODE, sc_flops_mode_name(o, c->arch));
  sc_table_num(t, C_PARAMS, n);
  const long dims[] = {c->d_model, c->n_layers, c->n_heads, c->d_qk, c->d_v, c->d_ff, c->vocab_size};
  for (int j = 0; j < 7; j++) sc_table_num(t, C_D + j, (double)dims[j]);
  if (c->arch == SC_ARCH_XLSTM) sc_table_num(t, C_CHUNK, (double)c->chunk_size);
  sc_table_num(t, C_FW_SEQ, fw->total);
  sc_table_num(t, C_LINEAR, fw->linear);
  sc_table_num(t, C_SEQ_MIX, fw->seq_mix);
  sc_table_num(t, C_OTHER, fw->other);
  sc_table_num(t, C_FW_TOKEN, fw->total / (double)ctx);
  sc_table_num(t, C_TRAIN_SEQ, sc_flops_train_per_seq(fw));
  sc_table_num(t, C_TRAIN_TOKEN, tpt);
  sc_table_num(t, C_SIX_N, 6.0 * n);
  sc_table_num(t, C_OVER_6N, tpt / (6.0 * n));
}

static void print_shape(const sc_model_config *c) {
  if (c->arch == SC_ARCH_XLSTM)
    printf("xLSTM: d %ld, %ld blocks, %ld heads (d_qk %ld, d_v %ld), d_ff %ld, vocab %ld, chunk %ld\n", c->d_model,
           c->n_layers, c->n_heads, c->d_qk, c->d_v, c->d_ff, c->vocab_size, c->chunk_size);
  else
    printf("Llama: d %ld, %ld layers, %ld heads (d_head %ld), d_ff %ld, vocab %ld\n", c->d_model, c->n_layers,
           c->n_heads, c->d_qk, c->d_ff, c->vocab_size);
}

/* Table order: architecture, then the paper's token/param and timing models, the CPU ladder, the IsoFLOP grid;
 * by size within each. */
static int preset_group(const char *name) {
  return strstr(name, "-iso-") ? 2 : strstr(name, "-cpu-") ? 1 : 0;
}

static int cmp_preset(const void *pa, const void *pb) {
  const sc_model_config *a = pa, *b = pb;
  if (a->arch != b->arch) return a->arch < b->arch ? -1 : 1;
  int ga = preset_group(a->name), gb = preset_group(b->name);
  if (ga != gb) return ga < gb ? -1 : 1;
  int64_t na = sc_model_params(a), nb = sc_model_params(b);
  if (na != nb) return na < nb ? -1 : 1;
  return strcmp(a->name, b->name);
}

/* --mode values: first, tfla apply to xLSTM models, distill_scaling, chinchilla to Llama ones. */
static const char *const modes[] = {"first", "tfla", "distill_scaling", "chinchilla", NULL};

/* The options of each architecture: the paper's, with --mode applied to the architecture it is a mode of. */
static void mode_opts(const char *mode, sc_flops_opts o[2]) {
  o[SC_ARCH_XLSTM] = o[SC_ARCH_LLAMA] = sc_flops_paper_opts();
  sc_err ignore;
  if (mode && sc_flops_set_mode(&o[SC_ARCH_XLSTM], SC_ARCH_XLSTM, mode, &ignore))
    sc_flops_set_mode(&o[SC_ARCH_LLAMA], SC_ARCH_LLAMA, mode, &ignore);
}

static int run_table(long ctx, const char *mode, const sc_flops_opts opts[2], const sc_output *out, sc_err *err) {
  char dir[4096];
  sc_model_config *cfgs;
  int n, rc = 0;
  if (sc_models_dir(dir, sizeof dir, err) || sc_preset_configs(dir, &cfgs, &n, err)) return 1;
  qsort(cfgs, (size_t)n, sizeof *cfgs, cmp_preset);
  sc_table *t = sc_table_create("presets", cols, C_N, err);
  for (int i = 0; t && i < n && !rc; i++) {
    sc_flops fw;
    rc = sc_flops_forward(&cfgs[i], ctx, &opts[cfgs[i].arch], &fw, err);
    if (!rc) flops_row(t, &cfgs[i], ctx, &opts[cfgs[i].arch], &fw);
  }
  free(cfgs);
  cJSON *root = cJSON_CreateObject();
  if (root) {
    cJSON_AddStringToObject(root, "models_dir", dir);
    cJSON_AddNumberToObject(root, "ctx", (double)ctx);
    cJSON_AddStringToObject(root, "modes", mode ? mode : "paper defaults");
  }
  rc = !t || rc || sc_output_emit(out, root, &t, 1, err);
  if (!rc)
    fprintf(out->human, "\n%d presets in %s; FLOPs at context %ld, modes: %s\n", n, dir, ctx,
            mode ? mode : "paper defaults");
  cJSON_Delete(root);
  sc_table_destroy(t);
  return rc;
}

/* The model's row as one JSON object (what --model --json prints, with the budget or token fields added). */
static cJSON *model_object(const sc_model_config *c, long ctx, const sc_flops_opts *o, const sc_flops *fw,
                           sc_err *err) {
  sc_table *t = sc_table_create("model", cols, C_N, err);
  if (!t) return NULL;
  flops_row(t, c, ctx, o, fw);
  cJSON *rows = sc_table_json(t, NULL, err);
  cJSON *root = rows ? cJSON_DetachItemFromArray(rows, 0) : NULL;
  cJSON_Delete(rows);
  sc_table_destroy(t);
  if (rows && !root) sc_fail(err, "out of host memory formatting JSON");
  return root;
}

int cmd_flops(int argc, char **argv, sc_err *err) {
  const char *model = NULL, *mode = NULL;
  long ctx = 8192, batch = 0;
  double budget = 0, tokens = 0;
  int json = 0, table = 0, mode_i = -1;
  sc_output out = {0};
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &model, "FILE|PRESET", .help = "a config.json path or a preset name (see --table)"},
      {"ctx", SC_OPT_LONG, &ctx, "N", .help = "context length in tokens (the paper's main setting)", .lo = 1,
       .hi = 1L << 24},
      {"batch", SC_OPT_LONG, &batch, "B",
       .help = "sequences per step for --budget; by default 2^20/ctx, the paper's ~1M tokens per step", .lo = 1,
       .hi = 1L << 30},
      {"budget", SC_OPT_DOUBLE, &budget, "C", .help = "training FLOP budget: print the steps and tokens it buys",
       .lo = 0, .hi = INFINITY, .flags = SC_OPT_LO_OPEN},
      {"tokens", SC_OPT_DOUBLE, &tokens, "D", .help = "training tokens: print the FLOP budget they cost", .lo = 0,
       .hi = INFINITY, .flags = SC_OPT_LO_OPEN},
      {"mode", SC_OPT_ENUM, &mode_i, "M",
       .help =
           "FLOP counting mode: first (default) or tfla for xLSTM, distill_scaling (default) or chinchilla for Llama",
       .choices = modes},
      SC_OUTPUT_FORMAT_OPTION(&out),
      {"json", SC_OPT_FLAG, &json, NULL, .help = "print one JSON object (the presets under \"presets\" with --table)"},
      {"table", SC_OPT_FLAG, &table, NULL, .help = "one line per preset in the models directory"},
  };
  const sc_args args = {
      "scalecl flops --model FILE|PRESET [--ctx N] [--batch B] [--budget C | --tokens D] [--mode M]\n"
      "                     [--format table|json] [--json]\n"
      "       scalecl flops --table [--ctx N] [--mode M] [--format table|md|csv|json] [--json]",
      "Parameters and forward FLOPs per sequence as the xLSTM scaling-law paper counts them (Appendix C):\n"
      "linear layers incl. the LM head, sequence mixing (mLSTM cell or attention core) and other (SwiGLU);\n"
      "embedding, norm and residual FLOPs excluded; training = 3 x forward. Presets are looked up in\n"
      "$SCALECL_MODELS_DIR, else <dir of scalecl>/models, else the source tree's models/.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (mode_i >= 0) mode = modes[mode_i];
  if (json) out.json = "-"; /* the flag is --json - of the convention */
  if (sc_output_begin(&out, err)) return 2;
  if (!table && (out.format == SC_FORMAT_MD || out.format == SC_FORMAT_CSV))
    return sc_fail(err, "--format %s prints the --table; one model prints as text or JSON",
                   sc_format_names[out.format]),
           2;
  if (table) {
    if (model || budget > 0 || tokens > 0 || batch)
      return sc_fail(err, "--table takes only --ctx, --mode, --format and --json"), 2;
    sc_flops_opts arch_opts[2];
    mode_opts(mode, arch_opts);
    return run_table(ctx, mode, arch_opts, &out, err);
  }
  if (!model) return sc_fail(err, "missing --model FILE|PRESET (or --table)"), 2;
  if (budget > 0 && tokens > 0) return sc_fail(err, "give --budget or --tokens, not both"), 2;
  if (batch && !(budget > 0)) return sc_fail(err, "--batch is used only with --budget"), 2;
  if (!batch) batch = (1L << 20) / ctx > 0 ? (1L << 20) / ctx : 1;

  sc_model_config c;
  if (sc_model_config_resolve(model, &c, err)) return 1;
  sc_flops_opts o = sc_flops_paper_opts();
  if (mode && sc_flops_set_mode(&o, c.arch, mode, err)) return 2;
  if (c.n_warnings) fputs(c.warnings, stderr);
  sc_flops fw;
  if (sc_flops_forward(&c, ctx, &o, &fw, err)) return 1;
  if (c.arch == SC_ARCH_XLSTM && ctx % c.chunk_size)
    fprintf(stderr, "note: ctx %ld is not a multiple of chunk_size %ld; like the paper, only %ld whole chunk%s\n", ctx,
            c.chunk_size, ctx / c.chunk_size, ctx / c.chunk_size == 1 ? " counts" : "s count");
  sc_budget_plan plan;
  if (budget > 0 && sc_flops_plan_budget(&fw, ctx, batch, budget, &plan, err)) return 1;
  const double n_params = (double)sc_model_params(&c);

  if (out.format == SC_FORMAT_JSON) {
    cJSON *j = model_object(&c, ctx, &o, &fw, err);
    if (!j) return 1;
    if (budget > 0) {
      cJSON_AddNumberToObject(j, "batch", (double)batch);
      cJSON_AddNumberToObject(j, "budget", budget);
      cJSON_AddNumberToObject(j, "steps_exact", plan.steps_exact);
      cJSON_AddNumberToObject(j, "steps", (double)plan.steps);
      cJSON_AddNumberToObject(j, "tokens", plan.tokens);
      cJSON_AddNumberToObject(j, "budget_used", plan.flops);
    }
    if (tokens > 0) {
      cJSON_AddNumberToObject(j, "tokens", tokens);
      cJSON_AddNumberToObject(j, "train_flops", sc_flops_budget_for_tokens(&fw, ctx, tokens));
    }
    const int rc = sc_output_emit(&out, j, NULL, 0, err);
    cJSON_Delete(j);
    return rc ? 1 : 0;
  }
  printf("model        %s (%s)\n", c.name, c.origin);
  if (c.description[0]) printf("             %s\n", c.description);
  printf("shape        ");
  print_shape(&c);
  printf("parameters   %.0f\n", n_params);
  printf("context      %ld tokens, %s mode '%s'\n\n", ctx, c.arch == SC_ARCH_XLSTM ? "mLSTM" : "attention",
         sc_flops_mode_name(&o, c.arch));
  printf("forward FLOPs per sequence   %.6e\n", fw.total);
  printf("  linear (incl. LM head)     %.6e  %5.1f%%\n", fw.linear, 100 * fw.linear / fw.total);
  printf("  sequence mixing            %.6e  %5.1f%%\n", fw.seq_mix, 100 * fw.seq_mix / fw.total);
  printf("  other (SwiGLU)             %.6e  %5.1f%%\n", fw.other, 100 * fw.other / fw.total);
  printf("forward FLOPs per token      %.6e\n", fw.total / (double)ctx);
  printf("training FLOPs per token     %.6e  (6N = %.6e, ratio %.4f)\n", sc_flops_train_per_token(&fw, ctx),
         6 * n_params, sc_flops_train_per_token(&fw, ctx) / (6 * n_params));
  if (budget > 0)
    printf("\nbudget %.4e FLOPs at batch %ld x %ld: %.3f steps -> %lld steps, %.6e tokens (D/N %.1f), %.6e FLOPs\n",
           budget, batch, ctx, plan.steps_exact, (long long)plan.steps, plan.tokens, plan.tokens / n_params,
           plan.flops);
  if (tokens > 0)
    printf("\n%.6e tokens (D/N %.1f) cost %.6e training FLOPs (6ND = %.6e)\n", tokens, tokens / n_params,
           sc_flops_budget_for_tokens(&fw, ctx, tokens), 6 * n_params * tokens);
  return 0;
}
