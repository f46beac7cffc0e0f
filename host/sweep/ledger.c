#include "sweep/ledger.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct sc_ledger {
  sqlite3 *db;
  char path[4096];
};

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS runs ("
    " run_id TEXT PRIMARY KEY, sweep TEXT, kind TEXT, arch TEXT, model TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('pending','running','done','failed')), config TEXT NOT NULL,"
    " params INTEGER, ctx INTEGER, batch INTEGER, lr REAL, steps INTEGER, tokens REAL, flops REAL, budget REAL,"
    " ratio REAL, seed INTEGER, n_layers INTEGER, d_model INTEGER, n_heads INTEGER, head_dim INTEGER,"
    " step INTEGER NOT NULL DEFAULT 0, train_loss REAL, val_loss REAL, device TEXT, worker TEXT, heartbeat REAL,"
    " started REAL, finished REAL, wall_s REAL, tokens_per_s REAL, run_dir TEXT, error TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, seq INTEGER);"
    "CREATE TABLE IF NOT EXISTS evals (run_id TEXT NOT NULL, step INTEGER NOT NULL, tokens REAL, val_loss REAL,"
    " PRIMARY KEY (run_id, step));";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int db_fail(sc_ledger *l, sc_err *err, const char *what) {
  return sc_fail(err, "ledger %s: %s failed: %s", l->path, what, sqlite3_errmsg(l->db));
}

static int exec(sc_ledger *l, const char *sql, sc_err *err) {
  return sqlite3_exec(l->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(l, err, sql);
}

int sc_ledger_open(const char *path, sc_ledger **out, sc_err *err) {
  *out = NULL;
  sc_ledger *l = calloc(1, sizeof *l);
  if (!l) return sc_fail(err, "out of host memory opening ledger %s", path);
  snprintf(l->path, sizeof l->path, "%s", path);
  if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
      SQLITE_OK) {
    sc_fail(err, "cannot open ledger %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "out of memory");
    sc_ledger_close(l);
    return -1;
  }
  /* Workers wait for each other's short transactions instead of failing with "database is locked". */
  sqlite3_busy_timeout(l->db, 60000);
  if (exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err) || exec(l, SCHEMA, err)) {
    sc_wrap(err, "(is %s an SQLite database of scalecl sweep?) ", path);
    sc_ledger_close(l);
    return -1;
  }
  *out = l;
  return 0;
}

void sc_ledger_close(sc_ledger *l) {
  if (!l) return;
  sqlite3_close(l->db);
  free(l);
}

int sc_ledger_add(sc_ledger *l, const sc_sweep_run *runs, int n, int *added, sc_err *err) {
  *added = 0;
  sqlite3_stmt *st = NULL;
  const char *sql =
      "INSERT OR IGNORE INTO runs (run_id, sweep, kind, arch, model, status, config, params, ctx, batch, lr, steps,"
      " tokens, flops, budget, ratio, seed, n_layers, d_model, n_heads, head_dim, seq)"
      " VALUES (?1, json_extract(?7, '$.sweep'), json_extract(?7, '$.kind'), ?4, ?5, 'pending', ?7, ?8, ?9, ?10,"
      " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs))";
  if (exec(l, "BEGIN IMMEDIATE", err)) return -1;
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
    db_fail(l, err, "preparing the insert");
    exec(l, "ROLLBACK", err);
    return -1;
  }
  int rc = 0;
  for (int i = 0; !rc && i < n; i++) {
    const sc_sweep_run *r = &runs[i];
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, r->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sc_arch_name(r->arch), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->config, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, r->params);
    sqlite3_bind_int64(st, 9, r->ctx);
    sqlite3_bind_int64(st, 10, r->batch);
    sqlite3_bind_double(st, 11, r->lr);
    sqlite3_bind_int64(st, 12, r->steps);
    sqlite3_bind_double(st, 13, r->tokens);
    sqlite3_bind_double(st, 14, r->flops);
    sqlite3_bind_double(st, 15, r->budget);
    sqlite3_bind_double(st, 16, r->ratio);
    sqlite3_bind_int64(st, 17, r->seed);
    sqlite3_bind_int64(st, 18, r->cfg.n_layers);
    sqlite3_bind_int64(st, 19, r->cfg.d_model);
    sqlite3_bind_int64(st, 20, r->cfg.n_heads);
    sqlite3_bind_int64(st, 21, r->cfg.arch == SC_ARCH_XLSTM ? r->cfg.d_v : r->cfg.d_qk);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = db_fail(l, err, "adding a run");
    else
      *added += sqlite3_changes(l->db);
  }
  sqlite3_finalize(st);
  if (rc) {
    sc_err ignored;
    exec(l, "ROLLBACK", &ignored);
    return -1;
  }
  return exec(l, "COMMIT", err);
}

/* ---- workers ---- */

/* Field 22 of /proc/PID/stat: the process's start time, which tells a reused pid from the original. */
static unsigned long long start_time(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  const size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!p) return 0;
  unsigned long long v = 0;
  int field = 2;
  for (p++; *p && field < 22; p++)
    if (*p == ' ') field++;
  if (field == 22) sscanf(p, "%llu", &v);
  return v;
}

void sc_ledger_worker_name(char *buf, size_t n) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  snprintf(buf, n, "%s:%ld:%llu", host, (long)getpid(), start_time((long)getpid()));
}

/* A worker of this host whose process is gone (or is another process with its pid). */
static int worker_gone(const char *worker) {
  char host[256] = "localhost", whost[256];
  long pid;
  unsigned long long t;
  gethostname(host, sizeof host - 1);
  if (!worker || sscanf(worker, "%255[^:]:%ld:%llu", whost, &pid, &t) != 3 || strcmp(host, whost)) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 1;
  return start_time(pid) != t;
}

int sc_ledger_claim(sc_ledger *l, const char *worker, int retry_failed, char run_id[17], char **config, sc_err *err) {
  *config = NULL;
  if (exec(l, "BEGIN IMMEDIATE", err)) return -1;
  sqlite3_stmt *st = NULL;
  const char *sql =
      retry_failed ? "SELECT run_id, status, worker, heartbeat, config FROM runs WHERE status != 'done' ORDER BY seq"
                   : "SELECT run_id, status, worker, heartbeat, config FROM runs WHERE status IN ('pending', "
                     "'running') ORDER BY seq";
  int found = 0, rc = 0;
  const double now = now_s();
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) rc = db_fail(l, err, "listing runs");
  while (!rc && !found) {
    const int s = sqlite3_step(st);
    if (s == SQLITE_DONE) break;
    if (s != SQLITE_ROW) {
      rc = db_fail(l, err, "listing runs");
      break;
    }
    const char *status = (const char *)sqlite3_column_text(st, 1);
    const char *w = (const char *)sqlite3_column_text(st, 2);
    const double hb = sqlite3_column_double(st, 3);
    if (!strcmp(status, "running") && !worker_gone(w) && now - hb < SC_LEDGER_STALE_S) continue;
    snprintf(run_id, 17, "%s", (const char *)sqlite3_column_text(st, 0));
    *config = strdup((const char *)sqlite3_column_text(st, 4));
    if (!*config) rc = sc_fail(err, "out of host memory");
    found = 1;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc && found) {
    if (sqlite3_prepare_v2(
            l->db,
            "UPDATE runs SET status = 'running', worker = ?2, heartbeat = ?3, started = COALESCE(started, "
            "?3), attempts = attempts + 1, error = NULL WHERE run_id = ?1",
            -1, &st, NULL) != SQLITE_OK)
      rc = db_fail(l, err, "claiming a run");
    else {
      sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, worker, -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(st, 3, now);
      if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(l, err, "claiming a run");
    }
    sqlite3_finalize(st);
  }
  if (rc) {
    sc_err ignored;
    exec(l, "ROLLBACK", &ignored);
    free(*config), *config = NULL;
    return -1;
  }
  if (exec(l, "COMMIT", err)) {
    free(*config), *config = NULL;
    return -1;
  }
  return found;
}

/* Runs one UPDATE of the run held by worker; fails when the run is not (any longer) this worker's. */
static int update_held(sc_ledger *l, const char *sql, const char *run_id, const char *worker,
                       void (*bind)(sqlite3_stmt *, const void *), const void *arg, const char *what, sc_err *err) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(l, err, what);
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, worker, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(st, 3, now_s());
  if (bind) bind(st, arg);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(l, err, what);
  if (!rc && sqlite3_changes(l->db) != 1)
    rc = sc_fail(err, "ledger %s: run %s is no longer held by this worker (another worker took it over?)", l->path,
                 run_id);
  sqlite3_finalize(st);
  return rc;
}

static void bind_step(sqlite3_stmt *st, const void *arg) {
  sqlite3_bind_int64(st, 4, *(const int64_t *)arg);
}

int sc_ledger_heartbeat(sc_ledger *l, const char *run_id, const char *worker, int64_t step, sc_err *err) {
  return update_held(l,
                     "UPDATE runs SET heartbeat = ?3, step = ?4 WHERE run_id = ?1 AND worker = ?2 AND status = "
                     "'running'",
                     run_id, worker, bind_step, &step, "recording progress", err);
}

static void bind_nullable(sqlite3_stmt *st, int i, double v) {
  if (isfinite(v))
    sqlite3_bind_double(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static void bind_done(sqlite3_stmt *st, const void *arg) {
  const sc_ledger_result *r = arg;
  sqlite3_bind_int64(st, 4, r->steps);
  bind_nullable(st, 5, r->train_loss);
  bind_nullable(st, 6, r->val_loss);
  sqlite3_bind_text(st, 7, r->device, -1, SQLITE_TRANSIENT);
  bind_nullable(st, 8, r->wall_s);
  bind_nullable(st, 9, r->tokens_per_s);
  sqlite3_bind_text(st, 10, r->run_dir, -1, SQLITE_TRANSIENT);
}

int sc_ledger_done(sc_ledger *l, const char *run_id, const char *worker, const sc_ledger_result *r, sc_err *err) {
  if (exec(l, "BEGIN IMMEDIATE", err)) return -1;
  int rc = update_held(l,
                       "UPDATE runs SET status = 'done', finished = ?3, heartbeat = ?3, step = ?4, train_loss = ?5, "
                       "val_loss = ?6, device = ?7, wall_s = ?8, tokens_per_s = ?9, run_dir = ?10, error = NULL "
                       "WHERE run_id = ?1 AND worker = ?2 AND status = 'running'",
                       run_id, worker, bind_done, r, "recording a finished run", err);
  sqlite3_stmt *st = NULL;
  if (!rc &&
      sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO evals (run_id, step, tokens, val_loss) VALUES (?, ?, ?, ?)", -1,
                         &st, NULL) != SQLITE_OK)
    rc = db_fail(l, err, "recording validation losses");
  for (int i = 0; !rc && i < r->n_evals; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (int64_t)r->eval_step[i]);
    sqlite3_bind_double(st, 3, r->eval_tokens[i]);
    bind_nullable(st, 4, r->eval_loss[i]);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_fail(l, err, "recording validation losses");
  }
  sqlite3_finalize(st);
  if (rc) {
    sc_err ignored;
    exec(l, "ROLLBACK", &ignored);
    return -1;
  }
  return exec(l, "COMMIT", err);
}

static void bind_error(sqlite3_stmt *st, const void *arg) {
  sqlite3_bind_text(st, 4, (const char *)arg, -1, SQLITE_TRANSIENT);
}

int sc_ledger_failed(sc_ledger *l, const char *run_id, const char *worker, const char *error, sc_err *err) {
  return update_held(l,
                     "UPDATE runs SET status = 'failed', finished = ?3, heartbeat = ?3, error = ?4 WHERE run_id = ?1 "
                     "AND worker = ?2 AND status = 'running'",
                     run_id, worker, bind_error, error, "recording a failed run", err);
}

int sc_ledger_release(sc_ledger *l, const char *run_id, const char *worker, sc_err *err) {
  return update_held(l,
                     "UPDATE runs SET status = 'pending', heartbeat = ?3, worker = NULL WHERE run_id = ?1 AND worker "
                     "= ?2 AND status = 'running'",
                     run_id, worker, NULL, NULL, "releasing a run", err);
}

static void text_col(sqlite3_stmt *st, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static double num_col(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int sc_ledger_rows(sc_ledger *l, sc_ledger_row **rows, int *n, sc_err *err) {
  *rows = NULL, *n = 0;
  sqlite3_stmt *st = NULL;
  const char *sql =
      "SELECT run_id, arch, model, status, kind, worker, device, run_dir, error, params, ctx, batch, steps, step, "
      "seed, n_layers, d_model, n_heads, head_dim, attempts, lr, tokens, flops, budget, ratio, train_loss, val_loss, "
      "heartbeat, started, finished, wall_s, tokens_per_s FROM runs ORDER BY seq";
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(l, err, "reading runs");
  int cap = 0, rc = 0, s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      sc_ledger_row *g = realloc(*rows, (size_t)cap * sizeof *g);
      if (!g) {
        rc = sc_fail(err, "out of host memory reading %s", l->path);
        break;
      }
      *rows = g;
    }
    sc_ledger_row *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    text_col(st, 0, r->run_id, sizeof r->run_id);
    text_col(st, 1, r->arch, sizeof r->arch);
    text_col(st, 2, r->model, sizeof r->model);
    text_col(st, 3, r->status, sizeof r->status);
    text_col(st, 4, r->kind, sizeof r->kind);
    text_col(st, 5, r->worker, sizeof r->worker);
    text_col(st, 6, r->device, sizeof r->device);
    text_col(st, 7, r->run_dir, sizeof r->run_dir);
    text_col(st, 8, r->error, sizeof r->error);
    int64_t *ints[] = {&r->params,   &r->ctx,     &r->batch,   &r->steps,    &r->step,    &r->seed,
                       &r->n_layers, &r->d_model, &r->n_heads, &r->head_dim, &r->attempts};
    for (int i = 0; i < 11; i++) *ints[i] = sqlite3_column_int64(st, 9 + i);
    double *dbl[] = {&r->lr,       &r->tokens,    &r->flops,   &r->budget,   &r->ratio,  &r->train_loss,
                     &r->val_loss, &r->heartbeat, &r->started, &r->finished, &r->wall_s, &r->tokens_per_s};
    for (int i = 0; i < 12; i++) *dbl[i] = num_col(st, 20 + i);
  }
  if (!rc && s != SQLITE_DONE) rc = db_fail(l, err, "reading runs");
  sqlite3_finalize(st);
  if (rc) free(*rows), *rows = NULL, *n = 0;
  return rc;
}
