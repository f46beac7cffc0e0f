/* Sweeps (sweep/): expansion and steps against hand-computed cases, the ledger's claims (no two workers take the
 * same run, a dead worker's run is taken over), and through the command: a sweep killed with SIGKILL several
 * times and started again finishes every run exactly once, and its report's runs table round-trips through
 * `scalecl fit`. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/shards.h"
#include "harness.h"
#include "sweep/ledger.h"
#include "sweep/spec.h"

static char tmp[512], out[65536];

#define run(...) th_run_capturef(out, sizeof out, __VA_ARGS__)

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* ---- expansion ---- */

static void test_isoflop_expansion_matches_hand_computed_steps(void **state) {
  (void)state;
  char path[600];
  snprintf(path, sizeof path, "%s/iso.json", tmp);
  /* xlstm-cpu-iso-d16-l1 at ctx 128 costs 69,112.3 training FLOPs per token (scalecl flops). Budgets up to 1e10
   * take batch 4 (a step of 4 x 128 tokens costs 3.5386e7), larger ones batch 8 (7.0771e7). So 3e10 buys 423.9 ->
   * 424 steps; 1e9 buys 28.3 -> 28 steps; 5.5e7 buys 1.55 -> 2 steps, 29% over the budget: left out; 1.6e7 buys
   * 0.45 -> 0 steps, below min_steps: left out. */
  write_file(path,
             "{\"name\": \"t-iso\", \"kind\": \"isoflop\", \"budgets\": [3e10, 1e9, 5.5e7, 1.6e7], \"ctx\": 128,"
             " \"data\": \"/nowhere\", \"warmup_fraction\": 0.1, \"cooldown_steps\": 7,"
             " \"archs\": [{\"arch\": \"xlstm\", \"models\": [\"xlstm-cpu-iso-d16-l1\"],"
             "   \"lr\": [{\"max_params\": 20000, \"lr\": 0.01}, {\"lr\": 0.003}],"
             "   \"batch\": [{\"max_budget\": 1e10, \"batch\": 4}, {\"batch\": 8}]}]}");
  sc_sweep_spec *s = th_calloc(1, sizeof *s);
  TH_CHECK(sc_sweep_load(path, s, TH_ERR));
  sc_sweep_run *runs;
  int n, left;
  TH_CHECK(sc_sweep_expand(s, NULL, &runs, &n, &left, TH_ERR));
  assert_int_equal(n, 2);
  assert_int_equal(left, 2);
  assert_int_equal(runs[1].batch, 4);
  assert_int_equal(runs[1].steps, 28);
  assert_int_equal(runs[0].batch, 8);
  assert_int_equal(runs[0].steps, 424);
  assert_int_equal(runs[0].warmup, 42);
  assert_int_equal(runs[0].cooldown, 7);
  assert_true(runs[0].lr == 0.01); /* 14,434 parameters: the first row */
  assert_true(fabs(runs[0].flops / 3e10 - 1) < 0.002);
  assert_int_equal((int)strlen(runs[0].run_id), 16);
  /* The same file gives the same ids; another seed another id. */
  sc_sweep_run *again;
  int n2;
  TH_CHECK(sc_sweep_expand(s, NULL, &again, &n2, &left, TH_ERR));
  assert_string_equal(runs[0].run_id, again[0].run_id);
  sc_sweep_runs_free(again, n2);
  TH_CHECK(sc_sweep_expand(s, "/elsewhere", &again, &n2, &left, TH_ERR));
  assert_string_not_equal(runs[0].run_id, again[0].run_id); /* the data is part of the run */
  sc_sweep_runs_free(runs, n);
  sc_sweep_runs_free(again, n2);
  free(s);
}

static void test_tokenparam_expansion_matches_hand_computed_steps(void **state) {
  (void)state;
  char path[600];
  snprintf(path, sizeof path, "%s/tp.json", tmp);
  /* 20 tokens per parameter of llama-cpu-iso-d32-l2 (53,408) = 1,068,160 tokens = 1043.1 steps of 8 x 128 -> 1044;
   * ratio 1 gives 52.2 -> 53 steps. */
  write_file(path,
             "{\"name\": \"t-tp\", \"kind\": \"tokenparam\", \"ratios\": [20, 1], \"ctx\": 128, \"data\": \"/d\","
             " \"seeds\": [1, 2], \"archs\": [{\"arch\": \"llama\", \"models\": [\"llama-cpu-iso-d32-l*\"],"
             " \"lr\": 0.002, \"batch\": 8}]}");
  sc_sweep_spec *s = th_calloc(1, sizeof *s);
  TH_CHECK(sc_sweep_load(path, s, TH_ERR));
  assert_int_equal(s->archs[0].n_models, 3); /* the pattern matches l1, l2, l3 */
  sc_sweep_run *runs;
  int n, left;
  TH_CHECK(sc_sweep_expand(s, NULL, &runs, &n, &left, TH_ERR));
  assert_int_equal(n, 2 * 3 * 2);
  int found = 0;
  for (int i = 0; i < n; i++)
    if (!strcmp(runs[i].model, "llama-cpu-iso-d32-l2") && runs[i].seed == 2) {
      assert_int_equal(runs[i].steps, runs[i].ratio == 20 ? 1044 : 53);
      found++;
    }
  assert_int_equal(found, 2);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < i; k++) assert_string_not_equal(runs[i].run_id, runs[k].run_id);
  sc_sweep_runs_free(runs, n);
  free(s);
}

static void test_bad_sweep_files_name_the_field(void **state) {
  (void)state;
  static const struct {
    const char *json, *expect;
  } cases[] = {
      {"{\"name\": \"x\", \"kind\": \"iso\"}", "\"kind\" must be"},
      {"{\"name\": \"x\", \"kind\": \"isoflop\", \"budgets\": [], \"ctx\": 8}", "\"budgets\" must be a list"},
      {"{\"name\": \"x\", \"kind\": \"isoflop\", \"budgets\": [1e9], \"ctx\": 8, \"data\": \"d\", \"archs\": "
       "[{\"arch\": \"xlstm\", \"models\": [\"nope-*\"], \"lr\": 1, \"batch\": 1}]}",
       "matches no preset"},
      {"{\"name\": \"x\", \"kind\": \"isoflop\", \"budgets\": [1e9], \"ctx\": 8, \"data\": \"d\", \"archs\": "
       "[{\"arch\": \"xlstm\", \"models\": [\"xlstm-cpu-iso-d16-l1\"], \"lr\": [{\"max_params\": 5, \"lr\": 1}], "
       "\"batch\": 1}]}",
       "the last row needs no \"max_params\""},
      {"{\"name\": \"x\", \"kind\": \"isoflop\", \"budgets\": [1e9], \"ctx\": 8, \"data\": \"d\", \"archs\": "
       "[{\"arch\": \"llama\", \"models\": [\"xlstm-cpu-iso-d16-l1\"], \"lr\": 1, \"batch\": 1}]}",
       "listed under arch llama"},
      {"{\"name\": \"x\"", "not valid JSON"},
      /* found by fuzz_sweep: a seed far past long's range was converted unchecked */
      {"{\"name\": \"x\", \"kind\": \"tokenparam\", \"ratios\": [1], \"ctx\": 16, \"data\": \"default\", "
       "\"seeds\": [1, 5.5e111]}",
       "\"seeds\" entry 2 must be a whole number"},
      {"{\"name\": \"x\", \"kind\": \"tokenparam\", \"ratios\": [1], \"ctx\": 16, \"data\": \"default\", "
       "\"seeds\": [1.5]}",
       "\"seeds\" entry 1 must be a whole number"},
      {"{\"name\": \"x\", \"kind\": \"tokenparam\", \"ratios\": [1e300], \"ctx\": 8, \"data\": \"d\", \"archs\": "
       "[{\"arch\": \"xlstm\", \"models\": [\"xlstm-cpu-iso-d16-l1\"], \"lr\": 1, \"batch\": 1}]}",
       "steps at ratio 1e+300; lower it"},
      {"{\"name\": \"x\", \"kind\": \"isoflop\", \"budgets\": [1e9], \"ctx\": 8, \"data\": \"d\", \"archs\": "
       "[{\"arch\": \"xlstm\", \"models\": [\"xlstm-cpu-iso-d16-l1\"], \"lr\": 1, \"batch\": 1e30}]}",
       "\"batch\" 1e+30 must be a whole number"},
  };
  char path[600];
  snprintf(path, sizeof path, "%s/bad.json", tmp);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_file(path, cases[i].json);
    sc_sweep_spec *s = th_calloc(1, sizeof *s);
    sc_err err = {0};
    int rc = sc_sweep_load(path, s, &err);
    if (!rc) {
      sc_sweep_run *runs;
      int n, left;
      rc = sc_sweep_expand(s, NULL, &runs, &n, &left, &err);
      if (!rc) sc_sweep_runs_free(runs, n);
    }
    printf("  %s\n", err.msg);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, cases[i].expect));
    free(s);
  }
}

/* ---- the ledger ---- */

static void fake_runs(sc_sweep_run *r, int n) {
  memset(r, 0, (size_t)n * sizeof *r);
  for (int i = 0; i < n; i++) {
    snprintf(r[i].run_id, sizeof r[i].run_id, "%016x", 0x1000 + i);
    snprintf(r[i].model, sizeof r[i].model, "m%d", i);
    r[i].config = th_calloc(64, 1);
    snprintf(r[i].config, 64, "{\"sweep\": \"t\", \"kind\": \"isoflop\", \"i\": %d}", i);
  }
}

/* A ledger's run config with a count out of range (a damaged ledger) is refused by name, not converted. */
static void test_run_config_counts_are_checked(void **state) {
  (void)state;
  static const char *const good =
      "{\"model\": \"m\", \"data\": \"d\", \"schedule\": \"cosine\", \"batch\": 4, "
      "\"micro_batch\": 0, \"ctx\": 16, \"steps\": %s, \"lr\": 0.01, \"warmup\": 1, "
      "\"cooldown\": 0, \"seed\": 1, \"eval_every\": 4, \"eval_batches\": 2, "
      "\"checkpoint_every\": 3}";
  char text[512];
  sc_run_opts o;
  sc_err err;
  snprintf(text, sizeof text, good, "10");
  cJSON *c = cJSON_Parse(text);
  assert_non_null(c);
  TH_CHECK(sc_sweep_run_options(c, "dir", &o, TH_ERR));
  assert_int_equal(o.steps, 10);
  cJSON_Delete(c);
  snprintf(text, sizeof text, good, "1e300");
  c = cJSON_Parse(text);
  assert_int_equal(sc_sweep_run_options(c, "dir", &o, &err), -1);
  assert_non_null(strstr(err.msg, "\"steps\" is 1e+300, not a count"));
  cJSON_Delete(c);
}

static void test_workers_never_take_the_same_run(void **state) {
  (void)state;
  enum { RUNS = 40, WORKERS = 4 };
  char db[600], log[600];
  snprintf(db, sizeof db, "%s/claims.db", tmp);
  snprintf(log, sizeof log, "%s/claims.log", tmp);
  sc_ledger *l;
  sc_sweep_run runs[RUNS];
  fake_runs(runs, RUNS);
  int added = 0;
  TH_CHECK(sc_ledger_open(db, &l, TH_ERR));
  TH_CHECK(sc_ledger_add(l, runs, RUNS, &added, TH_ERR));
  assert_int_equal(added, RUNS);
  TH_CHECK(sc_ledger_add(l, runs, RUNS, &added, TH_ERR)); /* adding again changes nothing */
  assert_int_equal(added, 0);
  sc_ledger_close(l);
  pid_t pids[WORKERS];
  for (int w = 0; w < WORKERS; w++) {
    fflush(NULL);
    if ((pids[w] = fork()) == 0) {
      sc_ledger *wl;
      sc_err e = {0};
      char name[400], id[17], *cfg;
      sc_ledger_worker_name(name, sizeof name);
      if (sc_ledger_open(db, &wl, &e)) _exit(2);
      int got;
      while ((got = sc_ledger_claim(wl, name, 0, id, &cfg, &e)) == 1) {
        FILE *f = fopen(log, "a");
        fprintf(f, "%s\n", id);
        fclose(f);
        const sc_ledger_result r = {.train_loss = 1, .val_loss = 2, .steps = 1, .device = "d", .run_dir = "x"};
        free(cfg);
        if (sc_ledger_done(wl, id, name, &r, &e)) _exit(3);
      }
      sc_ledger_close(wl);
      _exit(got == 0 ? 0 : 4);
    }
  }
  for (int w = 0; w < WORKERS; w++) {
    int st;
    assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  assert_int_equal(run("sort %s | uniq -d | wc -l; wc -l < %s", log, log), 0);
  int dups = -1, lines = -1;
  assert_int_equal(sscanf(out, "%d %d", &dups, &lines), 2);
  printf("  %d claims by %d workers, %d claimed twice\n", lines, WORKERS, dups);
  assert_int_equal(dups, 0);
  assert_int_equal(lines, RUNS);
  TH_CHECK(sc_ledger_open(db, &l, TH_ERR));
  sc_ledger_row *rows;
  int n;
  TH_CHECK(sc_ledger_rows(l, &rows, &n, TH_ERR));
  for (int i = 0; i < n; i++) assert_string_equal(rows[i].status, "done");
  free(rows);
  sc_ledger_close(l);
  for (int i = 0; i < RUNS; i++) free(runs[i].config);
}

static void test_dead_workers_run_is_taken_over(void **state) {
  (void)state;
  sc_err e = {0};
  char db[600], id[17], *cfg, me[400];
  snprintf(db, sizeof db, "%s/stale.db", tmp);
  sc_ledger *l;
  sc_sweep_run runs[2];
  fake_runs(runs, 2);
  int added;
  TH_CHECK(sc_ledger_open(db, &l, TH_ERR));
  TH_CHECK(sc_ledger_add(l, runs, 2, &added, TH_ERR));
  /* A worker of this host whose process is gone (pid 2^22 + 1 is above Linux's pid_max default). */
  char host[256] = "localhost", dead[400];
  gethostname(host, sizeof host - 1);
  snprintf(dead, sizeof dead, "%s:4194305:1", host);
  assert_int_equal(sc_ledger_claim(l, dead, 0, id, &cfg, &e), 1);
  assert_string_equal(id, runs[0].run_id);
  free(cfg);
  sc_ledger_worker_name(me, sizeof me);
  assert_int_equal(sc_ledger_claim(l, me, 0, id, &cfg, &e), 1);
  assert_string_equal(id, runs[0].run_id); /* taken over, before the next pending one */
  free(cfg);
  /* The dead worker can no longer record it. */
  sc_err err = {0};
  assert_int_equal(sc_ledger_heartbeat(l, id, dead, 5, &err), -1);
  assert_non_null(strstr(err.msg, "no longer held"));
  /* A live worker's run is not taken: the next claim gets the other run. */
  assert_int_equal(sc_ledger_claim(l, "other-host:1:1", 0, id, &cfg, &e), 1);
  assert_string_equal(id, runs[1].run_id);
  free(cfg);
  assert_int_equal(sc_ledger_claim(l, me, 0, id, &cfg, &e), 0);
  sc_ledger_close(l);
  for (int i = 0; i < 2; i++) free(runs[i].config);
}

/* ---- the command ---- */

static void write_corpus(const char *dir) {
  enum { N = 30000 };
  int32_t *tok = th_calloc(N, sizeof *tok);
  for (int i = 0; i < N; i++) tok[i] = i % 300 == 0 ? 256 : 'a' + (i * 7 + i / 13) % 26;
  char path[600];
  TH_CHECK(sc_shard_path(path, sizeof path, dir, "c", "train", 0));
  TH_CHECK(sc_shard_write(path, 7, 259, tok, N, TH_ERR));
  TH_CHECK(sc_shard_path(path, sizeof path, dir, "c", "val", 0));
  TH_CHECK(sc_shard_write(path, 7, 259, tok, 6000, TH_ERR));
  free(tok);
}

static void test_killed_sweep_finishes_every_run_once(void **state) {
  (void)state;
  char file[600], data[600], db[600], rep[600];
  snprintf(file, sizeof file, "%s/mini.json", tmp);
  snprintf(data, sizeof data, "%s/corpus", tmp);
  snprintf(db, sizeof db, "%s/sw/ledger.db", tmp);
  snprintf(rep, sizeof rep, "%s/report", tmp);
  assert_int_equal(run("mkdir -p %s", data), 0);
  write_corpus(data);
  char json[2048];
  snprintf(json, sizeof json,
           "{\"name\": \"t-kill\", \"kind\": \"isoflop\", \"budgets\": [1.5e8, 4e8], \"ctx\": 32, \"data\": \"%s\","
           " \"eval_every\": 4, \"eval_batches\": 2, \"checkpoint_every\": 3, \"min_steps\": 3, \"archs\": ["
           " {\"arch\": \"xlstm\", \"models\": [\"xlstm-cpu-iso-d16-l1\", \"xlstm-cpu-iso-d32-l1\", "
           "\"xlstm-cpu-iso-d32-l2\"], \"lr\": 0.01, \"batch\": 4},"
           " {\"arch\": \"llama\", \"models\": [\"llama-cpu-iso-d16-l1\", \"llama-cpu-iso-d32-l1\", "
           "\"llama-cpu-iso-d32-l2\"], \"lr\": 0.01, \"batch\": 4}]}",
           data);
  write_file(file, json);
  const char *bin = th_scalecl_bin();
  /* Kill it at several moments: during kernel builds, training, checkpoints and ledger updates. */
  static const double kill_after[] = {0.7, 1.9, 2.6, 3.3, 1.2};
  for (size_t k = 0; k < sizeof kill_after / sizeof *kill_after; k++) {
    run("%s sweep run %s --ledger %s --peak none --quiet > /dev/null 2>&1 & pid=$!; sleep %.2f; kill -9 $pid; "
        "wait $pid",
        bin, file, db, kill_after[k]);
    printf("  killed after %.1f s\n", kill_after[k]);
  }
  assert_int_equal(run("%s sweep run %s --ledger %s --peak none --quiet 2>&1 | tail -1", bin, file, db), 0);
  printf("  %s", out);
  assert_non_null(strstr(out, "0 failed, 0 not finished"));
  sc_ledger *l;
  sc_ledger_row *rows;
  int n;
  TH_CHECK(sc_ledger_open(db, &l, TH_ERR));
  TH_CHECK(sc_ledger_rows(l, &rows, &n, TH_ERR));
  sc_ledger_close(l);
  sc_sweep_spec *spec = th_calloc(1, sizeof *spec);
  sc_sweep_run *expanded;
  int n_expected, left;
  TH_CHECK(sc_sweep_load(file, spec, TH_ERR));
  TH_CHECK(sc_sweep_expand(spec, NULL, &expanded, &n_expected, &left, TH_ERR));
  sc_sweep_runs_free(expanded, n_expected);
  free(spec);
  assert_int_equal(n, n_expected);
  int attempts = 0, n_xlstm = 0;
  double finished[32];
  for (int i = 0; i < n; i++) {
    assert_string_equal(rows[i].status, "done");
    assert_true(isfinite(rows[i].val_loss));
    attempts += (int)rows[i].attempts;
    finished[i] = rows[i].finished;
    n_xlstm += !strcmp(rows[i].arch, "xlstm");
    /* Exactly one line per step in the run's metrics: resumed runs cut what their lost steps wrote. */
    assert_int_equal(run("grep -c '\"loss\"' %s/metrics.jsonl; grep -o '\"step\":[0-9]*,\"tokens\":[0-9]*,\"loss\"' "
                         "%s/metrics.jsonl | sort | uniq -d | wc -l",
                         rows[i].run_dir, rows[i].run_dir),
                     0);
    int lines = -1, dups = -1;
    assert_int_equal(sscanf(out, "%d %d", &lines, &dups), 2);
    assert_int_equal(lines, (int)rows[i].steps);
    assert_int_equal(dups, 0);
  }
  printf("  %d runs done after %d claims in all\n", n, attempts);
  /* Every validation of every run is in the evals table, one row per step. */
  sqlite3 *sdb;
  int most = 0;
  assert_int_equal(sqlite3_open_v2(db, &sdb, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  for (int i = 0; i < n; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*), COUNT(DISTINCT step) FROM evals WHERE run_id = '%s'", rows[i].run_id);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(sdb, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const int evals = sqlite3_column_int(st, 0), distinct = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    assert_int_equal(run("grep -c val_loss %s/metrics.jsonl", rows[i].run_dir), 0);
    assert_int_equal(evals, atoi(out));
    assert_int_equal(distinct, evals);
    most = evals > most ? evals : most;
  }
  sqlite3_close(sdb);
  assert_true(most >= 2); /* runs long enough for several validations keep each */
  free(rows);
  /* Running the finished sweep again trains nothing. */
  assert_int_equal(run("%s sweep run %s --ledger %s --peak none --quiet 2>&1 | tail -1", bin, file, db), 0);
  TH_CHECK(sc_ledger_open(db, &l, TH_ERR));
  TH_CHECK(sc_ledger_rows(l, &rows, &n, TH_ERR));
  sc_ledger_close(l);
  for (int i = 0; i < n; i++) assert_true(rows[i].finished == finished[i]);
  free(rows);
  /* Status, then the report, whose runs table `scalecl fit` reads. */
  assert_int_equal(run("%s sweep status %s --format csv 2>/dev/null | grep -c ',done,'", bin, db), 0);
  assert_int_equal(atoi(out), n);
  assert_int_equal(run("%s sweep report %s --out %s --bootstrap 20 2>&1", bin, db, rep), 0);
  assert_int_equal(run("%s fit --runs %s/runs.csv --no-plots 2>&1", bin, rep), 0);
  char rows_text[32];
  snprintf(rows_text, sizeof rows_text, "(%d rows)", n);
  assert_non_null(strstr(out, rows_text));
  assert_int_equal(
      run("grep -c '^xlstm,isoflop,32,' %s/runs.csv; grep -c '^transformer,isoflop,32,' %s/runs.csv", rep, rep), 0);
  char counts[32];
  snprintf(counts, sizeof counts, "%d\n%d\n", n_xlstm, n - n_xlstm);
  assert_string_equal(out, counts);
  assert_int_equal(run("grep -c '## Fits' %s/report.md", rep), 0);
}

int main(void) {
  th_tmpdir("sweep", tmp, sizeof tmp);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isoflop_expansion_matches_hand_computed_steps),
      cmocka_unit_test(test_tokenparam_expansion_matches_hand_computed_steps),
      cmocka_unit_test(test_bad_sweep_files_name_the_field),
      cmocka_unit_test(test_run_config_counts_are_checked),
      cmocka_unit_test(test_workers_never_take_the_same_run),
      cmocka_unit_test(test_dead_workers_run_is_taken_over),
      cmocka_unit_test(test_killed_sweep_finishes_every_run_once),
  };
  return TH_RUN_GROUP(tests, NULL, NULL);
}
