/* scalecl prepare: text -> shards -> tokens -> text round trips for every input kind (plain,
 * JSONL, .zst, .gz), document rules, malformed JSONL lines, the train/val split, atomic output,
 * the command line, and the default GCIDE corpus against an independent entry count. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "data/loader.h"
#include "data/prepare.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "harness.h"

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot create %s", path);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

typedef struct {
  int32_t *tok;
  size_t n;
} tokens;

/* All tokens of a split, shards in order. */
static tokens read_split(const char *dir, sc_split split) {
  sc_shard_set set;
  sc_err err = {{0}};
  tokens t = {0};
  if (sc_shard_set_open(&set, dir, split, &err)) return t;
  t.tok = malloc(set.ntok * sizeof *t.tok);
  for (int s = 0; s < set.n; s++)
    for (uint64_t i = 0; i < set.shards[s].ntok; i++) t.tok[t.n++] = (int32_t)sc_shard_token(&set.shards[s], i);
  sc_shard_set_close(&set);
  return t;
}

/* Document d (0-based) of a token stream in which an EOS precedes every document; the bytes are
 * decoded into buf. Returns the length, or -1 if there is no such document. */
static long doc_text(const tokens *t, int d, char *buf, size_t cap) {
  assert_true(t->n > 0);
  assert_int_equal(t->tok[0], SC_TOK_EOS);
  size_t i = 0;
  for (int k = -1; i < t->n; i++)
    if (t->tok[i] == SC_TOK_EOS && ++k == d) break;
  if (i == t->n) return -1;
  size_t j = i + 1;
  while (j < t->n && t->tok[j] != SC_TOK_EOS) j++;
  size_t len;
  sc_err err = {{0}};
  if (sc_tok_decode(t->tok + i + 1, j - i - 1, SC_DECODE_NAME_SPECIAL, buf, cap, &len, &err)) fail_msg("%s", err.msg);
  return (long)len;
}

static void expect_doc(const tokens *t, int d, const char *want, size_t n) {
  static char buf[1 << 16];
  long len = doc_text(t, d, buf, sizeof buf);
  if (len != (long)n || memcmp(buf, want, n)) fail_msg("document %d: got %ld bytes '%.*s'", d, len, (int)len, buf);
}

static int prepare(const char *in, const char *out, sc_text_docs docs, double val, uint64_t shard_tokens, int force,
                   FILE *log, sc_prepare_stats *st, sc_err *err) {
  sc_prepare_opts o;
  sc_prepare_defaults(&o);
  const char *inputs[1] = {in};
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = out;
  o.text_docs = docs;
  o.val_fraction = val;
  o.shard_tokens = shard_tokens;
  o.force = force;
  o.log = log;
  return sc_prepare(&o, st, err);
}

#define assert_ok(call, err)                    \
  do {                                          \
    if ((call) != 0) fail_msg("%s", (err).msg); \
  } while (0)

static void files_round_trip(void **state) {
  (void)state;
  char dir[256], in[512], out[512], p[600];
  th_tmpdir("prep-files", dir, sizeof dir);
  snprintf(in, sizeof in, "%s/in", dir);
  snprintf(p, sizeof p, "%s/c", in);
  sc_err err = {{0}};
  assert_int_equal(sc_mkdirs(p, &err), 0);
  uint8_t all[768];
  for (int i = 0; i < 768; i++) all[i] = (uint8_t)(i * 7 + 3); /* every byte value, not UTF-8 */
  snprintf(p, sizeof p, "%s/a.txt", in);
  write_file(p, all, sizeof all);
  snprintf(p, sizeof p, "%s/b.txt", in);
  write_file(p, "hello\n\nworld\n", 13);
  snprintf(p, sizeof p, "%s/c/d.txt", in);
  write_file(p, "x", 1);
  snprintf(p, sizeof p, "%s/e.txt", in);
  write_file(p, "", 0);
  snprintf(p, sizeof p, "%s/.hidden", in);
  write_file(p, "skip me", 7);
  snprintf(out, sizeof out, "%s/out/corpus", dir);
  sc_prepare_stats st;
  /* Documents a, b, d (e is empty); with F = 0.5 every second one (b) goes to val. */
  assert_ok(prepare(in, out, SC_DOCS_FILE, 0.5, 100, 0, NULL, &st, &err), err);
  assert_int_equal(st.files, 4);
  assert_int_equal(st.documents, 3);
  assert_int_equal(st.docs_val, 1);
  assert_int_equal(st.bytes_text, 768 + 13 + 1);
  assert_int_equal(st.tokens_train, 1 + 768 + 1 + 1);
  assert_int_equal(st.tokens_val, 1 + 13);
  assert_int_equal(st.shards_train, 8); /* 771 tokens, 100 per shard */
  assert_int_equal(st.shards_val, 1);
  snprintf(p, sizeof p, "%s/corpus_train_000007.bin", out);
  assert_int_equal(access(p, F_OK), 0);
  snprintf(p, sizeof p, "%s/*.tmp.*", out);
  assert_int_equal(th_count_glob(p), 0);
  snprintf(p, sizeof p, "%s/corpus_prepare.json", out);
  char *info;
  assert_int_equal(sc_read_file(p, &info, NULL, &err), 0);
  assert_non_null(strstr(info, "\"vocab_size\":\t259"));
  free(info);
  tokens tr = read_split(out, SC_SPLIT_TRAIN), va = read_split(out, SC_SPLIT_VAL);
  assert_int_equal(tr.n, 771);
  expect_doc(&tr, 0, (const char *)all, sizeof all);
  expect_doc(&tr, 1, "x", 1);
  assert_int_equal(doc_text(&tr, 2, (char[8]){0}, 8), -1);
  expect_doc(&va, 0, "hello\n\nworld\n", 13);
  /* Document-start flags from the loader sit on the two EOS tokens of the train stream. */
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, out, SC_SPLIT_TRAIN, &err), 0);
  assert_int_equal(set.n, 8);
  sc_loader l;
  sc_loader_cfg cfg = {.B = 1, .T = 99, .shuffle = 0, .eot = SC_TOK_EOS, .vocab = SC_TOK_VOCAB};
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
  int32_t w[8][100];
  uint8_t f[8][100];
  for (int k = 0; k < 7; k++) assert_int_equal(sc_loader_next(&l, w[k], f[k], &err), 0);
  for (int k = 0; k < 7; k++)
    for (int t = 0; t < 100; t++) {
      assert_int_equal(w[k][t], tr.tok[100 * k + t]);
      assert_int_equal(f[k][t], 100 * k + t == 0 || 100 * k + t == 769);
    }
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  free(tr.tok);
  free(va.tok);
}

static void text_document_rules(void **state) {
  (void)state;
  char dir[256], p[512], out[512];
  th_tmpdir("prep-docs", dir, sizeof dir);
  sc_err err = {{0}};
  sc_prepare_stats st;
  /* Paragraphs: blank (whitespace-only) lines end a document; CR is kept in content lines. */
  snprintf(p, sizeof p, "%s/para.txt", dir);
  const char *para = "\n\na\nb\n\n \t\nc\r\n\n\nd";
  write_file(p, para, strlen(para));
  snprintf(out, sizeof out, "%s/para", dir);
  assert_ok(prepare(p, out, SC_DOCS_PARAGRAPH, 0, 1000, 0, NULL, &st, &err), err);
  assert_int_equal(st.documents, 3);
  tokens t = read_split(out, SC_SPLIT_TRAIN);
  expect_doc(&t, 0, "a\nb\n", 4);
  expect_doc(&t, 1, "c\r\n", 3);
  expect_doc(&t, 2, "d\n", 2);
  free(t.tok);
  /* Entries: a block after a blank line that starts in column 0; indented blocks stay inside. */
  snprintf(p, sizeof p, "%s/dict.txt", dir);
  const char *dict =
      "\nAbate \\A*bate\"\\, v. t.\n   1. To lessen.\n\n   2. To deduct.\n      [1913 Webster]\n\n\n"
      "Abb \\Abb\\, n.\n   Yarn.\n   \nAbbe\n   Abbot.\n";
  write_file(p, dict, strlen(dict));
  snprintf(out, sizeof out, "%s/dict", dir);
  assert_ok(prepare(p, out, SC_DOCS_ENTRY, 0, 1000, 0, NULL, &st, &err), err);
  assert_int_equal(st.documents, 3);
  t = read_split(out, SC_SPLIT_TRAIN);
  const char *e0 = "Abate \\A*bate\"\\, v. t.\n   1. To lessen.\n\n   2. To deduct.\n      [1913 Webster]\n";
  expect_doc(&t, 0, e0, strlen(e0));
  expect_doc(&t, 1, "Abb \\Abb\\, n.\n   Yarn.\n", 23);
  expect_doc(&t, 2, "Abbe\n   Abbot.\n", 15);
  free(t.tok);
  /* Documents never span files; a file with no text makes no document. */
  snprintf(p, sizeof p, "%s/blank.txt", dir);
  write_file(p, "\n \n\n", 4);
  snprintf(out, sizeof out, "%s/blank", dir);
  assert_int_equal(prepare(p, out, SC_DOCS_PARAGRAPH, 0, 1000, 0, NULL, &st, &err), -1);
  assert_non_null(strstr(err.msg, "no documents"));
}

static const char jsonl_text[] =
    "{\"text\": \"first doc\\nline two\", \"id\": 1}\n"
    "{\"text\": \"broken\n"
    "[1, 2, 3]\n"
    "\n"
    "{\"id\": 7}\n"
    "{\"text\": 5}\n"
    "{\"text\": \"caf\\u00e9 \xff\xfe raw\"}\r\n"
    "{\"text\": \"\"}\n"
    "{\"text\": \"x\"} trailing\n"
    "{\"meta\": {\"a\": [1]}, \"text\": \"last\"}";

static void check_jsonl_output(const char *out, const sc_prepare_stats *st) {
  assert_int_equal(st->documents, 3);
  assert_int_equal(st->bad_lines, 5);
  assert_int_equal(st->empty_docs, 1);
  tokens t = read_split(out, SC_SPLIT_TRAIN);
  expect_doc(&t, 0, "first doc\nline two", 18);
  expect_doc(&t, 1, "caf\xc3\xa9 \xff\xfe raw", 12);
  expect_doc(&t, 2, "last", 4);
  free(t.tok);
}

static void jsonl_broken_lines_zst_gz(void **state) {
  (void)state;
  char dir[256], p[512], out[512], logp[512];
  th_tmpdir("prep-jsonl", dir, sizeof dir);
  sc_err err = {{0}};
  sc_prepare_stats st;
  snprintf(logp, sizeof logp, "%s/log.txt", dir);
  FILE *log = fopen(logp, "w+"), *devnull = fopen("/dev/null", "w");
  /* Plain JSONL: broken lines skipped, counted and reported with file and line. */
  snprintf(p, sizeof p, "%s/a.jsonl", dir);
  write_file(p, jsonl_text, strlen(jsonl_text));
  snprintf(out, sizeof out, "%s/plain", dir);
  assert_ok(prepare(p, out, SC_DOCS_FILE, 0, 1000, 0, log, &st, &err), err);
  check_jsonl_output(out, &st);
  fflush(log);
  char *msg;
  assert_int_equal(sc_read_file(logp, &msg, NULL, &err), 0);
  print_message("%s", msg);
  const char *want[] = {"a.jsonl:2: skipped: not valid JSON", "a.jsonl:3: skipped: not a JSON object",
                        "a.jsonl:5: skipped: no \"text\" string field", "a.jsonl:6: skipped: no \"text\" string field",
                        "a.jsonl:9: skipped: text after the JSON value"};
  for (int i = 0; i < 5; i++)
    if (!strstr(msg, want[i])) fail_msg("log lacks '%s'", want[i]);
  free(msg);
  fclose(log);
  /* zstd in two frames, split inside a record, decodes to the same documents. */
  size_t half = 50, n = strlen(jsonl_text);
  size_t cap = ZSTD_compressBound(n) * 2;
  char *z = malloc(cap);
  size_t z1 = ZSTD_compress(z, cap, jsonl_text, half, 3);
  assert_false(ZSTD_isError(z1));
  size_t z2 = ZSTD_compress(z + z1, cap - z1, jsonl_text + half, n - half, 19);
  assert_false(ZSTD_isError(z2));
  snprintf(p, sizeof p, "%s/b.jsonl.zst", dir);
  write_file(p, z, z1 + z2);
  snprintf(out, sizeof out, "%s/zst", dir);
  assert_ok(prepare(p, out, SC_DOCS_FILE, 0, 1000, 0, devnull, &st, &err), err);
  check_jsonl_output(out, &st);
  assert_int_equal(st.bytes_text, n);
  assert_int_equal(st.bytes_read, z1 + z2);
  /* A truncated zstd file is an error naming the file. */
  snprintf(p, sizeof p, "%s/c.jsonl.zst", dir);
  write_file(p, z, z1 + z2 - 5);
  snprintf(out, sizeof out, "%s/ztrunc", dir);
  assert_int_equal(prepare(p, out, SC_DOCS_FILE, 0, 1000, 0, devnull, &st, &err), -1);
  assert_non_null(strstr(err.msg, "c.jsonl.zst"));
  assert_non_null(strstr(err.msg, "truncated"));
  free(z);
  /* gzip, through the gzip program (what --default uses for dictzip). */
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "gzip -c '%s/a.jsonl' > '%s/d.jsonl.gz'", dir, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(p, sizeof p, "%s/d.jsonl.gz", dir);
  snprintf(out, sizeof out, "%s/gz", dir);
  assert_ok(prepare(p, out, SC_DOCS_FILE, 0, 1000, 0, devnull, &st, &err), err);
  check_jsonl_output(out, &st);
  /* Not gzip data: the failure of gzip is reported. */
  snprintf(p, sizeof p, "%s/e.txt.gz", dir);
  write_file(p, "plain", 5);
  snprintf(out, sizeof out, "%s/gzbad", dir);
  assert_int_equal(prepare(p, out, SC_DOCS_FILE, 0, 1000, 0, NULL, &st, &err), -1);
  assert_non_null(strstr(err.msg, "gzip -dc"));
  assert_non_null(strstr(err.msg, "e.txt.gz"));
  fclose(devnull);
}

static void existing_shards_need_force(void **state) {
  (void)state;
  char dir[256], p[512], out[512];
  th_tmpdir("prep-force", dir, sizeof dir);
  snprintf(p, sizeof p, "%s/t.txt", dir);
  char text[1000];
  memset(text, 'q', sizeof text);
  write_file(p, text, sizeof text);
  snprintf(out, sizeof out, "%s/o", dir);
  sc_err err = {{0}};
  sc_prepare_stats st;
  assert_ok(prepare(p, out, SC_DOCS_FILE, 0, 300, 0, NULL, &st, &err), err);
  assert_int_equal(st.shards_train, 4);
  assert_int_equal(prepare(p, out, SC_DOCS_FILE, 0, 2000, 0, NULL, &st, &err), -1);
  assert_non_null(strstr(err.msg, "already holds 4 shards named o_*"));
  assert_non_null(strstr(err.msg, "--force"));
  assert_ok(prepare(p, out, SC_DOCS_FILE, 0, 2000, 1, NULL, &st, &err), err);
  assert_int_equal(st.shards_train, 1);
  char pat[600];
  snprintf(pat, sizeof pat, "%s/*.bin", out);
  assert_int_equal(th_count_glob(pat), 1); /* the three stale shards are gone */
  tokens t = read_split(out, SC_SPLIT_TRAIN);
  expect_doc(&t, 0, text, sizeof text);
  free(t.tok);
}

static void command_line(void **state) {
  (void)state;
  char dir[256], cmd[2048], out[8192];
  th_tmpdir("prep-cli", dir, sizeof dir);
  snprintf(cmd, sizeof cmd, "printf 'one\\n\\ntwo\\n' > '%s/a.txt'; printf three > '%s/b.txt'", dir, dir);
  assert_int_equal(system(cmd), 0);
  const char *bin = th_scalecl_bin();
  snprintf(cmd, sizeof cmd,
           "'%s' prepare --in '%s/a.txt' '%s/b.txt' --out '%s/o' --docs paragraph --val-fraction 0 2>&1", bin, dir, dir,
           dir);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  print_message("%s", out);
  assert_non_null(strstr(out, "documents: 3 (train 3, val 0)"));
  assert_non_null(strstr(out, "train: 17 tokens in 1 shard")); /* 3 EOS + "one\n" "two\n" "three\n" */
  snprintf(cmd, sizeof cmd, "'%s' prepare --help", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "--val-fraction"));
  snprintf(cmd, sizeof cmd, "'%s' prepare --in x --out y --val-fractoin 0.1 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 2);
  assert_non_null(strstr(out, "did you mean '--val-fraction'"));
  snprintf(cmd, sizeof cmd, "'%s' prepare --in x --out y --val-fraction 1.5 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 2);
  assert_non_null(strstr(out, "--val-fraction 1.5 is not in [0, 1)"));
  snprintf(cmd, sizeof cmd, "'%s' prepare --in '%s/missing' --out '%s/o2' 2>&1", bin, dir, dir);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 1);
  assert_non_null(strstr(out, "missing: No such file"));
}

/* A log stream whose first write raises SIGTERM: the signal arrives in the middle of a run, at a known point
 * (the warning about a malformed line), after some shards are complete. */
static ssize_t raise_on_write(void *cookie, const char *buf, size_t n) {
  (void)buf;
  int *raised = cookie;
  if (!*raised) {
    *raised = 1;
    raise(SIGTERM);
  }
  return (ssize_t)n;
}

/* SIGINT/SIGTERM during prepare, a kill -9 (marker and temp files left), and a failed run: no partial corpus
 * stays readable, --force cleans up, and a directory the run created is removed. */
static void interrupted_runs_leave_nothing(void **state) {
  (void)state;
  char dir[256], in[512], out[512], path[700];
  th_tmpdir("prep-int", dir, sizeof dir);
  snprintf(in, sizeof in, "%s/in.jsonl", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  /* 3 MiB of records (several reads of 1 MiB), one malformed line after the first MiB. */
  FILE *f = fopen(in, "w");
  assert_non_null(f);
  for (int i = 0; i < 40000; i++)
    fprintf(f, i == 15000 ? "{broken\n" : "{\"text\": \"document %06d %s\"}\n", i,
            "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmn");
  fclose(f);
  int raised = 0;
  FILE *log = fopencookie(&raised, "w", (cookie_io_functions_t){.write = raise_on_write});
  assert_non_null(log);
  setvbuf(log, NULL, _IONBF, 0);
  sc_prepare_stats st;
  sc_err err;
  assert_int_equal(prepare(in, out, SC_DOCS_PARAGRAPH, 0.01, 50000, 0, log, &st, &err), -1);
  fclose(log);
  print_message("%s\n", err.msg);
  assert_true(raised);
  assert_non_null(strstr(err.msg, "interrupted by SIGTERM"));
  assert_non_null(strstr(err.msg, "partial shards"));
  assert_true(st.shards_train > 0);        /* shards were complete when the signal came, and are gone now */
  assert_int_equal(access(out, F_OK), -1); /* the run created out/, so it removed it */

  /* kill -9 in the middle: a complete shard, a temp file and the marker remain. */
  assert_ok(prepare(in, out, SC_DOCS_PARAGRAPH, 0.01, 50000, 0, NULL, &st, &err), err);
  snprintf(path, sizeof path, "%s/out_train_000099.bin.tmp.12345", out);
  write_file(path, "partial", 7);
  snprintf(path, sizeof path, "%s/out" SC_PREPARE_MARKER, out);
  write_file(path, "{\"pid\": 12345}\n", 15);
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, out, SC_SPLIT_TRAIN, &err), -1);
  assert_non_null(strstr(err.msg, "did not finish"));
  assert_non_null(strstr(err.msg, "--force"));
  assert_int_equal(prepare(in, out, SC_DOCS_PARAGRAPH, 0.01, 50000, 0, NULL, &st, &err), -1);
  assert_non_null(strstr(err.msg, "did not finish"));
  assert_ok(prepare(in, out, SC_DOCS_PARAGRAPH, 0.01, 50000, 1, NULL, &st, &err), err);
  snprintf(path, sizeof path, "%s/*.tmp.*", out);
  assert_int_equal(th_count_glob(path), 0);
  snprintf(path, sizeof path, "%s/*" SC_PREPARE_MARKER, out);
  assert_int_equal(th_count_glob(path), 0);
  assert_ok(sc_shard_set_open(&set, out, SC_SPLIT_TRAIN, &err), err);
  sc_shard_set_close(&set);

  /* A run that fails (no documents) names the input and leaves no new directory behind. */
  snprintf(in, sizeof in, "%s/empty.txt", dir);
  write_file(in, "", 0);
  snprintf(out, sizeof out, "%s/out-empty", dir);
  assert_int_equal(prepare(in, out, SC_DOCS_PARAGRAPH, 0.01, 50000, 0, NULL, &st, &err), -1);
  assert_non_null(strstr(err.msg, "empty.txt"));
  assert_int_equal(access(out, F_OK), -1);
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Entries counted independently: a line starting in column 0 after a blank line (or first). */
static long count_gcide_entries(void) {
  FILE *f = popen("gzip -dc " SC_GCIDE_PATH, "r");
  assert_non_null(f);
  char *line = NULL;
  size_t cap = 0;
  long n = 0;
  int prev_blank = 1, any = 0;
  for (ssize_t len; (len = getline(&line, &cap, f)) >= 0;) {
    int blank = 1;
    for (ssize_t i = 0; i < len; i++)
      if (!is_space(line[i])) blank = 0;
    if (!blank && (prev_blank || !any) && !is_space(line[0])) n++;
    if (!blank) any = 1;
    prev_blank = blank;
  }
  free(line);
  pclose(f);
  return n;
}

static void default_corpus(void **state) {
  (void)state;
  if (access(SC_GCIDE_PATH, R_OK) != 0) TH_SKIP("%s absent (install dict-gcide)", SC_GCIDE_PATH);
  char dir[256], cmd[2048], out[8192];
  th_tmpdir("prep-gcide", dir, sizeof dir);
  snprintf(cmd, sizeof cmd, "SCALECL_DATA_DIR='%s' '%s' prepare --default 2>&1", dir, th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  print_message("%s", out);
  unsigned long long docs, train, val;
  const char *d = strstr(out, "documents: ");
  assert_non_null(d);
  assert_int_equal(sscanf(d, "documents: %llu (train %llu, val %llu)", &docs, &train, &val), 3);
  long want = count_gcide_entries();
  assert_int_equal(docs, want);
  assert_true(want > 100000);
  assert_int_equal(val, (unsigned long long)floor((double)docs * 0.01)); /* --val-fraction 0.01 */
  char shards[600];
  snprintf(shards, sizeof shards, "%s/gcide", dir);
  tokens t = read_split(shards, SC_SPLIT_VAL);
  assert_true(t.n > 100000);
  free(t.tok);
  t = read_split(shards, SC_SPLIT_TRAIN);
  const char *first = "00-database-url\n   ftp://ftp.gnu.org/gnu/gcide\n";
  expect_doc(&t, 0, first, strlen(first));
  free(t.tok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(files_round_trip),
      cmocka_unit_test(text_document_rules),
      cmocka_unit_test(jsonl_broken_lines_zst_gz),
      cmocka_unit_test(existing_shards_need_force),
      cmocka_unit_test(interrupted_runs_leave_nothing),
      cmocka_unit_test(command_line),
      cmocka_unit_test(default_corpus),
  };
  return TH_RUN_GROUP(tests, NULL, NULL);
}
