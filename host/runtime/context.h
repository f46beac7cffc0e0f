/* An OpenCL context and in-order queue on one device, with device buffers and kernel launches. */
#ifndef SCALECL_RUNTIME_CONTEXT_H
#define SCALECL_RUNTIME_CONTEXT_H

#include "runtime/device.h"

typedef struct {
  int enabled;
  char dir[4096];
  int debug; /* SCALECL_CACHE_DEBUG=1 prints HIT/MISS/SAVE on stderr */
} sc_cache_cfg;

/* A kernel-variant choice made on the context (runtime/variant.h), kept for reports. */
#define SC_MAX_VARIANT_PICKS 16
typedef struct {
  char family[24];
  int variant; /* sc_variant */
  char tiles[256];
  char why[192];
} sc_variant_rec;

/* Launch times kernel by kernel (benchmarks' --profile): with a context's kprof set, sc_launch brackets every
 * launch with clFinish and adds its wall and process CPU seconds under the launch's name, in order of first launch.
 * It serialises the queue, so it is for breakdowns, not for timing. */
enum { SC_KPROF_MAX = 48 };
typedef struct {
  char name[48];
  double wall, cpu;
  long calls;
} sc_kprof_row;
typedef struct {
  int n;
  sc_kprof_row row[SC_KPROF_MAX];
} sc_kprof;

typedef struct {
  sc_device_info dev;
  cl_context context;
  cl_command_queue queue;
  char kernel_dir[4096];  /* where cl/ sources are read from */
  char profile_dir[4096]; /* platforms/profiles */
  sc_cache_cfg cache;
  size_t bytes_allocated; /* device bytes from sc_buffer_create, for memory reports */
  size_t bytes_peak;
  sc_variant_rec picks[SC_MAX_VARIANT_PICKS];
  int n_picks;
  /* The tuner's candidate: tile defines for key "<family>_<variant>" that override the profile's. */
  char tile_key[48];
  char tile_override[256];
  sc_kprof *kprof; /* NULL: launches are not timed */
} sc_ctx;

/* Opens a context and in-order queue on the device chosen by sel (NULL: $SCALECL_DEVICE, else
 * default). Kernel dir: $SCALECL_KERNEL_DIR, else <dir of executable>/cl. Cache: see sc_cache_configure. */
int sc_ctx_open(sc_ctx *c, const char *sel, sc_err *err);
void sc_ctx_close(sc_ctx *c);

/* A tensor inside a device buffer, at a byte offset: ops take every tensor as a view, so one buffer can hold a
 * whole family of tensors (llm.c-style arenas). Kernels get the offset as an argument in elements (sub-buffers
 * would need CL_DEVICE_MEM_BASE_ADDR_ALIGN). buf == NULL marks an absent optional tensor. */
typedef struct {
  cl_mem buf;
  size_t off; /* bytes */
} sc_view;

/* The whole buffer m (or the absent tensor when m is NULL). */
static inline sc_view sc_view_of(cl_mem m) {
  return (sc_view){m, 0};
}
/* v moved on by `bytes`. */
static inline sc_view sc_view_at(sc_view v, size_t bytes) {
  return (sc_view){v.buf, v.off + bytes};
}

/* Fails naming the first of the n views whose buffer is missing ("<what>: required tensor 'q' is missing"). */
int sc_views_present(const char *what, const sc_view *v, const char *const *names, int n, sc_err *err);

/* Device buffers, tracked in c->bytes_allocated / bytes_peak. `what` names the tensor in errors. */
int sc_buffer_create(sc_ctx *c, size_t bytes, const char *what, cl_mem *out, sc_err *err);
void sc_buffer_release(sc_ctx *c, cl_mem m);
int sc_buffer_write(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, sc_err *err);
/* ... without waiting: src must stay as it is until *done completes (clWaitForEvents; the caller releases *done), or
 * with done NULL until a later blocking command of the (in-order) queue returns. For small writes between kernels,
 * where a blocking write would drain the queue, and for several writes in a row, where only the last need wait. */
int sc_buffer_write_async(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, cl_event *done,
                          sc_err *err);
/* Waits for *done (when set: a write's host array may then change), releases it and clears it. `what` names the
 * write in the error. */
int sc_event_settle(cl_event *done, const char *what, sc_err *err);
int sc_buffer_read(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, void *dst, sc_err *err);
int sc_buffer_fill_zero(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, sc_err *err);

/* Enqueues a kernel: global sizes are rounded up to multiples of local (kernels bounds-check);
 * local may be NULL to let the runtime choose. */
int sc_launch(sc_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what,
              sc_err *err);
int sc_finish(sc_ctx *c, sc_err *err);

#endif
