/* Where scalecl finds its files: the directory of the running executable (kernels, profiles and presets are
 * copied next to it by the build), and checks on user paths. */
#ifndef SCALECL_BASE_PATHS_H
#define SCALECL_BASE_PATHS_H

#include <stddef.h>

#include "base/err.h"

/* The directory holding the scalecl executable, or "." when /proc/self/exe is unreadable. */
void sc_exe_dir(char *buf, size_t n);

int sc_is_dir(const char *path);
int sc_is_file(const char *path); /* a regular file */

/* Checks that a user's input path is a regular file, without opening it: a directory, FIFO (which would block
 * open() forever), device or socket is an error naming `what` ("runs table", "shard", ...) and the path. */
int sc_check_input(const char *path, const char *what, sc_err *err);
/* Checks an output file path before any work, so that a long run cannot end in "cannot create": `what` names
 * it ("--json"). The path must not be a directory, its directory must exist and be writable, an existing file
 * must be writable, and it must not be the same file as any of inputs[0..n_inputs) (NULL entries skipped).
 * "-" (standard output) is accepted. */
int sc_check_output_file(const char *path, const char *what, const char *const *inputs, int n_inputs, sc_err *err);
/* The same for an output directory: an existing one must be a writable directory; a new one needs its nearest
 * existing ancestor to be a writable directory (it is created later, with its parents). */
int sc_check_output_dir(const char *path, const char *what, sc_err *err);

/* sc_check_input, then opens it read-only (close-on-exec); sets the descriptor and the file size. */
int sc_open_input(const char *path, const char *what, int *fd, size_t *size, sc_err *err);

/* Flushes a directory's entries (after creating or renaming files in it) to disk. */
int sc_fsync_dir(const char *path, sc_err *err);
/* Removes a directory that holds only files (a checkpoint): its files, then itself. A missing one is fine. */
int sc_remove_flat_dir(const char *path, sc_err *err);

#endif
