/* The device tensors of one check. With offsets on, tensor j sits 2j+3 floats into its own larger buffer, between
 * NaN guards, so an op that ignores a view's offset (or takes another tensor's) reads NaN, and one that writes
 * outside its view shows in sc_tensors_release; with offsets off each tensor is a buffer of its own size. */
#ifndef SCALECL_CHECK_TENSORS_H
#define SCALECL_CHECK_TENSORS_H

#include "runtime/context.h"

enum { SC_MAX_TENSORS = 64 };
typedef struct {
  sc_ctx *c;
  int offsets;
  int n;
  struct {
    cl_mem buf;
    size_t off, bytes;
  } t[SC_MAX_TENSORS];
} sc_tensors;

void sc_tensors_init(sc_tensors *ts, sc_ctx *c, int offsets);
/* A new tensor of `bytes` filled from host (zeros when host is NULL). */
int sc_tensor_new(sc_tensors *ts, const void *host, size_t bytes, sc_view *out, sc_err *err);
int sc_tensor_read(sc_tensors *ts, sc_view v, void *host, size_t bytes, sc_err *err);
/* Releases every tensor. With offsets, first reads the guards: returns 1 with the overwritten byte in `guard`
 * when one was written (-1 with err when it cannot read them; the tensors are released either way). */
int sc_tensors_release(sc_tensors *ts, char *guard, size_t cap, sc_err *err);

#endif
