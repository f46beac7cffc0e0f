/* scalecl init: a freshly initialised checkpoint (the training recipe's init, seeded) that Hugging Face
 * transformers loads as it is. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "model/params.h"
#include "model/presets.h"

static void print_families(const sc_params *p) {
  printf("  %-40s %7s %14s  %s\n", "tensor family", "tensors", "parameters", "init");
  for (int f = 0; f < p->n_fam; f++) {
    const sc_param_family *fam = &p->fam[f];
    const sc_param *t = NULL;
    for (int i = 0; i < p->n && !t; i++) t = p->t[i].family == f ? &p->t[i] : NULL;
    char init[64];
    if (t->init.kind == SC_INIT_NORMAL)
      snprintf(init, sizeof init, "%s N(0, %.4g^2)", t->init.name, t->init.a);
    else
      snprintf(init, sizeof init, "%s", t->init.name);
    printf("  %-40s %7d %14lld  %s%s\n", fam->name, fam->count, (long long)fam->numel * fam->count, init,
           t->decay ? "" : ", no weight decay");
  }
}

int cmd_init(int argc, char **argv, sc_err *err) {
  const char *model = NULL, *out = NULL;
  long seed = 0;
  const sc_option opts[] = {
      {"model", SC_OPT_STRING, &model, "PRESET|FILE|DIR",
       .help = "a preset name, a config.json path or a directory holding one", .flags = SC_OPT_REQUIRED},
      {"seed", SC_OPT_LONG, &seed, "S", .help = "init seed; the weights do not depend on the thread count", .lo = 0,
       .hi = 9007199254740991.0},
      {"out", SC_OPT_OUTDIR, &out, "DIR", .help = "checkpoint directory to write (config.json, model.safetensors)",
       .flags = SC_OPT_REQUIRED},
  };
  const sc_args args = {
      "scalecl init --model PRESET|FILE|DIR [--seed S] --out DIR",
      "Writes a freshly initialised checkpoint: the training recipe's init (xLSTM: small_init and wang_init\n"
      "weights, zero gate and output-gate weights, input-gate bias -10, forget-gate bias linspace(3, 6); Llama:\n"
      "small_init, wang_init over 2 x layers for the output projections; norms 1), drawn from a counter-based\n"
      "generator so the same seed gives the same bits anywhere. The directory loads in Hugging Face transformers\n"
      "(AutoModelForCausalLM.from_pretrained). An existing DIR is replaced only if it holds a checkpoint alone.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;

  sc_model_config c;
  if (sc_model_config_resolve(model, &c, err)) return 1;
  if (c.n_warnings) fputs(c.warnings, stderr);
  sc_params p;
  if (sc_params_build(&c, &p, err)) return 1;
  float *arena = sc_params_alloc(&p, err);
  int rc = !arena || sc_init_params(&p, arena, (uint64_t)seed, 0, err) || sc_checkpoint_write(out, &c, &p, arena, err);
  if (!rc) {
    printf("model       %s (%s, %s)\n", c.name, sc_arch_name(c.arch), c.origin);
    printf("parameters  %lld\n", (long long)p.n_params);
    print_families(&p);
    printf("seed        %ld\n", seed);
    printf("wrote       %s (%s, %s: %.1f MB)\n", out, SC_CKPT_CONFIG, SC_CKPT_WEIGHTS, (double)p.n_params * 4 / 1e6);
  }
  free(arena);
  sc_params_free(&p);
  return rc;
}
