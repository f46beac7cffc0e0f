#include "check/tensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GUARD_AFTER = 16 }; /* bytes of NaN after each tensor in offset mode */

void sc_tensors_init(sc_tensors *ts, sc_ctx *c, int offsets) {
  memset(ts, 0, sizeof *ts);
  ts->c = c;
  ts->offsets = offsets;
}

int sc_tensor_new(sc_tensors *ts, const void *host, size_t bytes, sc_view *out, sc_err *err) {
  if (ts->n == SC_MAX_TENSORS) return sc_fail(err, "more than %d check tensors in one case", SC_MAX_TENSORS);
  const size_t off = ts->offsets ? (size_t)(2 * ts->n + 3) * sizeof(float) : 0;
  const size_t total = off + bytes + (ts->offsets ? GUARD_AFTER : 0);
  unsigned char *init = sc_calloc(total ? total : 1, 1, "check tensor contents", err);
  if (!init) return -1;
  if (ts->offsets) {
    const float nan = NAN;
    for (size_t i = 0; i + 4 <= total; i += 4) memcpy(init + i, &nan, 4);
    memset(init + off, 0, bytes);
  }
  if (host) memcpy(init + off, host, bytes);
  cl_mem m;
  int rc = sc_buffer_create(ts->c, total ? total : 4, "check tensor", &m, err);
  if (!rc && (rc = sc_buffer_write(ts->c, m, 0, total, init, err))) sc_buffer_release(ts->c, m);
  free(init);
  if (rc) return -1;
  ts->t[ts->n].buf = m, ts->t[ts->n].off = off, ts->t[ts->n].bytes = bytes;
  ts->n++;
  *out = (sc_view){m, off};
  return 0;
}

int sc_tensor_read(sc_tensors *ts, sc_view v, void *host, size_t bytes, sc_err *err) {
  return sc_buffer_read(ts->c, v.buf, v.off, bytes, host, err);
}

/* 1 with the first guard byte written in `guard`, 0 when none, -1 when the buffer cannot be read. */
static int guards(sc_tensors *ts, int j, char *guard, size_t cap, sc_err *err) {
  const size_t off = ts->t[j].off, total = off + ts->t[j].bytes + GUARD_AFTER;
  unsigned char *all = sc_calloc(total, 1, "check tensor guards", err);
  if (!all) return -1;
  int rc = sc_buffer_read(ts->c, ts->t[j].buf, 0, total, all, err) ? -1 : 0;
  for (size_t i = 0; !rc && i < total; i += 4) {
    float g;
    memcpy(&g, all + i, 4);
    if ((i < off || i >= off + ts->t[j].bytes) && !isnan(g)) {
      snprintf(guard, cap, "tensor %d: byte %zu outside its view [%zu, %zu) was overwritten (%g)", j, i, off,
               off + ts->t[j].bytes, (double)g);
      rc = 1;
    }
  }
  free(all);
  return rc;
}

int sc_tensors_release(sc_tensors *ts, char *guard, size_t cap, sc_err *err) {
  int rc = 0;
  for (int j = 0; j < ts->n; j++) {
    if (ts->offsets && !rc) rc = guards(ts, j, guard, cap, err);
    sc_buffer_release(ts->c, ts->t[j].buf);
  }
  ts->n = 0;
  return rc;
}
