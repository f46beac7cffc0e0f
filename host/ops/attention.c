#include "ops/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/variant.h"

/* K_DQ: the cpu variant's reduction of the dQ partials, the gpu variant's dQ pass; K_TILE_T is the cpu's only,
 * K_DQ_SUM the gpu variant's with tile DQP (both programs have it). */
enum { K_TILE_T, K_FWD, K_BWD_STATS, K_BWD, K_DQ, K_FILL, K_APPEND, K_DEC_PART, K_DEC_COMBINE, K_DQ_SUM, K_COUNT };
static const char *const kernel_names[2][K_COUNT] = {
    {"attn_tile_t", "attn_fwd", "attn_bwd_stats", "attn_bwd", "attn_dq_reduce", "attn_cache_fill", "attn_append",
     "attn_decode_part", "attn_decode_combine", "attn_dq_sum"},
    {"attn_tile_t", "attn_fwd", "attn_bwd_stats", "attn_bwd", "attn_bwd_dq", "attn_cache_fill", "attn_append",
     "attn_decode_part", "attn_decode_combine", "attn_dq_sum"}};

const char *const sc_attention_kv_names[] = {"f32", "f16", NULL};

/* Scratch buffers, grown on demand and kept between calls. */
enum { W_KT, W_QT, W_DOT, W_DP, W_LSE2, W_DQP, W_PART, W_POS, W_COUNT };
static const char *const scratch_names[W_COUNT] = {
    "attention scratch k tiles", "attention scratch q tiles",  "attention scratch dO tiles",
    "attention scratch D",       "attention scratch lse",      "attention scratch dQ partials",
    "decode partials",           "decode positions and starts"};
_Static_assert((int)W_COUNT <= (int)SC_SCRATCH_MAX, "attention scratch slots");

struct sc_attention {
  sc_ctx *c;
  sc_variant var;
  int dh, nht, bq, kb, work_items; /* nht: heads per token row (1: head-major) */
  int wg, dch, br, nwg;            /* gpu variant: decode work-group and chunk, flash block rows and work-group */
  int dqp;                         /* gpu variant: dQ partial slots per head of the one-pass backward; 0: two passes */
  size_t kv_bytes;                 /* bytes of a decode cache element */
  sc_kernels ks;
  sc_scratch w;
  int32_t *pos_start; /* decode's host staging: positions (B) then starts (B), written when they change */
  int pos_start_cap;  /* its capacity in batch rows */
  int pos_rows;       /* the batch rows the device copy holds (0: none) */
  cl_event pos_event; /* the last write of the staging, until waited for */
};

/* Starts setting the arguments of kernel `id`. */
static sc_kargs args(const sc_attention *a, int id) {
  sc_kargs ka;
  sc_kargs_begin(&ka, a->ks.k[id], kernel_names[a->var][id]);
  return ka;
}

/* Checks the arguments set in ka, then launches kernel `id` over (g0, g1) work-groups of l0 items. */
static int launch_wg(sc_attention *a, int id, const sc_kargs *ka, cl_uint dims, size_t g0, size_t g1, size_t l0,
                     sc_err *err) {
  const size_t global[2] = {g0 * l0, g1}, local[2] = {l0, 1};
  if (sc_kargs_end(ka, err)) return -1;
  return sc_launch(a->c, a->ks.k[id], dims, global, local, kernel_names[a->var][id], err);
}

/* ... of one item. */
static int launch(sc_attention *a, int id, const sc_kargs *ka, cl_uint dims, size_t g0, size_t g1, sc_err *err) {
  return launch_wg(a, id, ka, dims, g0, g1, 1, err);
}

/* __local bytes of the flash kernels (FLASH_FLOATS in cl/attention.cl, plus its rounding to float4); the staging
 * area only where operands are staged (ls). */
static size_t flash_local(long dh, long ls, long br, long bc, long wc, long tk, long tc) {
  const long stg = !ls                                            ? 0
                   : 2 * (br + bc) * (tk + 4) > 2 * dh * (tc + 4) ? 2 * (br + bc) * (tk + 4)
                                                                  : 2 * dh * (tc + 4);
  return 4 * (size_t)((stg + 2 * br * (bc + 4) + br * (bc / wc)) / 4 + 1) * 4;
}

/* The gpu decode kernel's __local bytes: DCH scores, WG partials, the query and with LS=1 a key tile of WG rows of
 * DSL + 1 dims (attention.cl). */
static size_t decode_local(long dh, long ls, long wg, long dch) {
  const long dsl = dh % 32 ? 16 : 32;
  return sizeof(float) * (size_t)(dch + wg + dh + (ls ? wg * (dsl + 1) : 0));
}

int sc_attention_tiles_check(const sc_device_info *d, const char *tiles, int dh, sc_err *err) {
  static const char *const names[] = {"WG", "DCH", "BR", "BC", "WR", "WC", "TK", "TC"};
  long v[8];
  for (int i = 0; i < 8; i++)
    if ((v[i] = sc_variant_tile(tiles, names[i], 0)) < 1 || v[i] > 4096)
      return sc_fail(err, "attention gpu tiles '%s': %s must be an integer from 1 to 4096 (fix tiles.attention_gpu)",
                     tiles, names[i]);
  const long wg = v[0], dch = v[1], br = v[2], bc = v[3], wr = v[4], wc = v[5], tk = v[6], tc = v[7];
  if (wg < 16 || (wg & (wg - 1)) || dch % wg)
    return sc_fail(err, "attention gpu tiles '%s': WG must be a power of two of at least 16 and DCH a multiple of it",
                   tiles);
  if (sc_variant_switches_check("attention", tiles, err)) return -1;
  const long ls = sc_variant_tile(tiles, "LS", 1), dqp = sc_variant_tile(tiles, "DQP", 0);
  if (dqp < 0 || dqp > 64 || (dqp && (ls || dh % (br / wr))))
    return sc_fail(err,
                   "attention gpu tiles '%s' at head dim %d: DQP (dQ partial slots per head, 0 for the two-pass "
                   "backward) must be 0 to 64, and above 0 needs LS=0 and the head dim a multiple of BR/WR",
                   tiles, dh);
  if (br % wr || bc % wc || dh % (bc / wc) || dh % tk || tk % 4 || bc % tc || tc % 4 || (!ls && dh % 8))
    return sc_fail(err,
                   "attention gpu tiles '%s' at head dim %d: need BR a multiple of WR, BC of WC and of TC, head dim "
                   "a multiple of BC/WC and of TK (and of 8 with LS=0), TK and TC multiples of 4",
                   tiles, dh);
  const size_t nwg = (size_t)(br / wr) * (size_t)(bc / wc), local = flash_local(dh, ls, br, bc, wc, tk, tc);
  if (nwg > d->max_wg || (size_t)wg > d->max_wg)
    return sc_fail(err,
                   "attention gpu tiles '%s': work-groups of (BR/WR)*(BC/WC) = %zu and WG = %ld work-items, above the "
                   "%zu of '%s'; raise WR or WC, or lower BR, BC or WG",
                   tiles, nwg, wg, d->max_wg, d->name);
  if (local > d->local_mem || decode_local(dh, ls, wg, dch) > d->local_mem)
    return sc_fail(err,
                   "attention gpu tiles '%s' at head dim %d: %zu bytes of __local memory for the flash kernels and %zu "
                   "for decode, above the %llu of '%s'; lower TC, TK, BR or BC, or DCH",
                   tiles, dh, local, decode_local(dh, ls, wg, dch), (unsigned long long)d->local_mem, d->name);
  return 0;
}

/* Lowers TC, then TK, then BR (each halved while it stays a valid tile) until the flash kernels' __local memory is
 * at most lim bytes; 0 when it then fits. */
static int fit_local(long dh, long ls, size_t lim, long *br, long bc, long wr, long wc, long *tk, long *tc) {
  while (flash_local(dh, ls, *br, bc, wc, *tk, *tc) > lim) {
    if (*tc > 4 && *tc % 8 == 0)
      *tc /= 2;
    else if (*tk > 4 && *tk % 8 == 0)
      *tk /= 2;
    else if (*br > wr && (*br / 2) % wr == 0)
      *br /= 2;
    else
      return -1;
  }
  return 0;
}

int sc_attention_fit_flash(const sc_device_info *d, int dh, const char *tiles, long *br, long *tk, long *tc,
                           sc_err *err) {
  const long bc = sc_variant_tile(tiles, "BC", 0), wr = sc_variant_tile(tiles, "WR", 0);
  const long wc = sc_variant_tile(tiles, "WC", 0), ls = sc_variant_tile(tiles, "LS", 1);
  const long lmax = sc_variant_tile(tiles, "LMAX", 0);
  *br = sc_variant_tile(tiles, "BR", 0), *tk = sc_variant_tile(tiles, "TK", 0), *tc = sc_variant_tile(tiles, "TC", 0);
  if (lmax != 0 && lmax != 1)
    return sc_fail(err, "attention gpu tiles '%s': LMAX must be 0 (half the __local memory) or 1 (all of it)", tiles);
  if (*br > 0 && bc > 0 && wr > 0 && wc > 0 && *tk > 0 && *tc > 0) {
    long br2 = *br, tk2 = *tk, tc2 = *tc;
    if (fit_local(dh, ls, (size_t)d->local_mem / (lmax ? 1 : 2), &br2, bc, wr, wc, &tk2, &tc2))
      br2 = *br, tk2 = *tk, tc2 = *tc, fit_local(dh, ls, (size_t)d->local_mem, &br2, bc, wr, wc, &tk2, &tc2);
    *br = br2, *tk = tk2, *tc = tc2;
  }
  return 0;
}

/* The program's defines for head dim dh and NHT nht: the picked tiles with decode's WG and DCH as given and the
 * flash tiles fitted by sc_attention_fit_flash, checked. */
static int fitted_defs(const sc_device_info *d, int dh, int nht, const char *picked, long wg, long dch, char *defs,
                       size_t cap, sc_err *err) {
  long br, tk, tc;
  if (sc_attention_fit_flash(d, dh, picked, &br, &tk, &tc, err)) return -1;
  const int w = snprintf(
      defs, cap,
      "DH=%d NHT=%d VARIANT_GPU=1 WG=%ld DCH=%ld BR=%ld BC=%ld WR=%ld WC=%ld TK=%ld TC=%ld LS=%ld NEXP=%ld "
      "LMAX=%ld DQP=%ld",
      dh, nht, wg, dch, br, sc_variant_tile(picked, "BC", 0), sc_variant_tile(picked, "WR", 0),
      sc_variant_tile(picked, "WC", 0), tk, tc, sc_variant_tile(picked, "LS", 1), sc_variant_tile(picked, "NEXP", 0),
      sc_variant_tile(picked, "LMAX", 0), sc_variant_tile(picked, "DQP", 0));
  if (w < 0 || (size_t)w >= cap) return sc_fail(err, "attention: defines do not fit");
  return sc_attention_tiles_check(d, defs, dh, err);
}

int sc_attention_tiles_usable(const sc_device_info *d, const char *tiles, int dh, sc_err *err) {
  char defs[256];
  return fitted_defs(d, dh, 1, tiles, sc_variant_tile(tiles, "WG", 0), sc_variant_tile(tiles, "DCH", 0), defs,
                     sizeof defs, err);
}

/* The gpu variant's tiles from the picked defines, fitted to the device (WG lowered to its maximum work-group, DCH
 * lowered until decode's __local memory fits, the flash tiles by sc_attention_fit_flash), checked, as the program's
 * defines. */
static int gpu_tiles(sc_attention *a, const char *picked, char *defs, size_t cap, sc_err *err) {
  const sc_device_info *d = &a->c->dev;
  long wg = sc_variant_tile(picked, "WG", 0), dch = sc_variant_tile(picked, "DCH", 0);
  if (wg >= 16 && (wg & (wg - 1)) == 0 && dch > 0 && dch % wg == 0) {
    const long w = (long)sc_variant_wg(a->c, (size_t)wg);
    dch = dch / wg * w, wg = w;
    const long ls = sc_variant_tile(picked, "LS", 1);
    while (dch > wg && decode_local(a->dh, ls, wg, dch) > d->local_mem) dch -= wg;
  }
  if (fitted_defs(d, a->dh, a->nht, picked, wg, dch, defs, cap, err)) return -1;
  const long br = sc_variant_tile(defs, "BR", 0), wr = sc_variant_tile(defs, "WR", 0);
  a->wg = (int)wg, a->dch = (int)dch, a->br = (int)br, a->dqp = (int)sc_variant_tile(defs, "DQP", 0);
  a->nwg = (int)((br / wr) * (sc_variant_tile(defs, "BC", 0) / sc_variant_tile(defs, "WC", 0)));
  return 0;
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
  a->nht = cfg->token_heads > 1 ? cfg->token_heads : 1;
  a->bq = bq;
  a->kb = kb;
  a->kv_bytes = sc_attention_kv_bytes(cfg->kv_half);
  a->work_items = cfg->work_items > 0 ? cfg->work_items : 4 * (int)(c->dev.compute_units ? c->dev.compute_units : 1);
  sc_scratch_init(&a->w, c, W_COUNT, scratch_names, "split the batch or shorten the sequences");
  char picked[256], defs[200], shape[16];
  snprintf(shape, sizeof shape, "dh%d", a->dh);
  if (sc_variant_pick(c, "attention", shape, NULL, SC_ATTENTION_GPU_TILES, &a->var, picked, sizeof picked, err))
    goto fail;
  if (a->var == SC_VARIANT_GPU) {
    if (gpu_tiles(a, picked, defs, sizeof defs, err)) goto fail;
  } else {
    snprintf(defs, sizeof defs, "DH=%d NHT=%d BQ=%d KB=%d", a->dh, a->nht, bq, kb);
  }
  const size_t n = strlen(defs);
  snprintf(defs + n, sizeof defs - n, " KVH=%d", cfg->kv_half != 0);
  if (sc_kernels_build(c, "attention.cl", defs, kernel_names[a->var], K_COUNT, &a->ks, err)) goto fail;
  *out = a;
  return 0;
fail:
  sc_attention_destroy(a);
  return -1;
}

void sc_attention_destroy(sc_attention *a) {
  if (!a) return;
  sc_err ignored;
  sc_event_settle(&a->pos_event, "the decode positions write", &ignored);
  sc_kernels_release(&a->ks);
  sc_scratch_release(&a->w);
  free(a->pos_start);
  free(a);
}

static int check_shape(const sc_attention *a, const char *what, int B, int NH, int S, sc_err *err) {
  const int dh = a->dh;
  if (B < 1 || NH < 1 || S < 1)
    return sc_fail(err, "attention %s: B=%d, NH=%d, S=%d must all be at least 1", what, B, NH, S);
  if (a->nht > 1 && NH != a->nht)
    return sc_fail(err, "attention %s: called with NH=%d on an op made for token-major rows of %d heads", what, NH,
                   a->nht);
  if ((double)B * NH * (S + 16.0) * dh >= 2147483647.0)
    return sc_fail(err, "attention %s: B*NH*S*dh = %d*%d*%d*%d exceeds 2^31 elements; split the batch", what, B, NH, S,
                   dh);
  return 0;
}

/* rows -> tiles of 16 transposed rows (attention.cl), into scratch slot `slot`. */
static int tiles(sc_attention *a, sc_view src, int slot, int S, int NT, int BH, sc_err *err) {
  sc_kargs ka = args(a, K_TILE_T);
  sc_karg_view(&ka, src), sc_karg_mem(&ka, a->w.buf[slot]);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, BH);
  return launch(a, K_TILE_T, &ka, 2, (size_t)NT, (size_t)BH, err);
}

int sc_attention_forward(sc_attention *a, int B, int NH, int S, const sc_attention_fwd_io *io, sc_err *err) {
  const sc_view req[] = {io->q, io->k, io->v, io->o, io->lse};
  static const char *const names[] = {"q", "k", "v", "o", "lse"};
  if (check_shape(a, "forward", B, NH, S, err) || sc_views_present("attention forward", req, names, 5, err)) return -1;
  const int BH = B * NH, NT = (S + 15) / 16, gpu = a->var == SC_VARIANT_GPU;
  const float scale = (float)(1.0 / sqrt((double)a->dh));
  /* The cpu variant reads the keys as tiles of 16 transposed rows, the gpu variant as given. */
  if (!gpu && (sc_scratch_need(&a->w, W_KT, (size_t)BH * NT * 16 * a->dh * sizeof(float), err) ||
               tiles(a, io->k, W_KT, S, NT, BH, err)))
    return -1;
  sc_kargs ka = args(a, K_FWD);
  sc_karg_view(&ka, io->q), sc_karg_view(&ka, gpu ? io->k : sc_view_of(a->w.buf[W_KT])), sc_karg_view(&ka, io->v);
  sc_karg_view(&ka, io->seg), sc_karg_i32(&ka, io->seg.buf != NULL);
  sc_karg_view(&ka, io->o), sc_karg_view(&ka, io->lse);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, BH), sc_karg_f32(&ka, scale);
  if (gpu) return launch_wg(a, K_FWD, &ka, 2, (size_t)((S + a->br - 1) / a->br), (size_t)BH, (size_t)a->nwg, err);
  return launch(a, K_FWD, &ka, 2, (size_t)((S + a->bq - 1) / a->bq), (size_t)BH, err);
}

/* D = rowsum(dO * O) and lse into the padded (BH, NT*16) scratch rows both variants' backward kernels read. */
static int bwd_stats(sc_attention *a, const sc_attention_bwd_io *io, int S, int NT, int BH, sc_err *err) {
  cl_mem *w = a->w.buf;
  if (sc_scratch_need(&a->w, W_DP, (size_t)BH * NT * 16 * sizeof(float), err) ||
      sc_scratch_need(&a->w, W_LSE2, (size_t)BH * NT * 16 * sizeof(float), err))
    return -1;
  sc_kargs ka = args(a, K_BWD_STATS);
  sc_karg_view(&ka, io->o), sc_karg_view(&ka, io->dout), sc_karg_view(&ka, io->lse);
  sc_karg_mem(&ka, w[W_DP]), sc_karg_mem(&ka, w[W_LSE2]);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, BH);
  if (a->var == SC_VARIANT_GPU)
    return launch_wg(a, K_BWD_STATS, &ka, 2, (size_t)(NT * 16 + a->wg - 1) / a->wg, (size_t)(BH / a->nht),
                     (size_t)a->wg, err);
  return launch(a, K_BWD_STATS, &ka, 2, (size_t)NT * 16, (size_t)(BH / a->nht), err);
}

/* The gpu variant's backward: dK and dV per key block, then dQ per query block (a second pass, no partials). */
/* The gpu backward: attn_bwd (dK, dV) and the dQ pass attn_bwd_dq, or with tile DQP attn_bwd for all three into
 * NG zeroed partial slots per head, summed by attn_dq_sum. */
static int backward_gpu(sc_attention *a, int B, int NH, int S, const sc_attention_bwd_io *io, sc_err *err) {
  const int BH = B * NH, NT = (S + 15) / 16, nkb = (S + a->br - 1) / a->br;
  const int NG = a->dqp < nkb ? a->dqp : nkb;
  const size_t part_bytes = (size_t)NG * BH * S * a->dh * sizeof(float);
  const float scale = (float)(1.0 / sqrt((double)a->dh));
  if (bwd_stats(a, io, S, NT, BH, err)) return -1;
  if (NG && (sc_scratch_need(&a->w, W_DQP, part_bytes, err) ||
             sc_buffer_fill_zero(a->c, a->w.buf[W_DQP], 0, part_bytes, err)))
    return -1;
  cl_mem *w = a->w.buf;
  const int last = NG ? K_BWD : K_DQ; /* with DQP, attn_bwd makes dQ too */
  for (int id = K_BWD; id <= last; id++) {
    sc_kargs ka = args(a, id);
    sc_karg_view(&ka, io->q), sc_karg_view(&ka, io->k), sc_karg_view(&ka, io->v), sc_karg_view(&ka, io->dout);
    sc_karg_mem(&ka, w[W_LSE2]), sc_karg_mem(&ka, w[W_DP]);
    sc_karg_view(&ka, io->seg), sc_karg_i32(&ka, io->seg.buf != NULL);
    if (id == K_BWD) {
      sc_karg_view(&ka, io->dk), sc_karg_view(&ka, io->dv);
      sc_karg_mem(&ka, NG ? w[W_DQP] : io->dq.buf), sc_karg_i32(&ka, NG); /* unused without DQP */
    } else {
      sc_karg_view(&ka, io->dq);
    }
    sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, BH), sc_karg_f32(&ka, scale);
    const size_t groups = id == K_BWD && NG ? (size_t)NG : (size_t)nkb;
    if (launch_wg(a, id, &ka, 2, groups, (size_t)BH, (size_t)a->nwg, err)) return -1;
  }
  if (!NG) return 0;
  sc_kargs ka = args(a, K_DQ_SUM);
  sc_karg_mem(&ka, w[W_DQP]), sc_karg_view(&ka, io->dq);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, BH), sc_karg_i32(&ka, NG), sc_karg_f32(&ka, scale);
  return launch(a, K_DQ_SUM, &ka, 2, (size_t)S * (size_t)(a->dh / 16), (size_t)BH, err);
}

int sc_attention_backward(sc_attention *a, int B, int NH, int S, const sc_attention_bwd_io *io, sc_err *err) {
  const sc_view req[] = {io->q, io->k, io->v, io->o, io->lse, io->dout, io->dq, io->dk, io->dv};
  static const char *const names[] = {"q", "k", "v", "o", "lse", "dout", "dq", "dk", "dv"};
  if (check_shape(a, "backward", B, NH, S, err) || sc_views_present("attention backward", req, names, 9, err))
    return -1;
  if (a->var == SC_VARIANT_GPU) return backward_gpu(a, B, NH, S, io, err);
  const int BH = B * NH, NT = (S + 15) / 16;
  /* Enough key groups per head to keep every compute unit busy; each group holds its own dQ partial. */
  const int NB = (NT + a->kb - 1) / a->kb;
  int G = (a->work_items + BH - 1) / BH;
  if (G > NB) G = NB;
  if (G < 1) G = 1;
  const size_t tile_bytes = (size_t)BH * NT * 16 * a->dh * sizeof(float);
  if (sc_scratch_need(&a->w, W_QT, tile_bytes, err) || sc_scratch_need(&a->w, W_DOT, tile_bytes, err) ||
      sc_scratch_need(&a->w, W_DQP, G * tile_bytes, err))
    return -1;
  if (tiles(a, io->q, W_QT, S, NT, BH, err) || tiles(a, io->dout, W_DOT, S, NT, BH, err) ||
      bwd_stats(a, io, S, NT, BH, err))
    return -1;
  cl_mem *w = a->w.buf;
  const float scale = (float)(1.0 / sqrt((double)a->dh));
  sc_kargs ka = args(a, K_BWD);
  sc_karg_view(&ka, io->q), sc_karg_mem(&ka, w[W_QT]), sc_karg_view(&ka, io->k), sc_karg_view(&ka, io->v);
  sc_karg_view(&ka, io->dout), sc_karg_mem(&ka, w[W_DOT]), sc_karg_mem(&ka, w[W_LSE2]), sc_karg_mem(&ka, w[W_DP]);
  sc_karg_view(&ka, io->seg), sc_karg_i32(&ka, io->seg.buf != NULL);
  sc_karg_view(&ka, io->dk), sc_karg_view(&ka, io->dv), sc_karg_mem(&ka, w[W_DQP]);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, BH), sc_karg_i32(&ka, G);
  sc_karg_f32(&ka, scale);
  if (launch(a, K_BWD, &ka, 2, (size_t)G, (size_t)BH, err)) return -1;
  ka = args(a, K_DQ);
  sc_karg_mem(&ka, w[W_DQP]), sc_karg_view(&ka, io->dq);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, NT), sc_karg_i32(&ka, BH), sc_karg_i32(&ka, G), sc_karg_f32(&ka, scale);
  return launch(a, K_DQ, &ka, 2, (size_t)S, (size_t)(BH / a->nht), err);
}

int sc_attention_cache_fill(sc_attention *a, int B, int NH, int S, int cap, const sc_attention_fill_io *io,
                            sc_err *err) {
  const sc_view req[] = {io->k, io->v, io->kcache, io->vcache};
  static const char *const names[] = {"k", "v", "kcache", "vcache"};
  if (check_shape(a, "cache fill", B, NH, cap, err) || sc_views_present("attention cache fill", req, names, 4, err))
    return -1;
  if (S < 1 || S > cap)
    return sc_fail(err, "attention cache fill: %d positions do not fit a cache of %d; need 1 <= S <= capacity", S, cap);
  sc_kargs ka = args(a, K_FILL);
  sc_karg_view_of(&ka, io->kcache, a->kv_bytes), sc_karg_view_of(&ka, io->vcache, a->kv_bytes);
  sc_karg_view(&ka, io->k), sc_karg_view(&ka, io->v);
  sc_karg_i32(&ka, S), sc_karg_i32(&ka, cap), sc_karg_i32(&ka, B * NH);
  return launch(a, K_FILL, &ka, 2, (size_t)S, (size_t)(B * NH), err);
}

int sc_attention_decode(sc_attention *a, int B, int NH, int cap, const int32_t *pos, const int32_t *start,
                        const sc_attention_decode_io *io, sc_err *err) {
  const sc_view req[] = {io->kcache, io->vcache, io->q, io->k, io->v, io->o};
  static const char *const names[] = {"kcache", "vcache", "q", "k", "v", "o"};
  if (check_shape(a, "decode", B, NH, cap, err) || sc_views_present("attention decode", req, names, 6, err)) return -1;
  const int BH = B * NH;
  int maxlen = 1, changed = a->pos_rows != B;
  for (int b = 0; b < B; b++) {
    const int32_t s = start ? start[b] : 0;
    if (pos[b] < 0 || pos[b] >= cap || s < 0 || s > pos[b])
      return sc_fail(err,
                     "attention decode: sequence %d has position %d and start %d; need 0 <= start <= position < "
                     "cache capacity %d (grow the cache or start a new sequence)",
                     b, pos[b], s, cap);
    if (pos[b] + 1 - s > maxlen) maxlen = pos[b] + 1 - s;
    changed = changed || a->pos_start[b] != pos[b] || a->pos_start[B + b] != s;
  }
  /* Split long caches into chunks (flash-decoding) so that small batches still fill the device; a gpu chunk is
   * whole work-groups' worth of keys whose scores fit the group's __local buffer. */
  const int gpu = a->var == SC_VARIANT_GPU, want = (a->work_items + BH - 1) / BH;
  int ch = (maxlen + want - 1) / want;
  if (gpu) {
    ch = (ch + a->wg - 1) / a->wg * a->wg;
    if (ch > a->dch) ch = a->dch;
  } else {
    if (ch < 256) ch = 256;
    ch = (ch + 15) / 16 * 16;
  }
  const int NS = (maxlen + ch - 1) / ch;
  const size_t held = a->w.bytes[W_POS];
  if (sc_scratch_need(&a->w, W_POS, 2 * (size_t)B * sizeof(int32_t), err) ||
      sc_scratch_need(&a->w, W_PART, (size_t)BH * NS * (a->dh + 2) * sizeof(float), err))
    return -1;
  /* The positions go to the device only when they change (a model's layers share one step's), and without blocking,
   * which would drain the queue between layers. */
  if (changed || a->w.bytes[W_POS] != held) {
    if (sc_event_settle(&a->pos_event, "the decode positions write", err)) return -1;
    if (B > a->pos_start_cap) {
      int32_t *ps = sc_malloc(2 * (size_t)B * sizeof *ps, "decode positions and starts", err);
      if (!ps) return -1;
      free(a->pos_start);
      a->pos_start = ps, a->pos_start_cap = B;
    }
    for (int b = 0; b < B; b++) a->pos_start[b] = pos[b], a->pos_start[B + b] = start ? start[b] : 0;
    a->pos_rows = 0; /* until the write is queued */
    if (sc_buffer_write_async(a->c, a->w.buf[W_POS], 0, 2 * (size_t)B * sizeof(int32_t), a->pos_start, &a->pos_event,
                              err))
      return -1;
    a->pos_rows = B;
  }
  cl_mem *w = a->w.buf;
  sc_kargs ka = args(a, K_APPEND);
  sc_karg_view_of(&ka, io->kcache, a->kv_bytes), sc_karg_view_of(&ka, io->vcache, a->kv_bytes);
  sc_karg_view(&ka, io->k), sc_karg_view(&ka, io->v);
  sc_karg_mem(&ka, w[W_POS]), sc_karg_i32(&ka, cap), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, BH);
  if (launch(a, K_APPEND, &ka, 1, (size_t)BH, 1, err)) return -1;
  ka = args(a, K_DEC_PART);
  sc_karg_view(&ka, io->q), sc_karg_view_of(&ka, io->kcache, a->kv_bytes);
  sc_karg_view_of(&ka, io->vcache, a->kv_bytes), sc_karg_mem(&ka, w[W_POS]), sc_karg_mem(&ka, w[W_PART]);
  sc_karg_view(&ka, io->o), sc_karg_view(&ka, io->lse), sc_karg_i32(&ka, io->lse.buf != NULL);
  sc_karg_i32(&ka, cap), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, BH), sc_karg_i32(&ka, NS), sc_karg_i32(&ka, ch);
  sc_karg_f32(&ka, (float)(M_LOG2E / sqrt((double)a->dh)));
  if (launch_wg(a, K_DEC_PART, &ka, 2, (size_t)NS, (size_t)BH, gpu ? (size_t)a->wg : 1, err)) return -1;
  if (NS == 1) return 0; /* one chunk per sequence: the chunk kernel wrote o and lse itself */
  ka = args(a, K_DEC_COMBINE);
  sc_karg_mem(&ka, w[W_PART]), sc_karg_view(&ka, io->o), sc_karg_view(&ka, io->lse);
  sc_karg_i32(&ka, io->lse.buf != NULL), sc_karg_i32(&ka, BH), sc_karg_i32(&ka, NS);
  return launch(a, K_DEC_COMBINE, &ka, 1, (size_t)BH, 1, err);
}
