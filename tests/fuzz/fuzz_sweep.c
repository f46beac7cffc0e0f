/* Sweep files (sweep/spec.h): loading, then the expansion into runs (presets resolved from the source tree's
 * models/, FLOP accounting, rule tables, run ids). */
#include <stdlib.h>

#include "fuzz.h"
#include "sweep/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sc_sweep_spec s; /* about 100 KB: not on the stack */
  if (sc_sweep_load(fuzz_file("sweep.json", data, size), &s, fuzz_err())) return 0;
  sc_sweep_run *runs;
  int n, left;
  if (sc_sweep_expand(&s, NULL, &runs, &n, &left, fuzz_err()) == 0) sc_sweep_runs_free(runs, n);
  return 0;
}
