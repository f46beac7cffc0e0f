/* scalecl eval end to end: a tiny checkpoint from `scalecl init`, evaluated on a tokens file (I64 ids); the printed
 * loss equals the library's (model/lm.h), the --dump file holds the library's logits and loss, and --dump-grads
 * holds every parameter's gradient under its HF key with its shape. Then the usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/checkpoint.h"
#include "model/lm.h"
#include "model/safetensors.h"

enum { B = 2, T = 13 };

static const char *const CONFIG =
    "{\"model_type\": \"llama\", \"vocab_size\": 67, \"hidden_size\": 32, \"intermediate_size\": 64, "
    "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"rope_theta\": 10000}\n";

static int run(const char *args, char *out, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", th_scalecl_bin(), args);
  return th_run_capture(cmd, out, cap);
}

static void eval_matches_library_and_dumps(void **state) {
  (void)state;
  char dir[512], path[600], args[4096], text[8192];
  th_tmpdir("eval", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/tiny.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(CONFIG, f);
  fclose(f);
  snprintf(args, sizeof args, "init --model %s --seed 3 --out %s/ck", path, dir);
  if (run(args, text, sizeof text)) fail_msg("scalecl init failed:\n%s", text);
  int64_t ids[B * T];
  int32_t ids32[B * T];
  for (int i = 0; i < B * T; i++) ids[i] = ids32[i] = (i * 31 + 7) % 67;
  const sc_st_entry e = {"input_ids", SC_ST_I64, 2, {B, T}, ids};
  snprintf(path, sizeof path, "%s/tok.safetensors", dir);
  TH_CHECK(sc_st_write(path, &e, 1, NULL, 0, TH_ERR));
  snprintf(args, sizeof args,
           "eval --checkpoint %s/ck --tokens %s --dump %s/out.safetensors --dump-grads %s/grads.safetensors", dir, path,
           dir, dir);
  if (run(args, text, sizeof text)) fail_msg("scalecl eval failed:\n%s", text);
  const char *at = strstr(text, "loss ");
  assert_non_null(at);
  const double printed = strtod(at + 5, NULL);
  assert_non_null(strstr(text, "perplexity"));
  assert_non_null(strstr(text, "bits/byte"));

  sc_checkpoint ck;
  snprintf(path, sizeof path, "%s/ck", dir);
  TH_CHECK(sc_checkpoint_read(path, &ck, TH_ERR));
  sc_ctx ctx;
  th_ctx_open(&ctx);
  sc_lm *lm;
  float loss, *logits = th_falloc((size_t)B * T * 67);
  TH_CHECK(sc_lm_create(&ctx, &ck.cfg, B, T, NULL, &lm, TH_ERR));
  TH_CHECK(sc_lm_upload_params(lm, ck.arena, TH_ERR));
  TH_CHECK(sc_lm_forward(lm, ids32, NULL, &loss, logits, TH_ERR));
  assert_true(printed - loss < 1e-6 && loss - printed < 1e-6);

  sc_st_file out;
  snprintf(path, sizeof path, "%s/out.safetensors", dir);
  TH_CHECK(sc_st_open(&out, path, TH_ERR));
  int64_t shape[3] = {B, T, 67}, one = 1;
  float *dumped, *dloss;
  TH_CHECK(sc_st_get_f32(&out, "logits", 3, shape, &dumped, TH_ERR));
  TH_CHECK(sc_st_get_f32(&out, "loss", 1, &one, &dloss, TH_ERR));
  assert_memory_equal(dumped, logits, sizeof(float) * B * T * 67);
  assert_true(*dloss == loss);
  free(dumped), free(dloss);
  sc_st_close(&out);

  snprintf(path, sizeof path, "%s/grads.safetensors", dir);
  TH_CHECK(sc_st_open(&out, path, TH_ERR));
  assert_int_equal(out.n, ck.params.n);
  for (int j = 0; j < ck.params.n; j++) {
    const sc_param *t = &ck.params.t[j];
    int64_t sh[2] = {t->shape[0], t->shape[1]};
    float *g;
    TH_CHECK(sc_st_get_f32(&out, t->key, t->ndim, sh, &g, TH_ERR));
    free(g);
  }
  sc_st_close(&out);
  free(logits);
  sc_lm_destroy(lm);
  sc_ctx_close(&ctx);
  sc_checkpoint_free(&ck);
}

static void eval_usage_errors(void **state) {
  (void)state;
  char text[8192];
  assert_int_equal(run("eval --checkpoint /nonexistent", text, sizeof text), 2);
  assert_non_null(strstr(text, "exactly one of --tokens and --data"));
  assert_int_equal(run("eval --checkpoint /nonexistent --tokens /nonexistent.safetensors", text, sizeof text), 2);
  assert_int_equal(run("eval --help", text, sizeof text), 0);
  assert_non_null(strstr(text, "usage: scalecl eval"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(eval_matches_library_and_dumps),
      cmocka_unit_test(eval_usage_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
