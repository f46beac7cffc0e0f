/* Helpers shared by the `scalecl op` commands (op_attention.c, op_mlstm.c): device copies of host
 * tensors and back. */
#ifndef SCALECL_OP_UTIL_H
#define SCALECL_OP_UTIL_H

#include "runtime/context.h"

/* Creates a device buffer of `bytes` named `what` in *out and, when host is not NULL, fills it from host.
 * On a failed write *out is already set: the caller releases it with its other buffers. */
int sc_op_upload(sc_ctx *c, const void *host, size_t bytes, const char *what, cl_mem *out, sc_err *err);

/* Reads n floats of m into a new host array *out (the caller frees it, also after a failed read). */
int sc_op_download(sc_ctx *c, cl_mem m, size_t n, const char *what, float **out, sc_err *err);

#endif
