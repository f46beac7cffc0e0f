/* IEEE 754 binary16 ("half") conversions on the host: the reference for what the devices store with
 * vstore_half_rte (the fp16 KV cache, ops/attention.h) and the reader of F16 tensors (model/safetensors.h). */
#ifndef SCALECL_BASE_HALF_H
#define SCALECL_BASE_HALF_H

#include <stdint.h>

#define SC_HALF_MAX 65504.0f /* the largest finite half */

/* Exact: every half is a float. */
float sc_half_to_float(uint16_t h);

/* Rounded to nearest, ties to even. Finite values beyond +-SC_HALF_MAX saturate to it (as the fp16 KV cache stores
 * them, so that a large activation costs precision rather than turning the softmax into NaN); infinities stay
 * infinite and NaN stays NaN (quiet, payload dropped). */
uint16_t sc_half_from_float(float x);

#endif
