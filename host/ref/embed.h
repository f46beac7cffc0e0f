/* Float64 reference of the token embedding: row tok[r] of W (V, d) is copied to row r of y (n, d), n = B·T
 * tokens (int32, row-major (B, T)). The backward adds each row of dy into dW's row of its token, so a
 * repeated token accumulates. */
#ifndef SCALECL_REF_EMBED_H
#define SCALECL_REF_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Fails naming the position of a token outside [0, V). */
int sc_ref_embed_forward(size_t n, size_t V, size_t d, const double *W, const int32_t *tok, double *y, sc_err *err);
/* dW[tok[r]] += dy[r]; tokens must have passed the forward's check. */
void sc_ref_embed_backward(size_t n, size_t d, const int32_t *tok, const double *dy, double *dW);

/* 0, or -1 with err set when a token of tok (n) lies outside [0, V). */
int sc_ref_tokens_check(size_t n, size_t V, const int32_t *tok, sc_err *err);

#endif
