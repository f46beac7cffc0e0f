/* Head layout changes for the float64 references: activations are (B, T, NH·dh) row-major, while the mLSTM,
 * attention and RoPE references take one contiguous (T, dh) block per (batch, head), i.e. (B, NH, T, dh).
 * Per-head scalars (gates) use dh = 1. merge is the inverse (and the transpose) of split; both overwrite
 * their output. */
#ifndef SCALECL_REF_HEADS_H
#define SCALECL_REF_HEADS_H

#include <stddef.h>

/* x (B, T, NH, dh) -> y (B, NH, T, dh). */
void sc_ref_heads_split(size_t B, size_t T, size_t NH, size_t dh, const double *x, double *y);
/* x (B, NH, T, dh) -> y (B, T, NH, dh). */
void sc_ref_heads_merge(size_t B, size_t T, size_t NH, size_t dh, const double *x, double *y);

#endif
