/* llm.c token shards: reading (memory-mapped, validated), sets of shards with train/val split, and an
 * atomic writer. Sampling windows from a set is data/loader.h.
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
