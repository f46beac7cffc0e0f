#include "ops/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/program.h"

enum { K_TILE_T, K_FWD, K_BWD_STATS, K_BWD, K_DQ_REDUCE, K_APPEND, K_DEC_PART, K_DEC_COMBINE, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"attn_tile_t",      "attn_fwd",           "attn_bwd_stats",
                                                  "attn_bwd",         "attn_dq_reduce",     "attn_append",
                                                  "attn_decode_part", "attn_decode_combine"};

/* Scratch buffers, grown on demand and kept between calls. */
enum { W_KT, W_QT, W_DOT, W_DP, W_LSE2, W_DQP, W_PART, W_POS, W_DUMMY, W_COUNT };
static const char *const scratch_names[W_COUNT] = {
    "attention scratch k tiles", "attention scratch q tiles",   "attention scratch dO tiles",
    "attention scratch D",       "attention scratch lse",       "attention scratch dQ partials",
    "decode partials",           "decode positions and starts", "attention placeholder"};

struct sc_attention {
  sc_ctx *c;
  int dh, bq, kb, work_items;
  cl_program prog;
  cl_kernel k[K_COUNT];
  cl_mem w[W_COUNT];
  size_t wbytes[W_COUNT];
  int32_t *pos_start; /* decode's host staging: positions (B) then starts (B), one write per step */
  int pos_start_cap;  /* its capacity in batch rows */
};

static int scratch(sc_attention *a, int slot, size_t bytes, sc_err *err) {
  if (a->w[slot] && a->wbytes[slot] >= bytes) return 0;
  sc_buffer_release(a->c, a->w[slot]);
  a->w[slot] = NULL;
  a->wbytes[slot] = 0;
  if (sc_buffer_create(a->c, bytes, scratch_names[slot], &a->w[slot], err)) return -1;
  a->wbytes[slot] = bytes;
  return 0;
}

/* Sets all arguments of kernel `id` from parallel arrays of sizes and pointers. */
#define SET_ARGS(a, id, sizes, vals, err) \
  sc_set_args((a)->k[id], kernel_names[id], (int)(sizeof(sizes) / sizeof(sizes)[0]), sizes, vals, err)

static int launch(sc_attention *a, int id, cl_uint dims, size_t g0, size_t g1, sc_err *err) {
  const size_t global[2] = {g0, g1}, local[2] = {1, 1};
  return sc_launch(a->c, a->k[id], dims, global, local, kernel_names[id], err);
}

int sc_attention_create(sc_ctx *c, const sc_attention_cfg *cfg, sc_attention **out, sc_err *err) {
  *out = NULL;
  if (cfg->head_dim <= 0 || cfg->head_dim % 16 || cfg->head_dim > 256)
    return sc_fail(err,
                   "attention: head dim %d is not supported (use a multiple of 16 up to 256, e.g. 64, 80, 96, 128)",
                   cfg->head_dim);
  const int bq = cfg->fwd_rows ? cfg->fwd_rows : 16, kb = cfg->bwd_key_tiles ? cfg->bwd_key_tiles : 4;
  if (bq < 1 || bq > 32) return sc_fail(err, "attention: forward rows per work-item %d outside 1..32", bq);
  if (kb < 1 || kb > 8) return sc_fail(err, "attention: backward key tiles per block %d outside 1..8", kb);
  sc_attention *a = sc_calloc(1, sizeof *a, "attention state", err);
  if (!a) return -1;
  a->c = c;
  a->dh = cfg->head_dim;
  a->bq = bq;
  a->kb = kb;
  a->work_items = cfg->work_items > 0 ? cfg->work_items : 4 * (int)(c->dev.compute_units ? c->dev.compute_units : 1);
  char defs[64];
  snprintf(defs, sizeof defs, "DH=%d BQ=%d KB=%d", a->dh, bq, kb);
  if (sc_program_build(c, "attention.cl", defs, NULL, &a->prog, NULL, err)) goto fail;
  for (int i = 0; i < K_COUNT; i++)
    if (sc_kernel_create(a->prog, kernel_names[i], &a->k[i], err)) goto fail;
  if (scratch(a, W_DUMMY, 64, err)) goto fail;
  *out = a;
  return 0;
fail:
  sc_attention_destroy(a);
  return -1;
}

void sc_attention_destroy(sc_attention *a) {
  if (!a) return;
  for (int i = 0; i < K_COUNT; i++)
    if (a->k[i]) clReleaseKernel(a->k[i]);
  if (a->prog) clReleaseProgram(a->prog);
  for (int i = 0; i < W_COUNT; i++) sc_buffer_release(a->c, a->w[i]);
  free(a->pos_start);
  free(a);
}

static int check_shape(const char *what, int B, int NH, int S, int dh, sc_err *err) {
  if (B < 1 || NH < 1 || S < 1)
    return sc_fail(err, "attention %s: B=%d, NH=%d, S=%d must all be at least 1", what, B, NH, S);
  if ((double)B * NH * (S + 16.0) * dh >= 2147483647.0)
    return sc_fail(err, "attention %s: B*NH*S*dh = %d*%d*%d*%d exceeds 2^31 elements; split the batch", what, B, NH, S,
                   dh);
  return 0;
}

static int tiles(sc_attention *a, cl_mem src, cl_mem dst, int S, int NT, int BH, sc_err *err) {
  const size_t sz[] = {sizeof(cl_mem), sizeof(cl_mem), 4, 4, 4};
  const void *const v[] = {&src, &dst, &S, &NT, &BH};
  if (SET_ARGS(a, K_TILE_T, sz, v, err)) return -1;
  return launch(a, K_TILE_T, 2, (size_t)NT, (size_t)BH, err);
}

int sc_attention_forward(sc_attention *a, int B, int NH, int S, cl_mem q, cl_mem k, cl_mem v, cl_mem seg, cl_mem o,
                         cl_mem lse, sc_err *err) {
  if (check_shape("forward", B, NH, S, a->dh, err)) return -1;
  const int BH = B * NH, NT = (S + 15) / 16, has_seg = seg != NULL;
  const float scale2 = (float)(M_LOG2E / sqrt((double)a->dh));
  if (scratch(a, W_KT, (size_t)BH * NT * 16 * a->dh * sizeof(float), err)) return -1;
  if (tiles(a, k, a->w[W_KT], S, NT, BH, err)) return -1;
  cl_mem sg = has_seg ? seg : a->w[W_DUMMY];
  const size_t m = sizeof(cl_mem);
  const size_t sz[] = {m, m, m, m, 4, m, m, 4, 4, 4, 4, 4};
  const void *const vals[] = {&q, &a->w[W_KT], &v, &sg, &has_seg, &o, &lse, &S, &NT, &NH, &BH, &scale2};
  if (SET_ARGS(a, K_FWD, sz, vals, err)) return -1;
  return launch(a, K_FWD, 2, (size_t)((S + a->bq - 1) / a->bq), (size_t)BH, err);
}

int sc_attention_backward(sc_attention *a, int B, int NH, int S, cl_mem q, cl_mem k, cl_mem v, cl_mem seg, cl_mem o,
                          cl_mem lse, cl_mem dout, cl_mem dq, cl_mem dk, cl_mem dv, sc_err *err) {
  if (check_shape("backward", B, NH, S, a->dh, err)) return -1;
  const int BH = B * NH, NT = (S + 15) / 16, has_seg = seg != NULL;
  /* Enough key groups per head to keep every compute unit busy; each group holds its own dQ partial. */
  const int NB = (NT + a->kb - 1) / a->kb;
  int G = (a->work_items + BH - 1) / BH;
  if (G > NB) G = NB;
  if (G < 1) G = 1;
  const size_t tile_bytes = (size_t)BH * NT * 16 * a->dh * sizeof(float);
  if (scratch(a, W_QT, tile_bytes, err) || scratch(a, W_DOT, tile_bytes, err) ||
      scratch(a, W_DP, (size_t)BH * NT * 16 * sizeof(float), err) ||
      scratch(a, W_LSE2, (size_t)BH * NT * 16 * sizeof(float), err) || scratch(a, W_DQP, G * tile_bytes, err))
    return -1;
  if (tiles(a, q, a->w[W_QT], S, NT, BH, err) || tiles(a, dout, a->w[W_DOT], S, NT, BH, err)) return -1;
  const size_t m = sizeof(cl_mem);
  {
    const size_t sz[] = {m, m, m, m, m, 4, 4, 4};
    const void *const vals[] = {&o, &dout, &lse, &a->w[W_DP], &a->w[W_LSE2], &S, &NT, &BH};
    if (SET_ARGS(a, K_BWD_STATS, sz, vals, err) || launch(a, K_BWD_STATS, 2, (size_t)NT * 16, (size_t)BH, err))
      return -1;
  }
  const float scale = (float)(1.0 / sqrt((double)a->dh)), scale2 = (float)(M_LOG2E / sqrt((double)a->dh));
  cl_mem sg = has_seg ? seg : a->w[W_DUMMY];
  {
    const size_t sz[] = {m, m, m, m, m, m, m, m, m, 4, m, m, m, 4, 4, 4, 4, 4, 4, 4};
    const void *const vals[] = {&q,          &a->w[W_QT], &k,       &v,  &dout,  &a->w[W_DOT], &a->w[W_LSE2],
                                &a->w[W_DP], &sg,         &has_seg, &dk, &dv,    &a->w[W_DQP], &S,
                                &NT,         &NH,         &BH,      &G,  &scale, &scale2};
    if (SET_ARGS(a, K_BWD, sz, vals, err) || launch(a, K_BWD, 2, (size_t)G, (size_t)BH, err)) return -1;
  }
  const size_t sz[] = {m, m, 4, 4, 4, 4, 4};
  const void *const vals[] = {&a->w[W_DQP], &dq, &S, &NT, &BH, &G, &scale};
  if (SET_ARGS(a, K_DQ_REDUCE, sz, vals, err)) return -1;
  return launch(a, K_DQ_REDUCE, 2, (size_t)S, (size_t)BH, err);
}

int sc_attention_decode(sc_attention *a, int B, int NH, int cap, cl_mem kcache, cl_mem vcache, const int32_t *pos,
                        const int32_t *start, cl_mem qnew, cl_mem knew, cl_mem vnew, cl_mem o, cl_mem lse,
                        sc_err *err) {
  if (check_shape("decode", B, NH, cap, a->dh, err)) return -1;
  const int BH = B * NH;
  if (B > a->pos_start_cap) {
    int32_t *ps = sc_malloc(2 * (size_t)B * sizeof *ps, "decode positions and starts", err);
    if (!ps) return -1;
    free(a->pos_start);
    a->pos_start = ps;
    a->pos_start_cap = B;
  }
  int32_t *st = a->pos_start + B;
  int maxlen = 1;
  for (int b = 0; b < B; b++) {
    a->pos_start[b] = pos[b];
    st[b] = start ? start[b] : 0;
    if (pos[b] < 0 || pos[b] >= cap || st[b] < 0 || st[b] > pos[b])
      return sc_fail(err,
                     "attention decode: sequence %d has position %d and start %d; need 0 <= start <= position < "
                     "cache capacity %d (grow the cache or start a new sequence)",
                     b, pos[b], st[b], cap);
    if (pos[b] + 1 - st[b] > maxlen) maxlen = pos[b] + 1 - st[b];
  }
  /* Split long caches into chunks (flash-decoding) so that small batches still fill the device. */
  int want = (a->work_items + BH - 1) / BH, ch = (maxlen + want - 1) / want;
  if (ch < 256) ch = 256;
  ch = (ch + 15) / 16 * 16;
  const int NS = (maxlen + ch - 1) / ch, has_lse = lse != NULL;
  if (scratch(a, W_POS, 2 * (size_t)B * sizeof(int32_t), err) ||
      scratch(a, W_PART, (size_t)BH * NS * (a->dh + 2) * sizeof(float), err) ||
      sc_buffer_write(a->c, a->w[W_POS], 0, 2 * (size_t)B * sizeof(int32_t), a->pos_start, err))
    return -1;
  const size_t m = sizeof(cl_mem);
  {
    const size_t sz[] = {m, m, m, m, m, 4, 4, 4};
    const void *const vals[] = {&kcache, &vcache, &knew, &vnew, &a->w[W_POS], &cap, &NH, &BH};
    if (SET_ARGS(a, K_APPEND, sz, vals, err) || launch(a, K_APPEND, 1, (size_t)BH, 1, err)) return -1;
  }
  {
    const float scale2 = (float)(M_LOG2E / sqrt((double)a->dh));
    const size_t sz[] = {m, m, m, m, m, 4, 4, 4, 4, 4, 4};
    const void *const vals[] = {&qnew, &kcache, &vcache, &a->w[W_POS], &a->w[W_PART], &cap,
                                &NH,   &BH,     &NS,     &ch,          &scale2};
    if (SET_ARGS(a, K_DEC_PART, sz, vals, err) || launch(a, K_DEC_PART, 2, (size_t)NS, (size_t)BH, err)) return -1;
  }
  cl_mem l = has_lse ? lse : a->w[W_DUMMY];
  const size_t sz[] = {m, m, m, 4, 4, 4};
  const void *const vals[] = {&a->w[W_PART], &o, &l, &has_lse, &BH, &NS};
  if (SET_ARGS(a, K_DEC_COMBINE, sz, vals, err)) return -1;
  return launch(a, K_DEC_COMBINE, 1, (size_t)BH, 1, err);
}
