#include "model/flops.h"

#include <math.h>
#include <string.h>

/* The paper sets every per-element op factor to 1; named so the formulas read like Appendix C. */
static const double F_EXP = 1, F_LOG = 1, F_SIG = 1, F_MAX = 1, F_MASK = 1, F_ABS = 1, F_ACT = 1;

sc_flops_opts sc_flops_paper_opts(void) {
  sc_flops_opts o = {SC_MLSTM_FIRST, SC_ATTN_DISTILL_SCALING, 0.75};
  return o;
}

int sc_flops_set_mode(sc_flops_opts *o, sc_arch arch, const char *name, sc_err *err) {
  if (arch == SC_ARCH_XLSTM) {
    if (!strcmp(name, "first")) return o->mlstm = SC_MLSTM_FIRST, 0;
    if (!strcmp(name, "tfla")) return o->mlstm = SC_MLSTM_TFLA, 0;
    return sc_fail(err, "--mode '%s' does not apply to an xLSTM model: use 'first' (the paper's default) or 'tfla'",
                   name);
  }
  if (!strcmp(name, "distill_scaling")) return o->attn = SC_ATTN_DISTILL_SCALING, 0;
  if (!strcmp(name, "chinchilla")) return o->attn = SC_ATTN_CHINCHILLA, 0;
  return sc_fail(err,
                 "--mode '%s' does not apply to a Llama model: use 'distill_scaling' (the paper's default) or "
                 "'chinchilla'",
                 name);
}

const char *sc_flops_mode_name(const sc_flops_opts *o, sc_arch arch) {
  if (arch == SC_ARCH_XLSTM) return o->mlstm == SC_MLSTM_TFLA ? "tfla" : "first";
  return o->attn == SC_ATTN_CHINCHILLA ? "chinchilla" : "distill_scaling";
}

int64_t sc_model_params(const sc_model_config *c) {
  int64_t d = c->d_model, nh = c->n_heads, ff = c->d_ff;
  int64_t block;
  if (c->arch == SC_ARCH_XLSTM) {
    /* q, k, v, o-gate, out-proj; i/f gate weights and biases; multi-head norm; pre-norm. */
    int64_t mlstm = d * (2 * c->qk_dim + c->v_dim) + d * c->v_dim + c->v_dim * d + 2 * d * nh + 2 * nh + c->v_dim + d;
    block = mlstm + 3 * d * ff + d;
  } else {
    block = d * (2 * c->qk_dim + c->v_dim) + c->v_dim * d + 3 * d * ff + 2 * d;
  }
  return c->n_layers * block + 2 * (int64_t)c->vocab_size * d + d;
}

/* mLSTM chunkwise forward, mode "first": recurrent C part plus parallel H part, per head and chunk. */
static double mlstm_first(double L, double dqk, double dv) {
  double c_part = (0.5 * L * (L + 1) + 2 * L) + (3 + F_MAX + F_EXP + L * (3 + 2 * F_EXP)) +
                  (2 * dqk * dv + 4 * L * dqk * dv + 3 * L * dqk) + (2 * dqk + 4 * L * dqk);
  double h_part = (0.5 * L * (L + 1) + L * L * (3 + F_MASK + F_MAX + F_EXP) + L * (1 + F_MAX)) +
                  (2 * L * L * dqk + 2 * L * L) + 2 * L * L * dv + 2 * L * L +
                  (L * (1 + F_MAX) + L * (2 + F_ABS + F_EXP + F_MAX) + 2 * L * dv);
  return c_part + h_part;
}

/* mLSTM chunkwise forward, mode "tfla": the TFLA kernel count, causal factor on the intra-chunk matrix. */
static double mlstm_tfla(double L, double dqk, double dv, double causal_factor) {
  double r = (2 * L + 0.5 * L * (L + 1) + L * (1 + F_EXP + F_LOG + F_SIG) + 3 + F_MAX + F_EXP) +
             (2 * dqk * dv + 2 * L * dqk * dv + L * dqk) + (2 * dqk + 2 * L * dqk);
  double c = L > 64 ? causal_factor : 1.0;
  double p = c * (L * L * (3 + F_EXP + F_MAX) + L * (1 + F_MAX) + 2 * L * L * (dqk + dv) + 3 * L * L) +
             (0.5 * L * (L + 1) + L * (F_LOG + F_SIG)) + (2 * L * dqk * dv + 3 * L * dqk) +
             (2 * L * dv + L * (1 + F_MAX + F_ABS + F_EXP));
  return r + p;
}

double sc_flops_mlstm_cell(const sc_flops_opts *o, double S, double NH, double L, double dqk, double dv) {
  const double per_chunk =
      o->mlstm == SC_MLSTM_TFLA ? mlstm_tfla(L, dqk, dv, o->tfla_causal_factor) : mlstm_first(L, dqk, dv);
  return NH * floor(S / L) * per_chunk;
}

double sc_flops_attention_core(const sc_flops_opts *o, double S, double NH, double dqk, double dv) {
  if (o->attn == SC_ATTN_CHINCHILLA) return 2 * S * S * dqk * NH + 3 * NH * S * S + 2 * S * S * dv * NH;
  /* distill_scaling halves the logit and value products for causality */
  return S * S * dqk * NH + 2.5 * NH * S * S + S * S * dv * NH;
}

int sc_flops_forward(const sc_model_config *c, long ctx, const sc_flops_opts *o, sc_flops *out, sc_err *err) {
  if (ctx < 1) return sc_fail(err, "context length must be >= 1, got %ld", ctx);
  const double S = (double)ctx, d = (double)c->d_model, nh = (double)c->n_heads;
  const double dqk = (double)c->d_qk, dv = (double)c->d_v, ff = (double)c->d_ff;
  double linear, seq_mix;
  if (c->arch == SC_ARCH_XLSTM) {
    double qkvif = 2 * S * d * nh * (2 * dqk + dv + 2);
    double ogate = 2 * S * d * nh * dv + S * nh * dv * F_SIG;
    double out_proj = 2 * S * d * nh * dv;
    linear = qkvif + ogate + out_proj;
    seq_mix = sc_flops_mlstm_cell(o, S, nh, (double)c->chunk_size, dqk, dv);
  } else {
    linear = 2 * S * d * nh * (2 * dqk + dv) + 2 * S * d * nh * dv;
    seq_mix = sc_flops_attention_core(o, S, nh, dqk, dv);
  }
  double ffn_linear = 4 * S * d * ff + 2 * S * d * ff;
  double ffn_other = S * ff + S * ff * F_ACT;
  double nl = (double)c->n_layers;
  out->linear = nl * (linear + ffn_linear) + 2 * S * (double)c->vocab_size * d;
  out->seq_mix = nl * seq_mix;
  out->other = nl * ffn_other;
  out->total = out->linear + out->seq_mix + out->other;
  return 0;
}

int sc_flops_plan_budget(const sc_flops *fw, long ctx, long batch, double budget, sc_budget_plan *plan, sc_err *err) {
  if (ctx < 1 || batch < 1) return sc_fail(err, "context (%ld) and batch (%ld) must be >= 1", ctx, batch);
  if (!(budget > 0) || !isfinite(budget)) return sc_fail(err, "FLOP budget must be a positive number, got %g", budget);
  double per_step = (double)batch * sc_flops_train_per_seq(fw);
  plan->steps_exact = budget / per_step;
  if (plan->steps_exact < 0.5)
    return sc_fail(err,
                   "budget %.4g FLOPs is less than half a step (one step of %ld x %ld tokens costs %.4g FLOPs); "
                   "raise --budget or lower --batch",
                   budget, batch, ctx, per_step);
  plan->steps = (int64_t)llround(plan->steps_exact);
  plan->tokens = (double)plan->steps * (double)batch * (double)ctx;
  plan->flops = (double)plan->steps * per_step;
  return 0;
}
