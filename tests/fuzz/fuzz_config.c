/* Model config JSON (model/config.h): the parse, and the round trip through sc_model_config_to_json that
 * checkpoints rely on: what parses must write back as text that parses to the same shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  sc_model_config a, b;
  int rc = sc_model_config_parse(text, "fuzz.json", &a, fuzz_err());
  free(text);
  if (rc) return 0;
  char *json = sc_model_config_to_json(&a, fuzz_err());
  if (!json) abort();
  if (sc_model_config_parse(json, "written.json", &b, fuzz_err()) || a.arch != b.arch || a.vocab_size != b.vocab_size ||
      a.d_model != b.d_model || a.n_layers != b.n_layers || a.n_heads != b.n_heads || a.qk_dim != b.qk_dim ||
      a.v_dim != b.v_dim || a.d_ff != b.d_ff) {
    fprintf(stderr, "config round trip changed the model:\n%s\n", json);
    abort();
  }
  free(json);
  return 0;
}
