/* Timing of the mLSTM op, shared by `scalecl bench mlstm` and the tuner (bench/tune.h). */
#ifndef SCALECL_BENCH_MLSTM_H
#define SCALECL_BENCH_MLSTM_H

#include <stdio.h>

#include "ops/mlstm.h"
#include "runtime/timing.h"

/* Times op (made for head dims dqk, dv) on `heads` heads of S tokens of random inputs, as the benchmarks time
 * (warm-up, then the median of `samples` samples of at least min_sample_s; a first call over long_call_s > 0
 * seconds is the sample, compile included):
 * the forward into *fwd and forward+backward into *fb, each skipped when NULL. With a profile stream, then prints
 * where the time of one more call goes, kernel by kernel. */
int sc_bench_mlstm_time(sc_ctx *c, sc_mlstm *op, int dqk, int dv, size_t heads, size_t S, int samples,
                        double min_sample_s, double long_call_s, FILE *profile, sc_timing *fwd, sc_timing *fb,
                        sc_err *err);

#endif
