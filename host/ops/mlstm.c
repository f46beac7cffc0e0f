#include "ops/mlstm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/timing.h"
#include "runtime/variant.h"

/* Workspace slots: per-token gate arrays for all heads, per-chunk scalars, then the chunk scratch of one
 * group of heads (transposed chunks, decay-masked scores, boundary states and their gradients). */
enum { WS_LB, WS_MC, WS_BETA, WS_ABAR, WS_MK, WS_ALPHA, WS_XT, WS_P, WS_ST, WS_NST, WS_DST, WS_DSTT, WS_COUNT };
static const char *const ws_names[WS_COUNT] = {
    "mLSTM log-forget cumsum",       "mLSTM row stabilizer",    "mLSTM state weights",
    "mLSTM token weights",           "mLSTM chunk stabilizers", "mLSTM chunk decays",
    "mLSTM transposed chunks",       "mLSTM chunk scores",      "mLSTM chunk states",
    "mLSTM chunk normalizer states", "mLSTM state gradients",   "mLSTM state gradients (transposed)"};
_Static_assert((int)WS_COUNT <= (int)SC_SCRATCH_MAX, "mLSTM workspace slots");

enum { RM = 8 };

struct sc_mlstm {
  sc_ctx *ctx;
  int L, dqk, dv, vw;
  int nht; /* heads per token row (1: head-major) */
  sc_variant variant;
  int tm, tn, wgs, st, swg; /* gpu: tile sizes and work-group sizes */
  int ls;                   /* gpu: operands staged in __local memory (tile LS) */
  size_t workspace_limit;
  sc_kernels ks;
  sc_scratch ws;
};

const char *const sc_mlstm_kernel_names[SC_MLSTM_K_COUNT] = {
    "mlstm_gates",     "mlstm_transpose", "mlstm_scores",    "mlstm_chunk_delta", "mlstm_scan",
    "mlstm_out",       "mlstm_bwd_dq",    "mlstm_bwd_dk",    "mlstm_bwd_dv",      "mlstm_bwd_dots",
    "mlstm_bwd_fscan", "mlstm_step",      "mlstm_step_state"};

const char *const sc_mlstm_chunk_choices[] = {"16", "32", "64", "128", NULL};

/* Starts setting the arguments of kernel `kid`. */
static sc_kargs args(const sc_mlstm *m, int kid) {
  sc_kargs a;
  sc_kargs_begin(&a, m->ks.k[kid], sc_mlstm_kernel_names[kid]);
  return a;
}

/* Checks the arguments set in a, then launches kernel `kid` over global work-items in groups of local. */
static int launch(sc_mlstm *m, int kid, const sc_kargs *a, const size_t global[3], const size_t local[3], sc_err *err) {
  if (sc_kargs_end(a, err)) return -1;
  return sc_launch(m->ctx, m->ks.k[kid], 3, global, local, sc_mlstm_kernel_names[kid], err);
}

/* Launches kernel `kid` over (g0, g1, g2) work-groups of one work-item: the cpu variant's shape, where each item
 * holds a register tile and loops over enough work. */
static int run(sc_mlstm *m, int kid, const sc_kargs *a, size_t g0, size_t g1, size_t g2, sc_err *err) {
  const size_t global[3] = {g0, g1, g2}, local[3] = {1, 1, 1};
  return launch(m, kid, a, global, local, err);
}

/* Launches a gpu-variant tile kernel over g0 groups of the tile work-group along dimension 0 and g1 along 1. */
static int run_tiles(sc_mlstm *m, int kid, const sc_kargs *a, size_t g0, size_t g1, sc_err *err) {
  const size_t wg = (size_t)m->wgs, global[3] = {g0 * wg, g1, 1}, local[3] = {wg, 1, 1};
  return launch(m, kid, a, global, local, err);
}

/* Tiles of size t covering n. */
static size_t tiles_of(size_t n, int t) {
  return (n + (size_t)t - 1) / (size_t)t;
}

/* The scans along the sequence: one item per head (cpu), or a group of SWG items per head (gpu). */
static int run_per_head(sc_mlstm *m, int kid, const sc_kargs *a, size_t BH, sc_err *err) {
  if (m->variant != SC_VARIANT_GPU) return run(m, kid, a, BH, 1, 1, err);
  const size_t global[3] = {(size_t)m->swg, BH, 1}, local[3] = {(size_t)m->swg, 1, 1};
  return launch(m, kid, a, global, local, err);
}

int sc_mlstm_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err) {
  static const char *const names[] = {"TM", "TN", "TK", "WM", "WN", "ST", "SWG"};
  long v[7];
  for (int i = 0; i < 7; i++)
    if ((v[i] = sc_variant_tile(tiles, names[i], 0)) < 1 || v[i] > 4096)
      return sc_fail(err, "mLSTM gpu tiles '%s': %s must be an integer from 1 to 4096 (defaults %s)", tiles, names[i],
                     SC_MLSTM_GPU_TILES);
  const long tm = v[0], tn = v[1], tk = v[2], wm = v[3], wn = v[4], st = v[5], swg = v[6];
  if (sc_variant_switches_check("mlstm", tiles, err)) return -1;
  const long ls = sc_variant_tile(tiles, "LS", 1), vl = sc_variant_tile(tiles, "VL", 0);
  if (tm % wm || tn % wn || (swg & (swg - 1)))
    return sc_fail(err, "mLSTM gpu tiles '%s': need TM, TN multiples of WM, WN, SWG a power of two (defaults %s)",
                   tiles, SC_MLSTM_GPU_TILES);
  if ((vl != 0 && vl != 1) || (vl && (wm % 4 || wn % 4)))
    return sc_fail(err,
                   "mLSTM gpu tiles '%s': VL must be 0 or 1, and VL=1 (float4 reads of the register tiles) needs WM "
                   "and WN multiples of 4",
                   tiles);
  const size_t wgs = (size_t)(tm / wm * (tn / wn)), max = d->max_wg ? d->max_wg : 1;
  /* A staging tile group's first TK items stage the normalizer weights. */
  if (ls && wgs < (size_t)tk)
    return sc_fail(err, "mLSTM gpu tiles '%s': (TM/WM)*(TN/WN) = %zu items, fewer than TK; lower TK or WM, WN", tiles,
                   wgs);
  if (wgs > max || (size_t)(st * st) > max || (size_t)swg > max)
    return sc_fail(err,
                   "mLSTM gpu tiles '%s' need work-groups of %zu, %ld and %ld items but %s allows %zu: lower TM/WM x "
                   "TN/WN, ST or SWG in the profile's tiles.mlstm_gpu, or use SCALECL_KERNEL_VARIANT=cpu",
                   tiles, wgs, st * st, swg, d->name, max);
  /* the staged rows are padded by 4 (cl/mlstm.cl, TMP and TNP) */
  const size_t chunk = ls ? 4 * (size_t)(tk * (tm + tn + 9)) : 0, scan = 4 * (size_t)(st * (st + 1));
  const size_t local = d->local_mem < 32768 ? (size_t)d->local_mem : 32768;
  if (chunk > local || scan > local)
    return sc_fail(err,
                   "mLSTM gpu tiles '%s': %zu and %zu bytes of __local tiles (4*TK*(TM+TN+9), 4*ST*(ST+1)), above "
                   "the %zu usable on %s; lower TK, TM, TN or ST",
                   tiles, chunk, scan, local, d->name);
  return 0;
}

/* Reads the gpu tile sizes back from the picked defines (a profile may override them) once they passed the check. */
static int gpu_geometry(sc_mlstm *m, const char *tiles, sc_err *err) {
  if (sc_mlstm_tiles_check(&m->ctx->dev, tiles, err)) return -1;
  m->tm = (int)sc_variant_tile(tiles, "TM", 0), m->tn = (int)sc_variant_tile(tiles, "TN", 0);
  m->wgs = m->tm / (int)sc_variant_tile(tiles, "WM", 1) * (m->tn / (int)sc_variant_tile(tiles, "WN", 1));
  m->st = (int)sc_variant_tile(tiles, "ST", 0), m->swg = (int)sc_variant_tile(tiles, "SWG", 0);
  m->ls = (int)sc_variant_tile(tiles, "LS", 1);
  return 0;
}

int sc_mlstm_create(sc_ctx *c, const sc_mlstm_cfg *cfg, sc_mlstm **out, sc_err *err) {
  *out = NULL;
  const int L = cfg->chunk, dqk = cfg->dqk, dv = cfg->dv;
  if (L < 16 || L % 16)
    return sc_fail(err, "mLSTM chunk size %d is not a positive multiple of 16 (use 16, 32, 64 or 128)", L);
  if (dqk < 8 || dqk > 512 || dqk % 8 || dv < 8 || dv > 512 || dv % 8)
    return sc_fail(err, "mLSTM head dims dqk=%d dv=%d unsupported: each must be a multiple of 8 from 8 to 512", dqk,
                   dv);
  sc_mlstm *m = sc_calloc(1, sizeof *m, "mLSTM state", err);
  if (!m) return -1;
  m->ctx = c;
  m->L = L, m->dqk = dqk, m->dv = dv;
  m->nht = cfg->token_heads > 1 ? cfg->token_heads : 1;
  m->vw = dqk % 16 == 0 && dv % 16 == 0 ? 16 : 8;
  m->workspace_limit =
      cfg->workspace_bytes ? cfg->workspace_bytes : (size_t)sc_settings_get()->mlstm_workspace_mb << 20;
  sc_scratch_init(&m->ws, c, WS_COUNT, ws_names,
                  "use a smaller chunk or sequence, or lower SCALECL_MLSTM_WORKSPACE_MB");
  char tiles[256], defs[400], shape[24];
  snprintf(shape, sizeof shape, "dh%dx%d", dqk, dv);
  if (sc_variant_pick(c, "mlstm", shape, NULL, SC_MLSTM_GPU_TILES, &m->variant, tiles, sizeof tiles, err) ||
      (m->variant == SC_VARIANT_GPU && gpu_geometry(m, tiles, err))) {
    sc_mlstm_destroy(m);
    return -1;
  }
  int n = snprintf(defs, sizeof defs, "L=%d DQK=%d DV=%d VW=%d NHT=%d", L, dqk, dv, m->vw, m->nht);
  if (m->variant == SC_VARIANT_GPU) snprintf(defs + n, sizeof defs - (size_t)n, " MLSTM_GPU=1 %s", tiles);
  if (sc_kernels_build(c, "mlstm.cl", defs, sc_mlstm_kernel_names, SC_MLSTM_K_COUNT, &m->ks, err)) {
    sc_mlstm_destroy(m);
    return -1;
  }
  *out = m;
  return 0;
}

void sc_mlstm_destroy(sc_mlstm *m) {
  if (!m) return;
  sc_kernels_release(&m->ks);
  sc_scratch_release(&m->ws);
  free(m);
}

static int ensure(sc_mlstm *m, int slot, size_t bytes, sc_err *err) {
  return sc_scratch_need(&m->ws, slot, bytes, err);
}

static size_t n_chunks(const sc_mlstm *m, size_t S) {
  return (S + (size_t)m->L - 1) / (size_t)m->L;
}

size_t sc_mlstm_head_scratch(const sc_mlstm *m, size_t S, int backward) {
  const size_t NC = n_chunks(m, S), L = (size_t)m->L, dqk = (size_t)m->dqk, dv = (size_t)m->dv;
  const size_t xt = NC * L * (backward && dv > dqk ? dv : dqk), p = NC * L * L, st = NC * dqk * dv;
  return 4 * (xt + p + st + NC * dqk + (backward ? 2 * st : 0));
}

/* Heads per group so that the chunk scratch stays under the workspace limit (at least one head). */
static size_t group_size(const sc_mlstm *m, size_t BH, size_t S, int backward) {
  size_t per = sc_mlstm_head_scratch(m, S, backward), G = per ? m->workspace_limit / per : BH;
  return G < 1 ? 1 : G > BH ? BH : G;
}

/* Row blocks per work-item: a whole chunk when there are enough chunks to spread over the cores, else one
 * block (the quadratic form has a single long chunk). */
static int rows_per_item(const sc_mlstm *m, size_t items) {
  return items >= 4 * (size_t)(m->ctx->dev.compute_units ? m->ctx->dev.compute_units : 1) ? m->L / RM : 1;
}

static int check_shape(const sc_mlstm *m, size_t BH, size_t S, sc_err *err) {
  if (BH == 0 || S == 0) return sc_fail(err, "mLSTM: empty input (BH=%zu, S=%zu)", BH, S);
  if (BH % (size_t)m->nht)
    return sc_fail(err, "mLSTM: BH=%zu is not a multiple of the %d heads of the token-major layout", BH, m->nht);
  if (S > (size_t)1 << 30 || BH > (size_t)1 << 20 || BH * S > (size_t)1 << 31)
    return sc_fail(err, "mLSTM: BH=%zu x S=%zu exceeds the kernels' 32-bit index range", BH, S);
  return 0;
}

static int run_gates(sc_mlstm *m, size_t BH, size_t S, sc_view ig, sc_view fg, sc_view m0, sc_view m_last,
                     sc_err *err) {
  const size_t NC = n_chunks(m, S), tok = 4 * BH * S;
  if (ensure(m, WS_LB, tok, err) || ensure(m, WS_MC, tok, err) || ensure(m, WS_BETA, tok, err) ||
      ensure(m, WS_ABAR, tok, err) || ensure(m, WS_MK, 4 * BH * (NC + 1), err) || ensure(m, WS_ALPHA, 4 * BH * NC, err))
    return -1;
  const cl_mem *w = m->ws.buf;
  sc_kargs a = args(m, SC_MLSTM_K_GATES);
  sc_karg_i32(&a, BH), sc_karg_i32(&a, S), sc_karg_i32(&a, NC), sc_karg_f32(&a, (float)(1.0 / sqrt((double)m->dqk)));
  sc_karg_view(&a, ig), sc_karg_view(&a, fg), sc_karg_view(&a, m0), sc_karg_i32(&a, m0.buf != NULL);
  sc_karg_mem(&a, w[WS_LB]), sc_karg_mem(&a, w[WS_MC]), sc_karg_mem(&a, w[WS_BETA]), sc_karg_mem(&a, w[WS_ABAR]);
  sc_karg_mem(&a, w[WS_MK]), sc_karg_mem(&a, w[WS_ALPHA]);
  sc_karg_view(&a, m_last), sc_karg_i32(&a, m_last.buf != NULL);
  return run_per_head(m, SC_MLSTM_K_GATES, &a, BH, err);
}

static int run_transpose(sc_mlstm *m, size_t S, size_t bh0, size_t G, int D, sc_view x, sc_err *err) {
  const size_t NC = n_chunks(m, S);
  sc_kargs a = args(m, SC_MLSTM_K_TRANSPOSE);
  sc_karg_i32(&a, S), sc_karg_i32(&a, NC), sc_karg_i32(&a, D), sc_karg_i32(&a, bh0), sc_karg_i32(&a, G);
  sc_karg_view(&a, x), sc_karg_mem(&a, m->ws.buf[WS_XT]);
  /* one item per chunk in the cpu variant and the gpu variant's direct form; tiles through __local memory else */
  if (m->variant != SC_VARIANT_GPU || !m->ls) return run(m, SC_MLSTM_K_TRANSPOSE, &a, NC, G, 1, err);
  const size_t st = (size_t)m->st,
               global[3] = {tiles_of((size_t)D, m->st) * st, tiles_of((size_t)m->L, m->st) * st, NC * G},
               local[3] = {st, st, 1};
  return launch(m, SC_MLSTM_K_TRANSPOSE, &a, global, local, err);
}

/* P = rs * scale * (a . b) * D' over each chunk; b comes transposed from WS_XT. */
static int run_scores(sc_mlstm *m, size_t S, size_t bh0, size_t G, int DA, float eps, sc_view a_rows, sc_view ig,
                      sc_view nout, sc_err *err) {
  const size_t NC = n_chunks(m, S), nrb = (size_t)m->L / RM;
  const int rpw = rows_per_item(m, NC * G);
  const cl_mem *w = m->ws.buf;
  sc_kargs a = args(m, SC_MLSTM_K_SCORES);
  sc_karg_i32(&a, S), sc_karg_i32(&a, NC), sc_karg_i32(&a, DA), sc_karg_i32(&a, bh0), sc_karg_i32(&a, G);
  sc_karg_i32(&a, rpw), sc_karg_f32(&a, (float)(1.0 / sqrt((double)m->dqk))), sc_karg_f32(&a, eps);
  sc_karg_view(&a, a_rows), sc_karg_mem(&a, w[WS_XT]), sc_karg_mem(&a, w[WS_LB]), sc_karg_mem(&a, w[WS_MC]);
  sc_karg_view(&a, ig), sc_karg_view(&a, nout), sc_karg_i32(&a, nout.buf != NULL), sc_karg_mem(&a, w[WS_P]);
  if (m->variant == SC_VARIANT_GPU)
    return run_tiles(m, SC_MLSTM_K_SCORES, &a, tiles_of(m->L, m->tm) * tiles_of(m->L, m->tn), NC * G, err);
  return run(m, SC_MLSTM_K_SCORES, &a, (nrb + (size_t)rpw - 1) / (size_t)rpw, NC * G, 1, err);
}

/* Boundary states (or their gradients, rev = 1) in two passes: the per-chunk increments sum_t w_t x_t y_t^T of
 * every chunk into d, in parallel, then the scan over chunks that turns them into states (mlstm.cl). Views with
 * buf NULL are absent. */
typedef struct {
  int rev;
  sc_view x, y, nout, c0, n0;
  cl_mem w;    /* per-token weights (workspace) */
  cl_mem d;    /* increments, then the states when store_n (DQK x DV per chunk) */
  int store_n; /* write the states back into d */
  cl_mem stt;  /* optional transposed states (DV x DQK per chunk) */
  cl_mem nd;   /* normalizer increments and states (forward) */
  sc_view last, nlast;
} states_args;

static int run_states(sc_mlstm *m, size_t S, size_t bh0, size_t G, float eps, const states_args *s, sc_err *err) {
  const size_t NC = n_chunks(m, S), cb = (size_t)(m->dv / m->vw), rb = (size_t)(m->dqk / RM);
  sc_kargs a = args(m, SC_MLSTM_K_DELTA);
  sc_karg_i32(&a, S), sc_karg_i32(&a, NC), sc_karg_i32(&a, bh0), sc_karg_i32(&a, G), sc_karg_i32(&a, s->rev);
  sc_karg_f32(&a, eps), sc_karg_view(&a, s->x), sc_karg_view(&a, s->y), sc_karg_mem(&a, s->w);
  sc_karg_view(&a, s->nout), sc_karg_mem(&a, s->d), sc_karg_mem(&a, s->nd);
  const int gpu = m->variant == SC_VARIANT_GPU;
  if (gpu ? run_tiles(m, SC_MLSTM_K_DELTA, &a, tiles_of(m->dqk, m->tm) * tiles_of(m->dv, m->tn), NC * G, err)
          : run(m, SC_MLSTM_K_DELTA, &a, rb, NC * G, 1, err))
    return -1;
  a = args(m, SC_MLSTM_K_SCAN);
  sc_karg_i32(&a, NC), sc_karg_i32(&a, bh0), sc_karg_i32(&a, G), sc_karg_i32(&a, s->rev);
  sc_karg_mem(&a, m->ws.buf[WS_ALPHA]), sc_karg_view(&a, s->c0), sc_karg_view(&a, s->n0);
  sc_karg_i32(&a, s->c0.buf != NULL), sc_karg_i32(&a, s->n0.buf != NULL);
  sc_karg_mem(&a, s->d), sc_karg_i32(&a, s->store_n), sc_karg_mem(&a, s->stt), sc_karg_i32(&a, s->stt != NULL);
  sc_karg_mem(&a, s->nd), sc_karg_view(&a, s->last), sc_karg_i32(&a, s->last.buf != NULL);
  sc_karg_view(&a, s->nlast), sc_karg_i32(&a, s->nlast.buf != NULL);
  if (!gpu) return run(m, SC_MLSTM_K_SCAN, &a, cb, rb, G, err);
  const size_t st = (size_t)m->st, global[3] = {tiles_of(m->dv, m->st) * st, tiles_of(m->dqk, m->st) * st, G},
               local[3] = {st, st, 1};
  return launch(m, SC_MLSTM_K_SCAN, &a, global, local, err);
}

static int chunk_rpw(const sc_mlstm *m, size_t S, size_t G, int ncols) {
  return rows_per_item(m, n_chunks(m, S) * G * (size_t)(ncols / m->vw));
}

/* Starts the arguments of a chunk-product kernel: S, NC, bh0, G and its rows per item (chunk_rpw). */
static sc_kargs chunk_args(const sc_mlstm *m, int kid, size_t S, size_t bh0, size_t G, int ncols) {
  sc_kargs a = args(m, kid);
  sc_karg_i32(&a, S), sc_karg_i32(&a, n_chunks(m, S)), sc_karg_i32(&a, bh0), sc_karg_i32(&a, G);
  sc_karg_i32(&a, chunk_rpw(m, S, G, ncols));
  return a;
}

/* Launch grid of the chunk-product kernels: column blocks x row-block groups x chunks. */
static int run_chunk(sc_mlstm *m, int kid, const sc_kargs *a, size_t S, size_t G, int ncols, sc_err *err) {
  const size_t NC = n_chunks(m, S), nrb = (size_t)m->L / RM, rpw = (size_t)chunk_rpw(m, S, G, ncols);
  if (m->variant == SC_VARIANT_GPU)
    return run_tiles(m, kid, a, tiles_of(m->L, m->tm) * tiles_of(ncols, m->tn), NC * G, err);
  return run(m, kid, a, (size_t)(ncols / m->vw), (nrb + rpw - 1) / rpw, NC * G, err);
}

int sc_mlstm_forward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_fwd_io *io, sc_err *err) {
  const sc_view req[] = {io->q, io->k, io->v, io->i, io->f, io->h, io->n_out, io->m_out};
  static const char *const names[] = {"q", "k", "v", "i", "f", "h", "n_out", "m_out"};
  if (check_shape(m, BH, S, err) || sc_views_present("mLSTM forward", req, names, 8, err)) return -1;
  const size_t NC = n_chunks(m, S), L = (size_t)m->L, dqk = (size_t)m->dqk, dv = (size_t)m->dv;
  const size_t G = group_size(m, BH, S, 0);
  if (run_gates(m, BH, S, io->i, io->f, io->m0, io->m_last, err) || ensure(m, WS_XT, 4 * G * NC * L * dqk, err) ||
      ensure(m, WS_P, 4 * G * NC * L * L, err) || ensure(m, WS_ST, 4 * G * NC * dqk * dv, err) ||
      ensure(m, WS_NST, 4 * G * NC * dqk, err))
    return -1;
  const cl_mem *w = m->ws.buf;
  for (size_t bh0 = 0; bh0 < BH; bh0 += G) {
    const size_t g = BH - bh0 < G ? BH - bh0 : G;
    const states_args st = {.x = io->k,
                            .y = io->v,
                            .w = w[WS_ABAR],
                            .c0 = io->c0,
                            .n0 = io->n0,
                            .d = w[WS_ST],
                            .store_n = 1,
                            .nd = w[WS_NST],
                            .last = io->c_last,
                            .nlast = io->n_last};
    sc_kargs a = chunk_args(m, SC_MLSTM_K_OUT, S, bh0, g, m->dv);
    sc_karg_f32(&a, eps), sc_karg_view(&a, io->q), sc_karg_view(&a, io->v);
    sc_karg_mem(&a, w[WS_P]), sc_karg_mem(&a, w[WS_ST]), sc_karg_mem(&a, w[WS_NST]), sc_karg_mem(&a, w[WS_BETA]);
    sc_karg_mem(&a, w[WS_MC]), sc_karg_view(&a, io->h), sc_karg_view(&a, io->n_out), sc_karg_view(&a, io->m_out);
    if (run_transpose(m, S, bh0, g, m->dqk, io->k, err) || run_states(m, S, bh0, g, eps, &st, err) ||
        run_scores(m, S, bh0, g, m->dqk, eps, io->q, io->i, sc_view_of(NULL), err) ||
        run_chunk(m, SC_MLSTM_K_OUT, &a, S, g, m->dv, err))
      return -1;
  }
  return 0;
}

int sc_mlstm_backward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_bwd_io *io, sc_err *err) {
  const sc_view req[] = {io->q, io->k, io->v, io->i, io->f, io->n_out, io->dh, io->dq, io->dk, io->dv, io->di, io->df};
  static const char *const names[] = {"q", "k", "v", "i", "f", "n_out", "dh", "dq", "dk", "dv", "di", "df"};
  if (check_shape(m, BH, S, err) || sc_views_present("mLSTM backward", req, names, 12, err)) return -1;
  const size_t NC = n_chunks(m, S), L = (size_t)m->L, dqk = (size_t)m->dqk, dv = (size_t)m->dv;
  const size_t G = group_size(m, BH, S, 1), st_bytes = 4 * G * NC * dqk * dv;
  if (run_gates(m, BH, S, io->i, io->f, io->m0, sc_view_of(NULL), err) ||
      ensure(m, WS_XT, 4 * G * NC * L * (dv > dqk ? dv : dqk), err) || ensure(m, WS_P, 4 * G * NC * L * L, err) ||
      ensure(m, WS_ST, st_bytes, err) || ensure(m, WS_NST, 4 * G * NC * dqk, err) || ensure(m, WS_DST, st_bytes, err) ||
      ensure(m, WS_DSTT, st_bytes, err))
    return -1;
  const cl_mem *w = m->ws.buf;
  for (size_t bh0 = 0; bh0 < BH; bh0 += G) {
    const size_t g = BH - bh0 < G ? BH - bh0 : G;
    /* Recompute the boundary states (transposed, as dq reads C_c^T; the increments go through WS_DSTT, free
     * until the reverse pass), then scan dC backwards over chunks into both layouts. */
    const states_args fwd = {.x = io->k,
                             .y = io->v,
                             .w = w[WS_ABAR],
                             .c0 = io->c0,
                             .n0 = io->n0,
                             .d = w[WS_DSTT],
                             .stt = w[WS_ST],
                             .nd = w[WS_NST]};
    const states_args rev = {.rev = 1,
                             .x = io->q,
                             .y = io->dh,
                             .w = w[WS_BETA],
                             .nout = io->n_out,
                             .d = w[WS_DST],
                             .store_n = 1,
                             .stt = w[WS_DSTT],
                             .last = io->dc0};
    sc_kargs adv = chunk_args(m, SC_MLSTM_K_BWD_DV, S, bh0, g, m->dv);
    sc_karg_view(&adv, io->k), sc_karg_view(&adv, io->dh), sc_karg_mem(&adv, w[WS_P]), sc_karg_mem(&adv, w[WS_DST]);
    sc_karg_mem(&adv, w[WS_ABAR]), sc_karg_view(&adv, io->dv);
    sc_kargs adq = chunk_args(m, SC_MLSTM_K_BWD_DQ, S, bh0, g, m->dqk);
    sc_karg_f32(&adq, eps), sc_karg_view(&adq, io->k), sc_karg_view(&adq, io->dh), sc_karg_mem(&adq, w[WS_P]);
    sc_karg_mem(&adq, w[WS_ST]), sc_karg_mem(&adq, w[WS_BETA]), sc_karg_view(&adq, io->n_out);
    sc_karg_view(&adq, io->dq);
    sc_kargs adk = chunk_args(m, SC_MLSTM_K_BWD_DK, S, bh0, g, m->dqk);
    sc_karg_view(&adk, io->q), sc_karg_view(&adk, io->v), sc_karg_mem(&adk, w[WS_P]), sc_karg_mem(&adk, w[WS_DSTT]);
    sc_karg_mem(&adk, w[WS_ABAR]), sc_karg_view(&adk, io->dk);
    if (run_states(m, S, bh0, g, eps, &fwd, err) || run_states(m, S, bh0, g, eps, &rev, err) ||
        /* dv needs M/(nout+eps); then the same scratch takes dP for dq and dk. */
        run_transpose(m, S, bh0, g, m->dqk, io->k, err) ||
        run_scores(m, S, bh0, g, m->dqk, eps, io->q, io->i, io->n_out, err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DV, &adv, S, g, m->dv, err) || run_transpose(m, S, bh0, g, m->dv, io->v, err) ||
        run_scores(m, S, bh0, g, m->dv, eps, io->dh, io->i, io->n_out, err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DQ, &adq, S, g, m->dqk, err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DK, &adk, S, g, m->dqk, err))
      return -1;
  }
  sc_kargs a = args(m, SC_MLSTM_K_BWD_DOTS);
  sc_karg_i32(&a, BH), sc_karg_i32(&a, S), sc_karg_i32(&a, NC);
  sc_karg_view(&a, io->q), sc_karg_view(&a, io->k), sc_karg_view(&a, io->v), sc_karg_view(&a, io->dq);
  sc_karg_view(&a, io->dk), sc_karg_view(&a, io->dv), sc_karg_view(&a, io->di), sc_karg_view(&a, io->df);
  if (m->variant != SC_VARIANT_GPU) {
    if (run(m, SC_MLSTM_K_BWD_DOTS, &a, NC, BH / (size_t)m->nht, 1, err)) return -1;
  } else { /* one item per token, in groups of SWG along the sequence */
    const size_t swg = (size_t)m->swg, gd[3] = {tiles_of(S, m->swg) * swg, BH, 1}, ld[3] = {swg, 1, 1};
    if (launch(m, SC_MLSTM_K_BWD_DOTS, &a, gd, ld, err)) return -1;
  }
  a = args(m, SC_MLSTM_K_BWD_FSCAN);
  sc_karg_i32(&a, BH), sc_karg_i32(&a, S), sc_karg_view(&a, io->f), sc_karg_view(&a, io->df);
  return run_per_head(m, SC_MLSTM_K_BWD_FSCAN, &a, BH, err);
}

int sc_mlstm_step(sc_mlstm *m, size_t BH, float eps, const sc_mlstm_step_io *io, sc_err *err) {
  const sc_view req[] = {io->q, io->k, io->v, io->i, io->f, io->C, io->n, io->m, io->h};
  static const char *const names[] = {"q", "k", "v", "i", "f", "C", "n", "m", "h"};
  if (check_shape(m, BH, 1, err) || sc_views_present("mLSTM step", req, names, 9, err)) return -1;
  sc_kargs a = args(m, SC_MLSTM_K_STEP);
  sc_karg_i32(&a, BH), sc_karg_f32(&a, (float)(1.0 / sqrt((double)m->dqk))), sc_karg_f32(&a, eps);
  sc_karg_view(&a, io->q), sc_karg_view(&a, io->k), sc_karg_view(&a, io->v), sc_karg_view(&a, io->i);
  sc_karg_view(&a, io->f), sc_karg_view(&a, io->C), sc_karg_view(&a, io->n), sc_karg_view(&a, io->m);
  sc_karg_view(&a, io->h);
  /* gpu: a group of SWG items per head, one column each (the cpu variant has no SWG). */
  const int gpu = m->variant == SC_VARIANT_GPU;
  const size_t swg = (size_t)m->swg, local[3] = {swg, 1, 1}, gs[3] = {gpu ? tiles_of(m->dv, m->swg) * swg : 0, BH, 1};
  if (gpu ? launch(m, SC_MLSTM_K_STEP, &a, gs, local, err)
          : run(m, SC_MLSTM_K_STEP, &a, (size_t)(m->dv / m->vw), BH, 1, err))
    return -1;
  a = args(m, SC_MLSTM_K_STEP_STATE);
  sc_karg_i32(&a, BH), sc_karg_view(&a, io->k), sc_karg_view(&a, io->i), sc_karg_view(&a, io->f);
  sc_karg_view(&a, io->n), sc_karg_view(&a, io->m);
  const size_t gn[3] = {swg, BH, 1};
  return gpu ? launch(m, SC_MLSTM_K_STEP_STATE, &a, gn, local, err) : run(m, SC_MLSTM_K_STEP_STATE, &a, BH, 1, 1, err);
}
