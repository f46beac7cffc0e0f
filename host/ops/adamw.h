/* The optimizer's device work (cl/adamw.cl): the squared L2 norm of a gradient arena, reduced on the device in a
 * fixed order (the same bits every run), and the fused AdamW update of one contiguous range of parameters with
 * their two moment buffers. Float64 oracle: ref/adamw.h.
 *
 * The update is optax's adamw (the paper's framework, spec xlstm.md §4.2), with the gradient first multiplied by
 * `gscale` (the clipping coefficient over the number of micro-batches):
 *   g' = gscale·g;  m = β1·m + (1−β1)·g';  v = β2·v + (1−β2)·g'²
 *   p -= lr · ( (m/bc1) / (sqrt(v/bc2) + eps) + wd·p ),   bc1 = 1 − β1^t, bc2 = 1 − β2^t. */
#ifndef SCALECL_OPS_ADAMW_H
#define SCALECL_OPS_ADAMW_H

#include "runtime/context.h"

typedef struct sc_adamw sc_adamw;

typedef struct {
  float lr, beta1, beta2, eps, wd; /* wd: 0 for ranges without weight decay */
  float gscale;                    /* multiplies the gradient before the moments */
  float bc1, bc2;                  /* bias corrections 1 − β^t of this update (computed in double by the caller) */
} sc_adamw_hparams;

/* Tile defaults of the variants (cl/adamw.cl): the gradient norm's slices, and on gpu the work-group reducing a
 * slice. */
#define SC_ADAMW_CPU_TILES "SUMSQ_PARTS=256"
#define SC_ADAMW_GPU_TILES "SUMSQ_PARTS=512 WG=256"
/* Whether tiles of the variant (gpu 1, as sc_variant_pick gives them) suit device d: SUMSQ_PARTS in 1..2^20, and on
 * gpu WG a power of two within its work-group limit and its __local sums (4 bytes an item) within its local memory.
 * The op and the tuner apply this one rule. */
int sc_adamw_tiles_check(const sc_device_info *d, int gpu, const char *tiles, sc_err *err);

int sc_adamw_create(sc_ctx *c, sc_adamw **out, sc_err *err);
void sc_adamw_destroy(sc_adamw *a);

/* The sum of squares of n floats of g (n < 2^31), into *sumsq (a blocking read of one float). */
int sc_adamw_sumsq(sc_adamw *a, size_t n, sc_view g, double *sumsq, sc_err *err);

/* One update of n parameters p with gradients g and moments m, v (views of the same length). */
int sc_adamw_update(sc_adamw *a, size_t n, sc_view p, sc_view g, sc_view m, sc_view v, const sc_adamw_hparams *h,
                    sc_err *err);

#endif
