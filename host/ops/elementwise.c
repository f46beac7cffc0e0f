#include "ops/elementwise.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/variant.h"

enum {
  K_SWIGLU_FWD,
  K_SWIGLU_BWD,
  K_SOFTCAP_FWD,
  K_SOFTCAP_BWD,
  K_OGATE_FWD,
  K_OGATE_BWD,
  K_RESIDUAL,
  K_GATES_FWD,
  K_GATES_BWD,
  K_GATES_DB_PART,
  K_GATES_DB_SUM,
  K_COUNT
};
static const char *const kernel_names[K_COUNT] = {"swiglu_fwd", "swiglu_bwd",    "softcap_fwd",  "softcap_bwd",
                                                  "ogate_fwd",  "ogate_bwd",     "residual_add", "gates_fwd",
                                                  "gates_bwd",  "gates_db_part", "gates_db_sum"};

/* Rows per block of the deterministic bias-gradient sum (-D RB): fixed, so the bits never depend on the device. */
enum { ROWS_PER_BLOCK = 64 };
static const char *const scratch_names[] = {"gate bias gradient partials"};

/* Values per work-item of the kernels over n values (-D VW): explicit float16 math on CPUs, one value on GPUs. */
#define SC_ELEMENTWISE_CPU_TILES "VW=16"
#define SC_ELEMENTWISE_GPU_TILES "VW=1"

struct sc_elementwise {
  sc_ctx *c;
  float gate_cap, doc_reset;
  int vw;
  sc_kernels ks;
  sc_scratch w;
};

int sc_elementwise_create(sc_ctx *c, const sc_elementwise_cfg *cfg, sc_elementwise **out, sc_err *err) {
  *out = NULL;
  sc_elementwise *e = sc_calloc(1, sizeof *e, "elementwise state", err);
  if (!e) return -1;
  e->c = c;
  e->gate_cap = cfg ? cfg->gate_cap : 15.0f;
  e->doc_reset = cfg ? cfg->doc_reset : -25.0f;
  sc_scratch_init(&e->w, c, 1, scratch_names, "split the batch");
  sc_variant variant;
  char tiles[64], defs[96];
  if (sc_variant_pick(c, "elementwise", NULL, SC_ELEMENTWISE_CPU_TILES, SC_ELEMENTWISE_GPU_TILES, &variant, tiles,
                      sizeof tiles, err))
    goto fail;
  e->vw = (int)sc_variant_tile(tiles, "VW", 0);
  if (e->vw != 1 && e->vw != 2 && e->vw != 4 && e->vw != 8 && e->vw != 16) {
    sc_fail(err,
            "elementwise: tile VW=%d (from \"%s\") must be 1, 2, 4, 8 or 16 values per work-item; fix the "
            "device profile's elementwise_%s tiles",
            e->vw, tiles, sc_variant_name(variant));
    goto fail;
  }
  snprintf(defs, sizeof defs, "%s RB=%d", tiles, ROWS_PER_BLOCK);
  if (sc_kernels_build(c, "elementwise.cl", defs, kernel_names, K_COUNT, &e->ks, err)) goto fail;
  *out = e;
  return 0;
fail:
  sc_elementwise_destroy(e);
  return -1;
}

void sc_elementwise_destroy(sc_elementwise *e) {
  if (!e) return;
  sc_kernels_release(&e->ks);
  sc_scratch_release(&e->w);
  free(e);
}

/* Starts kernel id's arguments with its views (all required), naming them in a failure. */
static int begin(sc_elementwise *e, int id, sc_kargs *ka, const sc_view *v, const char *const *names, int nv,
                 sc_err *err) {
  if (sc_views_present(kernel_names[id], v, names, nv, err)) return -1;
  sc_kargs_begin(ka, e->ks.k[id], kernel_names[id]);
  for (int j = 0; j < nv; j++) sc_karg_view(ka, v[j]);
  return 0;
}

static int launch(sc_elementwise *e, int id, const sc_kargs *ka, cl_uint dims, size_t g0, size_t g1, sc_err *err) {
  const size_t global[2] = {g0, g1};
  if (sc_kargs_end(ka, err)) return -1;
  return sc_launch(e->c, e->ks.k[id], dims, global, NULL, kernel_names[id], err);
}

/* One elementwise kernel over n values: the views, then n, then c when with_c. */
static int pointwise(sc_elementwise *e, int id, int n, const sc_view *v, const char *const *names, int nv, int with_c,
                     float c, sc_err *err) {
  if (n < 0) return sc_fail(err, "%s: negative element count %d", kernel_names[id], n);
  if (n > INT_MAX - e->vw)
    return sc_fail(err, "%s: %d values are too many for one call; split the batch", kernel_names[id], n);
  if (n == 0) return 0;
  sc_kargs ka;
  if (begin(e, id, &ka, v, names, nv, err)) return -1;
  sc_karg_i32(&ka, n);
  if (with_c) sc_karg_f32(&ka, c);
  return launch(e, id, &ka, 1, ((size_t)n + (size_t)e->vw - 1) / (size_t)e->vw, 1, err);
}

int sc_swiglu_forward(sc_elementwise *e, int n, sc_view g, sc_view u, sc_view z, sc_err *err) {
  static const char *const names[] = {"g", "u", "z"};
  return pointwise(e, K_SWIGLU_FWD, n, (sc_view[]){g, u, z}, names, 3, 0, 0, err);
}

int sc_swiglu_backward(sc_elementwise *e, int n, sc_view g, sc_view u, sc_view dz, sc_view dg, sc_view du,
                       sc_err *err) {
  static const char *const names[] = {"g", "u", "dz", "dg", "du"};
  return pointwise(e, K_SWIGLU_BWD, n, (sc_view[]){g, u, dz, dg, du}, names, 5, 0, 0, err);
}

int sc_softcap_forward(sc_elementwise *e, int n, float c, sc_view x, sc_view y, sc_err *err) {
  static const char *const names[] = {"x", "y"};
  return pointwise(e, K_SOFTCAP_FWD, n, (sc_view[]){x, y}, names, 2, 1, c, err);
}

int sc_softcap_backward(sc_elementwise *e, int n, float c, sc_view x, sc_view dy, sc_view dx, sc_err *err) {
  static const char *const names[] = {"x", "dy", "dx"};
  return pointwise(e, K_SOFTCAP_BWD, n, (sc_view[]){x, dy, dx}, names, 3, 1, c, err);
}

int sc_ogate_forward(sc_elementwise *e, int n, sc_view o, sc_view h, sc_view y, sc_err *err) {
  static const char *const names[] = {"o", "h", "y"};
  return pointwise(e, K_OGATE_FWD, n, (sc_view[]){o, h, y}, names, 3, 0, 0, err);
}

int sc_ogate_backward(sc_elementwise *e, int n, sc_view o, sc_view h, sc_view dy, sc_view dout, sc_view dh,
                      sc_err *err) {
  static const char *const names[] = {"o", "h", "dy", "dout", "dh"};
  return pointwise(e, K_OGATE_BWD, n, (sc_view[]){o, h, dy, dout, dh}, names, 5, 0, 0, err);
}

int sc_residual_add(sc_elementwise *e, int n, sc_view x, sc_view y, sc_err *err) {
  static const char *const names[] = {"x", "y"};
  return pointwise(e, K_RESIDUAL, n, (sc_view[]){x, y}, names, 2, 0, 0, err);
}

/* Checks B, T, NH, D and the row stride (0 becomes width); the whole (B, T, ld) tensor below 2^31 elements. */
static int check_tokens(const char *what, int B, int T, int NH, int D, int *ld, sc_err *err) {
  if (B < 1 || T < 1 || NH < 1 || D < 1)
    return sc_fail(err, "%s: B=%d, T=%d, NH=%d, head width %d must all be at least 1", what, B, T, NH, D);
  const double width = (double)NH * D;
  if (*ld == 0 && width < 2147483647.0) *ld = NH * D;
  if (*ld < width)
    return sc_fail(err, "%s: row stride %d is below NH*width = %d*%d (pass 0 for packed rows)", what, *ld, NH, D);
  if ((double)B * T * *ld >= 2147483647.0)
    return sc_fail(err, "%s: B*T*row stride = %d*%d*%d exceeds 2^31 elements; split the batch", what, B, T, *ld);
  return 0;
}

/* The arguments gates_fwd and gates_bwd share up to has_doc. */
static void gate_inputs(sc_kargs *ka, sc_view doc_start) {
  sc_karg_view(ka, doc_start), sc_karg_i32(ka, doc_start.buf != NULL);
}

int sc_gates_forward(sc_elementwise *e, int B, int T, int NH, int ld, const sc_gates_fwd_io *io, sc_err *err) {
  static const char *const names[] = {"xi", "xf", "bi", "bf", "i", "f"};
  if (check_tokens("gates forward", B, T, NH, 1, &ld, err)) return -1;
  sc_kargs ka;
  if (begin(e, K_GATES_FWD, &ka, (sc_view[]){io->xi, io->xf, io->bi, io->bf}, names, 4, err) ||
      sc_views_present("gates_fwd", (sc_view[]){io->i, io->f}, names + 4, 2, err))
    return -1;
  gate_inputs(&ka, io->doc_start);
  sc_karg_view(&ka, io->i), sc_karg_view(&ka, io->f);
  sc_karg_i32(&ka, B), sc_karg_i32(&ka, T), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, ld);
  sc_karg_f32(&ka, e->gate_cap), sc_karg_f32(&ka, e->doc_reset);
  return launch(e, K_GATES_FWD, &ka, 2, (size_t)T, (size_t)B * NH, err);
}

int sc_gates_backward(sc_elementwise *e, int B, int T, int NH, int ld, const sc_gates_bwd_io *io, sc_err *err) {
  static const char *const names[] = {"xi", "xf", "bi", "bf", "di", "df", "dxi", "dxf", "dbi", "dbf"};
  if (check_tokens("gates backward", B, T, NH, 1, &ld, err)) return -1;
  sc_kargs ka;
  if (begin(e, K_GATES_BWD, &ka, (sc_view[]){io->xi, io->xf, io->bi, io->bf}, names, 4, err) ||
      sc_views_present("gates_bwd", (sc_view[]){io->di, io->df, io->dxi, io->dxf, io->dbi, io->dbf}, names + 4, 6, err))
    return -1;
  gate_inputs(&ka, io->doc_start);
  sc_karg_view(&ka, io->di), sc_karg_view(&ka, io->df), sc_karg_view(&ka, io->dxi), sc_karg_view(&ka, io->dxf);
  sc_karg_i32(&ka, B), sc_karg_i32(&ka, T), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, ld);
  sc_karg_f32(&ka, e->gate_cap);
  if (launch(e, K_GATES_BWD, &ka, 2, (size_t)T, (size_t)B * NH, err)) return -1;
  const int rows = B * T, nblk = (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (sc_scratch_need(&e->w, 0, (size_t)nblk * 2 * NH * sizeof(float), err)) return -1;
  sc_kargs_begin(&ka, e->ks.k[K_GATES_DB_PART], kernel_names[K_GATES_DB_PART]);
  sc_karg_view(&ka, io->dxi), sc_karg_view(&ka, io->dxf), sc_karg_mem(&ka, e->w.buf[0]);
  sc_karg_i32(&ka, rows), sc_karg_i32(&ka, NH), sc_karg_i32(&ka, ld);
  if (launch(e, K_GATES_DB_PART, &ka, 2, (size_t)2 * NH, (size_t)nblk, err)) return -1;
  sc_kargs_begin(&ka, e->ks.k[K_GATES_DB_SUM], kernel_names[K_GATES_DB_SUM]);
  sc_karg_mem(&ka, e->w.buf[0]), sc_karg_view(&ka, io->dbi), sc_karg_view(&ka, io->dbf);
  sc_karg_i32(&ka, nblk), sc_karg_i32(&ka, NH);
  return launch(e, K_GATES_DB_SUM, &ka, 1, (size_t)2 * NH, 1, err);
}
