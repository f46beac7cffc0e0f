/* Program builds from cl/ sources with -D parameters, and the on-disk program-binary cache. */
#ifndef SCALECL_RUNTIME_PROGRAM_H
#define SCALECL_RUNTIME_PROGRAM_H

#include "runtime/context.h"

/* Cache settings from the environment: SCALECL_CACHE_DIR=off disables, a path relocates;
 * default $XDG_CACHE_HOME/scalecl (or ~/.cache/scalecl), and off on PoCL unless SCALECL_CACHE_DIR is set. */
void sc_cache_configure(sc_cache_cfg *cfg, const sc_device_info *dev);

typedef struct {
  int cache_hit;     /* 1 when the program came from the on-disk cache */
  int cache_saved;   /* 1 when a new entry was written */
  int cache_corrupt; /* 1 when an entry existed but was rejected */
  double seconds;    /* wall time of load + build */
} sc_build_info;

/* Builds cl/<file> with the given #define lines prepended (defines: "NAME=VALUE NAME2=V ...",
 * space separated, may be NULL) and the options "-cl-std=CL1.2 [$SCALECL_BUILD_OPTIONS] extra".
 * Lines `#include "name"` are replaced by the text of cl/<name> before the build (and the cache key).
 * On failure the error carries the file name, the options and the build log. info may be NULL. */
int sc_program_build(sc_ctx *c, const char *file, const char *defines, const char *extra_options, cl_program *out,
                     sc_build_info *info, sc_err *err);
/* Same from a source string (name used in messages); used by tests. */
int sc_program_build_source(sc_ctx *c, const char *name, const char *source, const char *defines,
                            const char *extra_options, cl_program *out, sc_build_info *info, sc_err *err);
int sc_kernel_create(cl_program p, const char *name, cl_kernel *out, sc_err *err);

/* A program with its named kernels, built and released together: what every op holds per specialisation. */
#define SC_MAX_KERNELS 16
typedef struct {
  cl_program prog;
  cl_kernel k[SC_MAX_KERNELS];
  int n;
} sc_kernels;

/* Builds cl/<file> with the defines (as sc_program_build) and creates names[0..n); on failure releases what it
 * made. n is at most SC_MAX_KERNELS. */
int sc_kernels_build(sc_ctx *c, const char *file, const char *defines, const char *const *names, int n, sc_kernels *ks,
                     sc_err *err);
/* Releases the kernels and the program (a zeroed set is fine). */
void sc_kernels_release(sc_kernels *ks);

#endif
