/* llm.c token shards: reading (memory-mapped, validated), sets of shards with train/val split,
 * deterministic resumable sampling of (B, T+1) windows, and an atomic writer.
 *
 * Format (llm.c dev/data/data_common.py): a header of 256 little-endian int32, then the tokens.
 *   slot 0 magic, slot 1 version, slot 2 token count; version 1 (magic 20240520) holds uint16
 *   tokens, version 7 (magic 20240801) uint32; file size == 1024 + count * token size.
 * scalecl also writes its vocabulary size into slot 3 (llm.c leaves it 0; readers ignore it). */
#ifndef SCALECL_SHARDS_H
#define SCALECL_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SC_SHARD_HEADER_BYTES 1024
#define SC_SHARD_MAGIC_U16 20240520
#define SC_SHARD_MAGIC_U32 20240801
#define SC_SHARD_VERSION_U16 1
#define SC_SHARD_VERSION_U32 7

typedef struct {
  char *path;
  int version;         /* 1 (uint16 tokens) or 7 (uint32 tokens) */
  int token_bytes;     /* 2 or 4 */
  uint64_t ntok;       /* > 0 */
  uint32_t vocab;      /* header slot 3: vocabulary size the writer declared, 0 if unknown */
  const uint8_t *data; /* ntok tokens, little-endian, inside the mapping */
  void *map;
  size_t map_len;
} sc_shard;

/* Maps and validates one shard; the message names the file and what to check. */
int sc_shard_open(sc_shard *s, const char *path, sc_err *err);
void sc_shard_close(sc_shard *s);

static inline uint32_t sc_shard_token(const sc_shard *s, uint64_t i) {
  const uint8_t *p = s->data + i * (uint64_t)s->token_bytes;
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8;
  if (s->token_bytes == 4) v |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  return v;
}

/* Which shards of a set to keep: llm.c's convention is that validation shards have "_val_" in
 * their file name. */
typedef enum { SC_SPLIT_TRAIN, SC_SPLIT_VAL, SC_SPLIT_ALL } sc_split;

typedef struct {
  sc_shard *shards; /* sorted by path */
  int n;
  uint64_t ntok;        /* total tokens */
  uint64_t fingerprint; /* of the shard names and sizes, to refuse resuming on other data */
} sc_shard_set;

/* spec: a directory (its *.bin files) or a glob pattern, filtered by split; or one file, taken
 * whatever its name. */
int sc_shard_set_open(sc_shard_set *set, const char *spec, sc_split split, sc_err *err);
void sc_shard_set_close(sc_shard_set *set);

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

/* Writer of one split: <dir>/<name>_<split>_%06d.bin, each shard holding up to shard_tokens
 * tokens, written to a temp file and renamed when complete. Version 1 (uint16) by default. */
typedef struct {
  char *dir, *name, *split;
  int version, token_bytes;
  uint32_t vocab;
  uint64_t shard_tokens;
  int fd; /* open temp file or -1 */
  char tmp[4096], final_path[4096];
  uint64_t in_shard; /* tokens in the open shard */
  uint8_t *buf;
  size_t buf_used, buf_cap;
  int nshards;   /* completed shards */
  uint64_t ntok; /* tokens written in total */
} sc_shard_writer;

int sc_shard_writer_open(sc_shard_writer *w, const char *dir, const char *name, const char *split, int version,
                         uint32_t vocab, uint64_t shard_tokens, sc_err *err);
int sc_shard_writer_put(sc_shard_writer *w, const int32_t *tok, size_t n, sc_err *err);
/* Completes the last shard; an empty last shard is not written. */
int sc_shard_writer_finish(sc_shard_writer *w, sc_err *err);
/* Removes an unfinished temp file (after an error) and frees. */
void sc_shard_writer_close(sc_shard_writer *w);
/* Path of shard i of a split, as the writer names it. */
int sc_shard_path(char *buf, size_t cap, const char *dir, const char *name, const char *split, int i);

/* `scalecl prepare` keeps <dir>/<name>_prepare.running while it writes <name>_* shards and removes it last; a
 * directory holding one has an unfinished corpus, which sc_shard_set_open refuses. */
#define SC_PREPARE_MARKER "_prepare.running"

/* Writes tokens as one complete shard (tests, small tools). */
int sc_shard_write(const char *path, int version, uint32_t vocab, const int32_t *tok, size_t n, sc_err *err);

#endif
