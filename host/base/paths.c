#include "base/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sc_exe_dir(char *buf, size_t n) {
  ssize_t len = readlink("/proc/self/exe", buf, n - 1);
  if (len <= 0) {
    snprintf(buf, n, ".");
    return;
  }
  buf[len] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
}

int sc_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sc_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *kind_of(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "a device";
}

int sc_check_input(const char *path, const char *what, sc_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) return sc_fail(err, "cannot open %s %s: %s", what, path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return sc_fail(err, "%s %s is %s, not a regular file; give the path of a file", what, path, kind_of(st.st_mode));
  return 0;
}

int sc_open_input(const char *path, const char *what, int *fd, size_t *size, sc_err *err) {
  if (sc_check_input(path, what, err)) return -1;
  /* O_NONBLOCK: if the path was swapped for a FIFO since the check, open must not hang. */
  int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) return sc_fail(err, "cannot open %s %s: %s", what, path, strerror(errno));
  struct stat st;
  if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(f);
    return sc_fail(err, "%s %s is not a regular file; give the path of a file", what, path);
  }
  if (fcntl(f, F_SETFL, 0) != 0) {
    close(f);
    return sc_fail(err, "cannot read %s %s: %s", what, path, strerror(errno));
  }
  *fd = f;
  *size = (size_t)st.st_size;
  return 0;
}
