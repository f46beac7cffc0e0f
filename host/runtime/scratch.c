#include "runtime/scratch.h"

#include <string.h>

void sc_scratch_init(sc_scratch *s, sc_ctx *c, int n, const char *const *names, const char *hint) {
  memset(s, 0, sizeof *s);
  s->c = c;
  s->n = n < SC_SCRATCH_MAX ? n : SC_SCRATCH_MAX;
  s->names = names;
  s->hint = hint;
}

int sc_scratch_need(sc_scratch *s, int slot, size_t bytes, sc_err *err) {
  if (bytes <= s->bytes[slot]) return 0;
  const sc_device_info *d = &s->c->dev;
  if (bytes > d->max_alloc)
    return sc_fail(err, "%s needs %.1f MiB, more than the device's largest allocation (%.1f MiB) on %s; %s",
                   s->names[slot], (double)bytes / 1048576.0, (double)d->max_alloc / 1048576.0, d->name, s->hint);
  sc_buffer_release(s->c, s->buf[slot]);
  s->buf[slot] = NULL;
  s->bytes[slot] = 0;
  if (sc_buffer_create(s->c, bytes, s->names[slot], &s->buf[slot], err)) return -1;
  s->bytes[slot] = bytes;
  return 0;
}

void sc_scratch_release(sc_scratch *s) {
  if (!s->c) return;
  for (int j = 0; j < s->n; j++) sc_buffer_release(s->c, s->buf[j]);
  memset(s, 0, sizeof *s);
}
