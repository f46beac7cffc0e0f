/* A parallel for-loop over independent tasks on host threads (pthreads). Tasks are handed out in index
 * order; results must not depend on which thread ran them, so outputs are identical for any thread count. */
#ifndef SCALECL_PARALLEL_H
#define SCALECL_PARALLEL_H

#include "base/err.h"

/* Calls fn(ctx, i, thread) for every i in [0, n), thread in [0, threads); the caller's thread works too.
 * Returns the number of threads used (fewer when the system refuses more), or -1 if the thread table could
 * not be allocated (then nothing ran). */
int sc_parallel_for(int n, int threads, void (*fn)(void *ctx, int i, int thread), void *ctx, sc_err *err);

/* Online CPUs, at least 1. */
int sc_cpu_count(void);

#endif
