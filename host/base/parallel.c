#include "base/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
  int n;
  atomic_int next;
  void (*fn)(void *ctx, int i, int thread);
  void *ctx;
} pf_shared;

typedef struct {
  pf_shared *s;
  int thread;
} pf_worker;

static void *pf_run(void *arg) {
  pf_worker *w = arg;
  for (int i; (i = atomic_fetch_add(&w->s->next, 1)) < w->s->n;) w->s->fn(w->s->ctx, i, w->thread);
  return NULL;
}

int sc_parallel_for(int n, int threads, void (*fn)(void *ctx, int i, int thread), void *ctx, sc_err *err) {
  if (threads < 1) threads = 1;
  if (threads > n) threads = n > 0 ? n : 1;
  pf_shared s = {.n = n, .fn = fn, .ctx = ctx};
  atomic_init(&s.next, 0);
  pf_worker *w = sc_calloc((size_t)threads, sizeof *w, "thread table", err);
  pthread_t *tid = sc_calloc((size_t)threads, sizeof *tid, "thread table", err);
  if (!w || !tid) {
    free(w);
    free(tid);
    return -1;
  }
  int started = 0;
  for (int t = 1; t < threads; t++) {
    w[t].s = &s;
    w[t].thread = t;
    if (pthread_create(&tid[t], NULL, pf_run, &w[t]) != 0) break;
    started = t;
  }
  w[0].s = &s;
  pf_run(&w[0]); /* the calling thread works too; fewer threads than asked is not an error */
  for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
  free(w);
  free(tid);
  return started + 1;
}

int sc_cpu_count(void) {
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  return c > 0 ? (int)c : 1;
}
