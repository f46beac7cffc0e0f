#include "base/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

void sc_progress_begin(sc_progress *p, const char *what, long total) {
  snprintf(p->what, sizeof p->what, "%s", what);
  p->total = total;
  atomic_init(&p->done, 0);
  p->t0 = sc_now();
  p->next_draw = p->t0 + 1.0;
  p->enabled = isatty(STDERR_FILENO);
  p->drawn = 0;
  pthread_mutex_init(&p->lock, NULL);
}

/* Draws when due; a thread that finds another drawing skips (the next tick draws). */
static void draw(sc_progress *p, const char *detail) {
  if (!p->enabled || pthread_mutex_trylock(&p->lock) != 0) return;
  const double now = sc_now();
  if (now >= p->next_draw) {
    const long done = atomic_load(&p->done);
    const double el = now - p->t0;
    char line[512];
    int n = snprintf(line, sizeof line, "\r%s: ", p->what);
    if (p->total > 0) {
      n += snprintf(line + n, sizeof line - (size_t)n, "%ld/%ld (%.0f%%), ", done, p->total,
                    100.0 * (double)done / (double)p->total);
    }
    n += snprintf(line + n, sizeof line - (size_t)n, "%.0f s", el);
    if (p->total > 0 && done > 0 && done < p->total)
      n += snprintf(line + n, sizeof line - (size_t)n, ", ETA %.0f s", el * (double)(p->total - done) / (double)done);
    if (detail && *detail) snprintf(line + n, sizeof line - (size_t)n, "  %s", detail);
    fprintf(stderr, "%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
    p->next_draw = now + 0.25;
  }
  pthread_mutex_unlock(&p->lock);
}

void sc_progress_add(sc_progress *p, long n) {
  if (!p) return;
  atomic_fetch_add(&p->done, n);
  draw(p, NULL);
}

void sc_progress_note(sc_progress *p, const char *detail) {
  if (p) draw(p, detail);
}

void sc_progress_end(sc_progress *p) {
  if (!p) return;
  if (p->drawn) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  pthread_mutex_destroy(&p->lock);
}
