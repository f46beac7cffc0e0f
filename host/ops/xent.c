#include "ops/xent.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime/kargs.h"
#include "runtime/program.h"
#include "runtime/scratch.h"
#include "runtime/variant.h"

/* Running statistics per row: 16 (max, sum) pairs on cpu, one on gpu (LANES of cl/xent.cl); sc_xent_memory
 * counts the larger. */
enum { LANES_CPU = 16, LANES_GPU = 1 };
/* Block width granularity and default budget of the block logits. */
enum { BLOCK_STEP = 64 };
#define DEFAULT_BLOCK_BYTES ((size_t)64 << 20)

enum { K_BLOCK, K_FINISH, K_MEAN, K_DLOGITS, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"xent_block", "xent_finish", "xent_mean", "xent_dlogits"};

enum { W_BLOCK, W_MAX, W_SUM, W_TARGET, W_FLAG, W_COUNT };
static const char *const scratch_names[W_COUNT] = {"cross-entropy block logits", "cross-entropy running max",
                                                   "cross-entropy running sum", "cross-entropy target logits",
                                                   "cross-entropy token check"};

struct sc_xent {
  sc_ctx *c;
  int d, V, block;
  size_t block_bytes;
  float cap;
  sc_gemm *gemm;
  int own_gemm;
  sc_variant variant;
  int lanes;
  size_t ls; /* gpu: work-items per row */
  sc_kernels ks;
  sc_scratch w;
};

static sc_kargs args(const sc_xent *x, int id) {
  sc_kargs ka;
  sc_kargs_begin(&ka, x->ks.k[id], kernel_names[id]);
  return ka;
}

/* local0: the work-group's size in dimension 0 (the row's items on gpu), or 0 for the runtime's choice. */
static int launch(sc_xent *x, int id, const sc_kargs *ka, cl_uint dims, size_t g0, size_t g1, size_t local0,
                  sc_err *err) {
  const size_t global[2] = {g0, g1}, local[2] = {local0, 1};
  if (sc_kargs_end(ka, err)) return -1;
  return sc_launch(x->c, x->ks.k[id], dims, global, local0 ? local : NULL, kernel_names[id], err);
}

int sc_xent_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err) {
  return sc_variant_wg_check(d, "xent", tiles, 2 * sizeof(float), err);
}

int sc_xent_create(sc_ctx *c, const sc_xent_cfg *cfg, sc_xent **out, sc_err *err) {
  *out = NULL;
  if (cfg->d < 1 || cfg->V < 1)
    return sc_fail(err, "xent: width d=%d and vocabulary V=%d must both be at least 1", cfg->d, cfg->V);
  if (cfg->block < 0) return sc_fail(err, "xent: block width %d is negative (0 chooses one)", cfg->block);
  if (!(cfg->cap >= 0.0f) || cfg->cap > 1e30f)
    return sc_fail(err, "xent: logit cap %g must be a finite number >= 0 (0 = no cap)", cfg->cap);
  sc_xent *x = sc_calloc(1, sizeof *x, "cross-entropy state", err);
  if (!x) return -1;
  x->c = c;
  x->d = cfg->d, x->V = cfg->V, x->block = cfg->block, x->cap = cfg->cap;
  x->block_bytes = cfg->block_bytes ? cfg->block_bytes : DEFAULT_BLOCK_BYTES;
  x->gemm = cfg->gemm;
  sc_scratch_init(&x->w, c, W_COUNT, scratch_names, "give a smaller block width or block budget, or fewer tokens");
  char tiles[96], defs[160];
  if (sc_variant_pick(c, "xent", NULL, NULL, SC_XENT_GPU_TILES, &x->variant, tiles, sizeof tiles, err)) goto fail;
  const int gpu = x->variant == SC_VARIANT_GPU;
  if (gpu && sc_xent_tiles_check(&c->dev, tiles, err)) goto fail;
  const long wg = sc_variant_tile(tiles, "WG", 256);
  x->lanes = gpu ? LANES_GPU : LANES_CPU, x->ls = sc_variant_wg(c, (size_t)wg);
  snprintf(defs, sizeof defs, "%s GPU=%d LANES=%d LS=%zu", tiles, gpu, x->lanes, x->ls);
  if (!x->gemm) {
    x->own_gemm = 1;
    if (sc_gemm_create(c, &x->gemm, err)) goto fail;
  }
  if (sc_kernels_build(c, "xent.cl", defs, kernel_names, K_COUNT, &x->ks, err)) goto fail;
  *out = x;
  return 0;
fail:
  sc_xent_destroy(x);
  return -1;
}

void sc_xent_destroy(sc_xent *x) {
  if (!x) return;
  sc_kernels_release(&x->ks);
  if (x->own_gemm) sc_gemm_destroy(x->gemm);
  sc_scratch_release(&x->w);
  free(x);
}

int sc_xent_block(const sc_xent *x, int N) {
  size_t nb = (size_t)x->block;
  if (!nb) {
    nb = x->block_bytes / ((size_t)(N > 0 ? N : 1) * sizeof(float)) / BLOCK_STEP * BLOCK_STEP;
    if (nb < BLOCK_STEP) nb = BLOCK_STEP;
  }
  return nb < (size_t)x->V ? (int)nb : x->V;
}

static size_t round128(size_t n) {
  return (n + 127) / 128 * 128;
}

size_t sc_xent_memory(size_t N, size_t d, size_t V, size_t block) {
  const size_t nb = block < V ? block : V;
  const size_t own = N * nb + (2 * LANES_CPU + 1) * N + 1;
  const size_t gemm = round128(N) * round128(d) + round128(nb) * round128(d) + round128(N) * round128(nb);
  return sizeof(float) * (own + gemm);
}

static int check_shape(const sc_xent *x, const char *what, int B, int T, sc_err *err) {
  if (B < 1 || T < 1) return sc_fail(err, "xent %s: B=%d and T=%d must both be at least 1", what, B, T);
  const double N = (double)B * T;
  if (N * x->d >= 2147483647.0 || N * sc_xent_block(x, (int)N) >= 2147483647.0)
    return sc_fail(err, "xent %s: B*T = %d*%d rows times d=%d or the block width exceed 2^31 elements; split the batch",
                   what, B, T, x->d);
  return 0;
}

/* Raw logits of columns v0..v0+nb into z (leading dimension ldz): z = x W[v0:v0+nb]ᵀ. */
static int block_logits(sc_xent *x, size_t N, int v0, int nb, sc_view xv, sc_view W, sc_view z, int ldz, sc_err *err) {
  const sc_view Wb = sc_view_at(W, (size_t)v0 * x->d * sizeof(float));
  return sc_gemm_run(x->gemm, SC_GEMM_AUTO, 0, 1, N, (size_t)nb, (size_t)x->d, 1.0f, xv, (size_t)x->d, Wb, (size_t)x->d,
                     0.0f, z, (size_t)ldz, err);
}

/* Names the first out-of-vocabulary token that xent_finish flagged. */
static int token_check(sc_xent *x, int B, int T, sc_view tokens, sc_err *err) {
  int32_t flag = 0, id = 0;
  if (sc_buffer_read(x->c, x->w.buf[W_FLAG], 0, sizeof flag, &flag, err)) return -1;
  if (!flag) return 0;
  const int r = B * T - flag;
  if (sc_buffer_read(x->c, tokens.buf, tokens.off + (size_t)r * sizeof id, sizeof id, &id, err)) return -1;
  return sc_fail(err,
                 "xent forward: token %d at position (b=%d, t=%d) of tokens (B=%d, T=%d) is outside the vocabulary "
                 "[0, %d); check the data's tokenizer against the model's vocabulary",
                 id, r / T, r % T, B, T, x->V);
}

int sc_xent_forward(sc_xent *x, int B, int T, const sc_xent_fwd_io *io, sc_err *err) {
  const sc_view req[] = {io->x, io->W, io->tokens, io->lse, io->loss};
  static const char *const names[] = {"x", "W", "tokens", "lse", "loss"};
  if (check_shape(x, "forward", B, T, err) || sc_views_present("xent forward", req, names, 5, err)) return -1;
  const int N = B * T, nb = sc_xent_block(x, N), full = io->logits.buf != NULL;
  const float inv_cap = x->cap > 0 ? 1.0f / x->cap : 0.0f;
  if ((!full && sc_scratch_need(&x->w, W_BLOCK, (size_t)N * nb * sizeof(float), err)) ||
      sc_scratch_need(&x->w, W_MAX, (size_t)N * x->lanes * sizeof(float), err) ||
      sc_scratch_need(&x->w, W_SUM, (size_t)N * x->lanes * sizeof(float), err) ||
      sc_scratch_need(&x->w, W_TARGET, (size_t)N * sizeof(float), err) ||
      sc_scratch_need(&x->w, W_FLAG, sizeof(int32_t), err) ||
      sc_buffer_fill_zero(x->c, x->w.buf[W_FLAG], 0, sizeof(int32_t), err))
    return -1;
  cl_mem *w = x->w.buf;
  /* cpu: LANES items a row, one item for the mean; gpu: a work-group of ls items a row, one for the mean. */
  const int gpu = x->variant == SC_VARIANT_GPU;
  const size_t row_items = gpu ? x->ls : LANES_CPU, row_local = gpu ? x->ls : 0;
  for (int v0 = 0; v0 < x->V; v0 += nb) {
    const int n = x->V - v0 < nb ? x->V - v0 : nb, ldz = full ? x->V : n;
    const sc_view z = full ? sc_view_at(io->logits, (size_t)v0 * sizeof(float)) : sc_view_of(w[W_BLOCK]);
    if (block_logits(x, (size_t)N, v0, n, io->x, io->W, z, ldz, err)) return -1;
    sc_kargs ka = args(x, K_BLOCK);
    sc_karg_view(&ka, z), sc_karg_i32(&ka, ldz), sc_karg_i32(&ka, n), sc_karg_i32(&ka, v0);
    sc_karg_view(&ka, io->tokens), sc_karg_i32(&ka, N), sc_karg_i32(&ka, T);
    sc_karg_f32(&ka, x->cap), sc_karg_f32(&ka, inv_cap);
    sc_karg_mem(&ka, w[W_MAX]), sc_karg_mem(&ka, w[W_SUM]), sc_karg_mem(&ka, w[W_TARGET]), sc_karg_i32(&ka, v0 == 0);
    if (launch(x, K_BLOCK, &ka, 2, row_items, (size_t)N, row_local, err)) return -1;
  }
  sc_kargs ka = args(x, K_FINISH);
  sc_karg_mem(&ka, w[W_MAX]), sc_karg_mem(&ka, w[W_SUM]), sc_karg_mem(&ka, w[W_TARGET]);
  sc_karg_view(&ka, io->lse), sc_karg_view(&ka, io->losses), sc_karg_i32(&ka, io->losses.buf != NULL);
  sc_karg_view(&ka, io->tokens), sc_karg_i32(&ka, N), sc_karg_i32(&ka, T), sc_karg_i32(&ka, x->V);
  sc_karg_mem(&ka, w[W_FLAG]);
  if (launch(x, K_FINISH, &ka, 1, (size_t)N, 1, 0, err)) return -1;
  ka = args(x, K_MEAN);
  sc_karg_view(&ka, io->lse), sc_karg_mem(&ka, w[W_TARGET]), sc_karg_view(&ka, io->loss);
  sc_karg_i32(&ka, N), sc_karg_i32(&ka, T);
  if (launch(x, K_MEAN, &ka, 1, gpu ? x->ls : 1, 1, row_local, err)) return -1;
  return token_check(x, B, T, io->tokens, err);
}

int sc_xent_backward(sc_xent *x, int B, int T, float scale, const sc_xent_bwd_io *io, sc_err *err) {
  const sc_view req[] = {io->x, io->W, io->tokens, io->lse, io->dx, io->dW};
  static const char *const names[] = {"x", "W", "tokens", "lse", "dx", "dW"};
  if (check_shape(x, "backward", B, T, err) || sc_views_present("xent backward", req, names, 6, err)) return -1;
  const int N = B * T, nb = sc_xent_block(x, N);
  const size_t d = (size_t)x->d;
  const float inv_cap = x->cap > 0 ? 1.0f / x->cap : 0.0f;
  const float coef = T > 1 ? scale / ((float)B * (float)(T - 1)) : 0.0f;
  if (sc_scratch_need(&x->w, W_BLOCK, (size_t)N * nb * sizeof(float), err)) return -1;
  const sc_view z = sc_view_of(x->w.buf[W_BLOCK]);
  for (int v0 = 0; v0 < x->V; v0 += nb) {
    const int n = x->V - v0 < nb ? x->V - v0 : nb;
    if (block_logits(x, (size_t)N, v0, n, io->x, io->W, z, n, err)) return -1;
    sc_kargs ka = args(x, K_DLOGITS);
    sc_karg_view(&ka, z), sc_karg_i32(&ka, n), sc_karg_i32(&ka, n), sc_karg_i32(&ka, v0);
    sc_karg_view(&ka, io->tokens), sc_karg_view(&ka, io->lse), sc_karg_i32(&ka, N), sc_karg_i32(&ka, T);
    sc_karg_f32(&ka, x->cap), sc_karg_f32(&ka, inv_cap), sc_karg_f32(&ka, coef);
    /* Columns per item: 16 (float16 vectors) on cpu, 1 on gpu. */
    const size_t vw = x->variant == SC_VARIANT_GPU ? 1 : 16;
    if (launch(x, K_DLOGITS, &ka, 2, (n + vw - 1) / vw, (size_t)N, 0, err)) return -1;
    /* dx (N, d) += dz (N, n) W_block (n, d); dW_block (n, d) (+)= dzᵀ x. */
    const sc_view Wb = sc_view_at(io->W, (size_t)v0 * d * sizeof(float));
    const sc_view dWb = sc_view_at(io->dW, (size_t)v0 * d * sizeof(float));
    const float beta_dx = v0 == 0 && !io->accumulate ? 0.0f : 1.0f, beta_dW = io->accumulate ? 1.0f : 0.0f;
    if (sc_gemm_run(x->gemm, SC_GEMM_AUTO, 0, 0, (size_t)N, d, (size_t)n, 1.0f, z, (size_t)n, Wb, d, beta_dx, io->dx, d,
                    err) ||
        sc_gemm_run(x->gemm, SC_GEMM_AUTO, 1, 0, (size_t)n, d, (size_t)N, 1.0f, z, (size_t)n, io->x, d, beta_dW, dWb, d,
                    err))
      return -1;
  }
  return 0;
}
