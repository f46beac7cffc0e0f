/* Choosing the next token from logits on the host: greedy, or sampling with temperature, top-k and top-p
 * (nucleus). The random draw is counter-based: a splitmix64 hash of (seed, row, step) alone, so a seed gives the
 * same tokens whatever the batch size, thread count or order of the calls. */
#ifndef SCALECL_MODEL_SAMPLE_H
#define SCALECL_MODEL_SAMPLE_H

#include <stdint.h>

#include "base/err.h"

typedef struct {
  double temperature; /* <= 0: greedy (the largest logit, the lowest id on ties) */
  int top_k;          /* keep the k most likely tokens; 0: all */
  double top_p;       /* keep the smallest set of most likely tokens whose probability reaches p; 1: all */
  uint64_t seed;
} sc_sample_cfg;

typedef struct {
  float logit;
  int32_t id;
} sc_sample_entry;

typedef struct {
  sc_sample_cfg cfg;
  int V;
  sc_sample_entry *order; /* (V) scratch: tokens by falling logit */
  double *prob;           /* (V) scratch */
} sc_sampler;

/* Checks the settings (naming the option at fault) and allocates the scratch for a vocabulary of V. */
int sc_sampler_init(sc_sampler *s, int V, const sc_sample_cfg *cfg, sc_err *err);
void sc_sampler_free(sc_sampler *s);
/* The token for logits (V) of sequence `row` at decoding step `step`. */
int32_t sc_sampler_next(sc_sampler *s, const float *logits, uint64_t row, uint64_t step);

#endif
