#include "ops/embed.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"

enum { K_FWD, K_BWD, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"embed_fwd", "embed_bwd"};
static const char *const scratch_names[] = {"embedding batch ids and plan"};

struct sc_embed {
  sc_ctx *c;
  int V, d;
  sc_kernels ks;
  sc_scratch w;   /* the batch on the device: ids (n), then the plan: positions by id (n), ids (U), starts (U+1) */
  int32_t *count; /* V + 1 counters of the bucketing */
  int32_t *host;  /* staging of the scratch */
  size_t host_cap;
  cl_event wrote; /* its last write, until waited for (the staging is reused only after) */
  int n, U;       /* the batch: n ids, U distinct; n = 0 before the first one */
};

int sc_embed_create(sc_ctx *c, const sc_embed_cfg *cfg, sc_embed **out, sc_err *err) {
  *out = NULL;
  if (cfg->vocab < 1 || cfg->dim < 1)
    return sc_fail(err, "embed: vocab %d and dim %d must both be at least 1", cfg->vocab, cfg->dim);
  sc_embed *e = sc_calloc(1, sizeof *e, "embed state", err);
  if (!e) return -1;
  e->c = c;
  e->V = cfg->vocab, e->d = cfg->dim;
  sc_scratch_init(&e->w, c, 1, scratch_names, "split the batch");
  if (!(e->count = sc_calloc((size_t)cfg->vocab + 1, sizeof *e->count, "embed id counters", err)) ||
      sc_kernels_build(c, "embed.cl", NULL, kernel_names, K_COUNT, &e->ks, err))
    goto fail;
  *out = e;
  return 0;
fail:
  sc_embed_destroy(e);
  return -1;
}

void sc_embed_destroy(sc_embed *e) {
  if (!e) return;
  sc_err ignored;
  sc_event_settle(&e->wrote, "the embed batch write", &ignored);
  sc_kernels_release(&e->ks);
  sc_scratch_release(&e->w);
  free(e->count);
  free(e->host);
  free(e);
}

int sc_embed_set_tokens(sc_embed *e, int n, const int32_t *tok, sc_err *err) {
  e->n = 0;
  if (n < 1 || (double)n * e->d >= 2147483647.0)
    return sc_fail(err, "embed: %d ids of width %d; need at least one and fewer than 2^31 values (split the batch)", n,
                   e->d);
  for (int r = 0; r < n; r++)
    if (tok[r] < 0 || tok[r] >= e->V)
      return sc_fail(err,
                     "embed: id %d at position %d of the batch (row-major (B, T)) is outside the vocabulary [0, %d); "
                     "check the tokenizer's vocabulary against the model's",
                     (int)tok[r], r, e->V);
  const size_t cap = 4 * (size_t)n + 1; /* ids, positions, at most n distinct ids and their n + 1 starts */
  if (sc_event_settle(&e->wrote, "the embed batch write", err)) return -1;
  if (cap > e->host_cap) {
    int32_t *h = sc_malloc(cap * sizeof *h, "embed batch staging", err);
    if (!h) return -1;
    free(e->host);
    e->host = h, e->host_cap = cap;
  }
  /* Counting sort of the positions by id, stable, so each bucket lists its positions in ascending order. */
  int32_t *ids = e->host, *pos = ids + n, *count = e->count;
  memcpy(ids, tok, (size_t)n * sizeof *ids);
  memset(count, 0, ((size_t)e->V + 1) * sizeof *count);
  for (int r = 0; r < n; r++) count[tok[r] + 1]++;
  for (int v = 0; v < e->V; v++) count[v + 1] += count[v];
  int32_t *present = pos + n, U = 0;
  for (int v = 0; v < e->V; v++)
    if (count[v + 1] > count[v]) present[U++] = v;
  int32_t *start = present + U;
  for (int u = 0; u < U; u++) start[u] = count[present[u]];
  start[U] = n;
  for (int r = 0; r < n; r++) pos[count[tok[r]]++] = r;
  const size_t bytes = (2 * (size_t)n + 2 * (size_t)U + 1) * sizeof *ids;
  /* without waiting: a decoding step's batch is written between kernels, and the model's next blocking write
   * (or the next batch, through sc_event_settle) waits for it */
  if (sc_scratch_need(&e->w, 0, bytes, err) || sc_buffer_write_async(e->c, e->w.buf[0], 0, bytes, ids, &e->wrote, err))
    return -1;
  e->n = n, e->U = U;
  return 0;
}

static int launch(sc_embed *e, int id, const sc_kargs *ka, size_t rows, sc_err *err) {
  const size_t global[2] = {(size_t)e->d, rows};
  if (sc_kargs_end(ka, err)) return -1;
  return sc_launch(e->c, e->ks.k[id], 2, global, NULL, kernel_names[id], err);
}

static int check(const sc_embed *e, const char *what, sc_view a, sc_view b, const char *const *names, sc_err *err) {
  if (!e->n) return sc_fail(err, "embed %s: no batch of ids; call sc_embed_set_tokens first", what);
  return sc_views_present(what, (sc_view[]){a, b}, names, 2, err);
}

int sc_embed_forward(sc_embed *e, sc_view W, sc_view y, sc_err *err) {
  static const char *const names[] = {"W", "y"};
  if (check(e, "embed forward", W, y, names, err)) return -1;
  sc_kargs ka;
  sc_kargs_begin(&ka, e->ks.k[K_FWD], kernel_names[K_FWD]);
  sc_karg_view(&ka, W), sc_karg_view(&ka, sc_view_of(e->w.buf[0])), sc_karg_view(&ka, y);
  sc_karg_i32(&ka, e->n), sc_karg_i32(&ka, e->d);
  return launch(e, K_FWD, &ka, (size_t)e->n, err);
}

int sc_embed_backward(sc_embed *e, sc_view dy, sc_view dW, sc_err *err) {
  static const char *const names[] = {"dy", "dW"};
  if (check(e, "embed backward", dy, dW, names, err)) return -1;
  sc_kargs ka;
  sc_kargs_begin(&ka, e->ks.k[K_BWD], kernel_names[K_BWD]);
  sc_karg_view(&ka, dy), sc_karg_view(&ka, sc_view_at(sc_view_of(e->w.buf[0]), (size_t)e->n * sizeof(int32_t)));
  sc_karg_view(&ka, dW), sc_karg_i32(&ka, e->n), sc_karg_i32(&ka, e->U), sc_karg_i32(&ka, e->d);
  return launch(e, K_BWD, &ka, (size_t)e->U, err);
}
