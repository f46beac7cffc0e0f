#include "cli/op_util.h"

int sc_op_upload(sc_ctx *c, const void *host, size_t bytes, const char *what, cl_mem *out, sc_err *err) {
  if (sc_buffer_create(c, bytes, what, out, err)) return -1;
  return host ? sc_buffer_write(c, *out, 0, bytes, host, err) : 0;
}

int sc_op_download(sc_ctx *c, cl_mem m, size_t n, const char *what, float **out, sc_err *err) {
  if (!(*out = sc_malloc(n * sizeof **out, what, err))) return -1;
  return sc_buffer_read(c, m, 0, n * sizeof **out, *out, err);
}
