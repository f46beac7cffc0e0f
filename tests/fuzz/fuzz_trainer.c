/* A checkpoint's trainer state (train/state.h): trainer.json as `scalecl train --resume` reads it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "train/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  sc_train_state st;
  sc_train_state_parse("trainer.json", text, &st, fuzz_err());
  free(text);
  return 0;
}
