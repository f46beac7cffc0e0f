/* Checkpoint directories (model/checkpoint.h): config.json against model.safetensors. The input is the config
 * text, a NUL byte, then the safetensors file (the corpus files are built that way), so the fuzzer mutates both
 * and their agreement. */
#include <string.h>

#include "fuzz.h"
#include "model/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  if (!nul) return 0;
  const size_t config_len = (size_t)(nul - data);
  fuzz_file(SC_CKPT_CONFIG, data, config_len);
  fuzz_file(SC_CKPT_WEIGHTS, nul + 1, size - config_len - 1);
  sc_checkpoint ck;
  if (sc_checkpoint_read(fuzz_dir(), &ck, fuzz_err()) == 0) sc_checkpoint_free(&ck);
  return 0;
}
