/* Float64 reference of RoPE on adjacent pairs (see ops/rope.h). */
#ifndef SCALECL_REF_ROPE_H
#define SCALECL_REF_ROPE_H

#include <stdint.h>

/* x, y: (B, NH, S, dh); pos: (B, S) or NULL for 0..S-1. backward = 1 applies the transposed rotation.
 * y may equal x. */
void sc_ref_rope(int B, int NH, int S, int dh, double theta, const int32_t *pos, const double *x, double *y,
                 int backward);

#endif
