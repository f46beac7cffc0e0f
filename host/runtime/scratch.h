/* An op's scratch: named device buffers that grow on demand and are kept between calls, so a launcher asks for
 * what one call needs and pays for an allocation only when a call needs more than any before it. */
#ifndef SCALECL_RUNTIME_SCRATCH_H
#define SCALECL_RUNTIME_SCRATCH_H

#include "runtime/context.h"

enum { SC_SCRATCH_MAX = 16 };

typedef struct {
  sc_ctx *c;
  int n;
  const char *const *names; /* one per slot, for messages and memory reports */
  const char *hint;         /* how to need less, ending the error of a request above the device's limit */
  cl_mem buf[SC_SCRATCH_MAX];
  size_t bytes[SC_SCRATCH_MAX];
} sc_scratch;

/* n slots (at most SC_SCRATCH_MAX), all empty. */
void sc_scratch_init(sc_scratch *s, sc_ctx *c, int n, const char *const *names, const char *hint);
/* Makes slot hold at least `bytes` (a smaller buffer is replaced; contents are not kept). 0 bytes allocates
 * nothing, leaving an empty slot NULL. */
int sc_scratch_need(sc_scratch *s, int slot, size_t bytes, sc_err *err);
void sc_scratch_release(sc_scratch *s);

#endif
