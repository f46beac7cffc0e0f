/* Token embedding on device buffers (cl/embed.cl): rows of a (V, d) float32 table gathered by int32 ids, and
 * the backward that adds dy's rows into the table's gradient. A batch's ids come from the host once
 * (sc_embed_set_tokens): they are checked there, so the device never reads outside the table, and bucketed by
 * id, so the backward sums each row's positions in a fixed order and gives the same bits on every run.
 * Float64 oracle: ref/embed.h. */
#ifndef SCALECL_OPS_EMBED_H
#define SCALECL_OPS_EMBED_H

#include <stdint.h>

#include "runtime/context.h"

typedef struct sc_embed sc_embed;

typedef struct {
  int vocab; /* V: rows of the table */
  int dim;   /* d: its width */
} sc_embed_cfg;

int sc_embed_create(sc_ctx *c, const sc_embed_cfg *cfg, sc_embed **out, sc_err *err);
void sc_embed_destroy(sc_embed *e);

/* The batch's n ids (row-major (B, T), n = B·T) from host memory: fails naming the first position whose id lies
 * outside [0, V) (the op then holds no batch), else uploads them with the positions bucketed by id (a counting
 * sort, O(n + V)) for the calls below, until the next batch. */
int sc_embed_set_tokens(sc_embed *e, int n, const int32_t *tok, sc_err *err);

/* y (n, d) = W (V, d) rows of the batch's ids. */
int sc_embed_forward(sc_embed *e, sc_view W, sc_view y, sc_err *err);
/* dW (V, d) += the rows of dy (n, d) at their ids: rows of absent ids are untouched, so micro-batches accumulate. */
int sc_embed_backward(sc_embed *e, sc_view dy, sc_view dW, sc_err *err);

#endif
