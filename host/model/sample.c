#include "model/sample.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int sc_sampler_init(sc_sampler *s, int V, const sc_sample_cfg *cfg, sc_err *err) {
  *s = (sc_sampler){.cfg = *cfg, .V = V};
  if (V < 1) return sc_fail(err, "sampling: vocabulary of %d tokens; the model needs at least one", V);
  if (!(cfg->temperature >= 0) || !isfinite(cfg->temperature))
    return sc_fail(err, "--temperature %g: use 0 (greedy) or a positive number such as 0.8", cfg->temperature);
  if (cfg->top_k < 0) return sc_fail(err, "--top-k %d: use 0 (no limit) or a positive count such as 40", cfg->top_k);
  if (!(cfg->top_p > 0 && cfg->top_p <= 1))
    return sc_fail(err, "--top-p %g: use a probability in (0, 1], such as 0.95 (1: no limit)", cfg->top_p);
  s->order = sc_malloc((size_t)V * sizeof *s->order, "sampling order", err);
  s->prob = s->order ? sc_malloc((size_t)V * sizeof *s->prob, "sampling probabilities", err) : NULL;
  if (!s->prob) {
    sc_sampler_free(s);
    return -1;
  }
  return 0;
}

void sc_sampler_free(sc_sampler *s) {
  free(s->order), free(s->prob);
  s->order = NULL, s->prob = NULL;
}

static int by_logit(const void *a, const void *b) {
  const sc_sample_entry *x = a, *y = b;
  return x->logit > y->logit ? -1 : x->logit < y->logit ? 1 : (x->id > y->id) - (x->id < y->id);
}

int32_t sc_sampler_next(sc_sampler *s, const float *logits, uint64_t row, uint64_t step) {
  const int V = s->V;
  if (s->cfg.temperature <= 0 || s->cfg.top_k == 1) {
    int32_t best = 0;
    for (int32_t v = 1; v < V; v++)
      if (logits[v] > logits[best]) best = v;
    return best;
  }
  for (int32_t v = 0; v < V; v++) s->order[v] = (sc_sample_entry){logits[v], v};
  qsort(s->order, (size_t)V, sizeof *s->order, by_logit);
  const int k = s->cfg.top_k > 0 && s->cfg.top_k < V ? s->cfg.top_k : V;
  const double top = s->order[0].logit;
  double sum = 0;
  for (int r = 0; r < k; r++) sum += s->prob[r] = exp((s->order[r].logit - top) / s->cfg.temperature);
  int n = 0;
  double kept = 0;
  while (n < k && (n == 0 || kept < s->cfg.top_p * sum)) kept += s->prob[n++];
  const uint64_t h = splitmix64(s->cfg.seed ^ splitmix64(row ^ splitmix64(step)));
  const double u = (double)(h >> 11) * 0x1.0p-53 * kept;
  double acc = 0;
  for (int r = 0; r < n; r++)
    if ((acc += s->prob[r]) > u) return s->order[r].id;
  return s->order[n - 1].id;
}
