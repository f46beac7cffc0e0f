#include "data/tokenizer.h"

#include <string.h>

static const char *const special_names[] = {"<|endoftext|>", "<|bos|>", "<|pad|>"};
enum { LONGEST_SPECIAL = 13 };

void sc_tok_encode(const void *bytes, size_t n, int32_t *out) {
  const uint8_t *b = bytes;
  for (size_t i = 0; i < n; i++) out[i] = b[i];
}

const char *sc_tok_special_name(int32_t id) {
  return id >= SC_TOK_EOS && id < SC_TOK_VOCAB ? special_names[id - SC_TOK_EOS] : NULL;
}

size_t sc_tok_decode_bound(size_t n) {
  return n * LONGEST_SPECIAL;
}

int sc_tok_decode(const int32_t *ids, size_t n, sc_decode_mode mode, char *out, size_t cap, size_t *len, sc_err *err) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id >= 0 && id < 256) {
      if (o >= cap) return sc_fail(err, "decode: output buffer of %zu bytes is too small at id %zu", cap, i);
      out[o++] = (char)id;
      continue;
    }
    const char *name = sc_tok_special_name(id);
    if (!name)
      return sc_fail(err,
                     "decode: id %ld at position %zu is outside the byte vocabulary [0, %d); were these ids made "
                     "by another tokenizer (GPT-2 ids go up to 50256)?",
                     (long)id, i, SC_TOK_VOCAB);
    if (mode == SC_DECODE_SKIP_SPECIAL) continue;
    size_t l = strlen(name);
    if (o + l > cap) return sc_fail(err, "decode: output buffer of %zu bytes is too small at id %zu", cap, i);
    memcpy(out + o, name, l);
    o += l;
  }
  *len = o;
  return 0;
}
