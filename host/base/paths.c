#include "base/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The directory part of path ("." when there is none). */
static void parent_of(const char *path, char *buf, size_t n) {
  snprintf(buf, n, "%s", path);
  char *slash = strrchr(buf, '/');
  while (slash && slash > buf && slash[1] == '\0') { /* "a/b/" names b */
    *slash = '\0';
    slash = strrchr(buf, '/');
  }
  if (!slash)
    snprintf(buf, n, ".");
  else if (slash == buf)
    buf[1] = '\0';
  else
    *slash = '\0';
}

static int writable_dir(const char *dir, const char *path, const char *what, sc_err *err) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return sc_fail(err, "%s %s: directory %s does not exist; create it first or choose another path", what, path, dir);
  if (!S_ISDIR(st.st_mode)) return sc_fail(err, "%s %s: %s is not a directory", what, path, dir);
  if (access(dir, W_OK | X_OK) != 0)
    return sc_fail(err, "%s %s: directory %s is not writable (%s)", what, path, dir, strerror(errno));
  return 0;
}

int sc_check_output_file(const char *path, const char *what, const char *const *inputs, int n_inputs, sc_err *err) {
  if (!strcmp(path, "-")) return 0;
  if (!*path) return sc_fail(err, "%s: empty path", what);
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return sc_fail(err, "%s %s is a directory; give a file path (e.g. %s/out.json)", what, path, path);
    if (access(path, W_OK) != 0) return sc_fail(err, "%s %s is not writable (%s)", what, path, strerror(errno));
    for (int i = 0; i < n_inputs; i++) {
      struct stat in;
      if (inputs[i] && stat(inputs[i], &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino)
        return sc_fail(err, "%s %s is the same file as the input %s; writing it would destroy the input", what, path,
                       inputs[i]);
    }
  }
  char dir[4096];
  parent_of(path, dir, sizeof dir);
  return writable_dir(dir, path, what, err);
}

int sc_check_output_dir(const char *path, const char *what, sc_err *err) {
  if (!*path) return sc_fail(err, "%s: empty path", what);
  struct stat st;
  if (stat(path, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return sc_fail(err, "%s %s exists and is not a directory", what, path);
    if (access(path, W_OK | X_OK) != 0) return sc_fail(err, "%s %s is not writable (%s)", what, path, strerror(errno));
    return 0;
  }
  char dir[4096], up[4096];
  parent_of(path, dir, sizeof dir);
  while (stat(dir, &st) != 0 && strcmp(dir, ".") && strcmp(dir, "/")) {
    parent_of(dir, up, sizeof up);
    snprintf(dir, sizeof dir, "%s", up);
  }
  return writable_dir(dir, path, what, err);
}

int sc_fsync_dir(const char *path, sc_err *err) {
  const int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sc_fail(err, "cannot open directory %s to flush it: %s", path, strerror(errno));
  const int rc = fsync(fd);
  const int e = errno;
  close(fd);
  return rc ? sc_fail(err, "cannot flush directory %s: %s", path, strerror(e)) : 0;
}

int sc_remove_flat_dir(const char *path, sc_err *err) {
  DIR *d = opendir(path);
  if (!d) return errno == ENOENT ? 0 : sc_fail(err, "cannot read directory %s: %s", path, strerror(errno));
  const struct dirent *ent;
  char file[4400];
  int rc = 0;
  while (!rc && (ent = readdir(d))) {
    if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
    snprintf(file, sizeof file, "%s/%s", path, ent->d_name);
    if (unlink(file) != 0) rc = sc_fail(err, "cannot remove %s: %s", file, strerror(errno));
  }
  closedir(d);
  if (!rc && rmdir(path) != 0) rc = sc_fail(err, "cannot remove directory %s: %s", path, strerror(errno));
  return rc;
}
