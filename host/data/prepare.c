/* The prepare pipeline (data/prepare.h). Over 600 lines because it is one streaming pass whose stages share
 * the run state: byte sources, line and document rules, the two shard writers, progress, and the cleanup that
 * leaves no partial corpus; split it when a second tokenizer arrives. */
#include "data/prepare.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "base/clock.h"
#include "base/paths.h"
#include "base/settings.h"
#include "base/version.h"
#include "data/shards.h"
#include "data/tokenizer.h"

extern char **environ;

enum {
  CHUNK = 1 << 20,            /* read size and initial line buffer */
  JSONL_MAX_LINE = 256 << 20, /* a JSONL record must fit in memory to be parsed */
  STAGE_TOKENS = 1 << 16,
  REPORT_BAD_LINES = 5,
  MAX_DEPTH = 64
};

void sc_prepare_defaults(sc_prepare_opts *o) {
  memset(o, 0, sizeof *o);
  o->val_fraction = 0.01;
  o->shard_tokens = 100000000;
  o->version = SC_SHARD_VERSION_U16;
  o->text_field = "text";
}

const char *sc_data_dir(void) {
  return sc_settings_get()->data_dir;
}

/* ---- byte sources: a file, a zstd stream, or the output of `gzip -dc` ---- */

typedef enum { SRC_PLAIN, SRC_ZSTD, SRC_GZIP } src_kind;

typedef struct {
  src_kind kind;
  const char *path;
  int fd;
  pid_t pid;
  ZSTD_DCtx *z;
  ZSTD_inBuffer in;
  void *zin;
  size_t zin_cap, zlast;
  int zeof;
} src;

static src_kind compression_of(const char *path) {
  size_t n = strlen(path);
  if (n > 4 && !strcmp(path + n - 4, ".zst")) return SRC_ZSTD;
  if (n > 3 && (!strcmp(path + n - 3, ".gz") || !strcmp(path + n - 3, ".dz"))) return SRC_GZIP;
  return SRC_PLAIN;
}

static int src_open(src *s, const char *path, sc_err *err) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->path = path;
  s->kind = compression_of(path);
  if (sc_check_input(path, "input", err)) return -1;
  if (s->kind == SRC_GZIP) {
    /* dictzip is gzip with an index in an extra field; gzip (Essential in Debian) reads it, so no
     * zlib dependency, and decompression overlaps with tokenizing on a second core. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return sc_fail(err, "pipe for gzip -dc %s: %s", path, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char *argv[] = {"gzip", "-dc", "--", (char *)path, NULL};
    int rc = posix_spawnp(&s->pid, "gzip", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
      close(p[0]);
      return sc_fail(err, "cannot run 'gzip -dc' to read %s: %s. Hint: install gzip, or decompress the file first",
                     path, strerror(rc));
    }
    s->fd = p[0];
    return 0;
  }
  size_t size;
  if (sc_open_input(path, "input", &s->fd, &size, err)) return -1;
  if (s->kind == SRC_ZSTD) {
    s->z = ZSTD_createDCtx();
    s->zin_cap = ZSTD_DStreamInSize();
    s->zin = malloc(s->zin_cap);
    if (!s->z || !s->zin) return sc_fail(err, "out of host memory for the zstd decoder of %s", path);
  }
  return 0;
}

/* The signal that interrupted sc_prepare (SIGINT, SIGTERM), or 0. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  interrupted = sig;
}

static ssize_t read_fd(src *s, void *buf, size_t cap, sc_err *err) {
  for (;;) {
    if (interrupted) return sc_fail(err, "interrupted by %s", interrupted == SIGINT ? "SIGINT" : "SIGTERM");
    ssize_t k = read(s->fd, buf, cap);
    if (k >= 0) return k;
    if (errno != EINTR) return sc_fail(err, "read error on %s: %s", s->path, strerror(errno));
  }
}

/* Returns bytes read, 0 at the end, -1 on error. */
static ssize_t src_read(src *s, void *buf, size_t cap, sc_err *err) {
  if (s->kind != SRC_ZSTD) return read_fd(s, buf, cap, err);
  ZSTD_outBuffer out = {buf, cap, 0};
  for (;;) {
    if (s->in.pos == s->in.size && !s->zeof) {
      ssize_t k = read_fd(s, s->zin, s->zin_cap, err);
      if (k < 0) return -1;
      s->in = (ZSTD_inBuffer){s->zin, (size_t)k, 0};
      s->zeof = k == 0;
    }
    /* zlast == 0: the last frame is complete and flushed (frames may be concatenated). */
    if (s->zeof && s->in.pos == s->in.size && s->zlast == 0) break;
    size_t before = out.pos;
    size_t r = ZSTD_decompressStream(s->z, &out, &s->in);
    if (ZSTD_isError(r))
      return sc_fail(err, "%s: zstd: %s. Hint: is it a zstd file (zstd -t %s)?", s->path, ZSTD_getErrorName(r),
                     s->path);
    s->zlast = r;
    if (out.pos == out.size) break;
    if (s->zeof && s->in.pos == s->in.size && out.pos == before && r != 0)
      return sc_fail(err, "%s: the zstd stream ends inside a frame: the file is truncated", s->path);
  }
  return (ssize_t)out.pos;
}

/* With complete = 1 (the whole stream was read), a failed gzip is an error. */
static int src_close(src *s, int complete, sc_err *err) {
  int rc = 0;
  if (s->fd >= 0) close(s->fd);
  if (s->pid > 0) {
    int status;
    if (!complete) kill(s->pid, SIGTERM);
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (complete && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      rc = sc_fail(err, "'gzip -dc %s' failed (%s %d); is it a gzip or dictzip file?", s->path,
                   WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
  ZSTD_freeDCtx(s->z);
  free(s->zin);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  return rc;
}

/* ---- the run: two shard writers, document bookkeeping, progress ---- */

typedef struct {
  const sc_prepare_opts *o;
  sc_prepare_stats *st;
  sc_shard_writer w[2]; /* train, val */
  int cur;              /* split of the open document */
  int32_t stage[STAGE_TOKENS];
  size_t staged;
  double t0, next_report, cpu0;
  FILE *log;
  char out_real[PATH_MAX];
  const char *file; /* being read */
} run;

static int flush_stage(run *r, sc_err *err) {
  if (!r->staged) return 0;
  int rc = sc_shard_writer_put(&r->w[r->cur], r->stage, r->staged, err);
  r->staged = 0;
  return rc;
}

static int begin_doc(run *r, sc_err *err) {
  /* Evenly spaced: document d goes to val when floor((d+1) F) > floor(d F), so D documents give
   * floor(D F) val documents. */
  const double f = r->o->val_fraction, d = (double)r->st->documents;
  int split = floor((d + 1) * f) > floor(d * f);
  if (split != r->cur && flush_stage(r, err)) return -1;
  r->cur = split;
  r->st->documents++;
  r->st->docs_val += (uint64_t)split;
  if (r->staged == STAGE_TOKENS && flush_stage(r, err)) return -1;
  r->stage[r->staged++] = SC_TOK_EOS;
  return 0;
}

static int emit(run *r, const void *bytes, size_t n, sc_err *err) {
  const uint8_t *p = bytes;
  while (n) {
    if (r->staged == STAGE_TOKENS && flush_stage(r, err)) return -1;
    size_t m = STAGE_TOKENS - r->staged;
    if (m > n) m = n;
    sc_tok_encode(p, m, r->stage + r->staged);
    r->staged += m;
    p += m;
    n -= m;
  }
  return 0;
}

static void progress(run *r, int final) {
  if (!r->o->progress) return;
  double now = sc_now();
  if (!final && now < r->next_report) return;
  r->next_report = now + 0.25;
  double el = now - r->t0;
  uint64_t tok = r->w[0].ntok + r->w[1].ntok + r->staged;
  fprintf(stderr, "\rprepare: %.1f MB in, %llu documents, %.2fM tokens, %.1f MB/s\033[K%s",
          (double)r->st->bytes_text / 1e6, (unsigned long long)r->st->documents, (double)tok / 1e6,
          el > 0 ? (double)r->st->bytes_text / 1e6 / el : 0.0, final ? "\n" : "");
  fflush(stderr);
}

static ssize_t read_counted(run *r, src *s, void *buf, size_t cap, sc_err *err) {
  ssize_t k = src_read(s, buf, cap, err);
  if (k > 0) r->st->bytes_text += (uint64_t)k;
  progress(r, 0);
  return k;
}

/* ---- lines: pieces of at most the buffer's capacity, pointing into the buffer ---- */

typedef struct {
  run *r;
  src *s;
  uint8_t *buf;
  size_t cap, max_cap, start, end;
  int eof, in_long;
  uint64_t line_no; /* of the current piece */
} lines;

/* Returns 1 with a piece, 0 at the end, -1 on error. first: the piece starts a line; complete:
 * the piece ends it. A line longer than max_cap comes in several pieces. */
static int lines_next(lines *L, const uint8_t **p, size_t *n, int *first, int *complete, sc_err *err) {
  for (;;) {
    uint8_t *nl = L->end > L->start ? memchr(L->buf + L->start, '\n', L->end - L->start) : NULL;
    if (nl || (L->eof && L->start < L->end) || (!nl && L->start == 0 && L->end == L->cap && L->cap >= L->max_cap)) {
      size_t stop = nl ? (size_t)(nl - L->buf) : L->end;
      *p = L->buf + L->start;
      *n = stop - L->start;
      *first = !L->in_long;
      *complete = nl || L->eof;
      if (*first) L->line_no++;
      L->in_long = !*complete;
      L->start = nl ? stop + 1 : stop;
      return 1;
    }
    if (L->eof) return 0;
    if (L->start > 0) {
      memmove(L->buf, L->buf + L->start, L->end - L->start);
      L->end -= L->start;
      L->start = 0;
    }
    if (L->end == L->cap) { /* here cap < max_cap */
      size_t nc = L->cap * 2 < L->max_cap ? L->cap * 2 : L->max_cap;
      uint8_t *nb = realloc(L->buf, nc);
      if (!nb) return sc_fail(err, "out of host memory for a %zu-byte line of %s", nc, L->s->path);
      L->buf = nb;
      L->cap = nc;
    }
    ssize_t k = read_counted(L->r, L->s, L->buf + L->end, L->cap - L->end, err);
    if (k < 0) return -1;
    L->end += (size_t)k;
    L->eof = k == 0;
  }
}

static int is_ws(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int all_ws(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_ws(p[i])) return 0;
  return 1;
}

static int text_by_lines(run *r, lines *L, sc_err *err) {
  const int entry = r->o->text_docs == SC_DOCS_ENTRY;
  int open = 0;
  uint64_t blank = 0; /* blank lines since the last content line of the open document */
  const uint8_t *p;
  size_t n;
  int first, complete, got;
  while ((got = lines_next(L, &p, &n, &first, &complete, err)) == 1) {
    if (first) {
      if (complete && all_ws(p, n)) {
        blank += open;
        continue;
      }
      if (open && blank) {
        if (!entry || !is_ws(p[0])) {
          open = 0;
        } else {
          for (; blank; blank--)
            if (emit(r, "\n", 1, err)) return -1;
        }
      }
      blank = 0;
      if (!open) {
        if (begin_doc(r, err)) return -1;
        open = 1;
      }
    }
    if (emit(r, p, n, err) || (complete && emit(r, "\n", 1, err))) return -1;
  }
  return got;
}

static int text_whole(run *r, src *s, uint8_t *buf, sc_err *err) {
  int open = 0;
  for (;;) {
    ssize_t k = read_counted(r, s, buf, CHUNK, err);
    if (k <= 0) return (int)k;
    if (!open && begin_doc(r, err)) return -1;
    open = 1;
    if (emit(r, buf, (size_t)k, err)) return -1;
  }
}

static void bad_line(run *r, uint64_t line, const char *why) {
  if (r->st->bad_lines++ < REPORT_BAD_LINES)
    fprintf(r->log, "%s%s:%llu: skipped: %s\n", r->o->progress ? "\r\033[K" : "", r->file, (unsigned long long)line,
            why);
}

static int jsonl(run *r, lines *L, sc_err *err) {
  const uint8_t *p;
  size_t n;
  int first, complete, got;
  while ((got = lines_next(L, &p, &n, &first, &complete, err)) == 1) {
    if (!first) continue; /* rest of an over-long line, already reported */
    if (!complete) {
      bad_line(r, L->line_no, "line longer than 256 MiB");
      continue;
    }
    if (all_ws(p, n)) continue;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)p, n, &end, 0);
    const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, r->o->text_field) : NULL;
    if (!j) {
      bad_line(r, L->line_no, "not valid JSON");
    } else if (!all_ws((const uint8_t *)end, n - (size_t)(end - (const char *)p))) {
      bad_line(r, L->line_no, "text after the JSON value");
    } else if (!cJSON_IsObject(j)) {
      bad_line(r, L->line_no, "not a JSON object");
    } else if (!cJSON_IsString(t)) {
      char why[160];
      snprintf(why, sizeof why, "no \"%.100s\" string field", r->o->text_field);
      bad_line(r, L->line_no, why);
    } else if (!*t->valuestring) {
      r->st->empty_docs++;
    } else if (begin_doc(r, err) || emit(r, t->valuestring, strlen(t->valuestring), err)) {
      cJSON_Delete(j);
      return -1;
    }
    cJSON_Delete(j);
  }
  return got;
}

static int is_jsonl_name(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  const src_kind k = compression_of(b);
  size_t n = strlen(b) - (k == SRC_ZSTD ? 4 : k == SRC_GZIP ? 3 : 0);
  static const char *const ext[] = {".jsonl", ".json", ".ndjson"};
  for (int i = 0; i < 3; i++) {
    size_t m = strlen(ext[i]);
    if (n > m && !strncmp(b + n - m, ext[i], m)) return 1;
  }
  return 0;
}

static int one_file(run *r, const char *path, uint64_t size, uint8_t **buf, sc_err *err) {
  r->st->bytes_read += size;
  r->st->files++;
  r->file = path;
  src s;
  if (src_open(&s, path, err)) {
    src_close(&s, 0, err);
    return -1;
  }
  int json = r->o->format == SC_FORMAT_JSONL || (r->o->format == SC_FORMAT_AUTO && is_jsonl_name(path));
  int rc;
  if (!json && r->o->text_docs == SC_DOCS_FILE) {
    rc = text_whole(r, &s, *buf, err);
  } else {
    lines L = {.r = r, .s = &s, .buf = *buf, .cap = CHUNK, .max_cap = json ? JSONL_MAX_LINE : CHUNK};
    rc = json ? jsonl(r, &L, err) : text_by_lines(r, &L, err);
    if (L.cap > CHUNK) { /* give back a buffer grown for a long record */
      uint8_t *nb = realloc(L.buf, CHUNK);
      L.buf = nb ? nb : L.buf;
    }
    *buf = L.buf;
  }
  if (src_close(&s, rc == 0, rc ? NULL : err)) rc = -1;
  return rc;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or a directory walked in name order (hidden entries and the output directory skipped). */
static int one_path(run *r, const char *path, int depth, uint8_t **buf, sc_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) return sc_fail(err, "input %s: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return one_file(r, path, (uint64_t)st.st_size, buf, err);
  char real[PATH_MAX];
  if (realpath(path, real) && !strcmp(real, r->out_real)) return 0;
  if (depth >= MAX_DEPTH)
    return sc_fail(err, "input %s: directories nested deeper than %d (a symlink loop?)", path, MAX_DEPTH);
  DIR *d = opendir(path);
  if (!d) return sc_fail(err, "cannot list input directory %s: %s", path, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (struct dirent *e; !rc && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) {
        rc = sc_fail(err, "out of host memory listing %s", path);
        break;
      }
      names = nn;
    }
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    if (!(names[n] = sc_malloc(len, "input path", err))) {
      rc = -1;
      break;
    }
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  if (!rc && n) qsort(names, n, sizeof *names, cmp_name);
  for (size_t i = 0; i < n && !rc; i++) rc = one_path(r, names[i], depth + 1, buf, err);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

/* Shards of this name already in the output directory (from an earlier run). */
static int existing_shards(const char *dir, const char *name, glob_t *g, sc_err *err) {
  char pat[4096];
  if (snprintf(pat, sizeof pat, "%s/%s_*_[0-9][0-9][0-9][0-9][0-9][0-9].bin", dir, name) >= (int)sizeof pat)
    return sc_fail(err, "output path too long: %s", dir);
  memset(g, 0, sizeof *g);
  int rc = glob(pat, 0, NULL, g);
  return rc == 0 || rc == GLOB_NOMATCH ? 0 : sc_fail(err, "cannot list %s", dir);
}

static int remove_stale(run *r, const glob_t *old, const char *name, sc_err *err) {
  for (size_t i = 0; i < old->gl_pathc; i++) {
    int fresh = 0;
    for (int s = 0; s < 2 && !fresh; s++)
      for (int k = 0; k < r->w[s].nshards && !fresh; k++) {
        char p[4096];
        sc_shard_path(p, sizeof p, r->o->out_dir, name, s ? "val" : "train", k);
        fresh = !strcmp(p, old->gl_pathv[i]);
      }
    if (!fresh && unlink(old->gl_pathv[i]) != 0)
      return sc_fail(err, "cannot remove the stale shard %s: %s", old->gl_pathv[i], strerror(errno));
  }
  return 0;
}

/* Removes the files matching dir/pattern (best effort: this runs on the way out of a failed run). */
static void remove_matching(const char *dir, const char *pattern) {
  char pat[4096];
  glob_t g = {0};
  if (snprintf(pat, sizeof pat, "%s/%s", dir, pattern) < (int)sizeof pat && glob(pat, 0, NULL, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++) unlink(g.gl_pathv[i]);
  globfree(&g);
}

/* After a failure or a signal no partial corpus may remain for readers to use: this run's shards, the older
 * shards --force was replacing, temp files, the marker, and the output directory if this run created it. */
static void abandon(const sc_prepare_opts *o, const char *name, int created_dir) {
  char pat[512];
  snprintf(pat, sizeof pat, "%s_*_[0-9][0-9][0-9][0-9][0-9][0-9].bin*", name);
  remove_matching(o->out_dir, pat);
  snprintf(pat, sizeof pat, "%s" SC_PREPARE_MARKER, name);
  remove_matching(o->out_dir, pat);
  if (created_dir) rmdir(o->out_dir);
}

/* <name>_prepare.running says a prepare is writing (or died writing) these shards; readers refuse them. */
static int write_marker(const sc_prepare_opts *o, const char *name, sc_err *err) {
  char path[4096], text[128];
  snprintf(path, sizeof path, "%s/%s" SC_PREPARE_MARKER, o->out_dir, name);
  int n = snprintf(text, sizeof text, "{\"pid\": %ld}\n", (long)getpid());
  return sc_write_file_atomic(path, text, (size_t)n, err);
}

static int write_info(run *r, const char *name, sc_err *err) {
  cJSON *o = cJSON_CreateObject();
  cJSON *in = cJSON_AddArrayToObject(o, "inputs");
  for (int i = 0; i < r->o->n_inputs; i++) cJSON_AddItemToArray(in, cJSON_CreateString(r->o->inputs[i]));
  cJSON_AddItemToObject(o, "scalecl", sc_version_json());
  cJSON_AddStringToObject(o, "tokenizer", "bytes");
  cJSON_AddNumberToObject(o, "vocab_size", SC_TOK_VOCAB);
  cJSON_AddNumberToObject(o, "eot", SC_TOK_EOS);
  cJSON_AddNumberToObject(o, "shard_version", r->o->version);
  cJSON_AddNumberToObject(o, "val_fraction", r->o->val_fraction);
  cJSON_AddNumberToObject(o, "documents", (double)r->st->documents);
  cJSON_AddNumberToObject(o, "documents_val", (double)r->st->docs_val);
  cJSON_AddNumberToObject(o, "tokens_train", (double)r->st->tokens_train);
  cJSON_AddNumberToObject(o, "tokens_val", (double)r->st->tokens_val);
  cJSON_AddNumberToObject(o, "shards_train", r->st->shards_train);
  cJSON_AddNumberToObject(o, "shards_val", r->st->shards_val);
  cJSON_AddNumberToObject(o, "input_bytes", (double)r->st->bytes_text);
  cJSON_AddNumberToObject(o, "malformed_lines", (double)r->st->bad_lines);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (!s) return sc_fail(err, "out of host memory writing %s_prepare.json", name);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s_prepare.json", r->o->out_dir, name);
  int rc = sc_write_file_atomic(path, s, strlen(s), err);
  free(s);
  return rc;
}

int sc_prepare(const sc_prepare_opts *o, sc_prepare_stats *st, sc_err *err) {
  memset(st, 0, sizeof *st);
  if (o->n_inputs < 1) return sc_fail(err, "no inputs (give --in PATH, or --default)");
  if (!o->out_dir || !*o->out_dir) return sc_fail(err, "no output directory (--out DIR)");
  if (!(o->val_fraction >= 0 && o->val_fraction < 1))
    return sc_fail(err, "--val-fraction %g is outside [0, 1)", o->val_fraction);
  char namebuf[256];
  const char *name = o->name;
  if (!name || !*name) {
    const char *e = o->out_dir + strlen(o->out_dir);
    while (e > o->out_dir && e[-1] == '/') e--;
    const char *b = e;
    while (b > o->out_dir && b[-1] != '/') b--;
    snprintf(namebuf, sizeof namebuf, "%.*s", (int)(e - b), b);
    name = *namebuf && strcmp(namebuf, ".") && strcmp(namebuf, "..") ? namebuf : "data";
  }
  if (strchr(name, '/')) return sc_fail(err, "shard name '%s' contains '/'", name);
  /* Every input and the output directory are checked before anything is written. */
  for (int i = 0; i < o->n_inputs; i++)
    if (!sc_is_dir(o->inputs[i]) && sc_check_input(o->inputs[i], "input", err)) return -1;
  if (sc_check_output_dir(o->out_dir, "--out", err)) return -1;
  const int created_dir = !sc_is_dir(o->out_dir);
  if (sc_mkdirs(o->out_dir, err)) return -1;
  glob_t old;
  if (existing_shards(o->out_dir, name, &old, err)) return -1;
  char marker[4096];
  snprintf(marker, sizeof marker, "%s/%s" SC_PREPARE_MARKER, o->out_dir, name);
  const int unfinished = sc_is_file(marker);
  if ((old.gl_pathc || unfinished) && !o->force) {
    int rc = unfinished ? sc_fail(err,
                                  "an earlier prepare of %s_* in %s did not finish (%s is left). Hint: pass "
                                  "--force to remove its files and start again",
                                  name, o->out_dir, marker)
                        : sc_fail(err,
                                  "%s already holds %zu shard%s named %s_* (e.g. %s). Hint: pass --force to "
                                  "replace them, or choose another --out",
                                  o->out_dir, old.gl_pathc, old.gl_pathc == 1 ? "" : "s", name, old.gl_pathv[0]);
    globfree(&old);
    return rc;
  }
  /* Temp files of a killed run go now; its complete shards are replaced or removed as stale below. */
  char tmp_pat[512];
  snprintf(tmp_pat, sizeof tmp_pat, "%s_*.bin.tmp.*", name);
  remove_matching(o->out_dir, tmp_pat);
  if (write_marker(o, name, err)) {
    globfree(&old);
    return -1;
  }
  run *r = sc_calloc(1, sizeof *r, "prepare state", err);
  uint8_t *buf = r ? sc_malloc(CHUNK, "input buffer", err) : NULL;
  if (!buf) {
    free(r);
    globfree(&old);
    return -1;
  }
  r->o = o;
  r->st = st;
  r->log = o->log ? o->log : stderr;
  r->t0 = sc_now();
  r->next_report = r->t0 + 0.25;
  r->cpu0 = sc_cpu_seconds();
  if (!realpath(o->out_dir, r->out_real)) r->out_real[0] = '\0';
  /* SIGINT/SIGTERM end the run at the next read, so that the partial corpus is removed (no SA_RESTART: a read
   * blocked on the gzip pipe returns EINTR). */
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  int rc = 0;
  for (int s = 0; s < 2 && !rc; s++)
    rc = sc_shard_writer_open(&r->w[s], o->out_dir, name, s ? "val" : "train", o->version, SC_TOK_VOCAB,
                              o->shard_tokens, err);
  for (int i = 0; i < o->n_inputs && !rc; i++) rc = one_path(r, o->inputs[i], 0, &buf, err);
  if (!rc) rc = flush_stage(r, err);
  for (int s = 0; s < 2 && !rc; s++) rc = sc_shard_writer_finish(&r->w[s], err);
  st->tokens_train = r->w[0].ntok;
  st->tokens_val = r->w[1].ntok;
  st->shards_train = r->w[0].nshards;
  st->shards_val = r->w[1].nshards;
  st->seconds = sc_now() - r->t0;
  st->cpu_seconds = sc_cpu_seconds() - r->cpu0;
  progress(r, 1);
  if (!rc && st->documents == 0)
    rc = sc_fail(err, "%s%s hold%s no documents (%llu file%s, %llu bytes, %llu malformed line%s)", o->inputs[0],
                 o->n_inputs > 1 ? " and the other inputs" : "", o->n_inputs > 1 ? "" : "s",
                 (unsigned long long)st->files, st->files == 1 ? "" : "s", (unsigned long long)st->bytes_text,
                 (unsigned long long)st->bad_lines, st->bad_lines == 1 ? "" : "s");
  if (!rc && st->bad_lines > REPORT_BAD_LINES)
    fprintf(r->log, "%llu malformed JSONL lines skipped in all (the first %d are shown above)\n",
            (unsigned long long)st->bad_lines, REPORT_BAD_LINES);
  if (!rc) rc = remove_stale(r, &old, name, err);
  if (!rc) rc = write_info(r, name, err);
  if (!rc && unlink(marker) != 0) rc = sc_fail(err, "cannot remove %s: %s", marker, strerror(errno));
  for (int s = 0; s < 2; s++) sc_shard_writer_close(&r->w[s]);
  if (rc) {
    abandon(o, name, created_dir);
    if (st->shards_train + st->shards_val > 0) {
      char why[1024];
      snprintf(why, sizeof why, "%.1000s", err->msg);
      sc_fail(err, "%s (the partial shards of %s in %s were removed)", why, name, o->out_dir);
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  globfree(&old);
  free(buf);
  free(r);
  return rc;
}
