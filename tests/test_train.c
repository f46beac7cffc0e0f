/* Training (train/): schedule values against their formulas, accumulation equivalence (two micro-batches of B/2
 * give the loss, gradient and norm of one of B), clipping and the micro-batch scale in the first moment, no weight
 * decay on the embedding, a skipped non-finite step that changes nothing, a tiny model
 * that learns a deterministic sequence, and through the command: a short run on the default corpus lowers the
 * validation loss; resume after SIGTERM and after SIGKILL (also in the middle of writing a checkpoint) gives
 * byte-identical parameters, optimizer state and metrics; a damaged newest checkpoint is skipped; resuming with a
 * changed option is refused; plot curves draws runs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "data/shards.h"
#include "harness.h"
#include "model/init.h"
#include "model/presets.h"
#include "train/trainer.h"

/* ---- schedules ---- */

static void test_schedules_follow_their_formulas(void **state) {
  (void)state;
  sc_schedule s = {SC_SCHED_COSINE, 1.0, 0.1, 10, 20, 100};
  TH_CHECK(sc_schedule_check(&s, TH_ERR));
  const double tol = 1e-12;
  assert_true(fabs(sc_schedule_lr(&s, 0) - 0.0) < tol); /* optax: the first warmup update has lr 0 */
  assert_true(fabs(sc_schedule_lr(&s, 5) - 0.5) < tol);
  assert_true(fabs(sc_schedule_lr(&s, 10) - 1.0) < tol);
  assert_true(fabs(sc_schedule_lr(&s, 45) - 0.55) < tol); /* halfway down the cosine: 0.1 + 0.9 / 2 */
  assert_true(fabs(sc_schedule_lr(&s, 80) - 0.1) < tol);  /* the floor, where the cooldown starts */
  assert_true(fabs(sc_schedule_lr(&s, 90) - 0.05) < tol);
  assert_true(fabs(sc_schedule_lr(&s, 99) - 0.005) < tol);
  s.kind = SC_SCHED_WSD;
  assert_true(fabs(sc_schedule_lr(&s, 3) - 0.3) < tol);
  assert_true(fabs(sc_schedule_lr(&s, 79) - 1.0) < tol);
  assert_true(fabs(sc_schedule_lr(&s, 90) - 0.5) < tol);
  s.kind = SC_SCHED_CONSTANT, s.cooldown = 0;
  assert_true(fabs(sc_schedule_lr(&s, 99) - 1.0) < tol);
  sc_err err = {0};
  s = (sc_schedule){SC_SCHED_COSINE, 1.0, 0.1, 60, 50, 100};
  assert_int_equal(sc_schedule_check(&s, &err), -1);
  assert_non_null(strstr(err.msg, "--warmup 60 plus --cooldown 50"));
}

/* ---- synthetic shards ---- */

/* A corpus where each token determines the next: a cycle through a fixed permutation of 61 byte values, with an
 * end-of-text token every 500 tokens (documents). A model that learns the bigrams predicts it exactly. */
static void write_cycle_corpus(const char *dir) {
  enum { N = 20000, P = 61 };
  int32_t *tok = th_calloc(N, sizeof *tok), perm[P];
  for (int i = 0; i < P; i++) perm[i] = 32 + (i * 37) % P;
  for (int i = 0; i < N; i++) tok[i] = i % 500 == 0 ? 256 : perm[i % P];
  char path[512];
  TH_CHECK(sc_shard_path(path, sizeof path, dir, "cyc", "train", 0));
  TH_CHECK(sc_shard_write(path, 7, 259, tok, N, TH_ERR));
  TH_CHECK(sc_shard_path(path, sizeof path, dir, "cyc", "val", 0));
  TH_CHECK(sc_shard_write(path, 7, 259, tok + 1000, 4000, TH_ERR));
  free(tok);
}

static sc_ctx ctx;
static char corpus[512];

static int setup(void **state) {
  (void)state;
  th_ctx_open(&ctx);
  th_tmpdir("train-corpus", corpus, sizeof corpus);
  write_cycle_corpus(corpus);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sc_ctx_close(&ctx);
  return 0;
}

typedef struct {
  sc_model_config cfg;
  sc_shard_set set;
  sc_trainer *t;
  sc_params p;
  sc_train_arenas a;
} fixture;

static void fixture_open(fixture *f, const char *preset, int batch, int micro, int ctx_len, double lr, long steps) {
  memset(f, 0, sizeof *f);
  TH_CHECK(sc_model_config_resolve(preset, &f->cfg, TH_ERR));
  TH_CHECK(sc_shard_set_open(&f->set, corpus, SC_SPLIT_TRAIN, TH_ERR));
  sc_trainer_cfg tc = sc_trainer_defaults();
  tc.batch = batch, tc.micro_batch = micro, tc.ctx = ctx_len, tc.seed = 7;
  tc.sched = (sc_schedule){SC_SCHED_CONSTANT, lr, 0.1, 0, 0, steps};
  TH_CHECK(sc_trainer_create(&ctx, &f->cfg, &tc, &f->set, &f->t, TH_ERR));
  TH_CHECK(sc_params_build(&f->cfg, &f->p, TH_ERR));
  sc_err err = {0};
  f->a.params = sc_params_alloc(&f->p, &err);
  f->a.m = sc_params_alloc(&f->p, &err);
  f->a.v = sc_params_alloc(&f->p, &err);
  assert_true(f->a.params && f->a.m && f->a.v);
  TH_CHECK(sc_init_params(&f->p, f->a.params, 3, 1, TH_ERR));
  TH_CHECK(sc_trainer_load(f->t, &f->a, NULL, TH_ERR));
}

static void fixture_close(fixture *f) {
  sc_trainer_destroy(f->t);
  sc_shard_set_close(&f->set);
  free(f->a.params), free(f->a.m), free(f->a.v);
  sc_params_free(&f->p);
}

/* ---- accumulation ---- */

static void accumulation_matches_one_batch(const char *preset) {
  fixture one, two;
  fixture_open(&one, preset, 4, 4, 40, 1e-3, 10);
  fixture_open(&two, preset, 4, 2, 40, 1e-3, 10);
  sc_step_info a, b;
  int64_t ua = 0, ub = 0;
  TH_CHECK(sc_trainer_step(one.t, 0, &ua, &a, TH_ERR));
  TH_CHECK(sc_trainer_step(two.t, 0, &ub, &b, TH_ERR));
  assert_int_equal(ua, 1);
  assert_int_equal(ub, 1);
  const size_t n = one.p.arena_floats;
  float *ga = th_falloc(n), *gb = th_falloc(n);
  double *ref = th_dalloc(n);
  TH_CHECK(sc_lm_download_grads(sc_trainer_lm(one.t), ga, TH_ERR));
  TH_CHECK(sc_lm_download_grads(sc_trainer_lm(two.t), gb, TH_ERR));
  /* The accumulated arena holds the sum of the two micro-batch means; the batch's mean gradient is half of it. */
  for (size_t i = 0; i < n; i++) ref[i] = ga[i], gb[i] *= 0.5f;
  char label[96];
  snprintf(label, sizeof label, "%s: 2 x 2 accumulated vs 4 gradients", preset);
  th_assert_close(label, gb, ref, n, (sc_tol){1e-6, 1e-3, 1e-9, 0});
  printf("  %s: loss %.9f vs %.9f, grad norm %.9f vs %.9f\n", preset, a.loss, b.loss, a.grad_norm, b.grad_norm);
  assert_true(fabs(a.loss - b.loss) <= 1e-6 * a.loss);
  assert_true(fabs(a.grad_norm - b.grad_norm) <= 1e-5 * a.grad_norm);
  free(ga), free(gb), free(ref);
  fixture_close(&one), fixture_close(&two);
}

static void test_accumulation_matches_one_batch(void **state) {
  (void)state;
  accumulation_matches_one_batch("xlstm-cpu-50k");
  accumulation_matches_one_batch("llama-cpu-50k");
}

/* ---- clipping, scaling and weight decay ---- */

/* One step of two micro-batches: the first moment is (1 − β1)·min(1, clip/‖g‖)·g with g the mean gradient (the
 * accumulated arena over 2), so clipping and the micro-batch scale show in it; embedding rows of ids the batch
 * never holds get no gradient and, with no weight decay on the embedding, keep their bits. */
static void test_step_clips_scales_and_spares_the_embedding(void **state) {
  (void)state;
  fixture f;
  fixture_open(&f, "llama-cpu-50k", 4, 2, 32, 1e-2, 10);
  sc_step_info info;
  int64_t updates = 0;
  TH_CHECK(sc_trainer_step(f.t, 0, &updates, &info, TH_ERR));
  TH_CHECK(sc_trainer_step(f.t, 1, &updates, &info, TH_ERR)); /* lr > 0 from here (warmup 0, constant) */
  const size_t n = f.p.arena_floats;
  float *g = th_falloc(n);
  sc_train_arenas a = {th_falloc(n), th_falloc(n), th_falloc(n)}, before = {th_falloc(n), th_falloc(n), th_falloc(n)};
  sc_loader_pos pos;
  TH_CHECK(sc_trainer_save(f.t, &before, &pos, TH_ERR));
  TH_CHECK(sc_trainer_step(f.t, 2, &updates, &info, TH_ERR));
  TH_CHECK(sc_trainer_save(f.t, &a, &pos, TH_ERR));
  TH_CHECK(sc_lm_download_grads(sc_trainer_lm(f.t), g, TH_ERR));
  assert_true(info.grad_norm > 0.5); /* so clipping is active */
  const double coef = 0.5 / info.grad_norm / 2;
  double *ref = th_dalloc(n);
  for (size_t i = 0; i < n; i++) ref[i] = 0.9 * before.m[i] + 0.1 * coef * g[i];
  th_assert_close("m after a clipped step of 2 micro-batches", a.m, ref, n, (sc_tol){1e-8, 1e-5, 1e-10, 0});
  const sc_param *emb = sc_params_find(&f.p, "model.embed_tokens.weight");
  assert_non_null(emb);
  const size_t d = (size_t)emb->shape[1];
  /* The cycle corpus holds ids 32..92 and 256: row 300 is never looked up. */
  assert_memory_equal(a.params + emb->offset + 300 * d, before.params + emb->offset + 300 * d, d * sizeof(float));
  assert_true(a.params[emb->offset + 40 * d] != before.params[emb->offset + 40 * d]); /* a row that was */
  free(g), free(ref), free(a.params), free(a.m), free(a.v), free(before.params), free(before.m), free(before.v);
  fixture_close(&f);
}

/* ---- non-finite steps ---- */

static void test_non_finite_step_changes_nothing(void **state) {
  (void)state;
  fixture f;
  fixture_open(&f, "llama-cpu-50k", 2, 2, 24, 1e-3, 10);
  const sc_param *head = sc_params_find(&f.p, "lm_head.weight");
  assert_non_null(head);
  f.a.params[head->offset + 5] = NAN; /* every logit row meets this weight through the softmax */
  TH_CHECK(sc_trainer_load(f.t, &f.a, NULL, TH_ERR));
  sc_step_info info;
  int64_t updates = 0;
  TH_CHECK(sc_trainer_step(f.t, 0, &updates, &info, TH_ERR));
  assert_true(info.skipped);
  assert_int_equal(updates, 0);
  const size_t n = f.p.arena_floats;
  sc_train_arenas after = {th_falloc(n), th_falloc(n), th_falloc(n)};
  sc_loader_pos pos;
  TH_CHECK(sc_trainer_save(f.t, &after, &pos, TH_ERR));
  assert_memory_equal(after.params, f.a.params, head->offset * sizeof(float)); /* before the NaN, bit for bit */
  for (size_t i = 0; i < n; i++) assert_true(after.m[i] == 0 && after.v[i] == 0);
  free(after.params), free(after.m), free(after.v);
  fixture_close(&f);
}

/* ---- learning ---- */

static void learns_the_cycle(const char *preset) {
  fixture f;
  fixture_open(&f, preset, 4, 4, 64, 1e-2, 200);
  sc_step_info info = {0};
  int64_t updates = 0;
  double first = 0;
  for (int s = 0; s < 60; s++) {
    TH_CHECK(sc_trainer_step(f.t, s, &updates, &info, TH_ERR));
    if (s == 0) first = info.loss;
  }
  printf("  %s: loss %.3f at step 1, %.4f at step 60\n", preset, first, info.loss);
  assert_true(first > 5.0);     /* about ln(320) at init */
  assert_true(info.loss < 0.3); /* the next byte is a function of the current one */
  fixture_close(&f);
}

static void test_tiny_models_learn_a_deterministic_sequence(void **state) {
  (void)state;
  learns_the_cycle("xlstm-cpu-50k");
  learns_the_cycle("llama-cpu-50k");
}

/* ---- the command ---- */

static char out[65536];
#define run(...) th_run_capturef(out, sizeof out, __VA_ARGS__)

/* Metrics without the wall-clock fields. */
static cJSON *metrics_without_timing(const char *run_dir) {
  char path[600], *text = NULL;
  size_t len;
  snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
  TH_CHECK(sc_read_file(path, &text, &len, TH_ERR));
  cJSON *all = cJSON_CreateArray();
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *o = cJSON_Parse(line);
    assert_non_null(o);
    cJSON_DeleteItemFromObject(o, "tokens_per_s");
    cJSON_DeleteItemFromObject(o, "mfu");
    cJSON_DeleteItemFromObject(o, "elapsed_s");
    cJSON_AddItemToArray(all, o);
  }
  free(text);
  return all;
}

static void assert_same_run(const char *a, const char *b, int step) {
  assert_int_equal(run("cmp %s/final/model.safetensors %s/final/model.safetensors 2>&1", a, b), 0);
  assert_int_equal(run("cmp %s/checkpoints/step-%08d/trainer.safetensors %s/checkpoints/step-%08d/trainer.safetensors "
                       "2>&1",
                       a, step, b, step),
                   0);
  cJSON *ma = metrics_without_timing(a), *mb = metrics_without_timing(b);
  printf("  metrics: %d and %d lines\n", cJSON_GetArraySize(ma), cJSON_GetArraySize(mb));
  assert_true(cJSON_Compare(ma, mb, 1));
  cJSON_Delete(ma), cJSON_Delete(mb);
}

#define OPTS                                                                                                      \
  "--data %s --batch 4 --micro-batch 2 --ctx 32 --steps 30 --eval-every 5 --eval-batches 2 --checkpoint-every 4 " \
  "--keep 2 --peak none --quiet"

/* Starts a run in the background, waits until its metrics file has `lines` lines, sends `sig`, and waits. */
static int interrupted_run(const char *model, const char *dir, int lines, const char *sig) {
  return run("%s train --model %s " OPTS
             " --out %s > %s.log 2>&1 & pid=$!; "
             "while [ \"$(cat %s/metrics.jsonl 2>/dev/null | wc -l)\" -lt %d ]; do "
             "  kill -0 $pid 2>/dev/null || break; sleep 0.02; done; "
             "kill -%s $pid; wait $pid",
             th_scalecl_bin(), model, corpus, dir, dir, dir, lines, sig);
}

/* A temporary directory for a test, and in it the uninterrupted reference run `ref` of model; `cut` names the run
 * the test interrupts. */
static void reference_run(const char *tag, const char *model, char base[static 512], char ref[static 600],
                          char cut[static 600]) {
  th_tmpdir(tag, base, 512);
  snprintf(ref, 600, "%s/ref", base), snprintf(cut, 600, "%s/cut", base);
  assert_int_equal(run("%s train --model %s " OPTS " --out %s 2>&1", th_scalecl_bin(), model, corpus, ref), 0);
}

/* Also draws both runs' curves. */
static void test_resume_after_sigterm_is_exact(void **state) {
  (void)state;
  char base[512], ref[600], cut[600];
  reference_run("train-term", "llama-cpu-50k", base, ref, cut);
  assert_int_equal(interrupted_run("llama-cpu-50k", cut, 9, "TERM"), 0);
  assert_int_equal(run("cat %s.log", cut), 0);
  assert_non_null(strstr(out, "continue with: scalecl train --resume"));
  assert_int_equal(run("%s train --resume %s --peak none --quiet 2>&1", th_scalecl_bin(), cut), 0);
  assert_same_run(ref, cut, 30);
  /* The curves of both runs as a chart. */
  assert_int_equal(run("%s plot curves %s %s --out %s/curves.svg 2>&1 && grep -c '<svg' %s/curves.svg",
                       th_scalecl_bin(), ref, cut, base, base),
                   0);
  assert_non_null(strstr(out, "wrote"));
}

static void test_resume_after_sigkill_is_exact(void **state) {
  (void)state;
  char base[512], ref[600], cut[600];
  reference_run("train-kill", "xlstm-cpu-50k", base, ref, cut);
  assert_int_equal(interrupted_run("xlstm-cpu-50k", cut, 14, "KILL"), 137);
  assert_int_equal(run("%s train --resume %s --peak none --quiet 2>&1", th_scalecl_bin(), cut), 0);
  printf("%s", out);
  assert_same_run(ref, cut, 30);
  /* A finished run resumed again changes nothing. */
  assert_int_equal(run("%s train --resume %s --peak none --quiet 2>&1", th_scalecl_bin(), cut), 0);
  assert_same_run(ref, cut, 30);
}

/* SIGKILL while a checkpoint is being written: the kill lands as soon as the checkpoint's temporary directory
 * appears, and the directory is still there afterwards (the write did not finish), so the resume has to clear it and
 * start from the checkpoint before. The 1m preset's checkpoints (15 MB with the moments, fsynced) take long enough
 * to write that the kill lands inside one; should a busy machine let a write finish first anyway, the next
 * checkpoint is tried, from a resumed run. */
static void test_resume_after_sigkill_mid_checkpoint_is_exact(void **state) {
  (void)state;
  char base[512], ref[600], cut[600];
  reference_run("train-kill-ckpt", "xlstm-cpu-1m", base, ref, cut);
  assert_int_equal(run("args='--model xlstm-cpu-1m " OPTS " --out %s'; "
                       "for step in 00000008 00000012 00000016 00000020 00000024 00000028; do "
                       "  %s train $args > %s.log 2>&1 & pid=$!; args='--resume %s --peak none --quiet'; "
                       "  while kill -0 $pid 2>/dev/null; do "
                       "    set -- %s/checkpoints/.tmp-step-$step-*; [ -e \"$1\" ] && { kill -KILL $pid; break; }; "
                       "  done; wait $pid; "
                       "  if [ -e \"$1\" ]; then echo \"killed writing step $step\"; ls -a %s/checkpoints; break; fi; "
                       "done",
                       corpus, cut, th_scalecl_bin(), cut, cut, cut, cut),
                   0);
  printf("  %s", out);
  assert_non_null(strstr(out, "killed writing step"));
  assert_non_null(strstr(out, ".tmp-step-"));
  assert_int_equal(run("%s train --resume %s --peak none --quiet 2>&1", th_scalecl_bin(), cut), 0);
  assert_same_run(ref, cut, 30);
  assert_int_equal(run("ls -a %s/checkpoints", cut), 0);
  assert_null(strstr(out, ".tmp-step-"));
}

static void test_damaged_newest_checkpoint_is_skipped(void **state) {
  (void)state;
  char base[512], ref[600], cut[600];
  reference_run("train-damaged", "xlstm-cpu-50k", base, ref, cut);
  assert_int_equal(interrupted_run("xlstm-cpu-50k", cut, 14, "KILL"), 137);
  /* Cut the newest checkpoint's weights short. */
  assert_int_equal(run("d=$(ls -d %s/checkpoints/step-* | sort | tail -1); "
                       "truncate -s 100 $d/model.safetensors; basename $d",
                       cut),
                   0);
  printf("  damaged %s", out);
  assert_int_equal(run("%s train --resume %s --peak none --quiet 2>&1", th_scalecl_bin(), cut), 0);
  printf("%s", out);
  assert_non_null(strstr(out, "skipping checkpoint step"));
  assert_same_run(ref, cut, 30);
}

static void test_resume_refuses_changed_options(void **state) {
  (void)state;
  char base[512], dir[600];
  th_tmpdir("train-opts", base, sizeof base);
  snprintf(dir, sizeof dir, "%s/run", base);
  assert_int_equal(interrupted_run("llama-cpu-50k", dir, 6, "TERM"), 0);
  assert_int_equal(run("%s train --resume %s --lr 0.01 --peak none --quiet 2>&1", th_scalecl_bin(), dir), 1);
  assert_non_null(strstr(out, "--lr differs from the run's value 0.003"));
  /* Starting again into the same directory is refused too. */
  assert_int_equal(run("%s train --model llama-cpu-50k " OPTS " --out %s 2>&1", th_scalecl_bin(), corpus, dir), 1);
  assert_non_null(strstr(out, "already holds a run"));
  /* A longer run is allowed. */
  assert_int_equal(run("%s train --resume %s --steps 32 --peak none --quiet 2>&1", th_scalecl_bin(), dir), 0);
  assert_non_null(strstr(out, "steps        32"));
}

static void test_short_run_on_default_corpus_lowers_val_loss(void **state) {
  (void)state;
  if (!sc_is_file("/usr/share/dictd/gcide.dict.dz"))
    TH_SKIP("the default corpus needs Debian's dict-gcide (platforms/install-debian.sh installs it)");
  char base[512];
  th_tmpdir("train-gcide", base, sizeof base);
  assert_int_equal(run("%s prepare --default --out %s/gcide --quiet 2>&1", th_scalecl_bin(), base), 0);
  /* Asking again for the (deterministic) default corpus is fine: scripts such as the README's do. */
  assert_int_equal(run("%s prepare --default --out %s/gcide 2>&1", th_scalecl_bin(), base), 0);
  assert_non_null(strstr(out, "already in"));
  assert_int_equal(run("%s train --model xlstm-cpu-150k --data %s/gcide --out %s/run --batch 8 --ctx 64 --steps 40 "
                       "--lr 1e-2 --eval-every 10 --eval-batches 4 --peak none --quiet 2>&1",
                       th_scalecl_bin(), base, base),
                   0);
  char path[600];
  snprintf(path, sizeof path, "%s/run", base);
  cJSON *m = metrics_without_timing(path);
  double first = NAN, last = NAN;
  for (const cJSON *x = m->child; x; x = x->next) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "val_loss");
    if (!cJSON_IsNumber(v)) continue;
    if (isnan(first)) first = v->valuedouble;
    last = v->valuedouble;
  }
  cJSON_Delete(m);
  printf("  val loss %.4f at step 10, %.4f at step 40 (ln 320 = %.4f at init)\n", first, last, log(320.0));
  assert_true(last < first - 0.2);
  assert_true(last < 3.5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schedules_follow_their_formulas),
      cmocka_unit_test(test_accumulation_matches_one_batch),
      cmocka_unit_test(test_step_clips_scales_and_spares_the_embedding),
      cmocka_unit_test(test_non_finite_step_changes_nothing),
      cmocka_unit_test(test_tiny_models_learn_a_deterministic_sequence),
      cmocka_unit_test(test_resume_after_sigterm_is_exact),
      cmocka_unit_test(test_resume_after_sigkill_is_exact),
      cmocka_unit_test(test_resume_after_sigkill_mid_checkpoint_is_exact),
      cmocka_unit_test(test_damaged_newest_checkpoint_is_skipped),
      cmocka_unit_test(test_resume_refuses_changed_options),
      cmocka_unit_test(test_short_run_on_default_corpus_lowers_val_loss),
  };
  return TH_RUN_GROUP(tests, setup, teardown);
}
