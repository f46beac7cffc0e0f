#include "data/shards.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/paths.h"

static int32_t get_i32le(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void put_i32le(uint8_t *p, int32_t v) {
  uint32_t u = (uint32_t)v;
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}

/* ---- one shard ---- */

static int check_header(const char *path, const uint8_t *hdr, long long size, sc_shard *s, sc_err *err) {
  int32_t magic = get_i32le(hdr), version = get_i32le(hdr + 4), count = get_i32le(hdr + 8);
  int want;
  if (magic == SC_SHARD_MAGIC_U16) {
    want = SC_SHARD_VERSION_U16;
    s->token_bytes = 2;
  } else if (magic == SC_SHARD_MAGIC_U32) {
    want = SC_SHARD_VERSION_U32;
    s->token_bytes = 4;
  } else {
    return sc_fail(err,
                   "%s: bad magic %ld in header slot 0; llm.c token shards have %d (uint16 tokens) or %d (uint32 "
                   "tokens). Hint: is this a token shard? (llm.c model files start with 20240326); make shards "
                   "with 'scalecl prepare'",
                   path, (long)magic, SC_SHARD_MAGIC_U16, SC_SHARD_MAGIC_U32);
  }
  if (version != want)
    return sc_fail(err,
                   "%s: wrong version %ld in header slot 1: magic %ld is only defined with version %d (%s tokens). "
                   "Hint: the file was written by an unknown tool or is damaged; re-create it with 'scalecl prepare'",
                   path, (long)version, (long)magic, want, want == SC_SHARD_VERSION_U16 ? "uint16" : "uint32");
  s->version = version;
  if (count < 0)
    return sc_fail(err, "%s: negative token count %ld in header slot 2; the header is damaged", path, (long)count);
  long long expect = SC_SHARD_HEADER_BYTES + (long long)count * s->token_bytes;
  if (size != expect) {
    long long other = SC_SHARD_HEADER_BYTES + (long long)count * (6 - s->token_bytes);
    const char *why = size < expect ? "the file is truncated (interrupted write or copy?); re-create or re-copy it"
                      : size == other
                          ? "the size fits the other token width: header and token width disagree"
                          : "the file has trailing bytes: written by another tool, or the header is damaged";
    return sc_fail(err,
                   "%s: token count disagrees with the file size: header slot 2 says %ld tokens, so the file should "
                   "have %d + %ld*%d = %lld bytes, but it has %lld. Hint: %s",
                   path, (long)count, SC_SHARD_HEADER_BYTES, (long)count, s->token_bytes, expect, size, why);
  }
  if (count == 0)
    return sc_fail(err,
                   "%s: empty shard: header slot 2 says 0 tokens, nothing to sample. Hint: delete it, or re-run "
                   "'scalecl prepare' (which never writes empty shards)",
                   path);
  s->ntok = (uint64_t)count;
  int32_t vocab = get_i32le(hdr + 12);
  s->vocab = vocab > 0 ? (uint32_t)vocab : 0;
  return 0;
}

int sc_shard_open(sc_shard *s, const char *path, sc_err *err) {
  memset(s, 0, sizeof *s);
  int fd;
  size_t fsize;
  if (sc_open_input(path, "shard", &fd, &fsize, err)) return -1;
  const long long size = (long long)fsize;
  int rc = 0;
  uint8_t hdr[SC_SHARD_HEADER_BYTES];
  if (size < SC_SHARD_HEADER_BYTES) {
    rc = sc_fail(err,
                 "%s: truncated: the file has %lld bytes, fewer than the %d-byte llm.c shard header. Hint: an "
                 "interrupted write or copy; re-create it with 'scalecl prepare'",
                 path, (long long)size, SC_SHARD_HEADER_BYTES);
  } else if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
    rc = sc_fail(err, "%s: cannot read the header: %s", path, strerror(errno));
  } else {
    rc = check_header(path, hdr, (long long)size, s, err);
  }
  if (!rc) {
    s->map_len = (size_t)size;
    s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (s->map == MAP_FAILED) {
      s->map = NULL;
      rc = sc_fail(err, "cannot map %s (%lld bytes): %s", path, (long long)size, strerror(errno));
    }
  }
  close(fd);
  if (!rc) {
    s->data = (const uint8_t *)s->map + SC_SHARD_HEADER_BYTES;
    s->path = sc_strdup(path, err);
    if (!s->path) rc = -1;
  }
  if (rc) sc_shard_close(s);
  return rc;
}

void sc_shard_close(sc_shard *s) {
  if (s->map) munmap(s->map, s->map_len);
  free(s->path);
  memset(s, 0, sizeof *s);
}

/* ---- sets of shards ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

static const char *base_name(const char *p) {
  const char *b = strrchr(p, '/');
  return b ? b + 1 : p;
}

static int keep(const char *path, sc_split split) {
  if (split == SC_SPLIT_ALL) return 1;
  return (strstr(base_name(path), "_val_") != NULL) == (split == SC_SPLIT_VAL);
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* The candidate files of a spec, sorted (caller frees); *named: the spec is one file, named explicitly. */
static int list_spec(const char *spec, char ***out, size_t *nout, int *named, sc_err *err) {
  char **v = NULL;
  size_t n = 0, cap = 0;
  struct stat st;
  const int is_dir = stat(spec, &st) == 0 && S_ISDIR(st.st_mode), is_glob = !is_dir && strpbrk(spec, "*?[");
  glob_t g = {0};
  DIR *d = NULL;
  if (is_dir) {
    d = opendir(spec);
    if (!d) return sc_fail(err, "cannot list shard directory %s: %s", spec, strerror(errno));
  } else if (is_glob) {
    int grc = glob(spec, 0, NULL, &g);
    if (grc != 0 && grc != GLOB_NOMATCH) return sc_fail(err, "glob '%s' failed (error %d)", spec, grc);
  } else if (stat(spec, &st) != 0) {
    return sc_fail(err, "shard path %s does not exist. Hint: make shards with 'scalecl prepare' (e.g. --default)",
                   spec);
  }
  for (size_t k = 0;; k++) {
    char path[4096];
    if (d) {
      struct dirent *e = readdir(d);
      if (!e) break;
      if (e->d_name[0] == '.' || !ends_with(e->d_name, ".bin")) continue;
      snprintf(path, sizeof path, "%s/%s", spec, e->d_name);
    } else if (is_glob) {
      if (k >= g.gl_pathc) break;
      snprintf(path, sizeof path, "%s", g.gl_pathv[k]);
    } else {
      if (k > 0) break;
      snprintf(path, sizeof path, "%s", spec);
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        free_list(v, n);
        if (d) closedir(d);
        globfree(&g);
        return sc_fail(err, "out of host memory listing %s", spec);
      }
      v = nv;
    }
    if (!(v[n] = sc_strdup(path, err))) {
      free_list(v, n);
      if (d) closedir(d);
      globfree(&g);
      return -1;
    }
    n++;
  }
  if (d) closedir(d);
  globfree(&g);
  if (n) qsort(v, n, sizeof *v, cmp_str);
  *out = v;
  *nout = n;
  *named = !is_dir && !is_glob;
  return 0;
}

/* Refuses shards whose directory holds a prepare marker: that corpus was never finished. prev_dir holds the
 * directory checked last (paths are sorted, so each directory is globbed once). */
static int check_finished(const char *shard_path, char prev_dir[4096], sc_err *err) {
  char dir[4096], pat[4200];
  snprintf(dir, sizeof dir, "%s", shard_path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  if (!strcmp(dir, prev_dir)) return 0;
  snprintf(prev_dir, 4096, "%s", dir);
  snprintf(pat, sizeof pat, "%s/*" SC_PREPARE_MARKER, dir);
  glob_t g = {0};
  int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
  if (found)
    sc_fail(err,
            "%s: 'scalecl prepare' did not finish writing the shards in %s (%s is left; it was interrupted or "
            "killed), so the corpus is incomplete. Hint: rerun the same prepare command with --force",
            shard_path, dir, g.gl_pathv[0]);
  globfree(&g);
  return found ? -1 : 0;
}

int sc_shard_set_open(sc_shard_set *set, const char *spec, sc_split split, sc_err *err) {
  memset(set, 0, sizeof *set);
  char **paths = NULL;
  size_t np = 0;
  int named = 0;
  if (list_spec(spec, &paths, &np, &named, err)) return -1;
  if (named) split = SC_SPLIT_ALL;
  size_t nk = 0;
  for (size_t i = 0; i < np; i++)
    if (keep(paths[i], split)) nk++;
  static const char *const what[] = {"training (no _val_ in the name)", "validation (*_val_*)", "token"};
  if (nk == 0) {
    free_list(paths, np);
    return sc_fail(err,
                   "no %s shards in '%s' (%zu candidate file%s). Hint: shards are llm.c .bin files named "
                   "<name>_train_NNNNNN.bin / <name>_val_NNNNNN.bin; make them with 'scalecl prepare'%s",
                   what[split], spec, np, np == 1 ? "" : "s", split == SC_SPLIT_VAL ? " with --val-fraction > 0" : "");
  }
  char checked[4096] = "";
  for (size_t i = 0; i < np; i++)
    if (keep(paths[i], split) && check_finished(paths[i], checked, err)) {
      free_list(paths, np);
      return -1;
    }
  set->shards = sc_calloc(nk, sizeof *set->shards, "shard list", err);
  if (!set->shards) {
    free_list(paths, np);
    return -1;
  }
  XXH64_state_t *h = XXH64_createState();
  if (!h) {
    free_list(paths, np);
    sc_shard_set_close(set);
    return sc_fail(err, "out of host memory hashing shard list");
  }
  XXH64_reset(h, 0);
  int rc = 0;
  for (size_t i = 0; i < np && !rc; i++) {
    if (!keep(paths[i], split)) continue;
    sc_shard *s = &set->shards[set->n];
    if (sc_shard_open(s, paths[i], err)) {
      rc = -1;
      break;
    }
    set->n++;
    set->ntok += s->ntok;
    const char *b = base_name(s->path);
    XXH64_update(h, b, strlen(b) + 1);
    XXH64_update(h, &s->ntok, sizeof s->ntok);
  }
  set->fingerprint = XXH64_digest(h);
  XXH64_freeState(h);
  free_list(paths, np);
  if (rc) sc_shard_set_close(set);
  return rc;
}

void sc_shard_set_close(sc_shard_set *set) {
  for (int i = 0; i < set->n; i++) sc_shard_close(&set->shards[i]);
  free(set->shards);
  memset(set, 0, sizeof *set);
}

/* ---- writing ---- */

static int write_all(int fd, const void *data, size_t n, const char *path, sc_err *err) {
  const uint8_t *p = data;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return sc_fail(err, "write to %s failed: %s (disk full?)", path, strerror(errno));
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int sc_shard_path(char *buf, size_t cap, const char *dir, const char *name, const char *split, int i) {
  return snprintf(buf, cap, "%s/%s_%s_%06d.bin", dir, name, split, i) >= (int)cap ? -1 : 0;
}

static int writer_init(sc_shard_writer *w, int version, uint32_t vocab, uint64_t shard_tokens, sc_err *err) {
  memset(w, 0, sizeof *w);
  w->fd = -1;
  if (version != SC_SHARD_VERSION_U16 && version != SC_SHARD_VERSION_U32)
    return sc_fail(err, "shard version %d is not 1 (uint16 tokens) or 7 (uint32 tokens)", version);
  if (shard_tokens < 1 || shard_tokens > INT32_MAX)
    return sc_fail(err, "shard size %llu tokens is outside [1, 2^31-1] (the header holds an int32 count)",
                   (unsigned long long)shard_tokens);
  w->version = version;
  w->token_bytes = version == SC_SHARD_VERSION_U16 ? 2 : 4;
  w->vocab = vocab;
  w->shard_tokens = shard_tokens;
  w->buf_cap = (size_t)1 << 20;
  w->buf = sc_malloc(w->buf_cap, "shard write buffer", err);
  return w->buf ? 0 : -1;
}

static int shard_begin(sc_shard_writer *w, sc_err *err) {
  if (snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", w->final_path, (long)getpid()) >= (int)sizeof w->tmp)
    return sc_fail(err, "path too long: %s", w->final_path);
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) return sc_fail(err, "cannot create %s: %s", w->tmp, strerror(errno));
  w->in_shard = 0;
  w->buf_used = 0;
  if (lseek(w->fd, SC_SHARD_HEADER_BYTES, SEEK_SET) < 0)
    return sc_fail(err, "cannot seek in %s: %s", w->tmp, strerror(errno));
  return 0;
}

static int shard_commit(sc_shard_writer *w, sc_err *err) {
  uint8_t hdr[SC_SHARD_HEADER_BYTES] = {0};
  put_i32le(hdr, w->version == SC_SHARD_VERSION_U16 ? SC_SHARD_MAGIC_U16 : SC_SHARD_MAGIC_U32);
  put_i32le(hdr + 4, w->version);
  put_i32le(hdr + 8, (int32_t)w->in_shard);
  put_i32le(hdr + 12, (int32_t)w->vocab);
  if (write_all(w->fd, w->buf, w->buf_used, w->tmp, err)) return -1;
  w->buf_used = 0;
  if (pwrite(w->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
    return sc_fail(err, "cannot write the header of %s: %s", w->tmp, strerror(errno));
  if (fsync(w->fd) != 0) return sc_fail(err, "cannot flush %s: %s", w->tmp, strerror(errno));
  int rc = close(w->fd);
  w->fd = -1;
  if (rc != 0) return sc_fail(err, "cannot close %s: %s", w->tmp, strerror(errno));
  if (rename(w->tmp, w->final_path) != 0) {
    int e = errno;
    unlink(w->tmp);
    return sc_fail(err, "cannot rename %s to %s: %s", w->tmp, w->final_path, strerror(e));
  }
  w->nshards++;
  return 0;
}

/* Appends up to the end of the open shard; returns the count taken. */
static int shard_append(sc_shard_writer *w, const int32_t *tok, size_t n, sc_err *err) {
  const uint32_t limit = w->version == SC_SHARD_VERSION_U16 ? 0xffffu : 0xffffffffu;
  for (size_t i = 0; i < n;) {
    if (w->buf_used + (size_t)w->token_bytes > w->buf_cap) {
      if (write_all(w->fd, w->buf, w->buf_used, w->tmp, err)) return -1;
      w->buf_used = 0;
    }
    size_t m = (w->buf_cap - w->buf_used) / (size_t)w->token_bytes;
    if (m > n - i) m = n - i;
    uint8_t *p = w->buf + w->buf_used;
    for (size_t k = 0; k < m; k++) {
      int32_t t = tok[i + k];
      if (t < 0 || (uint32_t)t > limit)
        return sc_fail(err, "token id %ld does not fit a version-%d shard (%s tokens)%s", (long)t, w->version,
                       w->version == SC_SHARD_VERSION_U16 ? "uint16" : "uint32",
                       t < 0 ? "" : "; write version 7 (uint32) shards");
      uint32_t u = (uint32_t)t;
      p[0] = (uint8_t)u;
      p[1] = (uint8_t)(u >> 8);
      if (w->token_bytes == 4) {
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 24);
      }
      p += w->token_bytes;
    }
    w->buf_used += m * (size_t)w->token_bytes;
    w->in_shard += m;
    w->ntok += m;
    i += m;
  }
  return 0;
}

int sc_shard_writer_open(sc_shard_writer *w, const char *dir, const char *name, const char *split, int version,
                         uint32_t vocab, uint64_t shard_tokens, sc_err *err) {
  if (writer_init(w, version, vocab, shard_tokens, err)) return -1;
  w->dir = sc_strdup(dir, err);
  w->name = w->dir ? sc_strdup(name, err) : NULL;
  w->split = w->name ? sc_strdup(split, err) : NULL;
  if (!w->split) {
    sc_shard_writer_close(w);
    return -1;
  }
  return 0;
}

int sc_shard_writer_put(sc_shard_writer *w, const int32_t *tok, size_t n, sc_err *err) {
  while (n) {
    if (w->fd < 0) {
      if (sc_shard_path(w->final_path, sizeof w->final_path, w->dir, w->name, w->split, w->nshards))
        return sc_fail(err, "shard path too long in %s", w->dir);
      if (shard_begin(w, err)) return -1;
    }
    uint64_t room = w->shard_tokens - w->in_shard;
    size_t m = n < room ? n : (size_t)room;
    if (shard_append(w, tok, m, err)) return -1;
    tok += m;
    n -= m;
    if (w->in_shard == w->shard_tokens && shard_commit(w, err)) return -1;
  }
  return 0;
}

int sc_shard_writer_finish(sc_shard_writer *w, sc_err *err) {
  if (w->fd >= 0 && w->in_shard > 0) return shard_commit(w, err);
  return 0;
}

void sc_shard_writer_close(sc_shard_writer *w) {
  if (w->fd >= 0) {
    close(w->fd);
    unlink(w->tmp);
  }
  free(w->buf);
  free(w->dir);
  free(w->name);
  free(w->split);
  memset(w, 0, sizeof *w);
  w->fd = -1;
}

int sc_shard_write(const char *path, int version, uint32_t vocab, const int32_t *tok, size_t n, sc_err *err) {
  if (n == 0) return sc_fail(err, "refusing to write the empty shard %s (readers reject empty shards)", path);
  sc_shard_writer w;
  if (writer_init(&w, version, vocab, n, err)) return -1;
  int rc = 0;
  if (snprintf(w.final_path, sizeof w.final_path, "%s", path) >= (int)sizeof w.final_path)
    rc = sc_fail(err, "path too long: %s", path);
  if (!rc) rc = shard_begin(&w, err);
  if (!rc) rc = shard_append(&w, tok, n, err);
  if (!rc) rc = shard_commit(&w, err);
  sc_shard_writer_close(&w);
  return rc;
}
