/* OpenCL runtime: device enumeration and selection, capability probe, program build from
 * cl/ sources with -D parameters, and the on-disk program-binary cache. */
#ifndef SCALECL_CL_RUNTIME_H
#define SCALECL_CL_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stddef.h>

#include "err.h"

typedef struct {
  int index; /* global index across all platforms, as `scalecl devices` numbers them */
  cl_platform_id platform;
  cl_device_id id;
  char platform_name[256];
  char platform_vendor[256];
  char platform_version[256];
  char name[256];
  char vendor[256];
  char device_version[256];
  char driver_version[256];
  char opencl_c_version[256];
  cl_device_type type;
  cl_uint compute_units;
  cl_uint max_clock_mhz;
  cl_ulong global_mem;
  cl_ulong local_mem;
  cl_ulong max_alloc;
  size_t max_wg;
  size_t pref_wg_multiple; /* of a probe kernel; 0 until sc_probe_wg_multiple */
  int has_fp16, has_fp64, has_subgroups;
  int cl_c_major, cl_c_minor; /* parsed from opencl_c_version */
  char *extensions;           /* heap */
} sc_device_info;

const char *sc_cl_errname(cl_int code);
const char *sc_device_type_name(cl_device_type t);
int sc_device_is_pocl(const sc_device_info *d);
/* Fills d->pref_wg_multiple (a kernel property) by building a trivial kernel; ctx may be NULL. */
void sc_probe_wg_multiple(cl_context ctx, sc_device_info *d);

/* Enumerates every device of every platform (dynamic arrays). An empty system is an error whose
 * message names the ICD loader and PoCL packages. */
int sc_cl_enumerate(sc_device_info **devs, int *n, sc_err *err);
void sc_cl_free_devices(sc_device_info *devs, int n);
/* sel: NULL/"" = default (first GPU, else first CPU, else first device); an index; or a
 * case-insensitive substring of platform, vendor or device name. No match: error listing devices. */
int sc_cl_select(const sc_device_info *devs, int n, const char *sel, int *index, sc_err *err);

typedef struct {
  int enabled;
  char dir[4096];
  int debug; /* SCALECL_CACHE_DEBUG=1 prints HIT/MISS/SAVE on stderr */
} sc_cache_cfg;

typedef struct {
  sc_device_info dev;
  cl_context context;
  cl_command_queue queue;
  char kernel_dir[4096];  /* where cl/ sources sources are read from */
  char profile_dir[4096]; /* platforms/profiles */
  sc_cache_cfg cache;
  struct sc_gemm_state *gemm; /* owned by gemm.c, created on first use */
  size_t bytes_allocated;     /* device bytes from sc_buffer_create, for memory reports */
  size_t bytes_peak;
} sc_ctx;

/* Opens a context and in-order queue on the device chosen by sel (NULL: $SCALECL_DEVICE, else
 * default). Kernel dir: $SCALECL_KERNEL_DIR, else <dir of executable>/cl. Cache: see sc_cache_configure. */
int sc_ctx_open(sc_ctx *c, const char *sel, sc_err *err);
void sc_ctx_close(sc_ctx *c);

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
 * On failure the error carries the file name, the options and the build log. info may be NULL. */
int sc_program_build(sc_ctx *c, const char *file, const char *defines, const char *extra_options, cl_program *out,
                     sc_build_info *info, sc_err *err);
/* Same from a source string (name used in messages); used by tests. */
int sc_program_build_source(sc_ctx *c, const char *name, const char *source, const char *defines,
                            const char *extra_options, cl_program *out, sc_build_info *info, sc_err *err);
int sc_kernel_create(cl_program p, const char *name, cl_kernel *out, sc_err *err);

/* Device buffers, tracked in c->bytes_allocated / bytes_peak. `what` names the tensor in errors. */
int sc_buffer_create(sc_ctx *c, size_t bytes, const char *what, cl_mem *out, sc_err *err);
void sc_buffer_release(sc_ctx *c, cl_mem m);
int sc_buffer_write(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, sc_err *err);
int sc_buffer_read(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, void *dst, sc_err *err);
int sc_buffer_fill_zero(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, sc_err *err);

/* Enqueues a kernel: global sizes are rounded up to multiples of local (kernels bounds-check);
 * local may be NULL to let the runtime choose. */
int sc_launch(sc_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what,
              sc_err *err);
int sc_finish(sc_ctx *c, sc_err *err);

int sc_set_arg(cl_kernel k, cl_uint i, size_t size, const void *v, const char *kname, sc_err *err);
/* Sets arguments 0..n-1 from parallel arrays of sizes and value pointers. */
int sc_set_args(cl_kernel k, const char *kname, int n, const size_t *sizes, const void *const *vals, sc_err *err);

double sc_now(void); /* monotonic seconds */

/* Returns -1 with "<what>: <call> failed: CL_ERROR_NAME" when rc != CL_SUCCESS. */
int sc_cl_check(cl_int rc, const char *what, sc_err *err);

#endif
