/* scalecl eval: the mean next-token loss of a checkpoint on a tokens file or on token shards, on the device
 * (model/lm.h), with perplexity and bits per byte; optionally the logits and every parameter's gradient as
 * safetensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/commands.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/lm.h"
#include "model/safetensors.h"

/* The batches to evaluate: one from a tokens file, or `left` from a loader over shards. */
typedef struct {
  int B, T; /* the model's rows and tokens per row */
  int32_t *tok;
  uint8_t *doc; /* NULL: one document per row */
  sc_shard_set set;
  sc_loader loader;
  int from_shards;
  long left;
} batches;

static int batches_from_tokens(batches *b, const char *path, sc_err *err) {
  sc_st_file f;
  if (sc_st_open(&f, path, err)) return -1;
  int64_t shape[2] = {-1, -1};
  const int rc = sc_st_get_i32(&f, "input_ids", 2, shape, &b->tok, err);
  sc_st_close(&f);
  if (rc) return -1;
  if (shape[0] < 1 || shape[1] < 1 || shape[0] * shape[1] > (int64_t)1 << 30)
    return sc_fail(err, "%s: input_ids has shape (%lld, %lld); expected (B, T) with B, T >= 1", path,
                   (long long)shape[0], (long long)shape[1]);
  b->B = (int)shape[0], b->T = (int)shape[1], b->left = 1;
  return 0;
}

/* Windows of seq + 1 tokens: the model sees them whole, so each row gives seq next-token predictions. */
static int batches_from_shards(batches *b, const char *data, long B, long seq, long n, int docs, int vocab,
                               sc_err *err) {
  if (sc_shard_set_open(&b->set, data, SC_SPLIT_VAL, err)) return -1;
  b->from_shards = 1;
  const sc_loader_cfg lc = {.B = (int)B, .T = (int)seq, .seed = 1, .shuffle = 0, .eot = SC_TOK_EOS, .vocab = vocab};
  if (sc_loader_open(&b->loader, &b->set, &lc, err)) return -1;
  b->from_shards = 2;
  b->B = (int)B, b->T = (int)seq + 1, b->left = n;
  const size_t w = (size_t)B * (size_t)b->T;
  b->tok = sc_malloc(w * sizeof *b->tok, "batch tokens", err);
  b->doc = docs ? sc_malloc(w, "batch document starts", err) : NULL;
  return !b->tok || (docs && !b->doc) ? -1 : 0;
}

static int batches_next(batches *b, sc_err *err) {
  b->left--;
  return b->from_shards ? sc_loader_next(&b->loader, b->tok, b->doc, err) : 0;
}

static void batches_free(batches *b) {
  if (b->from_shards > 1) sc_loader_close(&b->loader);
  if (b->from_shards) sc_shard_set_close(&b->set);
  free(b->tok), free(b->doc);
}

static int write_logits(const char *path, const float *logits, int B, int T, int V, float loss, sc_err *err) {
  const sc_st_entry e[] = {{"logits", SC_ST_F32, 3, {B, T, V}, logits}, {"loss", SC_ST_F32, 1, {1}, &loss}};
  return sc_st_write(path, e, 2, NULL, 0, err);
}

/* Every parameter's gradient under its HF key, in the arena's layout (Llama q/k rows adjacent-pair). */
static int write_grads(const char *path, const sc_params *p, const float *g, sc_err *err) {
  sc_st_entry *e = sc_calloc((size_t)p->n, sizeof *e, "gradient entries", err);
  if (!e) return -1;
  for (int j = 0; j < p->n; j++) {
    const sc_param *t = &p->t[j];
    e[j] = (sc_st_entry){t->key, SC_ST_F32, t->ndim, {t->shape[0], t->shape[1]}, g + t->offset};
  }
  const char *const meta[] = {"format", "pt", "scalecl", "gradients of the mean loss; rows as in the arena"};
  const int rc = sc_st_write(path, e, p->n, meta, 2, err);
  free(e);
  return rc;
}

int cmd_eval(int argc, char **argv, sc_err *err) {
  const char *ckpt = NULL, *tokens = NULL, *data = NULL, *dump = NULL, *dump_grads = NULL, *dev = NULL;
  long B = 8, seq = 512, n = 1;
  int no_reset = 0;
  const sc_option opts[] = {
      {"checkpoint", SC_OPT_STRING, &ckpt, "DIR", .help = "checkpoint directory (config.json, model.safetensors)",
       .flags = SC_OPT_REQUIRED},
      {"tokens", SC_OPT_INFILE, &tokens, "IN.safetensors", .help = "input_ids (B, T), I32 or I64: one batch"},
      {"data", SC_OPT_STRING, &data, "SHARDS", .help = "token shards (a directory or glob; validation split)"},
      {"batch", SC_OPT_LONG, &B, "B", .help = "rows per batch with --data", .lo = 1, .hi = 1 << 16},
      {"seq", SC_OPT_LONG, &seq, "T", .help = "predictions per row with --data", .lo = 1, .hi = 1 << 20},
      {"batches", SC_OPT_LONG, &n, "N", .help = "batches with --data", .lo = 1, .hi = 1e9},
      {"dump", SC_OPT_OUTFILE, &dump, "OUT.safetensors", .help = "write logits (B, T, V) F32 and loss (last batch)"},
      {"dump-grads", SC_OPT_OUTFILE, &dump_grads, "GRADS.safetensors",
       .help = "write the gradient of the mean loss for every parameter under its HF key, F32"},
      {"no-doc-reset", SC_OPT_FLAG, &no_reset, NULL, .help = "with --data: one document per row"},
      {"device", SC_OPT_STRING, &dev, "SEL", .help = "OpenCL device (see 'scalecl devices')"},
  };
  const sc_args args = {
      "scalecl eval --checkpoint DIR (--tokens IN.safetensors | --data SHARDS [--batch B] [--seq T] [--batches N])\n"
      "       [--dump OUT.safetensors] [--dump-grads GRADS.safetensors] [--no-doc-reset] [--device SEL]",
      "Runs the model on the device and prints the mean next-token loss (over every position but each row's\n"
      "last), the perplexity, and for the byte tokenizer the bits per byte (loss / ln 2). With --data, rows are\n"
      "windows of T + 1 tokens and documents start at each end-of-text token (xLSTM resets its memory there,\n"
      "Llama masks attention and restarts positions) unless --no-doc-reset.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (!tokens == !data) {
    sc_fail(err, "give exactly one of --tokens and --data");
    return 2;
  }

  sc_checkpoint ck = {0};
  batches b = {0};
  sc_ctx c = {0};
  sc_lm *lm = NULL;
  float *logits = NULL, *grads = NULL;
  int opened = 0, rc = 1;
  if (sc_checkpoint_read(ckpt, &ck, err)) goto done;
  const int V = (int)ck.cfg.vocab_size;
  if (tokens ? batches_from_tokens(&b, tokens, err) : batches_from_shards(&b, data, B, seq, n, !no_reset, V, err))
    goto done;
  if (sc_ctx_open(&c, dev, err)) goto done;
  opened = 1;
  if (sc_lm_create(&c, &ck.cfg, b.B, b.T, NULL, &lm, err) || sc_lm_upload_params(lm, ck.arena, err)) goto done;
  const size_t nl = (size_t)b.B * b.T * V;
  if (dump && !(logits = sc_malloc(nl * sizeof *logits, "logits (B, T, V)", err))) goto done;
  double sum = 0;
  float loss = 0;
  const long total = b.left;
  while (b.left > 0) {
    if (batches_next(&b, err) || sc_lm_forward(lm, b.tok, b.doc, &loss, b.left == 0 ? logits : NULL, err) ||
        (dump_grads && sc_lm_backward(lm, err)))
      goto done;
    sum += loss;
  }
  const double mean = sum / (double)total;
  printf("model       %s (%s, %lld parameters)\n", ck.cfg.name, sc_arch_name(ck.cfg.arch),
         (long long)ck.params.n_params);
  printf("tokens      %ld batch%s of %d x %d (%s)\n", total, total == 1 ? "" : "es", b.B, b.T,
         b.doc ? "documents from end-of-text tokens" : "one document per row");
  printf("loss        %.6f nats per token\n", mean);
  printf("perplexity  %.4f\n", exp(mean));
  if (V <= 320) printf("bits/byte   %.6f\n", mean / log(2.0));
  if (dump && write_logits(dump, logits, b.B, b.T, V, loss, err)) goto done;
  if (dump_grads) {
    const size_t na = sc_lm_params(lm)->arena_floats;
    if (!(grads = sc_malloc(na * sizeof *grads, "gradients", err)) || sc_lm_download_grads(lm, grads, err)) goto done;
    for (size_t i = 0; i < na; i++) grads[i] /= (float)total; /* the gradient of the mean over batches */
    if (write_grads(dump_grads, sc_lm_params(lm), grads, err)) goto done;
  }
  rc = 0;
done:
  free(logits), free(grads);
  sc_lm_destroy(lm);
  if (opened) sc_ctx_close(&c);
  batches_free(&b);
  sc_checkpoint_free(&ck);
  return rc;
}
