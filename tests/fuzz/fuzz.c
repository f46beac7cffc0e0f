#include "fuzz.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[4096];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_dir(void) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const char *path) {
  perror(path);
  fprintf(stderr, "fuzz harness: %s failed\n", what);
  abort();
}

const char *fuzz_dir(void) {
  if (dir[0]) return dir;
  /* tmpfs: the targets write every input, and a disk would make that the bottleneck. */
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/scalecl-fuzz-XXXXXX", base);
  if (!mkdtemp(dir)) die("mkdtemp", dir);
  atexit(remove_dir);
  return dir;
}

const char *fuzz_file(const char *name, const void *data, size_t size) {
  static char path[4400];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open", path);
  for (const char *p = data; size;) {
    ssize_t k = write(fd, p, size);
    if (k <= 0) die("write", path);
    p += k;
    size -= (size_t)k;
  }
  if (close(fd) != 0) die("close", path);
  return path;
}

void fuzz_clear(const char *name) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

sc_err *fuzz_err(void) {
  static sc_err err;
  err.msg[0] = '\0';
  return &err;
}
