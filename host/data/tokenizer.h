/* Byte-level tokenizer, the default vocabulary: ids 0..255 are the byte values, then three
 * specials. Encoding never produces a special, so text -> ids -> text is lossless for any
 * bytes (UTF-8 or not), and the literal string "<|endoftext|>" stays ordinary bytes. */
#ifndef SCALECL_TOKENIZER_H
#define SCALECL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum {
  SC_TOK_EOS = 256,  /* end of text: precedes every document in a shard; starts a document */
  SC_TOK_BOS = 257,  /* reserved (generation prompts) */
  SC_TOK_PAD = 258,  /* reserved (padding, never trained on) */
  SC_TOK_VOCAB = 259 /* vocabulary size of the byte tokenizer */
};

/* How decode renders the specials: dropped, or as their names ("<|endoftext|>"). */
typedef enum { SC_DECODE_SKIP_SPECIAL, SC_DECODE_NAME_SPECIAL } sc_decode_mode;

/* Writes n ids (one per byte) to out. */
void sc_tok_encode(const void *bytes, size_t n, int32_t *out);

/* The name of a special id ("<|endoftext|>", "<|bos|>", "<|pad|>"), or NULL for a byte or an
 * out-of-range id. */
const char *sc_tok_special_name(int32_t id);

/* Upper bound of decoded bytes for n ids in any mode. */
size_t sc_tok_decode_bound(size_t n);

/* Decodes n ids into out (capacity cap, see sc_tok_decode_bound); *len gets the byte count.
 * Fails naming the position for an id outside [0, SC_TOK_VOCAB) or when out is too small. */
int sc_tok_decode(const int32_t *ids, size_t n, sc_decode_mode mode, char *out, size_t cap, size_t *len, sc_err *err);

#endif
