#include "sweep/runner.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/paths.h"
#include "data/shards.h"
#include "sweep/ledger.h"
#include "sweep/spec.h"
#include "train/metrics.h"
#include "train/run.h"
#include "train/state.h"

void sc_sweep_default_ledger(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "runs/%s/ledger.db", name);
}

int sc_sweep_resolve_ledger(const char *file_or_db, char *ledger, size_t n, sc_err *err) {
  const size_t len = strlen(file_or_db);
  if (len > 3 && !strcmp(file_or_db + len - 3, ".db")) {
    if (!sc_is_file(file_or_db))
      return sc_fail(err, "ledger %s does not exist (run 'scalecl sweep run' first)", file_or_db);
    snprintf(ledger, n, "%s", file_or_db);
    return 0;
  }
  sc_sweep_spec *s = malloc(sizeof *s);
  if (!s) return sc_fail(err, "out of host memory");
  const int rc = sc_sweep_load(file_or_db, s, err);
  if (!rc) sc_sweep_default_ledger(ledger, n, s->name);
  free(s);
  if (rc) return -1;
  if (!sc_is_file(ledger))
    return sc_fail(err, "%s has no ledger at %s yet; run 'scalecl sweep run %s' first", file_or_db, ledger, file_or_db);
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

typedef struct {
  sc_ledger *l;
  const char *run_id, *worker;
  double last;
} beat;

static int on_step(void *arg, int64_t step, int64_t steps, sc_err *err) {
  beat *b = arg;
  const double t = sc_now();
  if (t - b->last < 5 && step < steps) return 0;
  b->last = t;
  return sc_ledger_heartbeat(b->l, b->run_id, b->worker, step, err);
}

/* The validation losses a finished run logged. */
static int read_evals(const char *dir, sc_metrics_curves *c, sc_err *err) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, SC_METRICS_FILE);
  return sc_metrics_read(path, c, err);
}

/* Trains one claimed run to its end (starting, or resuming from its newest checkpoint). 1 when a signal stopped
 * it. */
static int train_one(sc_ledger *l, const char *root, const char *worker, const char *run_id, const char *config,
                     const char *device, const sc_sweep_opts *o, volatile sig_atomic_t *stop, sc_err *err) {
  char dir[4200], ckdir[4300], runjson[4300];
  snprintf(dir, sizeof dir, "%s/runs/%s", root, run_id);
  snprintf(ckdir, sizeof ckdir, "%s/checkpoints", dir);
  snprintf(runjson, sizeof runjson, "%s/run.json", dir);
  cJSON *cj = cJSON_Parse(config);
  sc_run_opts ro;
  if (!cj || sc_sweep_run_options(cj, dir, &ro, err)) {
    cJSON_Delete(cj);
    return -1;
  }
  if (device) ro.device = device;
  beat b = {l, run_id, worker, 0};
  const sc_run_env env = {
      .peak_gflops = o->peak_gflops, .progress = o->progress, .on_step = on_step, .on_step_arg = &b};
  int64_t *steps = NULL;
  int n_ck = 0, rc = 0;
  if (sc_is_file(runjson)) {
    rc = sc_train_ckpt_list(ckdir, &steps, &n_ck, err);
    free(steps);
    /* Killed before its first checkpoint: nothing to resume, so it starts again. */
    if (!rc && n_ck == 0) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  sc_run_result res;
  if (!rc) {
    if (n_ck > 0) {
      sc_run_opts given = sc_run_defaults();
      given.device = ro.device;
      rc = sc_run_resume(dir, &given, &env, stop, &res, err);
    } else {
      rc = sc_run_start(&ro, &env, stop, &res, err);
    }
  }
  cJSON_Delete(cj);
  if (rc) return -1;
  if (res.stopped) return 1;
  sc_ledger_result lr = {.train_loss = res.train_loss,
                         .val_loss = res.val_loss,
                         .wall_s = res.wall_s,
                         .tokens_per_s = res.tokens_per_s,
                         .steps = res.steps,
                         .device = res.device,
                         .run_dir = dir};
  sc_metrics_curves c;
  rc = read_evals(dir, &c, err);
  if (!rc) {
    lr.n_evals = c.n_val, lr.eval_step = c.val_step, lr.eval_tokens = c.val_tokens, lr.eval_loss = c.val_loss;
    rc = sc_ledger_done(l, run_id, worker, &lr, err);
    sc_metrics_curves_free(&c);
  }
  return rc ? -1 : 0;
}

/* One worker: claims runs until none is left or a signal arrives. */
static int worker_loop(const char *ledger_path, const char *root, const char *device, const sc_sweep_opts *o,
                       volatile sig_atomic_t *stop, sc_err *err) {
  sc_ledger *l;
  if (sc_ledger_open(ledger_path, &l, err)) return -1;
  char worker[400], run_id[17];
  sc_ledger_worker_name(worker, sizeof worker);
  int rc = 0;
  while (!rc && !*stop) {
    char *config = NULL;
    const int got = sc_ledger_claim(l, worker, o->retry_failed, run_id, &config, err);
    if (got <= 0) {
      rc = got;
      break;
    }
    fprintf(stderr, "sweep: run %s: %s\n", run_id, config);
    sc_err why = {0};
    const int t = train_one(l, root, worker, run_id, config, device, o, stop, &why);
    free(config);
    if (t == 1)
      rc = sc_ledger_release(l, run_id, worker, err);
    else if (t < 0) {
      fprintf(stderr, "sweep: run %s failed: %s\n", run_id, why.msg);
      rc = sc_ledger_failed(l, run_id, worker, why.msg, err);
    }
  }
  sc_ledger_close(l);
  return rc;
}

/* The device of worker i from a comma-separated list. */
static const char *pick_device(const char *list, int i, char *buf, size_t n) {
  if (!list) return NULL;
  int count = 1;
  for (const char *p = list; *p; p++) count += *p == ',';
  const char *p = list;
  for (int k = 0; k < i % count; k++) p = strchr(p, ',') + 1;
  const size_t len = strcspn(p, ",");
  snprintf(buf, n, "%.*s", (int)len, p);
  return buf;
}

int sc_sweep_run_all(const sc_sweep_opts *o, volatile sig_atomic_t *stop, sc_sweep_summary *s, sc_err *err) {
  memset(s, 0, sizeof *s);
  sc_sweep_spec *spec = malloc(sizeof *spec);
  if (!spec) return sc_fail(err, "out of host memory");
  sc_sweep_run *runs = NULL;
  int n = 0, rc = -1;
  sc_ledger *l = NULL;
  char ledger[4096], root[4096];
  if (sc_sweep_load(o->file, spec, err) || sc_sweep_expand(spec, o->data, &runs, &n, &s->left_out, err)) goto done;
  if (o->ledger)
    snprintf(ledger, sizeof ledger, "%s", o->ledger);
  else
    sc_sweep_default_ledger(ledger, sizeof ledger, spec->name);
  snprintf(root, sizeof root, "%s", ledger);
  char *slash = strrchr(root, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(root, sizeof root, ".");
  if (n > 0) { /* every run reads the same shards: a missing corpus is one error, not a failed run each */
    cJSON *cj = cJSON_Parse(runs[0].config);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cj, "data");
    sc_shard_set set;
    const int bad = !cJSON_IsString(d) || sc_shard_set_open(&set, d->valuestring, SC_SPLIT_TRAIN, err);
    if (!bad) sc_shard_set_close(&set);
    cJSON_Delete(cj);
    if (bad) {
      sc_wrap(err, "%s \"data\" (or --data): ", o->file);
      goto done;
    }
  }
  if (sc_mkdirs(root, err) || sc_ledger_open(ledger, &l, err) || sc_ledger_add(l, runs, n, &s->added, err)) goto done;
  s->total = n;
  fprintf(stderr, "sweep %s: %d runs (%d new to %s, %d left out by the budget tolerance or min_steps)\n", spec->name, n,
          s->added, ledger, s->left_out);
  sc_ledger_close(l), l = NULL;
  char dev[256];
  if (o->workers <= 1) {
    rc = worker_loop(ledger, root, pick_device(o->devices, 0, dev, sizeof dev), o, stop, err);
  } else {
    pid_t pids[64];
    int started = 0;
    rc = 0;
    for (int i = 0; i < o->workers && i < 64; i++) {
      fflush(NULL);
      const pid_t p = fork();
      if (p < 0) {
        rc = sc_fail(err, "cannot start worker %d: %s", i, strerror(errno));
        break;
      }
      if (p == 0) {
        sc_err e = {0};
        const int r = worker_loop(ledger, root, pick_device(o->devices, i, dev, sizeof dev), o, stop, &e);
        if (r) fprintf(stderr, "sweep worker %d: %s\n", i, e.msg);
        _exit(r ? 1 : 0);
      }
      pids[started++] = p;
    }
    for (int i = 0; i < started; i++) {
      int st;
      while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
      }
      if (!rc && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        rc = sc_fail(err, "worker %d failed (see its messages above)", i);
    }
  }
  s->stopped = *stop != 0;
  sc_ledger_row *rows = NULL;
  int nr = 0;
  if (sc_ledger_open(ledger, &l, rc ? &(sc_err){0} : err) == 0 &&
      sc_ledger_rows(l, &rows, &nr, rc ? &(sc_err){0} : err) == 0)
    for (int i = 0; i < nr; i++) {
      s->done += !strcmp(rows[i].status, "done");
      s->failed += !strcmp(rows[i].status, "failed");
      s->pending += !strcmp(rows[i].status, "pending") || !strcmp(rows[i].status, "running");
    }
  free(rows);
done:
  sc_ledger_close(l);
  sc_sweep_runs_free(runs, n);
  free(spec);
  return rc;
}
