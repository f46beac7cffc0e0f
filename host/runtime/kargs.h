/* Typed kernel arguments, set in order. Each call sets the next argument and keeps the first failure, which
 * sc_kargs_end reports with the kernel's name and the argument's index, so a launcher is one list of calls
 * followed by one error check. */
#ifndef SCALECL_RUNTIME_KARGS_H
#define SCALECL_RUNTIME_KARGS_H

#include <stdint.h>

#include "runtime/context.h"

typedef struct {
  cl_kernel k;
  const char *name;
  cl_uint next;         /* index of the next argument */
  cl_uint bad;          /* index of the first failing one */
  cl_int rc;            /* its OpenCL status; CL_SUCCESS while none failed */
  size_t misaligned_at; /* byte offset of a view that is not on an element, when that was the failure */
  size_t elem;          /* that view's element bytes */
} sc_kargs;

void sc_kargs_begin(sc_kargs *a, cl_kernel k, const char *name);
/* A whole buffer; NULL for an optional one the kernel does not touch (allowed by OpenCL 1.2). */
void sc_karg_mem(sc_kargs *a, cl_mem m);
/* Two arguments: the view's buffer and its offset in 4-byte elements as a ulong (float and int tensors). */
void sc_karg_view(sc_kargs *a, sc_view v);
/* ... with the offset in elements of elem bytes (half tensors: 2). */
void sc_karg_view_of(sc_kargs *a, sc_view v, size_t elem);
void sc_karg_i32(sc_kargs *a, int32_t v);
void sc_karg_u64(sc_kargs *a, uint64_t v);
void sc_karg_f32(sc_kargs *a, float v);
/* 0, or -1 with "setting argument i of kernel NAME failed: ..." for the first failure. */
int sc_kargs_end(const sc_kargs *a, sc_err *err);

#endif
