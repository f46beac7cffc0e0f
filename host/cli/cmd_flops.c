#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/commands.h"
#include "model/config.h"
#include "model/flops.h"
#include "model/presets.h"

static cJSON *flops_json(const sc_model_config *c, long ctx, const sc_flops_opts *o, const sc_flops *fw) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "model", c->name);
  cJSON_AddStringToObject(j, "origin", c->origin);
  cJSON_AddStringToObject(j, "arch", sc_arch_name(c->arch));
  cJSON_AddNumberToObject(j, "ctx", (double)ctx);
  cJSON_AddStringToObject(j, "mode", sc_flops_mode_name(o, c->arch));
  cJSON_AddNumberToObject(j, "n_params", (double)sc_model_params(c));
  cJSON_AddNumberToObject(j, "d_model", (double)c->d_model);
  cJSON_AddNumberToObject(j, "n_layers", (double)c->n_layers);
  cJSON_AddNumberToObject(j, "n_heads", (double)c->n_heads);
  cJSON_AddNumberToObject(j, "d_qk", (double)c->d_qk);
  cJSON_AddNumberToObject(j, "d_v", (double)c->d_v);
  cJSON_AddNumberToObject(j, "d_ff", (double)c->d_ff);
  cJSON_AddNumberToObject(j, "vocab_size", (double)c->vocab_size);
  if (c->arch == SC_ARCH_XLSTM) cJSON_AddNumberToObject(j, "chunk_size", (double)c->chunk_size);
  cJSON_AddNumberToObject(j, "fw_flops_per_seq", fw->total);
  cJSON_AddNumberToObject(j, "linear", fw->linear);
  cJSON_AddNumberToObject(j, "seq_mix", fw->seq_mix);
  cJSON_AddNumberToObject(j, "other", fw->other);
  cJSON_AddNumberToObject(j, "fw_flops_per_token", fw->total / (double)ctx);
  cJSON_AddNumberToObject(j, "train_flops_per_seq", sc_flops_train_per_seq(fw));
  cJSON_AddNumberToObject(j, "train_flops_per_token", sc_flops_train_per_token(fw, ctx));
  cJSON_AddNumberToObject(j, "six_n", 6.0 * (double)sc_model_params(c));
  return j;
}

static int print_json(cJSON *j, sc_err *err) {
  char *s = cJSON_Print(j);
  cJSON_Delete(j);
  if (!s) return sc_fail(err, "out of host memory printing JSON"), 1;
  printf("%s\n", s);
  free(s);
  return 0;
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

static int run_table(long ctx, const char *mode, const sc_flops_opts opts[2], int json, sc_err *err) {
  char dir[4096];
  sc_model_config *cfgs;
  int n, rc = 0;
  if (sc_models_dir(dir, sizeof dir, err) || sc_preset_configs(dir, &cfgs, &n, err)) return 1;
  qsort(cfgs, (size_t)n, sizeof *cfgs, cmp_preset);
  cJSON *arr = json ? cJSON_CreateArray() : NULL;
  if (!json)
    printf("%-22s %-5s %14s %5s %4s %4s %9s %6s %5s %12s %12s %7s\n", "preset", "arch", "params", "d", "L", "NH",
           "d_qk/d_v", "d_ff", "chunk", "fw/token", "train/token", "/6N");
  for (int i = 0; i < n && !rc; i++) {
    const sc_model_config *c = &cfgs[i];
    const sc_flops_opts *o = &opts[c->arch];
    sc_flops fw;
    if (sc_flops_forward(c, ctx, o, &fw, err)) {
      rc = 1;
      break;
    }
    if (json) {
      cJSON_AddItemToArray(arr, flops_json(c, ctx, o, &fw));
      continue;
    }
    char dims[32], chunk[16];
    snprintf(dims, sizeof dims, "%ld/%ld", c->d_qk, c->d_v);
    snprintf(chunk, sizeof chunk, "%ld", c->chunk_size);
    double tpt = sc_flops_train_per_token(&fw, ctx), n6 = 6.0 * (double)sc_model_params(c);
    printf("%-22s %-5s %14lld %5ld %4ld %4ld %9s %6ld %5s %12.4e %12.4e %7.4f\n", c->name, sc_arch_name(c->arch),
           (long long)sc_model_params(c), c->d_model, c->n_layers, c->n_heads, dims, c->d_ff,
           c->arch == SC_ARCH_XLSTM ? chunk : "-", fw.total / (double)ctx, tpt, tpt / n6);
  }
  free(cfgs);
  if (json) {
    if (rc) {
      cJSON_Delete(arr);
      return rc;
    }
    return print_json(arr, err);
  }
  if (!rc) printf("\n%d presets in %s; FLOPs at context %ld, modes: %s\n", n, dir, ctx, mode ? mode : "paper defaults");
  return rc;
}

int cmd_flops(int argc, char **argv, sc_err *err) {
  const char *model = NULL, *mode = NULL;
  long ctx = 8192, batch = 0;
  double budget = 0, tokens = 0;
  int json = 0, table = 0, mode_i = -1;
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
      {"json", SC_OPT_FLAG, &json, NULL, .help = "print one JSON object (an array with --table)"},
      {"table", SC_OPT_FLAG, &table, NULL, .help = "one line per preset in the models directory"},
  };
  const sc_args args = {
      "scalecl flops --model FILE|PRESET [--ctx N] [--batch B] [--budget C | --tokens D] [--mode M] [--json]\n"
      "       scalecl flops --table [--ctx N] [--mode M] [--json]",
      "Parameters and forward FLOPs per sequence as the xLSTM scaling-law paper counts them (Appendix C):\n"
      "linear layers incl. the LM head, sequence mixing (mLSTM cell or attention core) and other (SwiGLU);\n"
      "embedding, norm and residual FLOPs excluded; training = 3 x forward. Presets are looked up in\n"
      "$SCALECL_MODELS_DIR, else <dir of scalecl>/models, else the source tree's models/.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (mode_i >= 0) mode = modes[mode_i];
  if (table) {
    if (model || budget > 0 || tokens > 0 || batch)
      return sc_fail(err, "--table takes only --ctx, --mode and --json"), 2;
    sc_flops_opts arch_opts[2];
    mode_opts(mode, arch_opts);
    return run_table(ctx, mode, arch_opts, json, err);
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

  if (json) {
    cJSON *j = flops_json(&c, ctx, &o, &fw);
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
    return print_json(j, err);
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
