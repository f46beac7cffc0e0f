/* Where scalecl finds its files: the directory of the running executable (kernels, profiles and presets are
 * copied next to it by the build), and checks on user paths. */
#ifndef SCALECL_BASE_PATHS_H
#define SCALECL_BASE_PATHS_H

#include <stddef.h>

/* The directory holding the scalecl executable, or "." when /proc/self/exe is unreadable. */
void sc_exe_dir(char *buf, size_t n);

int sc_is_dir(const char *path);
int sc_is_file(const char *path); /* a regular file */

#endif
