#include "ops/mlstm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "runtime/program.h"
#include "runtime/timing.h"

/* Workspace slots: per-token gate arrays for all heads, per-chunk scalars, then the chunk scratch of one
 * group of heads (transposed chunks, decay-masked scores, boundary states and their gradients). */
enum { WS_LB, WS_MC, WS_BETA, WS_ABAR, WS_MK, WS_ALPHA, WS_XT, WS_P, WS_ST, WS_NST, WS_DST, WS_DSTT, WS_COUNT };
static const char *const ws_names[WS_COUNT] = {
    "mLSTM log-forget cumsum",       "mLSTM row stabilizer",    "mLSTM state weights",
    "mLSTM token weights",           "mLSTM chunk stabilizers", "mLSTM chunk decays",
    "mLSTM transposed chunks",       "mLSTM chunk scores",      "mLSTM chunk states",
    "mLSTM chunk normalizer states", "mLSTM state gradients",   "mLSTM state gradients (transposed)"};
_Static_assert(WS_COUNT == sizeof((sc_mlstm *)0)->ws / sizeof(cl_mem), "sc_mlstm.ws must hold every workspace slot");

enum { RM = 8 };

typedef struct {
  size_t size;
  const void *ptr;
} karg;
#define KMEM(x) ((karg){sizeof(cl_mem), &(cl_mem){(x)}})
#define KINT(x) ((karg){sizeof(cl_int), &(cl_int){(cl_int)(x)}})
#define KFLT(x) ((karg){sizeof(cl_float), &(cl_float){(cl_float)(x)}})
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *const sc_mlstm_kernel_names[SC_MLSTM_K_COUNT] = {
    "mlstm_gates",     "mlstm_transpose", "mlstm_scores",    "mlstm_chunk_delta", "mlstm_scan",
    "mlstm_out",       "mlstm_bwd_dq",    "mlstm_bwd_dk",    "mlstm_bwd_dv",      "mlstm_bwd_dots",
    "mlstm_bwd_fscan", "mlstm_step",      "mlstm_step_state"};

const char *const sc_mlstm_chunk_choices[] = {"16", "32", "64", "128", NULL};

static int run(sc_mlstm *m, int kid, const karg *a, int n, size_t g0, size_t g1, size_t g2, sc_err *err) {
  const char *name = sc_mlstm_kernel_names[kid];
  for (int j = 0; j < n; j++)
    if (sc_set_arg(m->kern[kid], (cl_uint)j, a[j].size, a[j].ptr, name, err)) return -1;
  /* One work-item per work-group: each item holds a register tile and loops over enough work. */
  const size_t global[3] = {g0, g1, g2}, local[3] = {1, 1, 1};
  /* The in-order queue orders the launches: only profiling waits, draining the queue before and after. */
  if (!m->profile) return sc_launch(m->ctx, m->kern[kid], 3, global, local, name, err);
  if (sc_finish(m->ctx, err)) return -1;
  const double w0 = sc_now(), c0 = sc_cpu_seconds();
  if (sc_launch(m->ctx, m->kern[kid], 3, global, local, name, err) || sc_finish(m->ctx, err)) return -1;
  m->prof_wall[kid] += sc_now() - w0;
  m->prof_cpu[kid] += sc_cpu_seconds() - c0;
  m->prof_calls[kid]++;
  return 0;
}

int sc_mlstm_init(sc_mlstm *m, sc_ctx *c, int L, int dqk, int dv, sc_err *err) {
  memset(m, 0, sizeof *m);
  if (L < 16 || L % 16)
    return sc_fail(err, "mLSTM chunk size %d is not a positive multiple of 16 (use 16, 32, 64 or 128)", L);
  if (dqk < 8 || dqk > 512 || dqk % 8 || dv < 8 || dv > 512 || dv % 8)
    return sc_fail(err, "mLSTM head dims dqk=%d dv=%d unsupported: each must be a multiple of 8 from 8 to 512", dqk,
                   dv);
  m->ctx = c;
  m->L = L, m->dqk = dqk, m->dv = dv;
  m->vw = dqk % 16 == 0 && dv % 16 == 0 ? 16 : 8;
  m->workspace_limit = (size_t)sc_settings_get()->mlstm_workspace_mb << 20;
  char defs[128];
  snprintf(defs, sizeof defs, "L=%d DQK=%d DV=%d VW=%d", L, dqk, dv, m->vw);
  if (sc_program_build(c, "mlstm.cl", defs, NULL, &m->prog, NULL, err)) return -1;
  for (int j = 0; j < SC_MLSTM_K_COUNT; j++)
    if (sc_kernel_create(m->prog, sc_mlstm_kernel_names[j], &m->kern[j], err)) {
      sc_mlstm_release(m);
      return -1;
    }
  /* Bound to optional arguments that a launch leaves unused (their flag is 0). */
  if (sc_buffer_create(c, 64, "mLSTM placeholder", &m->dummy, err)) {
    sc_mlstm_release(m);
    return -1;
  }
  return 0;
}

void sc_mlstm_release(sc_mlstm *m) {
  for (int j = 0; j < SC_MLSTM_K_COUNT; j++)
    if (m->kern[j]) clReleaseKernel(m->kern[j]);
  if (m->prog) clReleaseProgram(m->prog);
  if (m->dummy) sc_buffer_release(m->ctx, m->dummy);
  for (int j = 0; j < WS_COUNT; j++)
    if (m->ws[j]) sc_buffer_release(m->ctx, m->ws[j]);
  memset(m, 0, sizeof *m);
}

static int ensure(sc_mlstm *m, int slot, size_t bytes, sc_err *err) {
  if (m->ws[slot] && m->ws_size[slot] >= bytes) return 0;
  if (bytes > m->ctx->dev.max_alloc)
    return sc_fail(err,
                   "%s needs %.1f MiB, more than the device's largest allocation (%.1f MiB) on %s; use a smaller "
                   "chunk or sequence, or lower SCALECL_MLSTM_WORKSPACE_MB",
                   ws_names[slot], (double)bytes / 1048576.0, (double)m->ctx->dev.max_alloc / 1048576.0,
                   m->ctx->dev.name);
  if (m->ws[slot]) sc_buffer_release(m->ctx, m->ws[slot]);
  m->ws[slot] = NULL;
  m->ws_size[slot] = 0;
  if (sc_buffer_create(m->ctx, bytes, ws_names[slot], &m->ws[slot], err)) return -1;
  m->ws_size[slot] = bytes;
  return 0;
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

static int check_shape(size_t BH, size_t S, sc_err *err) {
  if (BH == 0 || S == 0) return sc_fail(err, "mLSTM: empty input (BH=%zu, S=%zu)", BH, S);
  if (S > (size_t)1 << 30 || BH > (size_t)1 << 20 || BH * S > (size_t)1 << 31)
    return sc_fail(err, "mLSTM: BH=%zu x S=%zu exceeds the kernels' 32-bit index range", BH, S);
  return 0;
}

static int run_gates(sc_mlstm *m, size_t BH, size_t S, cl_mem ig, cl_mem fg, cl_mem m0, cl_mem m_last, sc_err *err) {
  const size_t NC = n_chunks(m, S), tok = 4 * BH * S;
  if (ensure(m, WS_LB, tok, err) || ensure(m, WS_MC, tok, err) || ensure(m, WS_BETA, tok, err) ||
      ensure(m, WS_ABAR, tok, err) || ensure(m, WS_MK, 4 * BH * (NC + 1), err) || ensure(m, WS_ALPHA, 4 * BH * NC, err))
    return -1;
  const karg a[] = {KINT(BH),
                    KINT(S),
                    KINT(NC),
                    KFLT(1.0 / sqrt((double)m->dqk)),
                    KMEM(ig),
                    KMEM(fg),
                    KMEM(m0 ? m0 : m->dummy),
                    KINT(m0 != NULL),
                    KMEM(m->ws[WS_LB]),
                    KMEM(m->ws[WS_MC]),
                    KMEM(m->ws[WS_BETA]),
                    KMEM(m->ws[WS_ABAR]),
                    KMEM(m->ws[WS_MK]),
                    KMEM(m->ws[WS_ALPHA]),
                    KMEM(m_last ? m_last : m->dummy),
                    KINT(m_last != NULL)};
  return run(m, SC_MLSTM_K_GATES, a, NARGS(a), BH, 1, 1, err);
}

static int run_transpose(sc_mlstm *m, size_t S, size_t bh0, size_t G, int D, cl_mem x, sc_err *err) {
  const size_t NC = n_chunks(m, S);
  const karg a[] = {KINT(S), KINT(NC), KINT(D), KINT(bh0), KINT(G), KMEM(x), KMEM(m->ws[WS_XT])};
  return run(m, SC_MLSTM_K_TRANSPOSE, a, NARGS(a), NC, G, 1, err);
}

/* P = rs * scale * (a . b) * D' over each chunk; b comes transposed from WS_XT. */
static int run_scores(sc_mlstm *m, size_t S, size_t bh0, size_t G, int DA, float eps, cl_mem a_rows, cl_mem ig,
                      cl_mem nout, sc_err *err) {
  const size_t NC = n_chunks(m, S), nrb = (size_t)m->L / RM;
  const int rpw = rows_per_item(m, NC * G);
  const karg a[] = {KINT(S),
                    KINT(NC),
                    KINT(DA),
                    KINT(bh0),
                    KINT(G),
                    KINT(rpw),
                    KFLT(1.0 / sqrt((double)m->dqk)),
                    KFLT(eps),
                    KMEM(a_rows),
                    KMEM(m->ws[WS_XT]),
                    KMEM(m->ws[WS_LB]),
                    KMEM(m->ws[WS_MC]),
                    KMEM(ig),
                    KMEM(nout ? nout : m->dummy),
                    KINT(nout != NULL),
                    KMEM(m->ws[WS_P])};
  return run(m, SC_MLSTM_K_SCORES, a, NARGS(a), (nrb + (size_t)rpw - 1) / (size_t)rpw, NC * G, 1, err);
}

/* Boundary states (or their gradients, rev = 1) in two passes: the per-chunk increments sum_t w_t x_t y_t^T of
 * every chunk into d, in parallel, then the scan over chunks that turns them into states (mlstm.cl). */
typedef struct {
  int rev;
  cl_mem x, y, w, nout, c0, n0;
  cl_mem d;    /* increments, then the states when store_n (DQK x DV per chunk) */
  int store_n; /* write the states back into d */
  cl_mem stt;  /* optional transposed states (DV x DQK per chunk) */
  cl_mem nd;   /* normalizer increments and states (forward) */
  cl_mem last, nlast;
} states_args;

static int run_states(sc_mlstm *m, size_t S, size_t bh0, size_t G, float eps, const states_args *s, sc_err *err) {
  const size_t NC = n_chunks(m, S), cb = (size_t)(m->dv / m->vw), rb = (size_t)(m->dqk / RM);
  const cl_mem none = m->dummy;
  const karg ad[] = {KINT(S),      KINT(NC),
                     KINT(bh0),    KINT(G),
                     KINT(s->rev), KFLT(eps),
                     KMEM(s->x),   KMEM(s->y),
                     KMEM(s->w),   KMEM(s->nout ? s->nout : none),
                     KMEM(s->d),   KMEM(s->nd ? s->nd : none)};
  const karg as[] = {KINT(NC),
                     KINT(bh0),
                     KINT(G),
                     KINT(s->rev),
                     KMEM(m->ws[WS_ALPHA]),
                     KMEM(s->c0 ? s->c0 : none),
                     KMEM(s->n0 ? s->n0 : none),
                     KINT(s->c0 != NULL),
                     KINT(s->n0 != NULL),
                     KMEM(s->d),
                     KINT(s->store_n),
                     KMEM(s->stt ? s->stt : none),
                     KINT(s->stt != NULL),
                     KMEM(s->nd ? s->nd : none),
                     KMEM(s->last ? s->last : none),
                     KINT(s->last != NULL),
                     KMEM(s->nlast ? s->nlast : none),
                     KINT(s->nlast != NULL)};
  if (run(m, SC_MLSTM_K_DELTA, ad, NARGS(ad), rb, NC * G, 1, err)) return -1;
  return run(m, SC_MLSTM_K_SCAN, as, NARGS(as), cb, rb, G, err);
}

/* Launch grid of the chunk-product kernels: column blocks x row-block groups x chunks. */
static int run_chunk(sc_mlstm *m, int kid, size_t S, size_t G, int ncols, int rpw, const karg *a, int n, sc_err *err) {
  const size_t NC = n_chunks(m, S), nrb = (size_t)m->L / RM;
  return run(m, kid, a, n, (size_t)(ncols / m->vw), (nrb + (size_t)rpw - 1) / (size_t)rpw, NC * G, err);
}

static int chunk_rpw(const sc_mlstm *m, size_t S, size_t G, int ncols) {
  return rows_per_item(m, n_chunks(m, S) * G * (size_t)(ncols / m->vw));
}

static int check_io(const char *what, const cl_mem *req, const char *const *names, int n, sc_err *err) {
  for (int j = 0; j < n; j++)
    if (!req[j]) return sc_fail(err, "mLSTM %s: required buffer '%s' is missing", what, names[j]);
  return 0;
}

int sc_mlstm_forward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_fwd_io *io, sc_err *err) {
  const cl_mem req[] = {io->q, io->k, io->v, io->i, io->f, io->h, io->n_out, io->m_out};
  const char *const names[] = {"q", "k", "v", "i", "f", "h", "n_out", "m_out"};
  if (check_shape(BH, S, err) || check_io("forward", req, names, NARGS(req), err)) return -1;
  const size_t NC = n_chunks(m, S), L = (size_t)m->L, dqk = (size_t)m->dqk, dv = (size_t)m->dv;
  const size_t G = group_size(m, BH, S, 0);
  if (run_gates(m, BH, S, io->i, io->f, io->m0, io->m_last, err) || ensure(m, WS_XT, 4 * G * NC * L * dqk, err) ||
      ensure(m, WS_P, 4 * G * NC * L * L, err) || ensure(m, WS_ST, 4 * G * NC * dqk * dv, err) ||
      ensure(m, WS_NST, 4 * G * NC * dqk, err))
    return -1;
  for (size_t bh0 = 0; bh0 < BH; bh0 += G) {
    const size_t g = BH - bh0 < G ? BH - bh0 : G;
    const states_args st = {.x = io->k,
                            .y = io->v,
                            .w = m->ws[WS_ABAR],
                            .c0 = io->c0,
                            .n0 = io->n0,
                            .d = m->ws[WS_ST],
                            .store_n = 1,
                            .nd = m->ws[WS_NST],
                            .last = io->c_last,
                            .nlast = io->n_last};
    const int rpw = chunk_rpw(m, S, g, m->dv);
    const karg a[] = {KINT(S),
                      KINT(NC),
                      KINT(bh0),
                      KINT(g),
                      KINT(rpw),
                      KFLT(eps),
                      KMEM(io->q),
                      KMEM(io->v),
                      KMEM(m->ws[WS_P]),
                      KMEM(m->ws[WS_ST]),
                      KMEM(m->ws[WS_NST]),
                      KMEM(m->ws[WS_BETA]),
                      KMEM(m->ws[WS_MC]),
                      KMEM(io->h),
                      KMEM(io->n_out),
                      KMEM(io->m_out)};
    if (run_transpose(m, S, bh0, g, m->dqk, io->k, err) || run_states(m, S, bh0, g, eps, &st, err) ||
        run_scores(m, S, bh0, g, m->dqk, eps, io->q, io->i, NULL, err) ||
        run_chunk(m, SC_MLSTM_K_OUT, S, g, m->dv, rpw, a, NARGS(a), err))
      return -1;
  }
  return 0;
}

int sc_mlstm_backward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_bwd_io *io, sc_err *err) {
  const cl_mem req[] = {io->q, io->k, io->v, io->i, io->f, io->n_out, io->dh, io->dq, io->dk, io->dv, io->di, io->df};
  const char *const names[] = {"q", "k", "v", "i", "f", "n_out", "dh", "dq", "dk", "dv", "di", "df"};
  if (check_shape(BH, S, err) || check_io("backward", req, names, NARGS(req), err)) return -1;
  const size_t NC = n_chunks(m, S), L = (size_t)m->L, dqk = (size_t)m->dqk, dv = (size_t)m->dv;
  const size_t G = group_size(m, BH, S, 1), st_bytes = 4 * G * NC * dqk * dv;
  if (run_gates(m, BH, S, io->i, io->f, io->m0, NULL, err) ||
      ensure(m, WS_XT, 4 * G * NC * L * (dv > dqk ? dv : dqk), err) || ensure(m, WS_P, 4 * G * NC * L * L, err) ||
      ensure(m, WS_ST, st_bytes, err) || ensure(m, WS_NST, 4 * G * NC * dqk, err) || ensure(m, WS_DST, st_bytes, err) ||
      ensure(m, WS_DSTT, st_bytes, err))
    return -1;
  for (size_t bh0 = 0; bh0 < BH; bh0 += G) {
    const size_t g = BH - bh0 < G ? BH - bh0 : G;
    /* Recompute the boundary states (transposed, as dq reads C_c^T; the increments go through WS_DSTT, free
     * until the reverse pass), then scan dC backwards over chunks into both layouts. */
    const states_args fwd = {.x = io->k,
                             .y = io->v,
                             .w = m->ws[WS_ABAR],
                             .c0 = io->c0,
                             .n0 = io->n0,
                             .d = m->ws[WS_DSTT],
                             .stt = m->ws[WS_ST],
                             .nd = m->ws[WS_NST]};
    const states_args rev = {.rev = 1,
                             .x = io->q,
                             .y = io->dh,
                             .w = m->ws[WS_BETA],
                             .nout = io->n_out,
                             .d = m->ws[WS_DST],
                             .store_n = 1,
                             .stt = m->ws[WS_DSTT],
                             .last = io->dc0};
    const int rpk = chunk_rpw(m, S, g, m->dqk), rpv = chunk_rpw(m, S, g, m->dv);
    const karg adv[] = {KINT(S),
                        KINT(NC),
                        KINT(bh0),
                        KINT(g),
                        KINT(rpv),
                        KMEM(io->k),
                        KMEM(io->dh),
                        KMEM(m->ws[WS_P]),
                        KMEM(m->ws[WS_DST]),
                        KMEM(m->ws[WS_ABAR]),
                        KMEM(io->dv)};
    const karg adq[] = {KINT(S),
                        KINT(NC),
                        KINT(bh0),
                        KINT(g),
                        KINT(rpk),
                        KFLT(eps),
                        KMEM(io->k),
                        KMEM(io->dh),
                        KMEM(m->ws[WS_P]),
                        KMEM(m->ws[WS_ST]),
                        KMEM(m->ws[WS_BETA]),
                        KMEM(io->n_out),
                        KMEM(io->dq)};
    const karg adk[] = {KINT(S),
                        KINT(NC),
                        KINT(bh0),
                        KINT(g),
                        KINT(rpk),
                        KMEM(io->q),
                        KMEM(io->v),
                        KMEM(m->ws[WS_P]),
                        KMEM(m->ws[WS_DSTT]),
                        KMEM(m->ws[WS_ABAR]),
                        KMEM(io->dk)};
    if (run_states(m, S, bh0, g, eps, &fwd, err) || run_states(m, S, bh0, g, eps, &rev, err) ||
        /* dv needs M/(nout+eps); then the same scratch takes dP for dq and dk. */
        run_transpose(m, S, bh0, g, m->dqk, io->k, err) ||
        run_scores(m, S, bh0, g, m->dqk, eps, io->q, io->i, io->n_out, err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DV, S, g, m->dv, rpv, adv, NARGS(adv), err) ||
        run_transpose(m, S, bh0, g, m->dv, io->v, err) ||
        run_scores(m, S, bh0, g, m->dv, eps, io->dh, io->i, io->n_out, err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DQ, S, g, m->dqk, rpk, adq, NARGS(adq), err) ||
        run_chunk(m, SC_MLSTM_K_BWD_DK, S, g, m->dqk, rpk, adk, NARGS(adk), err))
      return -1;
  }
  const karg ad[] = {KINT(BH),     KINT(S),      KINT(NC),     KMEM(io->q),  KMEM(io->k), KMEM(io->v),
                     KMEM(io->dq), KMEM(io->dk), KMEM(io->dv), KMEM(io->di), KMEM(io->df)};
  const karg af[] = {KINT(BH), KINT(S), KMEM(io->f), KMEM(io->df)};
  if (run(m, SC_MLSTM_K_BWD_DOTS, ad, NARGS(ad), NC, BH, 1, err) ||
      run(m, SC_MLSTM_K_BWD_FSCAN, af, NARGS(af), BH, 1, 1, err))
    return -1;
  return 0;
}

int sc_mlstm_step(sc_mlstm *m, size_t BH, float eps, cl_mem q, cl_mem k, cl_mem v, cl_mem i, cl_mem f, cl_mem C,
                  cl_mem n, cl_mem mstate, cl_mem h, sc_err *err) {
  const cl_mem req[] = {q, k, v, i, f, C, n, mstate, h};
  const char *const names[] = {"q", "k", "v", "i", "f", "C", "n", "m", "h"};
  if (check_shape(BH, 1, err) || check_io("step", req, names, NARGS(req), err)) return -1;
  const karg a[] = {KINT(BH),     KFLT(1.0 / sqrt((double)m->dqk)),
                    KFLT(eps),    KMEM(q),
                    KMEM(k),      KMEM(v),
                    KMEM(i),      KMEM(f),
                    KMEM(C),      KMEM(n),
                    KMEM(mstate), KMEM(h)};
  const karg b[] = {KINT(BH), KMEM(k), KMEM(i), KMEM(f), KMEM(n), KMEM(mstate)};
  if (run(m, SC_MLSTM_K_STEP, a, NARGS(a), (size_t)(m->dv / m->vw), BH, 1, err) ||
      run(m, SC_MLSTM_K_STEP_STATE, b, NARGS(b), BH, 1, 1, err))
    return -1;
  return 0;
}
