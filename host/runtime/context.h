/* An OpenCL context and in-order queue on one device, with device buffers and kernel launches. */
#ifndef SCALECL_RUNTIME_CONTEXT_H
#define SCALECL_RUNTIME_CONTEXT_H

#include "runtime/device.h"

typedef struct {
  int enabled;
  char dir[4096];
  int debug; /* SCALECL_CACHE_DEBUG=1 prints HIT/MISS/SAVE on stderr */
} sc_cache_cfg;

typedef struct {
  sc_device_info dev;
  cl_context context;
  cl_command_queue queue;
  char kernel_dir[4096];  /* where cl/ sources are read from */
  char profile_dir[4096]; /* platforms/profiles */
  sc_cache_cfg cache;
  size_t bytes_allocated; /* device bytes from sc_buffer_create, for memory reports */
  size_t bytes_peak;
} sc_ctx;

/* Opens a context and in-order queue on the device chosen by sel (NULL: $SCALECL_DEVICE, else
 * default). Kernel dir: $SCALECL_KERNEL_DIR, else <dir of executable>/cl. Cache: see sc_cache_configure. */
int sc_ctx_open(sc_ctx *c, const char *sel, sc_err *err);
void sc_ctx_close(sc_ctx *c);

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

#endif
