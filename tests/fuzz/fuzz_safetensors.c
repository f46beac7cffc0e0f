/* safetensors files (model/safetensors.h): the header parse, then every tensor read through the getters. */
#include <stdlib.h>

#include "fuzz.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_st_file f;
  if (sc_st_open(&f, fuzz_file("model.safetensors", data, size), fuzz_err())) return 0;
  for (int i = 0; i < f.n; i++) {
    const sc_st_tensor *t = &f.tensors[i];
    int64_t shape[SC_ST_MAX_DIMS];
    for (int d = 0; d < SC_ST_MAX_DIMS; d++) shape[d] = -1;
    void *out = NULL;
    if (sc_st_is_float(t->dtype))
      sc_st_get_f32(&f, t->name, t->ndim, shape, (float **)&out, fuzz_err());
    else
      sc_st_get_i32(&f, t->name, t->ndim, shape, (int32_t **)&out, fuzz_err());
    free(out);
  }
  sc_st_close(&f);
  return 0;
}
