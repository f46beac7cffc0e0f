#include "runtime/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/paths.h"
#include "base/settings.h"
#include "runtime/profile.h"
#include "runtime/program.h"

int sc_ctx_open(sc_ctx *c, const char *sel, sc_err *err) {
  memset(c, 0, sizeof *c);
  sc_device_info *devs;
  int n, idx;
  if (sc_cl_enumerate(&devs, &n, err)) return -1;
  const sc_settings *s = sc_settings_get();
  if (!sel || !*sel) sel = s->device;
  if (sc_cl_select(devs, n, sel, &idx, err)) {
    sc_cl_free_devices(devs, n);
    return -1;
  }
  c->dev = devs[idx];
  devs[idx].extensions = NULL; /* ownership moves to the context */
  sc_cl_free_devices(devs, n);

  cl_int rc;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->dev.platform, 0};
  c->context = clCreateContext(props, 1, &c->dev.id, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    sc_fail(err, "clCreateContext on '%s' failed: %s", c->dev.name, sc_cl_errname(rc));
    free(c->dev.extensions);
    return -1;
  }
  c->queue = clCreateCommandQueue(c->context, c->dev.id, 0, &rc);
  if (rc != CL_SUCCESS) {
    sc_fail(err, "clCreateCommandQueue on '%s' failed: %s", c->dev.name, sc_cl_errname(rc));
    clReleaseContext(c->context);
    free(c->dev.extensions);
    return -1;
  }
  char ed[4096];
  sc_exe_dir(ed, sizeof ed);
  if (*s->kernel_dir)
    snprintf(c->kernel_dir, sizeof c->kernel_dir, "%s", s->kernel_dir);
  else
    snprintf(c->kernel_dir, sizeof c->kernel_dir, "%.4000s/cl", ed);
  sc_profile_dir(c->profile_dir, sizeof c->profile_dir);
  sc_cache_configure(&c->cache, &c->dev);
  sc_probe_wg_multiple(c->context, &c->dev);
  return 0;
}

void sc_ctx_close(sc_ctx *c) {
  if (!c || !c->context) return;
  if (c->queue) {
    clFinish(c->queue);
    clReleaseCommandQueue(c->queue);
  }
  clReleaseContext(c->context);
  free(c->dev.extensions);
  memset(c, 0, sizeof *c);
}

int sc_buffer_create(sc_ctx *c, size_t bytes, const char *what, cl_mem *out, sc_err *err) {
  if (bytes == 0) bytes = 4;
  if (bytes > c->dev.max_alloc)
    return sc_fail(err, "tensor %s needs %zu bytes, above the device's max allocation %llu on '%s'", what, bytes,
                   (unsigned long long)c->dev.max_alloc, c->dev.name);
  cl_int rc;
  *out = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
  if (rc != CL_SUCCESS)
    return sc_fail(err, "allocating %zu bytes for %s on '%s' failed: %s", bytes, what, c->dev.name, sc_cl_errname(rc));
  c->bytes_allocated += bytes;
  if (c->bytes_allocated > c->bytes_peak) c->bytes_peak = c->bytes_allocated;
  return 0;
}

int sc_views_present(const char *what, const sc_view *v, const char *const *names, int n, sc_err *err) {
  for (int j = 0; j < n; j++)
    if (!v[j].buf) return sc_fail(err, "%s: required tensor '%s' is missing", what, names[j]);
  return 0;
}

void sc_buffer_release(sc_ctx *c, cl_mem m) {
  if (!m) return;
  size_t sz = 0;
  if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS && sz <= c->bytes_allocated)
    c->bytes_allocated -= sz;
  clReleaseMemObject(m);
}

int sc_buffer_write(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, sc_err *err) {
  return sc_cl_check(clEnqueueWriteBuffer(c->queue, m, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
                     "clEnqueueWriteBuffer", err);
}

int sc_buffer_write_async(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, cl_event *done,
                          sc_err *err) {
  return sc_cl_check(clEnqueueWriteBuffer(c->queue, m, CL_FALSE, offset, bytes, src, 0, NULL, done),
                     "clEnqueueWriteBuffer", err);
}

int sc_event_settle(cl_event *done, const char *what, sc_err *err) {
  if (!*done) return 0;
  const cl_int rc = clWaitForEvents(1, done);
  clReleaseEvent(*done);
  *done = NULL;
  if (rc != CL_SUCCESS) return sc_fail(err, "waiting for %s: %s", what, sc_cl_errname(rc));
  return 0;
}

int sc_buffer_read(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, void *dst, sc_err *err) {
  return sc_cl_check(clEnqueueReadBuffer(c->queue, m, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
                     "clEnqueueReadBuffer", err);
}

int sc_buffer_fill_zero(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, sc_err *err) {
  float zero = 0.0f;
  if (bytes % 4 == 0 && offset % 4 == 0)
    return sc_cl_check(clEnqueueFillBuffer(c->queue, m, &zero, sizeof zero, offset, bytes, 0, NULL, NULL),
                       "clEnqueueFillBuffer", err);
  unsigned char z = 0;
  return sc_cl_check(clEnqueueFillBuffer(c->queue, m, &z, 1, offset, bytes, 0, NULL, NULL), "clEnqueueFillBuffer", err);
}

/* The row of kernel `what` in p, added when new; NULL when the table is full (that kernel goes untimed). */
static sc_kprof_row *kprof_row(sc_kprof *p, const char *what) {
  for (int i = 0; i < p->n; i++)
    if (!strncmp(p->row[i].name, what, sizeof p->row[i].name - 1)) return &p->row[i];
  if (p->n == SC_KPROF_MAX) return NULL;
  sc_kprof_row *r = &p->row[p->n++];
  snprintf(r->name, sizeof r->name, "%s", what);
  return r;
}

int sc_launch(sc_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what,
              sc_err *err) {
  size_t g[3];
  for (cl_uint i = 0; i < dims; i++) {
    g[i] = global[i] ? global[i] : 1;
    if (local && local[i]) g[i] = (g[i] + local[i] - 1) / local[i] * local[i];
  }
  /* The in-order queue orders the launches: only profiling waits, draining the queue before and after. */
  sc_kprof_row *r = c->kprof ? kprof_row(c->kprof, what) : NULL;
  if (r && sc_finish(c, err)) return -1;
  const double w0 = r ? sc_now() : 0.0, c0 = r ? sc_cpu_seconds() : 0.0;
  cl_int rc = clEnqueueNDRangeKernel(c->queue, k, dims, NULL, g, local, 0, NULL, NULL);
  if (rc != CL_SUCCESS) return sc_fail(err, "launching kernel %s failed: %s", what, sc_cl_errname(rc));
  if (r) {
    if (sc_finish(c, err)) return -1;
    r->wall += sc_now() - w0, r->cpu += sc_cpu_seconds() - c0, r->calls++;
  }
  return 0;
}

int sc_finish(sc_ctx *c, sc_err *err) {
  return sc_cl_check(clFinish(c->queue), "clFinish", err);
}
