#include "check/cases.h"

#include <math.h>
#include <string.h>

void sc_rng_seed(sc_rng *r, uint64_t seed) {
  r->s = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
}

static uint64_t splitmix(sc_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double sc_rng_uniform(sc_rng *r) {
  return (double)(splitmix(r) >> 11) * (1.0 / 9007199254740992.0);
}

double sc_rng_normal(sc_rng *r) {
  double u1 = sc_rng_uniform(r), u2 = sc_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sc_rng_fill_normal(sc_rng *r, float *x, size_t n, double mean, double std) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(mean + std * sc_rng_normal(r));
}

void sc_rng_fill_uniform(sc_rng *r, float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * sc_rng_uniform(r));
}

const char *sc_values_name(sc_values v) {
  static const char *const names[] = {"normal", "large", "tiny", "mixed"};
  return names[v];
}

void sc_fill_values(sc_rng *r, sc_values v, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const double z = sc_rng_normal(r);
    x[i] = (float)(v == SC_VAL_LARGE   ? z * 1e6
                   : v == SC_VAL_TINY  ? z * 1e-6
                   : v == SC_VAL_MIXED ? z * pow(10, 6 * sc_rng_uniform(r) - 3)
                                       : z);
  }
}

/* Tolerances: device float32 against float64. NMSE bounds sit about 100x above what PoCL shows. */
#define GEMM_TOL \
  { 4e-5, 1e-4, 1e-10, 0 }
#define MLSTM_FW \
  { 1e-4, 1e-3, 1e-8, 0 }
#define MLSTM_BW \
  { 1e-3, 1e-2, 1e-8, 0 }
#define ATT_FW \
  { 1e-4, 1e-3, 1e-8, 0 }
#define ATT_BW \
  { 1e-3, 1e-2, 1e-7, 0 }
#define ROPE_TOL \
  { 1e-5, 1e-4, 1e-10, 0 }
#define EMBED_FW \
  { 0, 0, 1e-30, 0 } /* a copy: exact */
#define EMBED_BW \
  { 5e-6, 1e-5, 1e-12, 0 }
#define NORM_FW \
  { 1e-5, 1e-4, 1e-10, 0 }
#define NORM_BW \
  { 1e-4, 1e-3, 1e-9, 0 }
#define EW_TOL \
  { 1e-6, 1e-5, 1e-11, 0 }
#define GATES_BW \
  { 1e-5, 1e-5, 1e-10, 0 } /* the bias gradients sum 390 tokens */
#define XENT_FW \
  { 1e-5, 1e-5, 1e-10, 0 }
#define XENT_BW \
  { 1e-7, 1e-4, 1e-10, 0 }

static const int docs_rope[] = {5, 1, 23, 1, 1, 40, 9}, docs_long[] = {300, 1, 129, 17, 553}, docs_one[] = {1},
                 docs_logits[] = {40, 1, 88};

#define GEMM(tag_, m_, n_, k_, batch_, alpha_, beta_, off_, seed_)                                                 \
  {                                                                                                                \
    .op = "gemm", .tag = tag_, .values = SC_VAL_NORMAL, .offsets = off_, .seed = seed_, .tol = GEMM_TOL, .gemm = { \
      m_,                                                                                                          \
      n_,                                                                                                          \
      k_,                                                                                                          \
      batch_,                                                                                                      \
      alpha_,                                                                                                      \
      beta_                                                                                                        \
    }                                                                                                              \
  }
#define GEMM_VALUES(v_, atol_, seed_)                                                                         \
  {                                                                                                           \
    .op = "gemm", .tag = "values", .values = v_, .offsets = 1, .seed = seed_, .tol = {atol_, 1e-4, 1e-10, 0}, \
    .gemm = {                                                                                                 \
      33,                                                                                                     \
      17,                                                                                                     \
      29,                                                                                                     \
      1,                                                                                                      \
      1.0f,                                                                                                   \
      0.5f                                                                                                    \
    }                                                                                                         \
  }
#define MLSTM(tag_, BH_, S_, dqk_, dv_, L_, f_off_, state_, seed_)                                             \
  {                                                                                                            \
    .op = "mlstm", .tag = tag_, .values = SC_VAL_NORMAL, .seed = seed_, .tol = MLSTM_FW, .tol_grad = MLSTM_BW, \
    .mlstm = {                                                                                                 \
      BH_,                                                                                                     \
      S_,                                                                                                      \
      dqk_,                                                                                                    \
      dv_,                                                                                                     \
      L_,                                                                                                      \
      f_off_,                                                                                                  \
      state_,                                                                                                  \
      0                                                                                                        \
    }                                                                                                          \
  }
#define ATT_DOCS(tag_, B_, NH_, S_, dh_, docs_, ndocs_, rope_, off_, seed_)                                 \
  {                                                                                                         \
    .op = "attention", .tag = tag_, .values = SC_VAL_NORMAL, .offsets = off_, .seed = seed_, .tol = ATT_FW, \
    .tol_grad = ATT_BW, .attention = {                                                                      \
      B_,                                                                                                   \
      NH_,                                                                                                  \
      S_,                                                                                                   \
      dh_,                                                                                                  \
      docs_,                                                                                                \
      ndocs_,                                                                                               \
      rope_                                                                                                 \
    }                                                                                                       \
  }
#define ATT(tag_, B_, NH_, S_, dh_, docs_, rope_, off_, seed_) \
  ATT_DOCS(tag_, B_, NH_, S_, dh_, docs_, (int)(sizeof docs_ / sizeof(int)), rope_, off_, seed_)
#define ATT_ONE(tag_, B_, NH_, S_, dh_, rope_, off_, seed_) \
  ATT_DOCS(tag_, B_, NH_, S_, dh_, NULL, 0, rope_, off_, seed_)
#define ROPE(dh_, theta_, far_, NH_, seed_)                                                              \
  {                                                                                                      \
    .op = "rope", .tag = far_ ? "far positions" : "documents", .values = SC_VAL_NORMAL, .offsets = far_, \
    .seed = seed_, .tol = ROPE_TOL, .rope = {                                                            \
      2,                                                                                                 \
      NH_,                                                                                               \
      37,                                                                                                \
      dh_,                                                                                               \
      theta_,                                                                                            \
      far_                                                                                               \
    }                                                                                                    \
  }

#define EMBED(tag_, v_, off_, seed_, n_, V_, d_, distinct_)                                                          \
  {                                                                                                                  \
    .op = "embed", .tag = tag_, .values = v_, .offsets = off_, .seed = seed_, .tol = EMBED_FW, .tol_grad = EMBED_BW, \
    .embed = {                                                                                                       \
      n_,                                                                                                            \
      V_,                                                                                                            \
      d_,                                                                                                            \
      distinct_                                                                                                      \
    }                                                                                                                \
  }
/* AdamW: tol holds the parameters' tolerance (a few ulps of their scale: three float32 roundings of each), tol_grad
 * the moments' (sums of O(gscale) terms, so an absolute floor in gscale units). */
#define ADAMW(tag_, v_, off_, seed_, n_, wd_, gscale_, pscale_)                                           \
  {                                                                                                       \
    .op = "adamw", .tag = tag_, .values = v_, .offsets = off_, .seed = seed_,                             \
    .tol = {2e-6 * (pscale_), 2e-6, 1e-12, 0}, .tol_grad = {1e-6 * (gscale_), 2e-6, 1e-11, 0}, .adamw = { \
      n_,                                                                                                 \
      wd_,                                                                                                \
      gscale_,                                                                                            \
      pscale_                                                                                             \
    }                                                                                                     \
  }
#define NORM(tag_, v_, off_, seed_, heads_, rows_, dh_, zero_, inplace_)                                          \
  {                                                                                                               \
    .op = "norm", .tag = tag_, .values = v_, .offsets = off_, .seed = seed_, .tol = NORM_FW, .tol_grad = NORM_BW, \
    .norm = {                                                                                                     \
      heads_,                                                                                                     \
      rows_,                                                                                                      \
      dh_,                                                                                                        \
      zero_,                                                                                                      \
      inplace_                                                                                                    \
    }                                                                                                             \
  }
#define PW(op_, tag_, v_, off_, seed_, B_, T_, NH_, dh_, ld_, cap_, docs_)                                   \
  {                                                                                                          \
    .op = op_, .tag = tag_, .values = v_, .offsets = off_, .seed = seed_, .tol = EW_TOL, .tol_grad = EW_TOL, \
    .pointwise = {                                                                                           \
      B_,                                                                                                    \
      T_,                                                                                                    \
      NH_,                                                                                                   \
      dh_,                                                                                                   \
      ld_,                                                                                                   \
      cap_,                                                                                                  \
      docs_                                                                                                  \
    }                                                                                                        \
  }

#define GATES(tag_, v_, off_, seed_, B_, T_, NH_, ld_, docs_)                                                      \
  {                                                                                                                \
    .op = "gates", .tag = tag_, .values = v_, .offsets = off_, .seed = seed_, .tol = EW_TOL, .tol_grad = GATES_BW, \
    .pointwise = {                                                                                                 \
      B_,                                                                                                          \
      T_,                                                                                                          \
      NH_,                                                                                                         \
      1,                                                                                                           \
      ld_,                                                                                                         \
      0,                                                                                                           \
      docs_                                                                                                        \
    }                                                                                                              \
  }
#define XENT(tag_, B_, T_, d_, V_, cap_, block_, off_, seed_)                                           \
  {                                                                                                     \
    .op = "xent", .tag = tag_, .values = SC_VAL_NORMAL, .offsets = off_, .seed = seed_, .tol = XENT_FW, \
    .tol_grad = XENT_BW, .xent = {                                                                      \
      B_,                                                                                               \
      T_,                                                                                               \
      d_,                                                                                               \
      V_,                                                                                               \
      cap_,                                                                                             \
      block_                                                                                            \
    }                                                                                                   \
  }

#define LM(tag_, config_, docs_)                                                                \
  {                                                                                             \
    .op = "lm", .tag = tag_, .values = SC_VAL_NORMAL, .seed = 11, .tol = {5e-5, 1e-4, 1e-9, 0}, \
    .tol_grad = {5e-6, 2e-3, 1e-7, 0}, .lm = {                                                  \
      config_,                                                                                  \
      2,                                                                                        \
      13,                                                                                       \
      docs_                                                                                     \
    }                                                                                           \
  }

const char *const sc_check_xlstm_tiny =
    "{\"model_type\": \"xlstm\", \"vocab_size\": 67, \"embedding_dim\": 32, \"num_blocks\": 2, \"num_heads\": 2, "
    "\"chunk_size\": 64}";
const char *const sc_check_llama_tiny =
    "{\"model_type\": \"llama\", \"vocab_size\": 67, \"hidden_size\": 32, \"intermediate_size\": 64, "
    "\"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"rope_theta\": 10000}";
#define XLSTM_TINY sc_check_xlstm_tiny
#define LLAMA_TINY sc_check_llama_tiny

static const sc_check_row cases[] = {
    /* GEMM: every row runs both backends and all four transpose pairs; odd shapes, beta = 0 (C must not be read:
     * it holds NaN) and beta != 0, strided batches with padded strides. */
    GEMM("", 1, 1, 1, 1, 1.0f, 0.0f, 0, 42),
    GEMM("", 1, 1, 1, 1, -0.75f, 0.5f, 0, 43),
    GEMM("", 17, 33, 65, 1, 1.0f, 0.0f, 1, 44),
    GEMM("", 17, 33, 65, 1, -0.75f, 0.5f, 1, 45),
    GEMM("", 256, 3, 511, 1, 1.0f, 0.0f, 1, 46),
    GEMM("", 256, 3, 511, 1, -0.75f, 0.5f, 1, 47),
    GEMM("", 5, 130, 9, 1, 1.0f, 0.0f, 1, 48),
    GEMM("", 5, 130, 9, 1, -0.75f, 0.5f, 1, 49),
    GEMM("", 64, 48, 16, 1, 1.0f, 0.0f, 1, 50),
    GEMM("", 64, 48, 16, 1, -0.75f, 0.5f, 1, 51),
    GEMM("batched", 17, 33, 65, 3, 0.5f, 1.5f, 1, 52),
    GEMM("batched", 1, 1, 1, 4, 1.0f, 0.0f, 1, 53),
    GEMM("alpha 1e15 stays finite", 9, 7, 5, 1, 1e15f, 0.0f, 1, 54),
    /* Extreme inputs: the absolute tolerance scales with the magnitude of the products. */
    GEMM_VALUES(SC_VAL_LARGE, 4e7, 55),
    GEMM_VALUES(SC_VAL_TINY, 4e-17, 56),
    GEMM_VALUES(SC_VAL_MIXED, 40.0, 57),

    /* mLSTM forward and backward; the upstream conformance shape (B=1, NH=2, S=256, dqk=64, dv=128). */
    MLSTM("upstream shape", 2, 256, 64, 128, 64, 0, 0, 100),
    MLSTM("upstream shape", 2, 256, 64, 128, 64, 3, 0, 103),
    {.op = "mlstm",
     .tag = "initial state",
     .values = SC_VAL_NORMAL,
     .offsets = 1,
     .seed = 103,
     .tol = MLSTM_FW,
     .tol_grad = MLSTM_BW,
     .mlstm = {2, 256, 64, 128, 64, 3, 1, 0}},
    MLSTM("chunk size", 2, 200, 32, 48, 16, 1, 0, 200),
    MLSTM("chunk size", 2, 200, 32, 48, 32, 1, 1, 201),
    MLSTM("chunk size", 2, 200, 32, 48, 64, 1, 0, 202),
    MLSTM("chunk size", 2, 200, 32, 48, 128, 1, 1, 203),
    MLSTM("parallel form (L >= S)", 2, 256, 64, 128, 256, 0, 0, 209),
    MLSTM("ragged", 3, 1, 16, 24, 64, 0, 1, 300),
    MLSTM("ragged", 3, 2, 16, 24, 64, 3, 0, 301),
    MLSTM("ragged", 3, 15, 16, 24, 64, 0, 0, 302),
    MLSTM("ragged", 3, 17, 16, 24, 64, 3, 1, 303),
    MLSTM("ragged", 3, 63, 16, 24, 64, 0, 0, 304),
    MLSTM("ragged", 3, 65, 16, 24, 64, 3, 0, 305),
    MLSTM("ragged", 3, 100, 16, 24, 64, 0, 1, 306),
    MLSTM("S = L + 1", 1, 17, 16, 16, 16, 0, 1, 310),
    MLSTM("head dims", 1, 80, 64, 64, 32, 0, 1, 400),
    MLSTM("head dims", 1, 80, 128, 128, 32, 3, 1, 401),
    MLSTM("head dims", 1, 80, 192, 192, 32, 0, 1, 402),
    MLSTM("head dims", 1, 80, 256, 256, 32, 3, 1, 403),
    MLSTM("head dims", 1, 80, 384, 384, 32, 0, 1, 404),
    MLSTM("head dims", 1, 80, 512, 512, 32, 3, 1, 405),
    MLSTM("head dims", 1, 80, 8, 24, 32, 0, 1, 406),
    MLSTM("head dims", 1, 80, 24, 8, 32, 3, 1, 407),
    MLSTM("head dims", 1, 80, 256, 512, 32, 0, 1, 408),
    /* Input gates up to +-15 and forget pre-activations down to -25 (document resets). Weights up to e^15 make
     * the float32 error of small elements a fraction of each output's largest value, 1e-4 to 5e-4 over seeds 500-505
     * and 812 in both variants, so the absolute floor is 1e-3 of that (amax); NMSE (about 1e-8) is the tight test. */
    {.op = "mlstm",
     .tag = "extreme gates",
     .values = SC_VAL_LARGE,
     .seed = 500,
     .tol = {1e-4, 1e-3, 1e-6, 1e-3},
     .tol_grad = {1e-3, 1e-2, 1e-6, 1e-3},
     .mlstm = {2, 150, 32, 32, 64, 3, 1, 0}},
    /* The normalizer near its floor and near eps (tiny queries, input gates near +15): a dropped or misplaced
     * eps moves h by a factor. */
    {.op = "mlstm",
     .tag = "normalizer near eps",
     .values = SC_VAL_TINY,
     .seed = 510,
     .tol = MLSTM_FW,
     .tol_grad = MLSTM_BW,
     .mlstm = {2, 130, 16, 32, 64, 3, 0, 0}},
    /* Heads in three groups (a workspace of two heads) give what one group gives. */
    {.op = "mlstm",
     .tag = "head groups",
     .values = SC_VAL_NORMAL,
     .seed = 800,
     .tol = MLSTM_FW,
     .tol_grad = MLSTM_BW,
     .mlstm = {5, 100, 16, 32, 16, 1, 1, 2}},
    /* The token-major layout the models use (B, S, NH, D): ragged chunks, a state, head groups that split a batch
     * row's heads, extreme gates. */
    {.op = "mlstm",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .offsets = 1,
     .seed = 810,
     .tol = MLSTM_FW,
     .tol_grad = MLSTM_BW,
     .mlstm = {6, 40, 16, 32, 16, 1, 1, 0, 3}},
    {.op = "mlstm",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .seed = 811,
     .tol = MLSTM_FW,
     .tol_grad = MLSTM_BW,
     .mlstm = {8, 70, 32, 64, 64, 3, 0, 3, 4}},
    {.op = "mlstm",
     .tag = "token-major",
     .values = SC_VAL_LARGE,
     .seed = 500, /* the data and tolerances of the head-major extreme-gates row */
     .tol = {1e-4, 1e-3, 1e-6, 1e-3},
     .tol_grad = {1e-3, 1e-2, 1e-6, 1e-3},
     .mlstm = {2, 150, 32, 32, 64, 3, 1, 0, 2}},

    /* Causal attention, forward and backward: every head dim at odd lengths, one document. */
    ATT_ONE("plain", 2, 2, 1, 16, 0, 0, 100),
    ATT_ONE("plain", 2, 2, 17, 16, 0, 0, 101),
    ATT_ONE("plain", 2, 2, 129, 16, 0, 0, 102),
    ATT_ONE("plain", 2, 2, 1, 64, 0, 0, 110),
    ATT_ONE("plain", 2, 2, 17, 64, 0, 0, 111),
    ATT_ONE("plain", 2, 2, 129, 64, 0, 0, 112),
    ATT_ONE("plain", 2, 2, 1, 80, 0, 0, 120),
    ATT_ONE("plain", 2, 2, 17, 80, 0, 0, 121),
    ATT_ONE("plain", 2, 2, 129, 80, 0, 0, 122),
    ATT_ONE("plain", 2, 2, 1, 96, 0, 0, 130),
    ATT_ONE("plain", 2, 2, 17, 96, 0, 0, 131),
    ATT_ONE("plain", 2, 2, 129, 96, 0, 0, 132),
    ATT_ONE("plain", 2, 2, 1, 128, 0, 0, 140),
    ATT_ONE("plain", 2, 2, 17, 128, 0, 0, 141),
    ATT_ONE("plain", 2, 2, 129, 128, 0, 0, 142),
    ATT_ONE("plain", 2, 2, 129, 256, 0, 0, 152),
    /* Packed documents (lengths including 1), restarting positions and RoPE. */
    ATT("docs+rope", 2, 2, 129, 16, docs_rope, 1, 1, 200),
    ATT("docs+rope", 2, 2, 129, 64, docs_rope, 1, 1, 201),
    ATT("docs+rope", 2, 2, 129, 80, docs_rope, 1, 1, 202),
    ATT("docs+rope", 2, 2, 129, 96, docs_rope, 1, 1, 203),
    ATT("docs+rope", 2, 2, 129, 128, docs_rope, 1, 1, 204),
    /* S = 1000, not a multiple of any tile. */
    ATT_ONE("long rope", 1, 1, 1000, 16, 1, 0, 300),
    ATT("long docs+rope", 1, 1, 1000, 16, docs_long, 1, 0, 301),
    ATT("len-1 docs", 2, 3, 33, 64, docs_one, 0, 0, 400),
    /* The token-major layout the Llama layers use (B, S, NH, dh), with documents and RoPE. */
    {.op = "attention",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .offsets = 1,
     .seed = 410,
     .tol = ATT_FW,
     .tol_grad = ATT_BW,
     .attention = {2, 3, 47, 16, docs_rope, (int)(sizeof docs_rope / sizeof(int)), 1, 0, 1}},
    /* ... decoding over a KV cache of halves, against the float64 forward of the halves the cache holds. */
    {.op = "attention",
     .tag = "token-major f16 cache",
     .values = SC_VAL_NORMAL,
     .offsets = 1,
     .seed = 412,
     .tol = ATT_FW,
     .tol_grad = ATT_BW,
     .attention = {2, 3, 47, 16, docs_rope, (int)(sizeof docs_rope / sizeof(int)), 1, 0, 1, 1}},
    {.op = "attention",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .seed = 411,
     .tol = ATT_FW,
     .tol_grad = ATT_BW,
     .attention = {2, 4, 129, 64, NULL, 0, 1, 0, 1}},
    /* q and k scaled so that the largest causal score is 1e4 in magnitude. */
    {.op = "attention",
     .tag = "scores 1e4",
     .values = SC_VAL_LARGE,
     .seed = 700,
     .tol = {1e-4, 1e-3, 1e-6, 0},
     .tol_grad = {1e-3, 1e-2, 1e-6, 0},
     .attention = {1, 2, 129, 64, NULL, 0, 0}},
    {.op = "attention",
     .tag = "scores 1e4 docs",
     .values = SC_VAL_LARGE,
     .seed = 701,
     .tol = {1e-4, 1e-3, 1e-6, 0},
     .tol_grad = {1e-3, 1e-2, 1e-6, 0},
     .attention = {1, 2, 129, 64, docs_logits, 3, 0}},
    /* Scores up to ±900 after the scale: the backward must recompute exactly the forward's probabilities (the
     * row maximum's p is ~1, so any drift between the passes shows in dv at full size); float32 PyTorch
     * (matmul, softmax, autograd) stays at 1e-4 here. */
    {.op = "attention",
     .tag = "scores 900",
     .values = SC_VAL_LARGE,
     .seed = 702,
     .tol = {1e-4, 1e-3, 1e-8, 0},
     .tol_grad = {3e-4, 1e-3, 1e-8, 0},
     .attention = {1, 2, 64, 64, NULL, 0, 0, 7200}},

    /* RoPE forward, backward (in place) and their round trip; rows of one head dim share the op, so its table
     * grows from the document positions to the far ones. */
    ROPE(16, 500000.0, 0, 3, 10),
    ROPE(16, 500000.0, 1, 3, 20),
    ROPE(64, 500000.0, 0, 3, 11),
    ROPE(64, 500000.0, 1, 3, 21),
    ROPE(80, 500000.0, 0, 3, 12),
    ROPE(80, 500000.0, 1, 3, 22),
    ROPE(96, 500000.0, 0, 3, 13),
    ROPE(96, 500000.0, 1, 3, 23),
    ROPE(128, 500000.0, 0, 3, 14),
    ROPE(128, 500000.0, 1, 3, 24),
    ROPE(64, 10000.0, 1, 2, 30),
    /* head dims whose widest step is 2, 4 and 8 values (cl/rope.cl's RV) */
    ROPE(2, 10000.0, 1, 3, 32),
    ROPE(12, 10000.0, 1, 3, 33),
    ROPE(24, 500000.0, 0, 3, 34),
    {.op = "rope",
     .tag = "values",
     .values = SC_VAL_LARGE,
     .seed = 31,
     .tol = {10.0, 1e-4, 1e-10, 0},
     .rope = {2, 2, 37, 64, 500000.0, 0}},
    {.op = "rope",
     .tag = "values",
     .values = SC_VAL_TINY,
     .seed = 32,
     .tol = {1e-11, 1e-4, 1e-10, 0},
     .rope = {2, 2, 37, 64, 500000.0, 0}},
    {.op = "rope",
     .tag = "values",
     .values = SC_VAL_MIXED,
     .seed = 33,
     .tol = {1e-2, 1e-4, 1e-10, 0},
     .rope = {2, 2, 37, 64, 500000.0, 1}},
    /* The head split and merge riding along, as the Llama layers use them. */
    {.op = "rope",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .offsets = 1,
     .seed = 34,
     .tol = ROPE_TOL,
     .rope = {2, 3, 37, 24, 500000.0, 0, 1}},
    {.op = "rope",
     .tag = "token-major",
     .values = SC_VAL_NORMAL,
     .seed = 35,
     .tol = ROPE_TOL,
     .rope = {2, 4, 37, 64, 10000.0, 1, 1}},

    /* Embedding: the forward is a copy (exact); the backward sums repeated ids in float32. */
    EMBED("one id", SC_VAL_NORMAL, 0, 60, 1, 1, 1, 1),
    EMBED("odd width", SC_VAL_NORMAL, 1, 61, 37, 50, 7, 50),
    EMBED("few ids repeated", SC_VAL_NORMAL, 1, 62, 300, 1000, 19, 3),
    EMBED("GPT-NeoX vocab", SC_VAL_MIXED, 1, 63, 129, 50304, 64, 10),
    EMBED("values", SC_VAL_LARGE, 1, 64, 70, 90, 33, 20),

    /* RMSNorm (heads 0) and the multi-head LayerNorm: widths below, at and above the 64 reducing work-items and
     * not multiples of 4 or 16; rows past one block of the dw sum (64); all-zero rows, extreme values, in place. */
    /* One row of 5: at width 1 the RMSNorm's dx is the difference of two equal terms (x̂² = 1 − eps/x²), all
     * rounding. */
    NORM("one row", SC_VAL_NORMAL, 0, 70, 0, 1, 5, 0, 0),
    NORM("odd width", SC_VAL_NORMAL, 1, 71, 0, 3, 37, 0, 0),
    NORM("odd width", SC_VAL_NORMAL, 1, 72, 0, 130, 200, 1, 0),
    NORM("model width", SC_VAL_NORMAL, 1, 73, 0, 65, 1024, 0, 1),
    NORM("values", SC_VAL_LARGE, 1, 74, 0, 20, 100, 1, 0),
    NORM("values", SC_VAL_TINY, 1, 75, 0, 20, 100, 0, 0),
    NORM("values", SC_VAL_MIXED, 1, 76, 0, 20, 100, 1, 1),
    NORM("one head of one", SC_VAL_NORMAL, 0, 80, 1, 1, 1, 0, 0),
    NORM("odd heads", SC_VAL_NORMAL, 1, 81, 3, 7, 5, 1, 0),
    NORM("odd heads", SC_VAL_NORMAL, 1, 82, 8, 130, 33, 1, 1),
    NORM("model heads", SC_VAL_NORMAL, 1, 83, 4, 65, 256, 0, 0),
    NORM("values", SC_VAL_LARGE, 1, 84, 2, 20, 100, 1, 0),
    NORM("values", SC_VAL_TINY, 1, 85, 2, 20, 100, 0, 1),
    NORM("values", SC_VAL_MIXED, 1, 86, 2, 20, 100, 1, 0),

    /* The elementwise layers over B·T·NH·dh values; large values reach far beyond the soft-caps. */
    PW("swiglu", "one value", SC_VAL_NORMAL, 0, 90, 1, 1, 1, 1, 0, 0, 0),
    PW("swiglu", "odd count", SC_VAL_NORMAL, 1, 91, 1, 37, 1, 3, 0, 0, 0),
    PW("swiglu", "values", SC_VAL_LARGE, 1, 92, 1, 100, 1, 10, 0, 0, 0),
    PW("swiglu", "values", SC_VAL_MIXED, 1, 93, 1, 100, 1, 10, 0, 0, 0),
    PW("swiglu", "values", SC_VAL_TINY, 1, 94, 1, 100, 1, 10, 0, 0, 0),
    PW("softcap", "c 15", SC_VAL_NORMAL, 0, 100, 1, 1, 1, 1, 0, 15.0f, 0),
    PW("softcap", "c 15", SC_VAL_MIXED, 1, 101, 1, 37, 1, 27, 0, 15.0f, 0),
    /* sech²(x/c) = 4·exp(−2|x/c|)/(1 + ·)² for |x/c| up to 1e5: float32 rounding of x/c alone moves the exponent
     * by 2|x/c|·6e-8, a relative error of ~1e-6 in dx at |x/c| ~ 10. */
    {.op = "softcap",
     .tag = "c 30",
     .values = SC_VAL_LARGE,
     .offsets = 1,
     .seed = 102,
     .tol = EW_TOL,
     .tol_grad = {1e-6, 1e-4, 1e-9, 0},
     .pointwise = {1, 37, 1, 27, 0, 30.0f, 0}},
    PW("softcap", "c 30", SC_VAL_MIXED, 1, 103, 1, 37, 1, 27, 0, 30.0f, 0),
    PW("softcap", "no cap", SC_VAL_MIXED, 1, 104, 1, 37, 1, 27, 0, 0.0f, 0),
    PW("ogate", "one value", SC_VAL_NORMAL, 0, 110, 1, 1, 1, 1, 0, 0, 0),
    PW("ogate", "odd count", SC_VAL_MIXED, 1, 111, 2, 37, 3, 5, 0, 0, 0),
    PW("ogate", "values", SC_VAL_LARGE, 1, 112, 2, 37, 3, 5, 0, 0, 0),
    PW("residual", "one value", SC_VAL_NORMAL, 0, 120, 1, 1, 1, 1, 0, 0, 0),
    PW("residual", "odd count", SC_VAL_MIXED, 1, 121, 2, 37, 3, 5, 0, 0, 0),
    /* Gates: ld 2·NH reads one fused [i; f] projection; 130 tokens pass one block of the bias sum. */
    GATES("T 1", SC_VAL_NORMAL, 0, 130, 1, 1, 1, 0, 0),
    GATES("fused, docs", SC_VAL_NORMAL, 1, 131, 2, 37, 3, 6, 1),
    GATES("docs", SC_VAL_MIXED, 1, 132, 3, 130, 4, 0, 1),
    GATES("values", SC_VAL_LARGE, 1, 133, 2, 37, 3, 6, 0),
    /* Heads: ld past the packed width slices the last projection of a fused output. */
    /* LM head + cross-entropy, forward (loss, per-position losses, lse, logits) and backward (dx, dW): one shape
     * through block widths from 1 column to the whole vocabulary (the same result within tolerance), cap on and
     * off; V not a multiple of 16 and smaller than a block, odd d, T = 1 (loss 0, zero gradients), B = 1, V = 1. */
    XENT("blocks", 2, 9, 24, 300, 30.0, 1, 0, 60),
    XENT("blocks", 2, 9, 24, 300, 30.0, 7, 1, 60),
    XENT("blocks", 2, 9, 24, 300, 30.0, 16, 0, 60),
    XENT("blocks", 2, 9, 24, 300, 30.0, 100, 1, 60),
    XENT("blocks", 2, 9, 24, 300, 30.0, 300, 0, 60),
    XENT("blocks", 2, 9, 24, 300, 30.0, 0, 1, 60),
    XENT("blocks", 2, 9, 24, 300, 0.0, 7, 1, 60),
    XENT("blocks", 2, 9, 24, 300, 0.0, 64, 0, 60),
    XENT("V < block", 3, 5, 17, 45, 30.0, 64, 1, 61),
    XENT("V < block", 3, 5, 17, 45, 0.0, 64, 1, 61),
    XENT("T = 1", 3, 1, 8, 50, 30.0, 16, 1, 62),
    XENT("B = 1", 1, 33, 16, 257, 30.0, 64, 1, 63),
    XENT("V = 1", 2, 4, 8, 1, 30.0, 0, 1, 64),
    XENT("model-like", 4, 64, 64, 1000, 30.0, 0, 1, 65),
    XENT("model-like", 4, 64, 64, 1000, 0.0, 192, 0, 66),
    /* W scaled so that raw logits reach +-1e3: capped ones saturate near +-30, uncapped ones stay finite. Uncapped,
     * float32 holds a logit of 1e3 only to ~1e-4 absolute, so softmax probabilities and the gradients carry
     * relative errors of ~1e-3 (the bound of 1e-2 is the conditioning, not the kernels). */
    {.op = "xent",
     .tag = "extreme logits",
     .values = SC_VAL_LARGE,
     .offsets = 1,
     .seed = 67,
     .tol = {1e-3, 1e-5, 1e-10, 0},
     .tol_grad = {1e-6, 1e-4, 1e-8, 0},
     .xent = {2, 17, 32, 200, 30.0, 48}},
    {.op = "xent",
     .tag = "extreme logits",
     .values = SC_VAL_LARGE,
     .offsets = 1,
     .seed = 68,
     .tol = {1e-3, 1e-5, 1e-10, 0},
     .tol_grad = {1e-6, 1e-2, 1e-8, 0},
     .xent = {2, 17, 32, 200, 0.0, 48}},
    /* AdamW and the gradient norm: one parameter, sizes around the norm's 256 slices, a clipping scale, weights
     * large enough that the decay dominates, and millions of values for the norm's compensated sums. */
    ADAMW("one parameter", SC_VAL_NORMAL, 0, 70, 1, 0.1f, 1.0f, 0.02f),
    ADAMW("no decay", SC_VAL_MIXED, 1, 71, 1000, 0.0f, 1.0f, 0.02f),
    ADAMW("slice edges, clipped", SC_VAL_NORMAL, 1, 72, 4097, 0.1f, 0.25f, 0.02f),
    ADAMW("large weights", SC_VAL_NORMAL, 1, 73, 333, 0.1f, 1.0f, 1e4f),
    ADAMW("millions", SC_VAL_NORMAL, 1, 74, 3000001, 0.1f, 1.0f, 0.02f),

    /* Whole models, one per architecture (tiny configs: d = 32, 2 blocks, 2 heads, vocabulary 67, T = 13, not a
     * multiple of a chunk): logits, loss and every parameter's gradient, with and without documents. float32
     * against float64 through two blocks; the gradients are means over B·(T−1) positions (~1e-2..1e-4). */
    LM("one document per row", XLSTM_TINY, 0),
    LM("documents", XLSTM_TINY, 1),
    LM("one document per row", LLAMA_TINY, 0),
    LM("documents", LLAMA_TINY, 1),
};

const sc_check_row *sc_check_rows(int *n) {
  *n = (int)(sizeof cases / sizeof cases[0]);
  return cases;
}

/* The --tiny budget: about 2 s on PoCL with two cores for all the rows under it. */
#define SC_CHECK_TINY_WORK 4e6

/* Rough floating-point work of a row on the device (and about as much again in float64 on the host). */
static double work(const sc_check_row *r) {
  const char *op = r->op;
  if (!strcmp(op, "gemm")) return 16.0 * (double)(r->gemm.m * r->gemm.n * r->gemm.k * r->gemm.batch); /* 8 forms */
  if (!strcmp(op, "mlstm")) {
    const sc_check_mlstm *s = &r->mlstm;
    return 6.0 * (double)(s->BH * s->S) * (double)((size_t)s->L * (s->dqk + s->dv) + s->dqk * s->dv);
  }
  if (!strcmp(op, "attention")) {
    const sc_check_attention *s = &r->attention;
    return 6.0 * s->B * s->NH * (double)s->S * s->S * s->dh;
  }
  if (!strcmp(op, "rope")) return 10.0 * r->rope.B * r->rope.NH * r->rope.S * r->rope.dh;
  if (!strcmp(op, "adamw")) return 40.0 * r->adamw.n; /* three updates and two norms */
  if (!strcmp(op, "embed")) return (double)r->embed.n * r->embed.d + (double)r->embed.V * r->embed.d;
  if (!strcmp(op, "norm")) return 20.0 * r->norm.rows * (r->norm.heads ? r->norm.heads : 1) * r->norm.dh;
  if (!strcmp(op, "xent")) return 6.0 * r->xent.B * r->xent.T * r->xent.d * (double)r->xent.V;
  if (!strcmp(op, "lm")) return 0; /* the configs are tiny */
  const sc_check_pointwise *s = &r->pointwise;
  return 10.0 * s->B * s->T * s->NH * s->dh;
}

int sc_check_row_tiny(const sc_check_row *row) {
  return work(row) <= SC_CHECK_TINY_WORK;
}
