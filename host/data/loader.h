/* Deterministic, resumable sampling of (B, T+1) token windows from a set of shards, with document-start
 * flags for the models' resets. */
#ifndef SCALECL_DATA_LOADER_H
#define SCALECL_DATA_LOADER_H

#include <stdint.h>

#include "data/shards.h"

/* Sampling. An epoch cuts every shard into windows of T+1 tokens that overlap by one token
 * (window k starts at shift + k*T; windows never cross shards) and visits them all once, in
 * order (shuffle = 0) or in a seeded pseudo-random permutation (shuffle = 1). With shuffle,
 * epochs after the first shift the cut by a seeded offset in [0, T) so they see new windows. */
typedef struct {
  int B, T;
  uint64_t seed;
  int shuffle;
  int32_t eot;   /* document delimiter: SC_TOK_EOS for scalecl shards, 50256 for llm.c GPT-2 shards */
  int32_t vocab; /* ids >= vocab are an error naming the shard (0: no check) */
} sc_loader_cfg;

/* Exact position of a loader, plain old data for checkpoints. */
typedef struct {
  uint64_t seed;
  uint64_t epoch;
  uint64_t index;       /* next window within the epoch */
  uint64_t fingerprint; /* of the shard set */
  uint64_t T;
  uint64_t shuffle;
} sc_loader_pos;

typedef struct {
  const sc_shard_set *set; /* borrowed */
  sc_loader_cfg cfg;
  uint64_t epoch, index;
  uint64_t shift;   /* this epoch's offset of the cut */
  uint64_t *cum;    /* cum[s] = windows in shards before s, this epoch; cum[n] = windows per epoch */
  uint64_t half;    /* permutation: Feistel halves of `half` bits each */
  uint64_t keys[4]; /* permutation round keys of this epoch */
} sc_loader;

int sc_loader_open(sc_loader *l, const sc_shard_set *set, const sc_loader_cfg *cfg, sc_err *err);
void sc_loader_close(sc_loader *l);
uint64_t sc_loader_windows_per_epoch(const sc_loader *l);

/* Fills tokens[B*(T+1)] (row b = one window) and, when doc_start is not NULL,
 * doc_start[B*(T+1)] with 1 where a document starts: at every eot token (eot precedes each
 * document, so a model resets its memory there and the eot input predicts the first byte). */
int sc_loader_next(sc_loader *l, int32_t *tokens, uint8_t *doc_start, sc_err *err);

void sc_loader_tell(const sc_loader *l, sc_loader_pos *pos);
/* Restores a position from sc_loader_tell; fails if it was taken on other shards or another T. */
int sc_loader_seek(sc_loader *l, const sc_loader_pos *pos, sc_err *err);

#endif
