/* `scalecl prepare` input (data/prepare.h): the first byte picks how the rest is read (JSONL, zstd-compressed
 * JSONL, text by paragraphs or by dictionary entries; uint16 or uint32 shards), and the whole pipeline runs
 * into small shards so that shard rollover and the train/val split are reached. */
#include <stdio.h>
#include <stdlib.h>

#include "data/prepare.h"
#include "data/shards.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *quiet;
  if (!quiet && !(quiet = fopen("/dev/null", "w"))) abort();
  if (size < 1) return 0;
  static const char *const names[] = {"in.jsonl", "in.jsonl.zst", "in.txt", "in.txt"};
  const int mode = data[0] & 3;
  const char *input = fuzz_file(names[mode], data + 1, size - 1);
  fuzz_clear("out");
  char out[4400];
  snprintf(out, sizeof out, "%s/out", fuzz_dir());
  sc_prepare_opts o;
  sc_prepare_defaults(&o);
  o.inputs = &input;
  o.n_inputs = 1;
  o.out_dir = out;
  o.val_fraction = 0.25;
  o.shard_tokens = 64;
  o.version = data[0] & 4 ? SC_SHARD_VERSION_U32 : SC_SHARD_VERSION_U16;
  o.text_docs = mode == 3 ? SC_DOCS_ENTRY : SC_DOCS_PARAGRAPH;
  o.log = quiet;
  sc_prepare_stats st;
  sc_prepare(&o, &st, fuzz_err());
  return 0;
}
