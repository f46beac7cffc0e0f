/* CSV tables (base/csv.h): the RFC 4180 parse from memory, then every cell read as a number. */
#include "base/csv.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_csv t;
  if (sc_csv_parse((const char *)data, size, "fuzz.csv", &t, fuzz_err())) return 0;
  for (int c = 0; c < t.ncols; c++) sc_csv_col(&t, t.header[c]);
  for (int r = 0; r < t.nrows; r++)
    for (int c = 0; c < t.ncols; c++) {
      double v;
      sc_csv_number(&t, r, c, &v, fuzz_err());
    }
  sc_csv_free(&t);
  return 0;
}
