/* The two norms of spec xlstm.md §2.2 on device buffers (cl/norm.cl), float32 with float32 reductions, no bias,
 * over `rows` rows of width C, row-major:
 *   RMSNorm (pre-norms and final norm of both models): y = x · rsqrt(mean(x²) + eps) · w, w of length C;
 *   multi-head LayerNorm (the mLSTM output, rows (B·T, NH, dh)): each head subtracts its mean and divides by
 *   sqrt(biased variance + eps), then the row is multiplied by w of length C = NH·dh.
 * The forward saves each (row, head)'s mean and rstd in `stats` for the backward. Results are the same bits on
 * every run: fixed reduction trees and a dw summed over fixed row blocks, no atomics.
 * Float64 oracle: ref/norm.h. */
#ifndef SCALECL_OPS_NORM_H
#define SCALECL_OPS_NORM_H

#include "runtime/context.h"

typedef struct sc_norm sc_norm;

typedef enum { SC_NORM_RMS, SC_NORM_HEADS } sc_norm_kind;

typedef struct {
  sc_norm_kind kind;
  int width; /* C: the row width (d; NH·dh for SC_NORM_HEADS) */
  int heads; /* SC_NORM_HEADS: NH, dividing width; SC_NORM_RMS: 0 or 1 */
  float eps; /* 1e-6 in both models */
  int local; /* work-items reducing one (row, head), a power of two (1: one item sums it in vector lanes); 0: cpu
                variant 1, gpu variant the head's width rounded up to a power of two, at most the WG tile */
} sc_norm_cfg;

/* The gpu variant's tile (cl/norm.cl): work-items per work-group, shared by as many (row, head)s as fit. */
#define SC_NORM_GPU_TILES "WG=64"
/* Whether gpu tiles (as sc_variant_pick gives them) suit device d: WG a power of two within its work-group limit
 * and its __local sums (8 bytes an item) within its local memory. The op and the tuner apply this one rule. */
int sc_norm_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err);

int sc_norm_create(sc_ctx *c, const sc_norm_cfg *cfg, sc_norm **out, sc_err *err);
void sc_norm_destroy(sc_norm *n);

typedef struct {
  sc_view x;     /* (rows, C) */
  sc_view w;     /* (C) */
  sc_view y;     /* out (rows, C); may be the same view as x */
  sc_view stats; /* out (rows, NH, 2): mean (0 for RMSNorm) and rstd per (row, head), NH = 1 for RMSNorm */
} sc_norm_fwd_io;

typedef struct {
  sc_view x, w, stats; /* as given to and written by the forward */
  sc_view dy;          /* (rows, C) */
  sc_view dx;          /* out (rows, C), overwritten; may be the same view as dy */
  sc_view dw;          /* (C), added to (micro-batches accumulate) */
} sc_norm_bwd_io;

int sc_norm_forward(sc_norm *n, int rows, const sc_norm_fwd_io *io, sc_err *err);
int sc_norm_backward(sc_norm *n, int rows, const sc_norm_bwd_io *io, sc_err *err);

#endif
