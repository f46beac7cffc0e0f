/* scalecl generate: text from a checkpoint (or a preset with initial weights) on the device, llama.cpp style:
 * the prompt is prefilled in one pass (model/infer.h), then one decoding step per token, each token streamed as
 * soon as it is chosen (model/sample.h); the prefill and decode rates go to stderr at the end. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/clock.h"
#include "cli/commands.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/infer.h"
#include "model/init.h"
#include "model/presets.h"
#include "model/sample.h"
#include "ops/attention.h"

/* The byte tokenizer's models say so, or have its (padded) vocabulary without naming another tokenizer. */
static int byte_tokenizer(const sc_model_config *cfg) {
  return cfg->vocab_size >= SC_TOK_VOCAB &&
         (!strcmp(cfg->tokenizer, "bytes") || (!cfg->tokenizer[0] && cfg->vocab_size <= 320));
}

/* The prompt's ids after the document start: bytes for the byte tokenizer, else whitespace-separated ids. */
static int prompt_ids(const sc_model_config *cfg, const char *text, size_t len, int32_t **ids, int *n, sc_err *err) {
  const int bytes = byte_tokenizer(cfg);
  const long start = bytes ? SC_TOK_EOS : cfg->bos_token_id >= 0 ? cfg->bos_token_id : 0;
  if (!(*ids = sc_malloc((len + 1) * sizeof **ids, "prompt ids", err))) return -1;
  (*ids)[0] = (int32_t)start, *n = 1;
  if (bytes) {
    sc_tok_encode(text, len, *ids + 1);
    *n += (int)len;
    return 0;
  }
  for (const char *p = text; *p;) {
    char *end;
    const long id = strtol(p, &end, 10);
    if (end == p || id < 0 || id >= cfg->vocab_size)
      return sc_fail(err,
                     "prompt: model %s has no text tokenizer here (%s), so the prompt must be token ids in [0, %ld) "
                     "separated by spaces; '%.20s' is not one",
                     cfg->name, cfg->tokenizer[0] ? cfg->tokenizer : "unstated", cfg->vocab_size, p);
    (*ids)[(*n)++] = (int32_t)id;
    for (p = end; isspace((unsigned char)*p); p++) {
    }
  }
  return 0;
}

/* A token as text: a byte as itself, a special by name, any other id as "<id>" (or " id" without a tokenizer). */
static void print_token(const sc_model_config *cfg, int32_t id) {
  if (!byte_tokenizer(cfg))
    printf(" %d", id);
  else if (id < 256)
    putchar(id);
  else if (sc_tok_special_name(id))
    fputs(sc_tok_special_name(id), stdout);
  else
    printf("<%d>", id);
  fflush(stdout);
}

/* The configuration and weights: a checkpoint, or a preset initialised with the training init at seed 1. */
static int load_model(const char *ckpt, const char *model, sc_checkpoint *ck, sc_err *err) {
  if (ckpt) return sc_checkpoint_read(ckpt, ck, err);
  if (sc_model_config_resolve(model, &ck->cfg, err) || sc_params_build(&ck->cfg, &ck->params, err) ||
      !(ck->arena = sc_params_alloc(&ck->params, err)))
    return -1;
  return sc_init_params(&ck->params, ck->arena, 1, 0, err);
}

int cmd_generate(int argc, char **argv, sc_err *err) {
  const char *ckpt = NULL, *model = NULL, *prompt = NULL, *prompt_file = NULL, *dev = NULL;
  long max_tokens = 128, top_k = 0, seed = 1;
  int kv = 0;
  double temperature = 0.8, top_p = 1.0;
  const sc_option opts[] = {
      {"checkpoint", SC_OPT_STRING, &ckpt, "DIR", .help = "checkpoint directory (config.json, model.safetensors)"},
      {"model", SC_OPT_STRING, &model, "PRESET",
       .help = "a preset, config.json or directory instead, with the training init's weights (seed 1): for timing"},
      {"prompt", SC_OPT_STRING, &prompt, "TEXT", .help = "the prompt (token ids for a model without byte tokenizer)"},
      {"prompt-file", SC_OPT_INFILE, &prompt_file, "FILE", .help = "read the prompt from FILE"},
      {"max-tokens", SC_OPT_LONG, &max_tokens, "N", .help = "tokens to generate", .lo = 1, .hi = 1 << 20},
      {"temperature", SC_OPT_DOUBLE, &temperature, "T", .help = "softmax temperature; 0: greedy", .lo = 0, .hi = 100},
      {"top-k", SC_OPT_LONG, &top_k, "K", .help = "sample among the K most likely tokens; 0: all", .lo = 0,
       .hi = 1 << 30},
      {"top-p", SC_OPT_DOUBLE, &top_p, "P", .help = "sample among the most likely tokens holding probability P",
       .lo = 0, .hi = 1, .flags = SC_OPT_LO_OPEN},
      {"seed", SC_OPT_LONG, &seed, "S", .help = "sampling seed (the same seed gives the same text)", .lo = 0,
       .hi = 9007199254740992.0},
      {"kv-cache", SC_OPT_ENUM, &kv, "f32|f16",
       .help = "Llama KV cache element: f32, or f16 (IEEE half: half the memory and bytes per step)",
       .choices = sc_attention_kv_names},
      {"device", SC_OPT_STRING, &dev, "SEL", .help = "OpenCL device (see 'scalecl devices')"},
  };
  const sc_args args = {
      "scalecl generate (--checkpoint DIR | --model PRESET) [--prompt TEXT | --prompt-file FILE] [--max-tokens N]\n"
      "       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--kv-cache f32|f16] [--device SEL]",
      "Prints the prompt, then streams the generated text to stdout: the prompt is prefilled in one pass (xLSTM:\n"
      "chunkwise into its recurrent state; Llama: flash attention into a KV cache), then each token takes one\n"
      "decoding step. Every prompt starts with the document start (end-of-text for the byte tokenizer, as in\n"
      "training shards); generation stops after N tokens or at end-of-text. Models without the byte tokenizer\n"
      "take and print token ids. The prefill and decode rates (tokens/s) go to stderr at the end.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (!ckpt == !model) {
    sc_fail(err, "give exactly one of --checkpoint and --model");
    return 2;
  }
  if (prompt && prompt_file) {
    sc_fail(err, "give at most one of --prompt and --prompt-file");
    return 2;
  }
  sc_checkpoint ck = {0};
  sc_ctx c = {0};
  sc_infer *inf = NULL;
  sc_sampler smp = {0};
  char *text = NULL;
  size_t len = prompt ? strlen(prompt) : 0;
  int32_t *ids = NULL;
  float *logits = NULL;
  int n = 0, opened = 0, rc = 1;
  if ((prompt_file && sc_read_file(prompt_file, &text, &len, err)) || load_model(ckpt, model, &ck, err) ||
      prompt_ids(&ck.cfg,
                 text     ? text
                 : prompt ? prompt
                          : "",
                 len, &ids, &n, err))
    goto done;
  const int V = (int)ck.cfg.vocab_size;
  const sc_sample_cfg sc = {.temperature = temperature, .top_k = (int)top_k, .top_p = top_p, .seed = (uint64_t)seed};
  if (sc_sampler_init(&smp, V, &sc, err) || !(logits = sc_malloc((size_t)V * sizeof *logits, "logits", err)) ||
      sc_ctx_open(&c, dev, err))
    goto done;
  opened = 1;
  if (sc_infer_create(&c, &ck.cfg, 1, n, n + (int)max_tokens, &(sc_lm_opts){.kv_half = kv}, &inf, err) ||
      sc_infer_upload_params(inf, ck.arena, err))
    goto done;
  for (int i = 1; i < n; i++) print_token(&ck.cfg, ids[i]);
  const long eos = byte_tokenizer(&ck.cfg) ? SC_TOK_EOS : ck.cfg.eos_token_id;
  const double t0 = sc_now();
  if (sc_infer_prefill(inf, n, ids, logits, err)) goto done;
  int32_t tok = sc_sampler_next(&smp, logits, 0, 0);
  const double t1 = sc_now();
  long made = 1;
  while (tok != eos && made < max_tokens) {
    print_token(&ck.cfg, tok);
    if (sc_infer_step(inf, &tok, logits, err)) goto done;
    tok = sc_sampler_next(&smp, logits, 0, (uint64_t)made++);
  }
  if (tok != eos) print_token(&ck.cfg, tok);
  const double t2 = sc_now();
  printf("\n");
  fflush(stdout); /* the text ends before the rates on a shared terminal */
  fprintf(stderr,
          "model %s (%s): prefill %d tokens in %.1f ms (%.1f tokens/s), decode %ld tokens in %.1f ms (%.1f "
          "tokens/s)\n",
          ck.cfg.name, sc_arch_name(ck.cfg.arch), n, 1e3 * (t1 - t0), n / (t1 - t0), made - 1, 1e3 * (t2 - t1),
          made > 1 ? (made - 1) / (t2 - t1) : 0.0);
  rc = 0;
done:
  sc_infer_destroy(inf);
  if (opened) sc_ctx_close(&c);
  sc_sampler_free(&smp);
  sc_checkpoint_free(&ck);
  free(text), free(ids), free(logits);
  return rc;
}
