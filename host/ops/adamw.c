#include "ops/adamw.h"

#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"

enum { PARTS = 256 }; /* SUMSQ_PARTS of cl/adamw.cl */
enum { K_PARTS, K_TOTAL, K_UPDATE, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"sumsq_parts", "sumsq_total", "adamw_update"};

struct sc_adamw {
  sc_ctx *c;
  sc_kernels ks;
  cl_mem parts; /* PARTS partial sums, then the total */
};

int sc_adamw_create(sc_ctx *c, sc_adamw **out, sc_err *err) {
  *out = NULL;
  sc_adamw *a = sc_calloc(1, sizeof *a, "AdamW state", err);
  if (!a) return -1;
  a->c = c;
  if (sc_kernels_build(c, "adamw.cl", "SUMSQ_PARTS=256", kernel_names, K_COUNT, &a->ks, err) ||
      sc_buffer_create(c, (PARTS + 1) * sizeof(float), "gradient norm partial sums", &a->parts, err)) {
    sc_adamw_destroy(a);
    return -1;
  }
  *out = a;
  return 0;
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
  const size_t parts = PARTS, one = 1;
  if (sc_kargs_end(&ka, err) || sc_launch(a->c, a->ks.k[K_PARTS], 1, &parts, NULL, kernel_names[K_PARTS], err))
    return -1;
  sc_kargs_begin(&ka, a->ks.k[K_TOTAL], kernel_names[K_TOTAL]);
  sc_karg_mem(&ka, a->parts);
  float total;
  if (sc_kargs_end(&ka, err) || sc_launch(a->c, a->ks.k[K_TOTAL], 1, &one, NULL, kernel_names[K_TOTAL], err) ||
      sc_buffer_read(a->c, a->parts, PARTS * sizeof(float), sizeof total, &total, err))
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
