/* The table of op cases shared by the op tests (ggml test-backend-ops style): each row is one device-vs-float64
 * check of an op at a shape, with an input-value mode and a tolerance. Every op test (test_gemm.c, test_mlstm.c,
 * test_attention.c, test_rope.c, test_embed.c, test_norm.c, test_elementwise.c, test_xent.c) registers a runner
 * that builds the inputs with the harness RNG, runs the device op, runs the float64 reference (host/ref) and
 * compares through th_case_*; th_run_op_cases runs its rows. A new op is one runner plus its rows (and its shape
 * struct in the union below). */
#ifndef SCALECL_TEST_OP_CASES_H
#define SCALECL_TEST_OP_CASES_H

#include "harness.h"

/* Input values. What "large" means is the op's: each runner says how it reads the modes. */
typedef enum {
  TH_NORMAL, /* N(0, 1) */
  TH_LARGE,  /* large magnitudes */
  TH_TINY,   /* tiny magnitudes (N(0, 1) * 1e-6) */
  TH_MIXED,  /* mixed signs and magnitudes (N(0, 1) * 10^U(-3, 3)) */
} th_values;
const char *th_values_name(th_values v);
/* n values of the mode into x (TH_LARGE: N(0, 1) * 1e6). */
void th_fill_values(th_rng *r, th_values v, float *x, size_t n);

typedef struct {
  size_t m, n, k;
  size_t batch; /* > 1: the strided-batched call */
  float alpha, beta;
} th_gemm_shape;

typedef struct {
  size_t BH, S, dqk, dv;
  int L;           /* chunk length */
  double f_off;    /* mean of the forget pre-activations */
  int with_state;  /* random initial state (the forward is then checked against the chunkwise reference) */
  size_t ws_heads; /* > 0: a workspace of that many heads' chunk scratch (heads in groups) */
} th_mlstm_shape;

typedef struct {
  int B, NH, S, dh;
  const int *docs; /* document lengths, cycled over each sequence (segment ids, restarting positions); NULL: one */
  int ndocs;
  int rope; /* RoPE (theta 500000) on q and k in front, its transpose on dq and dk */
  double max_score; /* large values: the largest causal q.k (before 1/sqrt(dh)) in magnitude; 0: 1e4 */
} th_attention_shape;

typedef struct {
  int B, NH, S, dh;
  double theta;
  int far; /* positions up to 40000, not contiguous; else documents restarting at 0 */
} th_rope_shape;

typedef struct {
  int n, V, d;
  int distinct; /* ids drawn from [0, distinct): few values repeat many times */
} th_embed_shape;

typedef struct {
  int heads; /* 0: RMSNorm over rows of width dh; else the multi-head LayerNorm over NH = heads groups of dh */
  int rows, dh;
  int zero_rows; /* every third row all zeros */
  int inplace;   /* y = x and dx = dy share their views */
} th_norm_shape;

/* The elementwise layers (ops/elementwise.h); the plain ones run over B·T·NH·dh values. */
typedef struct {
  int B, T, NH, dh;
  int ld;    /* gates, heads: token row stride (0: packed) */
  float cap; /* softcap: c (<= 0: none) */
  int docs;  /* gates: document starts at t = 0 and every 7th token */
} th_pointwise_shape;

typedef struct {
  int B, T, d, V;
  double cap; /* logit soft-cap; 0: none */
  int block;  /* vocabulary columns per block; 0: the op's choice */
} th_xent_shape;

typedef struct {
  const char *op;  /* the runner: "gemm", "mlstm", "attention", "rope", "embed", "norm", "swiglu", "softcap",
                      "ogate", "residual", "gates", "heads", "xent" */
  const char *tag; /* what the row is for */
  th_values values;
  int offsets; /* device tensors at odd element offsets (th_tensors) */
  uint64_t seed;
  th_tol tol;      /* outputs of the forward (GEMM: atol per sqrt(K), as fp32 sums of K terms grow) */
  th_tol tol_grad; /* gradients, for ops with a backward */
  union {
    th_gemm_shape gemm;
    th_mlstm_shape mlstm;
    th_attention_shape attention;
    th_rope_shape rope;
    th_embed_shape embed;
    th_norm_shape norm;
    th_pointwise_shape pointwise;
    th_xent_shape xent;
  };
} th_op_case;

/* One running case: its outputs' comparisons, summarised in one line by th_case_end. */
typedef struct {
  char label[200];
  double worst_ratio, worst_err, worst_bound, worst_nmse, nmse_bound;
  const char *worst_out, *nmse_out;
  char failure[600]; /* the first failure, empty while none */
} th_case;

/* label: "<op> <variant> <tag> [<values>, offsets]". */
void th_case_begin(th_case *c, const th_op_case *row, const char *variant);
void th_case_compare(th_case *c, const char *output, const float *got, const double *ref, size_t n, th_tol tol);
/* Prints "label: worst <out> |err| E <= bound B (ratio R); nmse N <= M (<out>)" and fails the test on a failure. */
void th_case_end(th_case *c);

typedef void (*th_op_runner)(sc_ctx *ctx, const th_op_case *row);
/* Runs every row of the table for `op` through run; fails when the table has none. */
void th_run_op_cases(sc_ctx *ctx, const char *op, th_op_runner run);

#endif
