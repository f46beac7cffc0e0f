/* The training-recipe initialisation (spec xlstm.md §2.7 for xLSTM, §3 for Llama), generated on the host by a
 * counter-based generator: element e of tensor j is a function of (seed, j, e) alone (a splitmix64 hash of the
 * counters, two uniforms, Box-Muller), so the bits do not depend on the thread count, the order tensors are
 * filled in, or the device the model later runs on. */
#ifndef SCALECL_MODEL_INIT_H
#define SCALECL_MODEL_INIT_H

#include <stdint.h>

#include "base/err.h"
#include "model/params.h"

/* Fills every tensor of the arena by its rule on `threads` host threads (0: every CPU). Padding is left as is. */
int sc_init_params(const sc_params *p, float *arena, uint64_t seed, int threads, sc_err *err);
/* Fills tensor j alone, with the values sc_init_params gives it. */
void sc_init_tensor(const sc_params *p, int j, float *arena, uint64_t seed);

#endif
