/* Timing of the attention op, shared by `scalecl bench attention` and the tuner (bench/tune.h). */
#ifndef SCALECL_BENCH_ATTENTION_H
#define SCALECL_BENCH_ATTENTION_H

#include <stdio.h>

#include "ops/attention.h"
#include "runtime/timing.h"

/* Times op a (made for head dim dh, head-major) on B x NH heads of S tokens of random inputs, as the benchmarks
 * time (warm-up, then the median of `samples` samples of at least min_sample_s): the forward into *fwd and
 * forward+backward into *fb, each skipped when NULL. doc_len > 0 packs documents of that length. profile (may be
 * NULL): then one more forward+backward call, printed there kernel by kernel (sc_bench_kernel_profile). */
int sc_bench_attention_time(sc_ctx *c, sc_attention *a, int dh, int B, int NH, int S, int doc_len, int samples,
                            double min_sample_s, FILE *profile, sc_timing *fwd, sc_timing *fb, sc_err *err);

#endif
