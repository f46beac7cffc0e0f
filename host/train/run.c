#include "train/run.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/clock.h"
#include "base/paths.h"
#include "base/progress.h"
#include "base/settings.h"
#include "base/version.h"
#include "model/checkpoint.h"
#include "model/flops.h"
#include "model/init.h"
#include "model/presets.h"
#include "ops/gemm.h"
#include "train/metrics.h"
#include "train/trainer.h"

#define RUN_JSON "run.json"
#define SUMMARY_JSON "summary.json"
#define TRAIN_LOSS_STEPS 20 /* the final train loss: the mean over the last steps */

sc_run_opts sc_run_defaults(void) {
  return (sc_run_opts){.batch = 16,
                       .micro_batch = 0,
                       .ctx = 256,
                       .lr = 3e-3,
                       .warmup = -1,
                       .schedule = SC_SCHED_COSINE,
                       .eval_every = 100,
                       .eval_batches = 8,
                       .checkpoint_minutes = 10,
                       .keep = 3,
                       .seed = 1,
                       .max_skips = 10};
}

/* ---- options as JSON (run.json) ---- */

static const char *const LENGTH_KEYS[] = {"steps", "tokens", "budget"};

static cJSON *opts_json(const sc_run_opts *o) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "model", o->model ? o->model : "");
  cJSON_AddStringToObject(j, "data", o->data ? o->data : "");
  cJSON_AddStringToObject(j, "out", o->out ? o->out : "");
  cJSON_AddStringToObject(j, "device", o->device ? o->device : "");
  cJSON_AddNumberToObject(j, "batch", (double)o->batch);
  cJSON_AddNumberToObject(j, "micro-batch", (double)o->micro_batch);
  cJSON_AddNumberToObject(j, "ctx", (double)o->ctx);
  cJSON_AddNumberToObject(j, "lr", o->lr);
  cJSON_AddNumberToObject(j, "warmup", (double)o->warmup);
  cJSON_AddNumberToObject(j, "cooldown", (double)o->cooldown);
  cJSON_AddStringToObject(j, "schedule", sc_sched_names[o->schedule]);
  cJSON_AddNumberToObject(j, "steps", (double)o->steps);
  cJSON_AddNumberToObject(j, "tokens", o->tokens);
  cJSON_AddNumberToObject(j, "budget", o->budget);
  cJSON_AddNumberToObject(j, "eval-every", (double)o->eval_every);
  cJSON_AddNumberToObject(j, "eval-batches", (double)o->eval_batches);
  cJSON_AddNumberToObject(j, "checkpoint-every", (double)o->checkpoint_every);
  cJSON_AddNumberToObject(j, "checkpoint-minutes", o->checkpoint_minutes);
  cJSON_AddNumberToObject(j, "keep", (double)o->keep);
  cJSON_AddNumberToObject(j, "seed", (double)o->seed);
  cJSON_AddBoolToObject(j, "no-doc-reset", o->no_doc_reset);
  cJSON_AddNumberToObject(j, "max-skips", (double)o->max_skips);
  return j;
}

/* Reads back what opts_json wrote; strings point into j, which must outlive o. */
static int opts_parse(const cJSON *j, const char *path, sc_run_opts *o, sc_err *err) {
  static const char *const strs[] = {"model", "data", "out", "device", "schedule"};
  static const char *const nums[] = {
      "batch",  "micro-batch", "ctx",        "lr",           "warmup",           "cooldown",           "steps",
      "tokens", "budget",      "eval-every", "eval-batches", "checkpoint-every", "checkpoint-minutes", "keep",
      "seed",   "max-skips"};
  const char *s[5];
  double n[16];
  for (int i = 0; i < 5; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, strs[i]);
    if (!cJSON_IsString(v)) return sc_fail(err, "%s: options.\"%s\" is missing or not a string", path, strs[i]);
    s[i] = v->valuestring;
  }
  for (int i = 0; i < 16; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, nums[i]);
    if (!cJSON_IsNumber(v)) return sc_fail(err, "%s: options.\"%s\" is missing or not a number", path, nums[i]);
    n[i] = v->valuedouble;
  }
  const cJSON *nd = cJSON_GetObjectItemCaseSensitive(j, "no-doc-reset");
  if (!cJSON_IsBool(nd)) return sc_fail(err, "%s: options.\"no-doc-reset\" is missing or not true/false", path);
  int sched = -1;
  for (int k = 0; k < SC_SCHED_COUNT; k++)
    if (!strcmp(s[4], sc_sched_names[k])) sched = k;
  if (sched < 0) return sc_fail(err, "%s: options.\"schedule\" \"%s\" is not a schedule", path, s[4]);
  *o = (sc_run_opts){.model = s[0],
                     .data = s[1],
                     .out = s[2],
                     .device = *s[3] ? s[3] : NULL,
                     .batch = (long)n[0],
                     .micro_batch = (long)n[1],
                     .ctx = (long)n[2],
                     .lr = n[3],
                     .warmup = (long)n[4],
                     .cooldown = (long)n[5],
                     .schedule = sched,
                     .steps = (long)n[6],
                     .tokens = n[7],
                     .budget = n[8],
                     .eval_every = (long)n[9],
                     .eval_batches = (long)n[10],
                     .checkpoint_every = (long)n[11],
                     .checkpoint_minutes = n[12],
                     .keep = (long)n[13],
                     .seed = (long)n[14],
                     .no_doc_reset = cJSON_IsTrue(nd),
                     .max_skips = (long)n[15]};
  return 0;
}

/* ---- the plan: length, FLOPs, schedule ---- */

typedef struct {
  sc_model_config cfg;
  int64_t n_params;
  double flops_per_token; /* training: 3 x forward (the paper's accounting) */
  int64_t steps;
  double tokens, flops;
  long warmup;
  int micro_batch;
} plan;

static int make_plan(const sc_run_opts *o, const sc_model_config *cfg, plan *pl, sc_err *err) {
  memset(pl, 0, sizeof *pl);
  pl->cfg = *cfg;
  const int given = (o->steps > 0) + (o->tokens > 0) + (o->budget > 0);
  if (given != 1) return sc_fail(err, "give exactly one of --steps, --tokens and --budget (the run's length)");
  sc_flops fw;
  const sc_flops_opts fo = sc_flops_paper_opts();
  if (sc_flops_forward(cfg, o->ctx, &fo, &fw, err)) return -1;
  pl->n_params = sc_model_params(cfg);
  pl->flops_per_token = sc_flops_train_per_token(&fw, o->ctx);
  const double step_tokens = (double)o->batch * (double)o->ctx;
  if (o->budget > 0) {
    sc_budget_plan bp;
    if (sc_flops_plan_budget(&fw, o->ctx, o->batch, o->budget, &bp, err)) return -1;
    pl->steps = bp.steps;
  } else {
    pl->steps = o->steps > 0 ? o->steps : (int64_t)ceil(o->tokens / step_tokens);
  }
  if (pl->steps < 1 || pl->steps > (int64_t)1e12)
    return sc_fail(err, "the run would have %lld steps; choose a length of 1 to 1e12 steps", (long long)pl->steps);
  pl->tokens = (double)pl->steps * step_tokens;
  pl->flops = pl->tokens * pl->flops_per_token;
  pl->warmup = o->warmup >= 0 ? o->warmup : (long)(pl->steps / 10);
  pl->micro_batch = o->micro_batch > 0 ? (int)o->micro_batch : (int)o->batch;
  return 0;
}

static sc_trainer_cfg trainer_cfg(const sc_run_opts *o, const plan *pl) {
  sc_trainer_cfg tc = sc_trainer_defaults();
  tc.batch = (int)o->batch, tc.micro_batch = pl->micro_batch, tc.ctx = (int)o->ctx;
  tc.sched = (sc_schedule){.kind = (sc_sched_kind)o->schedule,
                           .lr = o->lr,
                           .end = 0.1,
                           .warmup = pl->warmup,
                           .cooldown = o->cooldown,
                           .total = (long)pl->steps};
  tc.doc_reset = !o->no_doc_reset;
  tc.seed = (uint64_t)o->seed;
  return tc;
}

/* The hash of what a checkpoint must share with its run: every option but the length, device and output
 * directory, and the model config. */
static uint64_t run_hash(const sc_run_opts *o, const char *config_json) {
  cJSON *j = opts_json(o);
  for (size_t i = 0; i < sizeof LENGTH_KEYS / sizeof *LENGTH_KEYS; i++) cJSON_DeleteItemFromObject(j, LENGTH_KEYS[i]);
  cJSON_DeleteItemFromObject(j, "device");
  cJSON_DeleteItemFromObject(j, "out");
  cJSON_DeleteItemFromObject(j, "model"); /* the config below says what the model is */
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  XXH3_state_t *st = XXH3_createState();
  XXH3_64bits_reset(st);
  if (s) XXH3_64bits_update(st, s, strlen(s));
  XXH3_64bits_update(st, config_json, strlen(config_json));
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  free(s);
  return h;
}

static int write_run_json(const char *dir, const sc_run_opts *o, const plan *pl, const char *config_json,
                          const sc_ctx *c, const sc_shard_set *train, sc_err *err) {
  cJSON *root = cJSON_CreateObject(), *res = cJSON_CreateObject(), *dev = cJSON_CreateObject();
  cJSON *data = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "options", opts_json(o));
  cJSON_AddStringToObject(res, "model_name", pl->cfg.name);
  cJSON_AddNumberToObject(res, "params", (double)pl->n_params);
  cJSON_AddNumberToObject(res, "flops_per_token", pl->flops_per_token);
  cJSON_AddNumberToObject(res, "steps", (double)pl->steps);
  cJSON_AddNumberToObject(res, "tokens", pl->tokens);
  cJSON_AddNumberToObject(res, "flops", pl->flops);
  cJSON_AddNumberToObject(res, "warmup", (double)pl->warmup);
  cJSON_AddNumberToObject(res, "micro_batch", pl->micro_batch);
  cJSON_AddNumberToObject(res, "accumulation", (double)(o->batch / pl->micro_batch));
  cJSON_AddItemToObject(root, "resolved", res);
  cJSON_AddItemToObject(root, "config", cJSON_Parse(config_json));
  cJSON_AddStringToObject(dev, "name", c->dev.name);
  cJSON_AddStringToObject(dev, "platform", c->dev.platform_name);
  cJSON_AddStringToObject(dev, "driver_version", c->dev.driver_version);
  cJSON_AddItemToObject(root, "device", dev);
  char fp[24];
  snprintf(fp, sizeof fp, "%016" PRIx64, train->fingerprint);
  cJSON_AddStringToObject(data, "spec", o->data);
  cJSON_AddStringToObject(data, "train_fingerprint", fp);
  cJSON_AddNumberToObject(data, "train_shards", train->n);
  cJSON_AddItemToObject(root, "data", data);
  cJSON_AddItemToObject(root, "scalecl", sc_version_json());
  cJSON_AddItemToObject(root, "settings", sc_settings_json());
  char *s = cJSON_Print(root), path[4200];
  cJSON_Delete(root);
  if (!s) return sc_fail(err, "out of memory writing %s", RUN_JSON);
  snprintf(path, sizeof path, "%s/%s", dir, RUN_JSON);
  const int rc = sc_write_file_atomic(path, s, strlen(s), err);
  free(s);
  return rc;
}

/* ---- the loop ---- */

typedef struct {
  const sc_run_opts *o;
  const sc_run_env *env;
  plan pl;
  char *config_json;
  uint64_t hash;
  char ckdir[4200];
  sc_ctx c;
  int ctx_open;
  sc_shard_set train, val;
  int train_open, val_open;
  sc_trainer *t;
  sc_params p;
  sc_train_arenas a;
  sc_metrics m;
  sc_train_state st;
} run;

static void run_free(run *r) {
  sc_metrics_close(&r->m);
  sc_trainer_destroy(r->t);
  if (r->ctx_open) sc_ctx_close(&r->c);
  if (r->train_open) sc_shard_set_close(&r->train);
  if (r->val_open) sc_shard_set_close(&r->val);
  free(r->a.params), free(r->a.m), free(r->a.v);
  sc_params_free(&r->p);
  free(r->config_json);
}

/* Opens the data, the device and the trainer for r->pl. */
static int run_open(run *r, const char *device, sc_err *err) {
  const sc_run_opts *o = r->o;
  if (sc_shard_set_open(&r->train, o->data, SC_SPLIT_TRAIN, err)) return sc_wrap(err, "--data (train split): ");
  r->train_open = 1;
  if (o->eval_batches > 0) {
    if (sc_shard_set_open(&r->val, o->data, SC_SPLIT_VAL, err))
      return sc_wrap(err, "--data (validation split; --eval-batches 0 trains without one): ");
    r->val_open = 1;
  }
  if (sc_params_build(&r->pl.cfg, &r->p, err) || !(r->a.params = sc_params_alloc(&r->p, err)) ||
      !(r->a.m = sc_params_alloc(&r->p, err)) || !(r->a.v = sc_params_alloc(&r->p, err)))
    return -1;
  if (!(r->config_json = sc_model_config_to_json(&r->pl.cfg, err))) return -1;
  r->hash = run_hash(o, r->config_json);
  if (sc_ctx_open(&r->c, device, err)) return -1;
  r->ctx_open = 1;
  const sc_trainer_cfg tc = trainer_cfg(o, &r->pl);
  if (sc_trainer_create(&r->c, &r->pl.cfg, &tc, &r->train, &r->t, err)) return -1;
  if (r->val_open && sc_trainer_eval_check(r->t, &r->val, (int)o->eval_batches, err))
    return sc_wrap(err, "--data (validation split): ");
  snprintf(r->ckdir, sizeof r->ckdir, "%s/checkpoints", o->out);
  const sc_lm_plan *mp = sc_lm_memory(sc_trainer_lm(r->t));
  if (r->env->verbose)
    fprintf(stderr,
            "memory: parameters %.1f MiB, gradients %.1f MiB, AdamW moments %.1f MiB, activations %.1f MiB, "
            "scratch %.1f MiB, ops about %.1f MiB; device %s has %.0f MiB\n",
            mp->params / 1048576.0, mp->grads / 1048576.0, 2.0 * mp->params / 1048576.0, mp->acts / 1048576.0,
            mp->scratch / 1048576.0, mp->ops / 1048576.0, r->c.dev.name, r->c.dev.global_mem / 1048576.0);
  return 0;
}

static void print_plan(const run *r) {
  const sc_run_opts *o = r->o;
  fprintf(stderr,
          "train: %s (%s), %lld parameters, %.4g FLOPs/token; %lld steps x %ld sequences x %ld tokens = %.4g "
          "tokens, %.4g FLOPs%s; device %s\n",
          r->pl.cfg.name, sc_arch_name(r->pl.cfg.arch), (long long)r->pl.n_params, r->pl.flops_per_token,
          (long long)r->pl.steps, o->batch, o->ctx, r->pl.tokens, r->pl.flops, o->budget > 0 ? " (--budget)" : "",
          r->c.dev.name);
  char note[320];
  if (sc_gemm_blas_core_note(&r->c.dev, note, sizeof note)) fprintf(stderr, "train: note: %s\n", note);
}

static int checkpoint(run *r, sc_err *err) {
  if (sc_trainer_save(r->t, &r->a, &r->st.loader, err) || sc_metrics_sync(&r->m, err)) return -1;
  r->st.metrics_bytes = r->m.bytes;
  r->st.run_hash = r->hash;
  if (sc_train_ckpt_write(r->ckdir, &r->pl.cfg, &r->p, &r->a, &r->st, err) ||
      sc_train_ckpt_prune(r->ckdir, (int)r->o->keep, err))
    return -1;
  return 0;
}

static int evaluate(run *r, double elapsed, sc_err *err) {
  double vl;
  if (sc_trainer_eval(r->t, &r->val, (int)r->o->eval_batches, &vl, err)) return -1;
  r->st.last_val_loss = vl;
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "step", (double)r->st.step);
  cJSON_AddNumberToObject(j, "tokens", (double)r->st.tokens);
  cJSON_AddNumberToObject(j, "flops", (double)r->st.tokens * r->pl.flops_per_token);
  if (isfinite(vl))
    cJSON_AddNumberToObject(j, "val_loss", vl);
  else
    cJSON_AddNullToObject(j, "val_loss");
  cJSON_AddNumberToObject(j, "elapsed_s", elapsed);
  const int rc = sc_metrics_put(&r->m, j, err);
  cJSON_Delete(j);
  return rc;
}

static void put_num(cJSON *j, const char *name, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(j, name, v);
  else
    cJSON_AddNullToObject(j, name);
}

static int write_summary(run *r, const sc_run_result *res, sc_err *err) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "model", r->pl.cfg.name);
  cJSON_AddStringToObject(j, "arch", sc_arch_name(r->pl.cfg.arch));
  cJSON_AddNumberToObject(j, "params", (double)r->pl.n_params);
  cJSON_AddNumberToObject(j, "steps", (double)res->steps);
  cJSON_AddNumberToObject(j, "tokens", (double)res->tokens);
  cJSON_AddNumberToObject(j, "flops", res->flops);
  put_num(j, "train_loss", res->train_loss);
  put_num(j, "val_loss", res->val_loss);
  cJSON_AddNumberToObject(j, "skipped_steps", (double)res->skipped);
  cJSON_AddNumberToObject(j, "wall_s", res->wall_s);
  put_num(j, "tokens_per_s", res->tokens_per_s);
  put_num(j, "mfu", res->mfu);
  cJSON_AddStringToObject(j, "device", r->c.dev.name);
  cJSON_AddItemToObject(j, "scalecl", sc_version_json());
  char *s = cJSON_Print(j), path[4200];
  cJSON_Delete(j);
  if (!s) return sc_fail(err, "out of memory writing %s", SUMMARY_JSON);
  snprintf(path, sizeof path, "%s/%s", r->o->out, SUMMARY_JSON);
  const int rc = sc_write_file_atomic(path, s, strlen(s), err);
  free(s);
  return rc;
}

static int loop(run *r, volatile sig_atomic_t *stop, sc_run_result *res, sc_err *err) {
  const sc_run_opts *o = r->o;
  const double step_tokens = (double)o->batch * (double)o->ctx;
  const double peak = r->env->peak_gflops * 1e9;
  sc_progress prog;
  char note[160];
  if (r->env->progress) sc_progress_begin(&prog, "training", (long)r->pl.steps);
  if (r->env->progress) sc_progress_add(&prog, (long)r->st.step);
  double session_t0 = sc_now(), last_ckpt = session_t0, elapsed0 = r->st.elapsed_s;
  double tok_s = NAN;
  int64_t done = 0, ckpt_step = r->st.step;
  int rc = 0;
  while (!rc && r->st.step < r->pl.steps && !*stop) {
    sc_step_info info;
    const int64_t step = r->st.step;
    if (sc_trainer_step(r->t, step, &r->st.updates, &info, err)) {
      rc = -1;
      break;
    }
    r->st.step++, r->st.tokens += (int64_t)step_tokens, done++;
    const double step_s = info.data_s + info.compute_s;
    tok_s = step_tokens / step_s;
    const double elapsed = elapsed0 + (sc_now() - session_t0);
    if (info.skipped)
      r->st.skipped++, r->st.skipped_in_row++;
    else
      r->st.skipped_in_row = 0;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)r->st.step);
    cJSON_AddNumberToObject(j, "tokens", (double)r->st.tokens);
    put_num(j, "loss", info.loss);
    cJSON_AddNumberToObject(j, "lr", info.lr);
    put_num(j, "grad_norm", info.grad_norm);
    cJSON_AddNumberToObject(j, "tokens_per_s", tok_s);
    put_num(j, "mfu", peak > 0 ? r->pl.flops_per_token * tok_s / peak : NAN);
    cJSON_AddNumberToObject(j, "elapsed_s", elapsed);
    cJSON_AddNumberToObject(j, "skipped", (double)r->st.skipped);
    rc = sc_metrics_put(&r->m, j, err);
    cJSON_Delete(j);
    r->st.elapsed_s = elapsed;
    if (rc) break;
    if (r->st.skipped_in_row >= o->max_skips) {
      rc = sc_fail(err,
                   "%lld steps in a row had a non-finite loss or gradient norm (the last at step %lld); stopping with "
                   "the last checkpoint kept. Lower --lr or check the data",
                   (long long)r->st.skipped_in_row, (long long)r->st.step);
      break;
    }
    const int last = r->st.step == r->pl.steps;
    if (r->val_open && (last || (o->eval_every > 0 && r->st.step % o->eval_every == 0))) rc = evaluate(r, elapsed, err);
    if (!rc && (last || *stop || (o->checkpoint_every > 0 && r->st.step % o->checkpoint_every == 0) ||
                (o->checkpoint_minutes > 0 && sc_now() - last_ckpt >= 60 * o->checkpoint_minutes))) {
      rc = checkpoint(r, err);
      last_ckpt = sc_now(), ckpt_step = r->st.step;
    }
    if (!rc && r->env->on_step) rc = r->env->on_step(r->env->on_step_arg, r->st.step, r->pl.steps, err);
    if (r->env->progress) {
      snprintf(note, sizeof note, "loss %.4f, %.0f tok/s", info.loss, tok_s);
      if (peak > 0)
        snprintf(note + strlen(note), sizeof note - strlen(note), ", MFU %.1f%%",
                 100 * r->pl.flops_per_token * tok_s / peak);
      sc_progress_note(&prog, note);
      sc_progress_add(&prog, 1);
    }
  }
  if (r->env->progress) sc_progress_end(&prog);
  if (!rc && ckpt_step != r->st.step) rc = checkpoint(r, err); /* stopped between the check and the loop's test */
  if (rc) return -1;
  const double session_s = sc_now() - session_t0;
  *res = (sc_run_result){.steps = r->st.step,
                         .tokens = r->st.tokens,
                         .flops = (double)r->st.tokens * r->pl.flops_per_token,
                         .train_loss = NAN,
                         .val_loss = r->st.last_val_loss,
                         .wall_s = r->st.elapsed_s,
                         .tokens_per_s = done ? (double)done * step_tokens / session_s : NAN,
                         .skipped = r->st.skipped,
                         .stopped = r->st.step < r->pl.steps};
  res->mfu = peak > 0 ? r->pl.flops_per_token * res->tokens_per_s / peak : NAN;
  snprintf(res->device, sizeof res->device, "%s", r->c.dev.name);
  if (res->stopped) return 0;
  sc_metrics_curves cv;
  if (sc_metrics_read(r->m.path, &cv, err)) return -1;
  const int tail = cv.n < TRAIN_LOSS_STEPS ? cv.n : TRAIN_LOSS_STEPS;
  double sum = 0;
  for (int i = cv.n - tail; i < cv.n; i++) sum += cv.loss[i];
  res->train_loss = tail ? sum / tail : NAN;
  sc_metrics_curves_free(&cv);
  char final[4200];
  snprintf(final, sizeof final, "%s/final", o->out);
  if (sc_checkpoint_write(final, &r->pl.cfg, &r->p, r->a.params, err) || write_summary(r, res, err)) return -1;
  return 0;
}

/* ---- start and resume ---- */

static int load_model(const char *spec, sc_model_config *cfg, float **weights, sc_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", spec, SC_CKPT_WEIGHTS);
  *weights = NULL;
  if (sc_is_dir(spec) && sc_is_file(path)) {
    sc_checkpoint ck;
    if (sc_checkpoint_read(spec, &ck, err)) return sc_wrap(err, "--model: ");
    *cfg = ck.cfg;
    *weights = ck.arena, ck.arena = NULL;
    sc_checkpoint_free(&ck);
    return 0;
  }
  return sc_model_config_resolve(spec, cfg, err) ? sc_wrap(err, "--model: ") : 0;
}

int sc_run_start(const sc_run_opts *o, const sc_run_env *env, volatile sig_atomic_t *stop, sc_run_result *res,
                 sc_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", o->out, RUN_JSON);
  if (sc_is_file(path))
    return sc_fail(err,
                   "%s already holds a run (%s); continue it with 'scalecl train --resume %s' or choose a new --out",
                   o->out, path, o->out);
  run r = {.o = o, .env = env};
  float *weights = NULL;
  sc_model_config cfg;
  int rc = -1;
  if (load_model(o->model, &cfg, &weights, err) || make_plan(o, &cfg, &r.pl, err) || run_open(&r, o->device, err))
    goto done;
  print_plan(&r);
  if (weights)
    memcpy(r.a.params, weights, r.p.arena_floats * sizeof(float));
  else if (sc_init_params(&r.p, r.a.params, (uint64_t)o->seed, 0, err))
    goto done;
  if (sc_mkdirs(o->out, err) || write_run_json(o->out, o, &r.pl, r.config_json, &r.c, &r.train, err) ||
      sc_trainer_load(r.t, &r.a, NULL, err) || sc_metrics_open(&r.m, o->out, -1, err))
    goto done;
  r.st = (sc_train_state){.last_val_loss = NAN, .run_hash = r.hash};
  rc = loop(&r, stop, res, err);
done:
  free(weights);
  run_free(&r);
  return rc;
}

/* Refuses options given now that differ from the run's, except the length and the device. */
static int check_given(const cJSON *stored, const sc_run_opts *given, const char *path, int *length_changed,
                       sc_err *err) {
  const sc_run_opts def = sc_run_defaults();
  cJSON *g = opts_json(given), *d = opts_json(&def);
  int rc = 0;
  *length_changed = 0;
  for (const cJSON *x = g->child; !rc && x; x = x->next) {
    const cJSON *dx = cJSON_GetObjectItemCaseSensitive(d, x->string);
    const cJSON *sx = cJSON_GetObjectItemCaseSensitive(stored, x->string);
    if (cJSON_Compare(x, dx, 1) || (sx && cJSON_Compare(x, sx, 1)) || !strcmp(x->string, "device") ||
        !strcmp(x->string, "out"))
      continue;
    int is_length = 0;
    for (size_t i = 0; i < sizeof LENGTH_KEYS / sizeof *LENGTH_KEYS; i++)
      is_length |= !strcmp(x->string, LENGTH_KEYS[i]);
    if (is_length) {
      *length_changed = 1;
      continue;
    }
    char *was = sx ? cJSON_PrintUnformatted(sx) : NULL;
    rc = sc_fail(err,
                 "--%s differs from the run's value %s (%s); a run resumes with its own options (only a longer "
                 "--steps, --tokens or --budget and --device may change)",
                 x->string, was ? was : "(none)", path);
    free(was);
  }
  cJSON_Delete(g), cJSON_Delete(d);
  return rc;
}

/* The newest checkpoint that reads back whole; damaged ones are reported and skipped. */
static int restore(run *r, sc_err *err) {
  int64_t *steps;
  int n;
  if (sc_train_ckpt_clean(r->ckdir, err) || sc_train_ckpt_list(r->ckdir, &steps, &n, err)) return -1;
  int rc = -1;
  for (int i = 0; i < n && rc; i++) {
    sc_err why = {0};
    if (sc_train_ckpt_read(r->ckdir, steps[i], &r->pl.cfg, &r->p, r->hash, &r->a, &r->st, &why) == 0 &&
        sc_trainer_load(r->t, &r->a, &r->st.loader, &why) == 0) {
      fprintf(stderr, "train: resuming from %s/step-%08lld\n", r->ckdir, (long long)steps[i]);
      rc = 0;
    } else {
      fprintf(stderr, "train: skipping checkpoint step %lld: %s\n", (long long)steps[i], why.msg);
    }
  }
  free(steps);
  if (rc) return sc_fail(err, "%s holds no usable checkpoint%s; start the run again", r->ckdir, n ? "" : " yet");
  return 0;
}

int sc_run_resume(const char *run_dir, const sc_run_opts *given, const sc_run_env *env, volatile sig_atomic_t *stop,
                  sc_run_result *res, sc_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", run_dir, RUN_JSON);
  char *text = NULL;
  size_t len;
  if (sc_read_file(path, &text, &len, err))
    return sc_wrap(err, "--resume %s: not a run directory (no readable %s): ", run_dir, RUN_JSON);
  cJSON *root = cJSON_Parse(text);
  free(text);
  const cJSON *oj = cJSON_GetObjectItemCaseSensitive(root, "options");
  const cJSON *cj = cJSON_GetObjectItemCaseSensitive(root, "config");
  sc_run_opts o;
  sc_model_config cfg;
  int length_changed = 0, rc = -1;
  run r = {.o = &o, .env = env};
  if (!cJSON_IsObject(oj) || !cJSON_IsObject(cj)) {
    sc_fail(err, "%s: not a run.json of scalecl (no \"options\" and \"config\" objects)", path);
    goto done;
  }
  if (opts_parse(oj, path, &o, err) || check_given(oj, given, path, &length_changed, err) ||
      sc_model_config_parse_object(cj, path, &cfg, err))
    goto done;
  o.out = run_dir;
  if (given->device) o.device = given->device;
  if (length_changed) o.steps = given->steps, o.tokens = given->tokens, o.budget = given->budget;
  if (make_plan(&o, &cfg, &r.pl, err)) goto done;
  const cJSON *resolved = cJSON_GetObjectItemCaseSensitive(root, "resolved");
  const cJSON *warm = cJSON_GetObjectItemCaseSensitive(resolved, "warmup");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(resolved, "model_name");
  if (cJSON_IsNumber(warm)) r.pl.warmup = (long)warm->valuedouble; /* a longer run keeps the warmup it had */
  if (cJSON_IsString(name)) snprintf(r.pl.cfg.name, sizeof r.pl.cfg.name, "%s", name->valuestring);
  if (run_open(&r, o.device, err) || restore(&r, err)) goto done;
  if (r.st.step > r.pl.steps) {
    sc_fail(err, "the run is at step %lld, past the %lld steps asked for; give a longer length", (long long)r.st.step,
            (long long)r.pl.steps);
    goto done;
  }
  print_plan(&r);
  if ((length_changed && write_run_json(run_dir, &o, &r.pl, r.config_json, &r.c, &r.train, err)) ||
      sc_metrics_open(&r.m, run_dir, r.st.metrics_bytes, err))
    goto done;
  rc = loop(&r, stop, res, err);
done:
  run_free(&r);
  cJSON_Delete(root);
  return rc;
}
