#include "ops/norm.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/variant.h"

enum { K_FWD, K_BWD_DX, K_DW_PART, K_DW_SUM, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"norm_fwd", "norm_bwd_dx", "norm_dw_part", "norm_dw_sum"};

/* Rows per block of the dw sum (-D RB): fixed, so the bits never depend on the device. */
enum { ROWS_PER_BLOCK = 64 };
static const char *const scratch_names[] = {"norm weight gradient partials"};
/* Most values a gpu item keeps in registers (more fall back to global reads). */
enum { XREG_MAX = 16 };

struct sc_norm {
  sc_ctx *c;
  int C, NG, ls, rpg; /* items per (row, group), (row, group)s per work-group */
  int dwv;            /* columns an item of the dw partials (-D DWV) */
  float eps;
  const char *name; /* "rmsnorm" or "headnorm", in messages */
  sc_kernels ks;
  sc_scratch w;
};

int sc_norm_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_variant_wg_check(d, "norm", tiles, 2 * sizeof(float), err);
}

int sc_norm_create(sc_ctx *c, const sc_norm_cfg *cfg, sc_norm **out, sc_err *err) {
  *out = NULL;
  const int heads = cfg->kind == SC_NORM_HEADS, NG = heads ? cfg->heads : 1;
  const char *name = heads ? "headnorm" : "rmsnorm";
  if (cfg->kind != SC_NORM_RMS && !heads) return sc_fail(err, "norm: unknown kind %d", (int)cfg->kind);
  if (!heads && cfg->heads > 1)
    return sc_fail(err, "rmsnorm: %d heads given; RMSNorm normalises whole rows (use SC_NORM_HEADS)", cfg->heads);
  if (cfg->width < 1 || NG < 1 || cfg->width % NG)
    return sc_fail(err, "%s: width %d is not a positive multiple of the head count %d", name, cfg->width, NG);
  if (!(cfg->eps >= 0)) return sc_fail(err, "%s: eps %g must be a non-negative number (1e-6)", name, cfg->eps);
  sc_variant variant;
  char tiles[96], defs[192];
  if (sc_variant_pick(c, "norm", NULL, NULL, SC_NORM_GPU_TILES, &variant, tiles, sizeof tiles, err)) return -1;
  const int gpu = variant == SC_VARIANT_GPU, G = cfg->width / NG;
  if (gpu && sc_norm_tiles_check(&c->dev, tiles, err)) return -1;
  const long wg_tile = sc_variant_tile(tiles, "WG", 64);
  /* Items per (row, group), unless given: cpu 1 (an item sums its group in float8 lanes); gpu the group's width
   * rounded up to a power of two, at most a work-group (wg: only the gpu variant groups rows). */
  const int wg = gpu ? (int)sc_variant_wg(c, (size_t)wg_tile) : 1;
  int ls = cfg->local;
  if (!ls)
    for (ls = 1; ls < G && ls < wg;) ls *= 2;
  if (ls < 1 || ls & (ls - 1) || (size_t)ls > c->dev.max_wg)
    return sc_fail(err, "%s: local size %d is not a power of two up to the device's maximum work-group size %zu", name,
                   ls, c->dev.max_wg);
  const int rpg = gpu && ls < wg ? wg / ls : 1, xreg = gpu && (G + ls - 1) / ls <= XREG_MAX;
  sc_norm *n = sc_calloc(1, sizeof *n, "norm state", err);
  if (!n) return -1;
  n->c = c;
  n->C = cfg->width, n->NG = NG, n->ls = ls, n->rpg = rpg, n->eps = cfg->eps, n->name = name;
  n->dwv = G % 8 == 0 ? 8 : 1;
  sc_scratch_init(&n->w, c, 1, scratch_names, "split the batch");
  snprintf(defs, sizeof defs, "%s%sG=%d NG=%d CENTER=%d LS=%d RPG=%d XREG=%d RB=%d DWV=%d", tiles, *tiles ? " " : "", G,
           NG, heads, ls, rpg, xreg, ROWS_PER_BLOCK, n->dwv);
  if (sc_kernels_build(c, "norm.cl", defs, kernel_names, K_COUNT, &n->ks, err)) goto fail;
  *out = n;
  return 0;
fail:
  sc_norm_destroy(n);
  return -1;
}

void sc_norm_destroy(sc_norm *n) {
  if (!n) return;
  sc_kernels_release(&n->ks);
  sc_scratch_release(&n->w);
  free(n);
}

static int check_rows(const sc_norm *n, const char *what, int rows, sc_err *err) {
  if (rows < 1) return sc_fail(err, "%s %s: %d rows; need at least 1", n->name, what, rows);
  if ((double)rows * n->C >= 2147483647.0)
    return sc_fail(err, "%s %s: rows*width = %d*%d exceeds 2^31 elements; split the batch", n->name, what, rows, n->C);
  return 0;
}

static int launch(sc_norm *n, int id, const sc_kargs *ka, size_t g0, size_t g1, int grouped, sc_err *err) {
  const size_t global[2] = {g0, g1}, local[2] = {(size_t)n->ls, (size_t)n->rpg};
  if (sc_kargs_end(ka, err)) return -1;
  return sc_launch(n->c, n->ks.k[id], 2, global, grouped ? local : NULL, kernel_names[id], err);
}

int sc_norm_forward(sc_norm *n, int rows, const sc_norm_fwd_io *io, sc_err *err) {
  static const char *const names[] = {"x", "w", "y", "stats"};
  if (check_rows(n, "forward", rows, err) ||
      sc_views_present(n->name, (sc_view[]){io->x, io->w, io->y, io->stats}, names, 4, err))
    return -1;
  sc_kargs ka;
  sc_kargs_begin(&ka, n->ks.k[K_FWD], kernel_names[K_FWD]);
  sc_karg_view(&ka, io->x), sc_karg_view(&ka, io->w), sc_karg_view(&ka, io->y), sc_karg_view(&ka, io->stats);
  sc_karg_i32(&ka, rows), sc_karg_f32(&ka, n->eps);
  return launch(n, K_FWD, &ka, (size_t)n->ls, (size_t)rows * n->NG, 1, err);
}

int sc_norm_backward(sc_norm *n, int rows, const sc_norm_bwd_io *io, sc_err *err) {
  static const char *const names[] = {"x", "w", "stats", "dy", "dx", "dw"};
  if (check_rows(n, "backward", rows, err) ||
      sc_views_present(n->name, (sc_view[]){io->x, io->w, io->stats, io->dy, io->dx, io->dw}, names, 6, err))
    return -1;
  const int nblk = (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (sc_scratch_need(&n->w, 0, (size_t)nblk * n->C * sizeof(float), err)) return -1;
  /* dw first: it reads dy, which dx may overwrite. */
  sc_kargs ka;
  sc_kargs_begin(&ka, n->ks.k[K_DW_PART], kernel_names[K_DW_PART]);
  sc_karg_view(&ka, io->x), sc_karg_view(&ka, io->stats), sc_karg_view(&ka, io->dy), sc_karg_mem(&ka, n->w.buf[0]);
  sc_karg_i32(&ka, rows);
  if (launch(n, K_DW_PART, &ka, (size_t)(n->C / n->dwv), (size_t)nblk, 0, err)) return -1;
  sc_kargs_begin(&ka, n->ks.k[K_DW_SUM], kernel_names[K_DW_SUM]);
  sc_karg_mem(&ka, n->w.buf[0]), sc_karg_view(&ka, io->dw), sc_karg_i32(&ka, nblk);
  if (launch(n, K_DW_SUM, &ka, (size_t)n->C, 1, 0, err)) return -1;
  sc_kargs_begin(&ka, n->ks.k[K_BWD_DX], kernel_names[K_BWD_DX]);
  sc_karg_view(&ka, io->x), sc_karg_view(&ka, io->w), sc_karg_view(&ka, io->stats), sc_karg_view(&ka, io->dy);
  sc_karg_view(&ka, io->dx), sc_karg_i32(&ka, rows);
  return launch(n, K_BWD_DX, &ka, (size_t)n->ls, (size_t)rows * n->NG, 1, err);
}
