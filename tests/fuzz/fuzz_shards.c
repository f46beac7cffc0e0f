/* llm.c token shards (data/shards.h): the header checks, then every token read and decoded by the byte
 * tokenizer (data/tokenizer.h), which must reject ids outside its vocabulary rather than read past a table. */
#include <stdlib.h>

#include "data/shards.h"
#include "data/tokenizer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_shard s;
  if (sc_shard_open(&s, fuzz_file("tokens.bin", data, size), fuzz_err())) return 0;
  int32_t *ids = malloc(s.ntok * sizeof *ids);
  const size_t cap = sc_tok_decode_bound(s.ntok);
  char *text = malloc(cap);
  if (ids && text) {
    for (uint64_t i = 0; i < s.ntok; i++) ids[i] = (int32_t)sc_shard_token(&s, i);
    size_t len;
    sc_tok_decode(ids, s.ntok, SC_DECODE_NAME_SPECIAL, text, cap, &len, fuzz_err());
    sc_tok_decode(ids, s.ntok, SC_DECODE_SKIP_SPECIAL, text, cap, &len, fuzz_err());
  }
  free(ids);
  free(text);
  sc_shard_close(&s);
  return 0;
}
