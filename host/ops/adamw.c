#include "ops/adamw.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/variant.h"

enum { K_PARTS, K_TOTAL, K_UPDATE, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"sumsq_parts", "sumsq_total", "adamw_update"};

struct sc_adamw {
  sc_ctx *c;
  sc_kernels ks;
  sc_variant variant;
  size_t nparts, ls; /* SUMSQ_PARTS; gpu: the work-group size */
  cl_mem parts;      /* nparts partial sums, then the total */
};

int sc_adamw_tiles_check(const sc_device_info *d, int gpu, const char *tiles, sc_err *err) {
  const long parts = sc_variant_tile(tiles, "SUMSQ_PARTS", 0);
  if (parts < 1 || parts > 1 << 20)
    return sc_fail(err, "adamw %s tiles '%s': SUMSQ_PARTS must be an integer from 1 to 2^20 (default %s)",
                   gpu ? "gpu" : "cpu", tiles, gpu ? SC_ADAMW_GPU_TILES : SC_ADAMW_CPU_TILES);
  return gpu ? sc_variant_wg_check(d, "adamw", tiles, sizeof(float), err) : 0;
}

int sc_adamw_create(sc_ctx *c, sc_adamw **out, sc_err *err) {
  *out = NULL;
  sc_adamw *a = sc_calloc(1, sizeof *a, "AdamW state", err);
  if (!a) return -1;
  a->c = c;
  char tiles[128], defs[192];
  if (sc_variant_pick(c, "adamw", NULL, SC_ADAMW_CPU_TILES, SC_ADAMW_GPU_TILES, &a->variant, tiles, sizeof tiles, err) ||
      sc_adamw_tiles_check(&c->dev, a->variant == SC_VARIANT_GPU, tiles, err))
    goto fail;
  const long parts = sc_variant_tile(tiles, "SUMSQ_PARTS", 0), wg = sc_variant_tile(tiles, "WG", 256);
  a->nparts = (size_t)parts, a->ls = sc_variant_wg(c, (size_t)wg);
  snprintf(defs, sizeof defs, "%s GPU=%d LS=%zu", tiles, a->variant == SC_VARIANT_GPU, a->ls);
  if (sc_kernels_build(c, "adamw.cl", defs, kernel_names, K_COUNT, &a->ks, err) ||
      sc_buffer_create(c, (a->nparts + 1) * sizeof(float), "gradient norm partial sums", &a->parts, err))
    goto fail;
  *out = a;
  return 0;
fail:
  sc_adamw_destroy(a);
  return -1;
}

void sc_adamw_destroy(sc_adamw *a) {
  if (!a) return;
  sc_kernels_release(&a->ks);
  if (a->parts) sc_buffer_release(a->c, a->parts);
  free(a);
}

int sc_adamw_sumsq(sc_adamw *a, size_t n, sc_view g, double *sumsq, sc_err *err) {
  static const char *const names[] = {"g"};
  if (sc_views_present("gradient norm", &g, names, 1, err)) return -1;
  sc_kargs ka;
  sc_kargs_begin(&ka, a->ks.k[K_PARTS], kernel_names[K_PARTS]);
  sc_karg_view(&ka, g), sc_karg_u64(&ka, n), sc_karg_mem(&ka, a->parts);
  /* cpu: an item per slice and one for the total; gpu: a work-group per slice and one for the total. */
  const int gpu = a->variant == SC_VARIANT_GPU;
  const size_t parts = gpu ? a->nparts * a->ls : a->nparts, total_items = gpu ? a->ls : 1;
  const size_t *local = gpu ? &a->ls : NULL;
  if (sc_kargs_end(&ka, err) || sc_launch(a->c, a->ks.k[K_PARTS], 1, &parts, local, kernel_names[K_PARTS], err))
    return -1;
  sc_kargs_begin(&ka, a->ks.k[K_TOTAL], kernel_names[K_TOTAL]);
  sc_karg_mem(&ka, a->parts);
  float total;
  if (sc_kargs_end(&ka, err) || sc_launch(a->c, a->ks.k[K_TOTAL], 1, &total_items, local, kernel_names[K_TOTAL], err) ||
      sc_buffer_read(a->c, a->parts, a->nparts * sizeof(float), sizeof total, &total, err))
    return -1;
  *sumsq = total;
  return 0;
}

int sc_adamw_update(sc_adamw *a, size_t n, sc_view p, sc_view g, sc_view m, sc_view v, const sc_adamw_hparams *h,
                    sc_err *err) {
  static const char *const names[] = {"p", "g", "m", "v"};
  if (sc_views_present("AdamW update", (sc_view[]){p, g, m, v}, names, 4, err)) return -1;
  if (!(h->bc1 > 0 && h->bc2 > 0))
    return sc_fail(err, "AdamW update: bias corrections %g and %g must be positive (update count t >= 1)", h->bc1,
                   h->bc2);
  if (n == 0) return 0;
  sc_kargs ka;
  sc_kargs_begin(&ka, a->ks.k[K_UPDATE], kernel_names[K_UPDATE]);
  sc_karg_view(&ka, p), sc_karg_view(&ka, g), sc_karg_view(&ka, m), sc_karg_view(&ka, v), sc_karg_u64(&ka, n);
  sc_karg_f32(&ka, h->lr), sc_karg_f32(&ka, h->beta1), sc_karg_f32(&ka, h->beta2), sc_karg_f32(&ka, h->eps);
  sc_karg_f32(&ka, h->wd), sc_karg_f32(&ka, h->gscale), sc_karg_f32(&ka, h->bc1), sc_karg_f32(&ka, h->bc2);
  const size_t local = 64, global = n;
  if (sc_kargs_end(&ka, err)) return -1;
  return sc_launch(a->c, a->ks.k[K_UPDATE], 1, &global, &local, kernel_names[K_UPDATE], err);
}
