/* A progress line on stderr for work that takes more than a couple of seconds: what, how far, elapsed and ETA,
 * redrawn in place at most a few times per second, and only when stderr is a terminal (logs and pipes stay
 * clean). Ticks may come from several threads. */
#ifndef SCALECL_BASE_PROGRESS_H
#define SCALECL_BASE_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
  char what[128];
  long total; /* units of work; 0 when unknown (no percentage or ETA) */
  atomic_long done;
  double t0, next_draw;
  int enabled; /* stderr is a terminal */
  int drawn;   /* a line is on screen */
  pthread_mutex_t lock;
} sc_progress;

/* Starts a progress line for `total` units of `what`; nothing is drawn before one second has passed. */
void sc_progress_begin(sc_progress *p, const char *what, long total);
/* Adds n done units (thread-safe) and redraws when due. */
void sc_progress_add(sc_progress *p, long n);
/* Sets the detail shown after the counts ("FMA width 8") and redraws when due. */
void sc_progress_note(sc_progress *p, const char *detail);
/* Clears the line. */
void sc_progress_end(sc_progress *p);

#endif
