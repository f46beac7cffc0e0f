/* Text corpora to llm.c token shards with the byte tokenizer, streaming (memory does not grow
 * with the input). Inputs: plain text, JSONL with a text field, either optionally compressed
 * with zstd (.zst, libzstd) or gzip/dictzip (.gz, .dz, through a `gzip -dc` child process).
 * Every document is preceded by one end-of-text token (SC_TOK_EOS), as llm.c's scripts do, so
 * exactly one separates consecutive documents. Documents go to train or val as a whole. */
#ifndef SCALECL_PREPARE_H
#define SCALECL_PREPARE_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* Debian's dict-gcide: the GNU Collaborative International Dictionary of English (GPL-2+). */
#define SC_GCIDE_PATH "/usr/share/dictd/gcide.dict.dz"

typedef enum { SC_FORMAT_AUTO, SC_FORMAT_TEXT, SC_FORMAT_JSONL } sc_input_format;

/* What a document is in plain text. */
typedef enum {
  SC_DOCS_FILE,      /* a whole file, byte for byte */
  SC_DOCS_PARAGRAPH, /* lines up to a blank (whitespace-only) line */
  SC_DOCS_ENTRY      /* a block that follows a blank line and starts in column 0: dictionary entries.
                        Blank lines followed by an indented line stay inside the entry. */
} sc_text_docs;

typedef struct {
  const char *const *inputs; /* files or directories (read recursively, sorted by name) */
  int n_inputs;
  const char *out_dir;
  const char *name;       /* shard name prefix; NULL: the last component of out_dir */
  double val_fraction;    /* in [0, 1): that share of documents, evenly spaced, goes to val */
  uint64_t shard_tokens;  /* tokens per shard (llm.c uses 1e8) */
  int version;            /* 1 (uint16) or 7 (uint32) */
  sc_input_format format; /* AUTO: *.jsonl, *.json, *.ndjson (before .zst/.gz) are JSONL, others text */
  sc_text_docs text_docs;
  const char *text_field; /* JSONL field holding the document ("text") */
  int force;              /* replace shards of the same name already in out_dir */
  int progress;           /* a live progress line on stderr */
  FILE *log;              /* warnings (malformed lines); NULL: stderr */
} sc_prepare_opts;

typedef struct {
  uint64_t files;
  uint64_t bytes_read; /* input bytes as stored (compressed size for compressed files) */
  uint64_t bytes_text; /* decompressed input bytes */
  uint64_t documents, docs_val;
  uint64_t tokens_train, tokens_val; /* including one end-of-text token per document */
  int shards_train, shards_val;
  uint64_t bad_lines;  /* malformed JSONL lines skipped */
  uint64_t empty_docs; /* JSONL records with an empty text */
  double seconds;
  double cpu_seconds; /* of this process (a gzip child runs on another core) */
} sc_prepare_stats;

void sc_prepare_defaults(sc_prepare_opts *o);
int sc_prepare(const sc_prepare_opts *o, sc_prepare_stats *st, sc_err *err);

/* $SCALECL_DATA_DIR, else "data" (relative to the current directory). The default corpus goes
 * to <that>/gcide. */
const char *sc_data_dir(void);

#endif
