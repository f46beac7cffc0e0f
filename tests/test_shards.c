/* llm.c shards: headers of both versions and every way a shard can be wrong, the writer's
 * rotation and atomicity, shard sets, and the sampler (coverage, determinism, exact resume,
 * document-start flags). Tokens are made position-coded so each window's origin is known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "harness.h"

static void write_raw(const char *path, const int32_t *hdr3, int vocab, const void *payload, size_t n) {
  uint8_t h[SC_SHARD_HEADER_BYTES] = {0};
  int32_t slots[4] = {hdr3[0], hdr3[1], hdr3[2], vocab};
  for (int s = 0; s < 4; s++)
    for (int b = 0; b < 4; b++) h[4 * s + b] = (uint8_t)((uint32_t)slots[s] >> (8 * b));
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
  if (n) assert_int_equal(fwrite(payload, 1, n, f), n);
  fclose(f);
}

static void expect_open_error(const char *path, const char *a, const char *b) {
  sc_shard s;
  sc_err err = {{0}};
  assert_int_equal(sc_shard_open(&s, path, &err), -1);
  if (!strstr(err.msg, path) || !strstr(err.msg, a) || (b && !strstr(err.msg, b)))
    fail_msg("message lacks '%s'/'%s' or the path: %s", a, b ? b : "", err.msg);
  print_message("  rejected: %s\n", err.msg);
}

static void headers_of_both_versions(void **state) {
  (void)state;
  char dir[256], p[512];
  th_tmpdir("hdr", dir, sizeof dir);
  sc_err err = {{0}};
  /* Version 1: uint16 tokens. */
  int32_t t16[5] = {0, 65535, 256, 7, 1000};
  snprintf(p, sizeof p, "%s/v1.bin", dir);
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, SC_TOK_VOCAB, t16, 5, &err), 0);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_size, 1024 + 5 * 2);
  sc_shard s;
  assert_int_equal(sc_shard_open(&s, p, &err), 0);
  assert_int_equal(s.version, 1);
  assert_int_equal(s.token_bytes, 2);
  assert_int_equal(s.ntok, 5);
  assert_int_equal(s.vocab, SC_TOK_VOCAB);
  for (int i = 0; i < 5; i++) assert_int_equal(sc_shard_token(&s, (uint64_t)i), t16[i]);
  sc_shard_close(&s);
  /* A delimiter no 16-bit shard can hold would never flag a document start: refused, naming the shard. */
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_ALL, &err), 0);
  sc_loader l;
  sc_loader_cfg cfg = {.B = 1, .T = 2, .seed = 1, .eot = 70000};
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), -1);
  assert_non_null(strstr(err.msg, "v1.bin: the document delimiter id 70000 cannot occur in a 16-bit shard"));
  cfg.eot = 65535;
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  /* Version 7: uint32 tokens, written by hand as llm.c's Python writer does (vocab slot 0). */
  const uint8_t payload[12] = {0x00, 0xf4, 0x01, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x05, 0, 0, 0};
  snprintf(p, sizeof p, "%s/v7.bin", dir);
  write_raw(p, (const int32_t[]){SC_SHARD_MAGIC_U32, SC_SHARD_VERSION_U32, 3}, 0, payload, sizeof payload);
  assert_int_equal(sc_shard_open(&s, p, &err), 0);
  assert_int_equal(s.version, 7);
  assert_int_equal(s.token_bytes, 4);
  assert_int_equal(s.ntok, 3);
  assert_int_equal(s.vocab, 0);
  assert_int_equal(sc_shard_token(&s, 0), 128000);
  assert_int_equal(sc_shard_token(&s, 1), 0x7fffffff);
  assert_int_equal(sc_shard_token(&s, 2), 5);
  sc_shard_close(&s);
  /* Our writer's version 7 reads back the same. */
  int32_t t32[3] = {128000, 0x7fffffff, 5};
  snprintf(p, sizeof p, "%s/w7.bin", dir);
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U32, 0, t32, 3, &err), 0);
  char *a, *b;
  size_t la, lb;
  assert_int_equal(sc_read_file(p, &a, &la, &err), 0);
  snprintf(p, sizeof p, "%s/v7.bin", dir);
  assert_int_equal(sc_read_file(p, &b, &lb, &err), 0);
  assert_int_equal(la, lb);
  assert_memory_equal(a, b, la);
  free(a);
  free(b);
}

static void bad_headers_rejected(void **state) {
  (void)state;
  char dir[256], p[512];
  th_tmpdir("badhdr", dir, sizeof dir);
  uint8_t tok[400] = {0};
  /* Shorter than the header. */
  snprintf(p, sizeof p, "%s/short.bin", dir);
  FILE *f = fopen(p, "wb");
  fwrite(tok, 1, 100, f);
  fclose(f);
  expect_open_error(p, "truncated", "fewer than the 1024-byte");
  /* A header (magic, version, token count) and the payload bytes after it, each wrong in one way. */
  static const struct {
    const char *file;
    int32_t hdr[3];
    size_t payload;
    const char *a, *b; /* expected in the message */
  } bad[] = {
      /* Header intact, tokens cut off (v1 and v7). */
      {"cut1.bin", {SC_SHARD_MAGIC_U16, 1, 100}, 150, "says 100 tokens", "truncated"},
      {"cut7.bin", {SC_SHARD_MAGIC_U32, 7, 100}, 396, "1024 + 100*4 = 1424 bytes, but it has 1420", "truncated"},
      /* Wrong magic. */
      {"magic.bin", {20240326, 1, 10}, 20, "bad magic 20240326", "20240520"},
      /* Wrong version for each magic. */
      {"ver1.bin", {SC_SHARD_MAGIC_U16, 7, 10}, 20, "wrong version 7", "only defined with version 1"},
      {"ver7.bin", {SC_SHARD_MAGIC_U32, 1, 10}, 40, "wrong version 1", "only defined with version 7"},
      /* Count disagrees with the size: trailing bytes, and a size that fits the other width. */
      {"extra.bin", {SC_SHARD_MAGIC_U16, 1, 10}, 23, "token count disagrees with the file size", "trailing bytes"},
      {"width.bin", {SC_SHARD_MAGIC_U16, 1, 10}, 40, "token count disagrees", "other token width"},
      /* Empty, and a negative count. */
      {"empty.bin", {SC_SHARD_MAGIC_U16, 1, 0}, 0, "empty shard", "0 tokens"},
      {"neg.bin", {SC_SHARD_MAGIC_U16, 1, -5}, 0, "negative token count", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, bad[i].file);
    write_raw(p, bad[i].hdr, 0, tok, bad[i].payload);
    expect_open_error(p, bad[i].a, bad[i].b);
  }
  /* Missing file. */
  snprintf(p, sizeof p, "%s/none.bin", dir);
  expect_open_error(p, "cannot open", NULL);
  /* The writer refuses an empty shard and ids that do not fit. */
  sc_err err = {{0}};
  int32_t big = 70000;
  snprintf(p, sizeof p, "%s/big.bin", dir);
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, 0, &big, 1, &err), -1);
  assert_non_null(strstr(err.msg, "does not fit a version-1 shard"));
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, 0, &big, 0, &err), -1);
  assert_non_null(strstr(err.msg, "empty shard"));
  assert_int_equal(access(p, F_OK), -1);
}

static void writer_rotates_and_is_atomic(void **state) {
  (void)state;
  char dir[256], p[512];
  th_tmpdir("writer", dir, sizeof dir);
  sc_err err = {{0}};
  sc_shard_writer w;
  assert_int_equal(sc_shard_writer_open(&w, dir, "x", "train", SC_SHARD_VERSION_U16, SC_TOK_VOCAB, 1000, &err), 0);
  int32_t tok[2500];
  for (int i = 0; i < 2500; i++) tok[i] = i % SC_TOK_VOCAB;
  assert_int_equal(sc_shard_writer_put(&w, tok, 700, &err), 0);
  assert_int_equal(sc_shard_writer_put(&w, tok + 700, 1800, &err), 0);
  /* Two full shards are complete; the third is still a temp file no reader picks up. */
  snprintf(p, sizeof p, "%s/*.bin", dir);
  assert_int_equal(th_count_glob(p), 2);
  snprintf(p, sizeof p, "%s/x_train_000002.bin.tmp.*", dir);
  assert_int_equal(th_count_glob(p), 1);
  assert_int_equal(sc_shard_writer_finish(&w, &err), 0);
  assert_int_equal(w.nshards, 3);
  assert_int_equal(w.ntok, 2500);
  sc_shard_writer_close(&w);
  snprintf(p, sizeof p, "%s/*.tmp.*", dir);
  assert_int_equal(th_count_glob(p), 0);
  const uint64_t sizes[3] = {1000, 1000, 500};
  for (int k = 0; k < 3; k++) {
    sc_shard s;
    sc_shard_path(p, sizeof p, dir, "x", "train", k);
    assert_int_equal(sc_shard_open(&s, p, &err), 0);
    assert_int_equal(s.ntok, sizes[k]);
    for (uint64_t i = 0; i < s.ntok; i++) assert_int_equal(sc_shard_token(&s, i), tok[1000 * k + (int)i]);
    sc_shard_close(&s);
  }
  /* An interrupted writer leaves no shard that looks whole. */
  assert_int_equal(sc_shard_writer_open(&w, dir, "y", "train", SC_SHARD_VERSION_U16, 0, 1000, &err), 0);
  assert_int_equal(sc_shard_writer_put(&w, tok, 10, &err), 0);
  sc_shard_writer_close(&w);
  snprintf(p, sizeof p, "%s/y_*", dir);
  assert_int_equal(th_count_glob(p), 0);
}

/* Shard k holds n[k] uint32 tokens valued 1e6*k + i (position-coded), version 7. */
static void make_coded(const char *dir, const char *name, const char *split, int k, uint64_t n) {
  char p[512];
  sc_shard_path(p, sizeof p, dir, name, split, k);
  int32_t *t = malloc(n * sizeof *t);
  for (uint64_t i = 0; i < n; i++) t[i] = (int32_t)(1000000 * k + (int)i);
  sc_err err = {{0}};
  if (sc_shard_write(p, SC_SHARD_VERSION_U32, 0, t, n, &err)) fail_msg("%s", err.msg);
  free(t);
}

static void shard_sets_and_split(void **state) {
  (void)state;
  char dir[256], p[512];
  th_tmpdir("set", dir, sizeof dir);
  make_coded(dir, "c", "train", 0, 50);
  make_coded(dir, "c", "train", 1, 60);
  make_coded(dir, "c", "val", 0, 30);
  snprintf(p, sizeof p, "%s/c_train_000009.bin.tmp.123", dir); /* a leftover temp file */
  FILE *f = fopen(p, "wb");
  fputs("junk", f);
  fclose(f);
  sc_err err = {{0}};
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_TRAIN, &err), 0);
  assert_int_equal(set.n, 2);
  assert_int_equal(set.ntok, 110);
  assert_non_null(strstr(set.shards[0].path, "c_train_000000.bin"));
  uint64_t fp = set.fingerprint;
  sc_shard_set_close(&set);
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_VAL, &err), 0);
  assert_int_equal(set.n, 1);
  assert_int_equal(set.ntok, 30);
  assert_true(set.fingerprint != fp);
  sc_shard_set_close(&set);
  snprintf(p, sizeof p, "%s/c_*_000000.bin", dir);
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_ALL, &err), 0);
  assert_int_equal(set.n, 2);
  sc_shard_set_close(&set);
  sc_shard_path(p, sizeof p, dir, "c", "train", 1);
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
  assert_int_equal(set.ntok, 60);
  sc_shard_set_close(&set);
  sc_shard_path(p, sizeof p, dir, "c", "val", 0); /* a file named explicitly is taken whatever the split */
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
  assert_int_equal(set.ntok, 30);
  sc_shard_set_close(&set);
  /* Nothing to read: the message says what was looked for. */
  char empty[256];
  th_tmpdir("noset", empty, sizeof empty);
  assert_int_equal(sc_shard_set_open(&set, empty, SC_SPLIT_VAL, &err), -1);
  assert_non_null(strstr(err.msg, "no validation (*_val_*) shards"));
  assert_non_null(strstr(err.msg, "--val-fraction"));
  snprintf(p, sizeof p, "%s/nothing", empty);
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), -1);
  assert_non_null(strstr(err.msg, "does not exist"));
  /* A bad shard in a set names that shard. */
  snprintf(p, sizeof p, "%s/c_train_000002.bin", dir);
  write_raw(p, (const int32_t[]){SC_SHARD_MAGIC_U16, 1, 0}, 0, NULL, 0);
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_TRAIN, &err), -1);
  assert_non_null(strstr(err.msg, "c_train_000002.bin: empty shard"));
}

/* Decodes a window's origin from position-coded tokens and checks it is contiguous. */
static void window_origin(const int32_t *w, int T, int *shard, int *start) {
  *shard = w[0] / 1000000;
  *start = w[0] % 1000000;
  for (int t = 1; t <= T; t++) assert_int_equal(w[t], w[0] + t);
}

static void sampler_covers_each_window_once(void **state) {
  (void)state;
  char dir[256];
  th_tmpdir("cover", dir, sizeof dir);
  const uint64_t n[3] = {1001, 37, 517}; /* (n-1)/T windows each with T = 8: 125, 4, 64 */
  for (int k = 0; k < 3; k++) make_coded(dir, "c", "train", k, n[k]);
  sc_err err = {{0}};
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_TRAIN, &err), 0);
  const int T = 8, B = 3;
  for (int shuffle = 0; shuffle < 2; shuffle++) {
    sc_loader l;
    sc_loader_cfg cfg = {.B = B, .T = T, .seed = 42, .shuffle = shuffle, .eot = -1};
    assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
    const int nw = 125 + 4 + 64;
    assert_int_equal(sc_loader_windows_per_epoch(&l), nw);
    int seen[3][130] = {{0}}, in_order = 1, prev = -1;
    int32_t tok[3 * 9];
    for (int i = 0; i < nw; i += B) {
      assert_int_equal(sc_loader_next(&l, tok, NULL, &err), 0);
      for (int b = 0; b < B && i + b < nw; b++) {
        int s, st;
        window_origin(tok + b * (T + 1), T, &s, &st);
        assert_int_equal(st % T, 0);
        assert_true((uint64_t)(st + T) < n[s]);
        seen[s][st / T]++;
        int g = s * 1000 + st / T;
        in_order &= g > prev;
        prev = g;
      }
    }
    for (int k = 0; k < 3; k++)
      for (uint64_t j = 0; j < (n[k] - 1) / (uint64_t)T; j++) assert_int_equal(seen[k][j], 1);
    assert_int_equal(in_order, !shuffle);
    sc_loader_close(&l);
  }
  sc_shard_set_close(&set);
}

static void sampler_permutes_any_count(void **state) {
  (void)state;
  char dir[256];
  th_tmpdir("perm", dir, sizeof dir);
  const uint64_t counts[] = {1, 2, 3, 5, 64, 65, 1000, 4097};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    char name[16];
    snprintf(name, sizeof name, "p%zu", c);
    make_coded(dir, name, "train", 0, counts[c] + 1); /* T = 1: counts[c] windows */
    char p[512];
    sc_shard_path(p, sizeof p, dir, name, "train", 0);
    sc_err err = {{0}};
    sc_shard_set set;
    assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
    sc_loader l;
    sc_loader_cfg cfg = {.B = 1, .T = 1, .seed = 3, .shuffle = 1, .eot = -1};
    assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
    assert_int_equal(sc_loader_windows_per_epoch(&l), counts[c]);
    char *seen = calloc(counts[c], 1);
    uint64_t fixed = 0;
    for (uint64_t i = 0; i < counts[c]; i++) {
      int32_t w[2];
      assert_int_equal(sc_loader_next(&l, w, NULL, &err), 0);
      assert_true((uint64_t)w[0] < counts[c]);
      assert_int_equal(seen[w[0]], 0);
      seen[w[0]] = 1;
      fixed += (uint64_t)w[0] == i;
    }
    if (counts[c] >= 64) assert_true(fixed < counts[c] / 8); /* shuffled, not the identity */
    free(seen);
    sc_loader_close(&l);
    sc_shard_set_close(&set);
  }
}

static void run_batches(sc_loader *l, int n, int32_t *out, size_t per, sc_err *err) {
  for (int i = 0; i < n; i++) assert_int_equal(sc_loader_next(l, out + (size_t)i * per, NULL, err), 0);
}

static void sampler_deterministic_and_resumable(void **state) {
  (void)state;
  char dir[256];
  th_tmpdir("resume", dir, sizeof dir);
  make_coded(dir, "c", "train", 0, 300);
  make_coded(dir, "c", "train", 1, 211);
  sc_err err = {{0}};
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_TRAIN, &err), 0);
  const int B = 4, T = 16, per = B * (T + 1);
  sc_loader_cfg cfg = {.B = B, .T = T, .seed = 1234, .shuffle = 1, .eot = -1};
  /* 18 + 13 = 31 windows in the first epoch (later ones, cut with an offset, 29 to 31), so 40
   * batches of 4 cover five epochs. */
  enum { N = 40, K = 13 };
  int32_t *a = malloc(N * per * sizeof *a), *b = malloc(N * per * sizeof *b);
  sc_loader l1, l2;
  assert_int_equal(sc_loader_open(&l1, &set, &cfg, &err), 0);
  assert_int_equal(sc_loader_windows_per_epoch(&l1), 31);
  run_batches(&l1, N, a, per, &err);
  assert_int_equal(sc_loader_open(&l2, &set, &cfg, &err), 0);
  run_batches(&l2, N, b, per, &err);
  assert_memory_equal(a, b, N * per * sizeof *a); /* same seed, same stream */
  /* Later epochs shift the cut but stay contiguous and inside their shard. */
  int shifted = 0;
  for (int w = 0; w < N * B; w++) {
    int s, st;
    window_origin(a + w * (T + 1), T, &s, &st);
    assert_true(st + T < (s ? 211 : 300));
    shifted |= st % T != 0;
  }
  assert_true(shifted);
  /* Resume: a position taken after K batches, restored in a fresh loader, continues exactly. */
  sc_loader_close(&l2);
  assert_int_equal(sc_loader_open(&l2, &set, &cfg, &err), 0);
  run_batches(&l2, K, b, per, &err);
  sc_loader_pos pos;
  sc_loader_tell(&l2, &pos);
  assert_int_equal(pos.epoch, K * B / 31);
  assert_int_equal(pos.index, K * B % 31);
  sc_loader_close(&l2);
  sc_loader_cfg other = cfg;
  other.seed = 99; /* the position carries the seed */
  assert_int_equal(sc_loader_open(&l2, &set, &other, &err), 0);
  assert_int_equal(sc_loader_seek(&l2, &pos, &err), 0);
  memset(b, 0, N * per * sizeof *b);
  run_batches(&l2, N - K, b, per, &err);
  assert_memory_equal(a + K * per, b, (N - K) * per * sizeof *a);
  /* Another seed gives another order. */
  sc_loader_close(&l2);
  assert_int_equal(sc_loader_open(&l2, &set, &other, &err), 0);
  run_batches(&l2, 2, b, per, &err);
  assert_true(memcmp(a, b, 2 * per * sizeof *a) != 0);
  /* A position from other data, another T or another index range is refused. */
  sc_loader_pos bad = pos;
  bad.fingerprint ^= 1;
  assert_int_equal(sc_loader_seek(&l2, &bad, &err), -1);
  assert_non_null(strstr(err.msg, "another shard set"));
  bad = pos;
  bad.T = 8;
  assert_int_equal(sc_loader_seek(&l2, &bad, &err), -1);
  assert_non_null(strstr(err.msg, "T=8"));
  bad = pos;
  bad.index = 1000;
  assert_int_equal(sc_loader_seek(&l2, &bad, &err), -1);
  assert_non_null(strstr(err.msg, "saved window index 1000 exceeds the"));
  sc_loader_close(&l1);
  sc_loader_close(&l2);
  sc_shard_set_close(&set);
  free(a);
  free(b);
}

static void doc_start_flags_at_eot(void **state) {
  (void)state;
  char dir[256], p[512];
  th_tmpdir("flags", dir, sizeof dir);
  /* Documents "ab", "cde", "f" as scalecl writes them: EOS before each. */
  const int32_t t[] = {SC_TOK_EOS, 'a', 'b', SC_TOK_EOS, 'c', 'd', 'e', SC_TOK_EOS, 'f'};
  snprintf(p, sizeof p, "%s/d_train_000000.bin", dir);
  sc_err err = {{0}};
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, SC_TOK_VOCAB, t, 9, &err), 0);
  sc_shard_set set;
  assert_int_equal(sc_shard_set_open(&set, dir, SC_SPLIT_TRAIN, &err), 0);
  sc_loader l;
  sc_loader_cfg cfg = {.B = 2, .T = 4, .seed = 0, .shuffle = 0, .eot = SC_TOK_EOS, .vocab = SC_TOK_VOCAB};
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
  int32_t tok[10];
  uint8_t doc[10];
  assert_int_equal(sc_loader_next(&l, tok, doc, &err), 0);
  /* Windows [0, 5) and [4, 9). */
  const uint8_t want[10] = {1, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  assert_memory_equal(tok, t, 5 * sizeof *t);
  assert_memory_equal(tok + 5, t + 4, 5 * sizeof *t);
  assert_memory_equal(doc, want, 10);
  sc_loader_close(&l);
  /* GPT-2 shards use 50256 as the delimiter: a byte vocabulary refuses them by name. */
  cfg.eot = 50256;
  cfg.vocab = 0;
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
  assert_int_equal(sc_loader_next(&l, tok, doc, &err), 0);
  for (int i = 0; i < 10; i++) assert_int_equal(doc[i], 0);
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  const int32_t g[] = {50256, 464, 3290, 50256, 11};
  snprintf(p, sizeof p, "%s/g_train_000000.bin", dir);
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, 0, g, 5, &err), 0);
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
  cfg = (sc_loader_cfg){.B = 1, .T = 4, .eot = SC_TOK_EOS, .vocab = SC_TOK_VOCAB};
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
  assert_int_equal(sc_loader_next(&l, tok, doc, &err), -1);
  assert_non_null(strstr(err.msg, "token 50256 at index 0 is outside the model's vocabulary of 259"));
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  /* The boundary: the largest id of the vocabulary (258) is read, the vocabulary size itself (259) is not. */
  int32_t edge[] = {SC_TOK_VOCAB - 1, 'a', 'b', 'c', SC_TOK_VOCAB - 1};
  for (int over = 0; over < 2; over++) {
    edge[4] += over;
    snprintf(p, sizeof p, "%s/e%d_train_000000.bin", dir, over);
    assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, SC_TOK_VOCAB, edge, 5, &err), 0);
    assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
    assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), 0);
    assert_int_equal(sc_loader_next(&l, tok, doc, &err), -over);
    if (over)
      assert_non_null(strstr(err.msg, "token 259 at index 4 is outside the model's vocabulary of 259"));
    else
      assert_memory_equal(tok, edge, sizeof edge);
    sc_loader_close(&l);
    sc_shard_set_close(&set);
  }
  /* A shard that declares a larger vocabulary is refused at open; too short for a window too. */
  snprintf(p, sizeof p, "%s/v_train_000000.bin", dir);
  assert_int_equal(sc_shard_write(p, SC_SHARD_VERSION_U16, 50257, g, 5, &err), 0);
  assert_int_equal(sc_shard_set_open(&set, p, SC_SPLIT_TRAIN, &err), 0);
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), -1);
  assert_non_null(strstr(err.msg, "declares a vocabulary of 50257"));
  cfg.vocab = 0;
  cfg.T = 5;
  assert_int_equal(sc_loader_open(&l, &set, &cfg, &err), -1);
  assert_non_null(strstr(err.msg, "no shard holds a full window of T+1 = 6 tokens"));
  sc_shard_set_close(&set);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(headers_of_both_versions),
      cmocka_unit_test(bad_headers_rejected),
      cmocka_unit_test(writer_rotates_and_is_atomic),
      cmocka_unit_test(shard_sets_and_split),
      cmocka_unit_test(sampler_covers_each_window_once),
      cmocka_unit_test(sampler_permutes_any_count),
      cmocka_unit_test(sampler_deterministic_and_resumable),
      cmocka_unit_test(doc_start_flags_at_eot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
