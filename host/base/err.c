#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/paths.h"

int sc_fail(sc_err *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int sc_wrap(sc_err *err, const char *fmt, ...) {
  if (!err) return -1;
  char prefix[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  size_t pl = strlen(prefix), ml = strlen(err->msg);
  if (pl + ml + 1 > sizeof err->msg) ml = sizeof err->msg - pl - 1;
  memmove(err->msg + pl, err->msg, ml);
  memcpy(err->msg, prefix, pl);
  err->msg[pl + ml] = '\0';
  return -1;
}

void *sc_malloc(size_t n, const char *what, sc_err *err) {
  void *p = malloc(n ? n : 1);
  if (!p) sc_fail(err, "out of host memory allocating %zu bytes for %s", n, what);
  return p;
}

void *sc_calloc(size_t count, size_t size, const char *what, sc_err *err) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) sc_fail(err, "out of host memory allocating %zu x %zu bytes for %s", count, size, what);
  return p;
}

char *sc_strdup(const char *s, sc_err *err) {
  size_t n = strlen(s) + 1;
  char *p = sc_malloc(n, "string", err);
  if (p) memcpy(p, s, n);
  return p;
}

int sc_read_file(const char *path, char **out, size_t *len, sc_err *err) {
  int fd;
  size_t n;
  if (sc_open_input(path, "file", &fd, &n, err)) return -1;
  char *buf = sc_malloc(n + 1, path, err);
  if (!buf) {
    close(fd);
    return -1;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  if (got != n) {
    free(buf);
    return sc_fail(err, "short read on %s: got %zu of %zu bytes", path, got, n);
  }
  buf[n] = '\0';
  *out = buf;
  if (len) *len = n;
  return 0;
}

int sc_write_file_atomic(const char *path, const void *data, size_t len, sc_err *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return sc_fail(err, "path too long: %s", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return sc_fail(err, "cannot create %s: %s", tmp, strerror(errno));
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp);
      return sc_fail(err, "write to %s failed: %s (disk full?)", tmp, strerror(e));
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp);
    return sc_fail(err, "cannot flush %s: %s", tmp, strerror(errno));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return sc_fail(err, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return 0;
}

int sc_mkdirs(const char *path, sc_err *err) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return sc_fail(err, "path too long: %s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sc_fail(err, "cannot create directory %s: %s", buf, strerror(errno));
      if (c == '\0') break;
      *p = c;
    }
  }
  return 0;
}
