/* The table of check cases (ggml test-backend-ops style), shared by `scalecl check` and the op tests: each row is
 * one device-vs-float64 check of an op at a shape, with an input-value mode and a tolerance. Shapes are chosen for
 * edge cases: sizes of 1, lengths that are not multiples of the tile and chunk sizes, extreme values, views at odd
 * offsets. A new op is one runner (check/runners.h) plus its rows (and its shape struct in the union below). */
#ifndef SCALECL_CHECK_CASES_H
#define SCALECL_CHECK_CASES_H

#include <stdint.h>

#include "check/compare.h"

/* Deterministic random numbers (splitmix64), the same on every host. */
typedef struct {
  uint64_t s;
} sc_rng;
void sc_rng_seed(sc_rng *r, uint64_t seed);
double sc_rng_uniform(sc_rng *r); /* [0,1) */
double sc_rng_normal(sc_rng *r);  /* N(0,1) */
void sc_rng_fill_normal(sc_rng *r, float *x, size_t n, double mean, double std);
void sc_rng_fill_uniform(sc_rng *r, float *x, size_t n, double lo, double hi);

/* Input values. What "large" means is the op's: each runner says how it reads the modes. */
typedef enum {
  SC_VAL_NORMAL, /* N(0, 1) */
  SC_VAL_LARGE,  /* large magnitudes */
  SC_VAL_TINY,   /* tiny magnitudes (N(0, 1) * 1e-6) */
  SC_VAL_MIXED,  /* mixed signs and magnitudes (N(0, 1) * 10^U(-3, 3)) */
} sc_values;
const char *sc_values_name(sc_values v);
/* n values of the mode into x (SC_VAL_LARGE: N(0, 1) * 1e6). */
void sc_fill_values(sc_rng *r, sc_values v, float *x, size_t n);

typedef struct {
  size_t m, n, k;
  size_t batch; /* > 1: the strided-batched call */
  float alpha, beta;
} sc_check_gemm;

typedef struct {
  size_t BH, S, dqk, dv;
  int L;           /* chunk length */
  double f_off;    /* mean of the forget pre-activations */
  int with_state;  /* random initial state (the forward is then checked against the chunkwise reference) */
  size_t ws_heads; /* > 0: a workspace of that many heads' chunk scratch (heads in groups) */
  int token_heads; /* > 1: q, k, v, h and gradients token-major with that many heads (BH a multiple) */
} sc_check_mlstm;

typedef struct {
  int B, NH, S, dh;
  const int *docs; /* document lengths, cycled over each sequence (segment ids, restarting positions); NULL: one */
  int ndocs;
  int rope;         /* RoPE (theta 500000) on q and k in front, its transpose on dq and dk */
  double max_score; /* large values: the largest causal q.k (before 1/sqrt(dh)) in magnitude; 0: 1e4 */
  int tokens;       /* q, k, v, o and gradients token-major (B, S, NH, dh), as the models use them */
  int kv_half;      /* the decode caches in halves (ops/attention.h kv_half) */
} sc_check_attention;

typedef struct {
  int B, NH, S, dh;
  double theta;
  int far;    /* positions up to 40000, not contiguous; else documents restarting at 0 */
  int tokens; /* x, y token-major (B, S, NH, dh), as the models use them */
} sc_check_rope;

typedef struct {
  int n, V, d;
  int distinct; /* ids drawn from [0, distinct): few values repeat many times */
} sc_check_embed;

typedef struct {
  int n;        /* parameters */
  float wd;     /* weight decay */
  float gscale; /* gradient scale (clipping coefficient over micro-batches) */
  float pscale; /* standard deviation of the parameters */
} sc_check_adamw;

typedef struct {
  int heads; /* 0: RMSNorm over rows of width dh; else the multi-head LayerNorm over NH = heads groups of dh */
  int rows, dh;
  int zero_rows; /* every third row all zeros */
  int inplace;   /* y = x and dx = dy share their views */
} sc_check_norm;

/* The elementwise layers (ops/elementwise.h); the plain ones run over B·T·NH·dh values. */
typedef struct {
  int B, T, NH, dh;
  int ld;    /* gates, heads: token row stride (0: packed) */
  float cap; /* softcap: c (<= 0: none) */
  int docs;  /* gates: document starts at t = 0 and every 7th token */
} sc_check_pointwise;

typedef struct {
  int B, T, d, V;
  double cap; /* logit soft-cap; 0: none */
  int block;  /* vocabulary columns per block; 0: the op's choice */
} sc_check_xent;

/* A whole model (model/lm.h) against the float64 reference model: logits, loss, every parameter's gradient. */
typedef struct {
  const char *config; /* a tiny config.json */
  int B, T;
  int docs; /* documents of a few tokens (one of length 1) instead of one per row */
} sc_check_lm;

typedef struct {
  const char *op;  /* the runner: one of sc_check_ops() */
  const char *tag; /* what the row is for */
  sc_values values;
  int offsets; /* device tensors at odd element offsets (check/tensors.h) */
  uint64_t seed;
  sc_tol tol;      /* outputs of the forward (GEMM: atol per sqrt(K), as fp32 sums of K terms grow) */
  sc_tol tol_grad; /* gradients, for ops with a backward */
  union {
    sc_check_gemm gemm;
    sc_check_mlstm mlstm;
    sc_check_attention attention;
    sc_check_rope rope;
    sc_check_embed embed;
    sc_check_adamw adamw;
    sc_check_norm norm;
    sc_check_pointwise pointwise;
    sc_check_xent xent;
    sc_check_lm lm;
  };
} sc_check_row;

/* The tiny model configs (config.json text) of the lm rows. */
extern const char *const sc_check_xlstm_tiny, *const sc_check_llama_tiny;

/* The table. */
const sc_check_row *sc_check_rows(int *n);
/* Rows in the --tiny subset: small enough that all of them run in seconds on a CPU device, and still the sizes of
 * 1, the ragged lengths and the extreme values of every op. */
int sc_check_row_tiny(const sc_check_row *row);

#endif
