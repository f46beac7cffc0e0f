/* mLSTM cell on the device (cl/mlstm.cl): chunkwise forward, custom chunkwise backward with states recomputed,
 * and the recurrent step for decoding. Float32; layout q, k (BH, S, dqk), v (BH, S, dv), i, f (BH, S) with
 * BH = batch * heads, or with token_heads (below) q, k, v, h and their gradients token-major (batch, S, heads, dh).
 * S is arbitrary: the last chunk is shorter when L does not divide S.
 * Semantics and the float64 oracles: host/ref/mlstm.h; math: ../shared/spec/xlstm.md section 1. */
#ifndef SCALECL_OPS_MLSTM_H
#define SCALECL_OPS_MLSTM_H

#include "runtime/context.h"

/* Chunk lengths the commands offer for the chunkwise form (op mlstm --chunk, bench mlstm --chunks), as
 * decimal strings, NULL-terminated: the kernels take any multiple of 16, these are the tuned ones. */
extern const char *const sc_mlstm_chunk_choices[];

enum {
  SC_MLSTM_K_GATES,
  SC_MLSTM_K_TRANSPOSE,
  SC_MLSTM_K_SCORES,
  SC_MLSTM_K_DELTA,
  SC_MLSTM_K_SCAN,
  SC_MLSTM_K_OUT,
  SC_MLSTM_K_BWD_DQ,
  SC_MLSTM_K_BWD_DK,
  SC_MLSTM_K_BWD_DV,
  SC_MLSTM_K_BWD_DOTS,
  SC_MLSTM_K_BWD_FSCAN,
  SC_MLSTM_K_STEP,
  SC_MLSTM_K_STEP_STATE,
  SC_MLSTM_K_COUNT
};
/* Kernel function names, indexed as above. */
extern const char *const sc_mlstm_kernel_names[SC_MLSTM_K_COUNT];

/* chunk: L, a multiple of 16 (16..128 for the chunkwise form; L >= S gives the quadratic parallel form).
 * dqk, dv: head dims, multiples of 8 up to 512. workspace_bytes: chunk scratch per call (heads run in groups to
 * fit); 0 = $SCALECL_MLSTM_WORKSPACE_MB, else 512 MiB. token_heads: 0 or 1 for the head-major layout; NH > 1
 * for the token-major one that projections write (no permutes around the cell), BH then a multiple of NH; the
 * gates, n_out and m_out stay (BH, S) either way. */
typedef struct {
  int chunk;
  int dqk, dv;
  size_t workspace_bytes;
  int token_heads;
} sc_mlstm_cfg;

/* gpu variant tiles (cl/mlstm.cl): TM x TN output tiles per work-group of (TM/WM) x (TN/WN) items with WM x WN
 * register tiles, TK-deep __local staging (LS=1) or operands read straight from global memory (LS=0, for devices
 * whose __local memory is plain cached memory); ST x ST tiles for the scan, SWG-item groups for the step; NEXP=1
 * takes native_exp() for the decay weights (cl/common.clh, EXPW); VL=1 gives each item contiguous rows and columns
 * read from the staged tiles as float4s (WM, WN multiples of 4). */
#define SC_MLSTM_GPU_TILES "TM=64 TN=64 TK=16 WM=4 WN=4 ST=16 SWG=64 LS=1 NEXP=0 VL=0"
/* Whether gpu tiles (as sc_variant_pick gives them) suit device d: the kernels' rules (TM, TN multiples of WM, WN;
 * SWG a power of two; LS and NEXP 0 or 1 (sc_variant_switches_check); at least TK items a staging tile group), the
 * work-group sizes against d's limit and the __local tiles against its local memory (and the kernels' 32 KiB). The op
 * and the tuner apply this one rule. */
int sc_mlstm_tiles_check(const sc_device_info *d, const char *tiles, sc_err *err);

/* Kernels compiled for one (L, dqk, dv), plus a scratch workspace kept between calls. */
typedef struct sc_mlstm sc_mlstm;

int sc_mlstm_create(sc_ctx *c, const sc_mlstm_cfg *cfg, sc_mlstm **out, sc_err *err);
void sc_mlstm_destroy(sc_mlstm *m);

typedef struct {
  sc_view q, k, v;                /* (BH,S,dqk), (BH,S,dqk), (BH,S,dv) */
  sc_view i, f;                   /* gate pre-activations (BH,S) */
  sc_view c0, n0, m0;             /* optional initial state (BH,dqk,dv), (BH,dqk), (BH); buf NULL = zeros */
  sc_view h, n_out, m_out;        /* out (BH,S,dv), (BH,S), (BH,S) */
  sc_view c_last, n_last, m_last; /* optional out: the final state, shaped as the initial one */
} sc_mlstm_fwd_io;

typedef struct {
  sc_view q, k, v, i, f;
  sc_view c0, n0, m0;         /* as given to the forward */
  sc_view n_out;              /* the forward's n_out */
  sc_view dh;                 /* (BH,S,dv) */
  sc_view dq, dk, dv, di, df; /* out, shaped as q, k, v, i, f */
  sc_view dc0;                /* optional out (BH,dqk,dv) */
} sc_mlstm_bwd_io;

typedef struct {
  sc_view q, k, v; /* (BH,dqk), (BH,dqk), (BH,dv) */
  sc_view i, f;    /* (BH) */
  sc_view C, n, m; /* the state (BH,dqk,dv), (BH,dqk), (BH), updated in place */
  sc_view h;       /* out (BH,dv) */
} sc_mlstm_step_io;

int sc_mlstm_forward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_fwd_io *io, sc_err *err);
int sc_mlstm_backward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_bwd_io *io, sc_err *err);
/* One decoding step for BH sequences. */
int sc_mlstm_step(sc_mlstm *m, size_t BH, float eps, const sc_mlstm_step_io *io, sc_err *err);

/* Device bytes of chunk scratch one head needs (forward or backward), for sizing groups and reports. */
size_t sc_mlstm_head_scratch(const sc_mlstm *m, size_t S, int backward);

#endif
