/* mLSTM cell on the device (cl/mlstm.cl): chunkwise forward, custom chunkwise backward with states recomputed,
 * and the recurrent step for decoding. Float32; layout q, k (BH, S, dqk), v (BH, S, dv), i, f (BH, S) with
 * BH = batch * heads. S is arbitrary: the last chunk is shorter when L does not divide S.
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

/* Kernels compiled for one (L, dqk, dv), plus a scratch workspace kept between calls. */
typedef struct {
  sc_ctx *ctx;
  int L, dqk, dv, vw;
  size_t workspace_limit; /* bytes of chunk scratch per call (heads are processed in groups to fit) */
  cl_program prog;
  cl_kernel kern[SC_MLSTM_K_COUNT];
  /* With profile set, every launch is bracketed by clFinish and its wall and process CPU seconds are added
   * here (for `scalecl bench mlstm --profile`; it serialises the queue, so only for breakdowns). */
  int profile;
  double prof_wall[SC_MLSTM_K_COUNT], prof_cpu[SC_MLSTM_K_COUNT];
  long prof_calls[SC_MLSTM_K_COUNT];
  cl_mem dummy;
  cl_mem ws[12];
  size_t ws_size[12];
} sc_mlstm;

/* L: chunk length, a multiple of 16 (16..128 for the chunkwise form; L >= S gives the quadratic parallel
 * form). dqk, dv: multiples of 8 up to 512. workspace limit: $SCALECL_MLSTM_WORKSPACE_MB, else 512 MiB. */
int sc_mlstm_init(sc_mlstm *m, sc_ctx *c, int L, int dqk, int dv, sc_err *err);
void sc_mlstm_release(sc_mlstm *m);

typedef struct {
  cl_mem q, k, v, i, f;
  cl_mem c0, n0, m0;             /* optional initial state (BH,dqk,dv), (BH,dqk), (BH); NULL = zeros */
  cl_mem h, n_out, m_out;        /* (BH,S,dv), (BH,S), (BH,S) */
  cl_mem c_last, n_last, m_last; /* optional final state, same shapes as the initial one */
} sc_mlstm_fwd_io;

typedef struct {
  cl_mem q, k, v, i, f;
  cl_mem c0, n0, m0; /* as given to the forward */
  cl_mem n_out;      /* the forward's n_out */
  cl_mem dh;         /* (BH,S,dv) */
  cl_mem dq, dk, dv, di, df;
  cl_mem dc0; /* optional (BH,dqk,dv) */
} sc_mlstm_bwd_io;

int sc_mlstm_forward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_fwd_io *io, sc_err *err);
int sc_mlstm_backward(sc_mlstm *m, size_t BH, size_t S, float eps, const sc_mlstm_bwd_io *io, sc_err *err);

/* One decoding step for BH sequences: q, k (BH,dqk), v (BH,dv), i, f (BH); updates the state C (BH,dqk,dv),
 * n (BH,dqk), mstate (BH) in place and writes h (BH,dv). */
int sc_mlstm_step(sc_mlstm *m, size_t BH, float eps, cl_mem q, cl_mem k, cl_mem v, cl_mem i, cl_mem f, cl_mem C,
                  cl_mem n, cl_mem mstate, cl_mem h, sc_err *err);

/* Device bytes of chunk scratch one head needs (forward or backward), for sizing groups and reports. */
size_t sc_mlstm_head_scratch(const sc_mlstm *m, size_t S, int backward);

#endif
