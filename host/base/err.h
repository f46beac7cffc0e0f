/* Error reporting for library code: functions return 0 on success or -1 with a message in
 * an sc_err; only main() prints and exits. */
#ifndef SCALECL_ERR_H
#define SCALECL_ERR_H

#include <stddef.h>

#define SC_ERR_MAX 16384

typedef struct {
  char msg[SC_ERR_MAX];
} sc_err;

/* Sets the message (printf-style) and returns -1, so callers can `return sc_fail(...)`. */
int sc_fail(sc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context ("while loading X: ") to an existing message; returns -1. */
int sc_wrap(sc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checked allocation: on failure sets err naming `what` and returns NULL. */
void *sc_malloc(size_t n, const char *what, sc_err *err);
void *sc_calloc(size_t count, size_t size, const char *what, sc_err *err);
char *sc_strdup(const char *s, sc_err *err);

/* Reads a whole file into a NUL-terminated heap buffer. */
int sc_read_file(const char *path, char **out, size_t *len, sc_err *err);
/* Writes a file atomically: temp file in the same directory, fsync, rename. */
int sc_write_file_atomic(const char *path, const void *data, size_t len, sc_err *err);
/* mkdir -p */
int sc_mkdirs(const char *path, sc_err *err);

#endif
