/* The runs table of `scalecl fit` (fit/runs.h): loading, then the row filters over what loaded. */
#include <stddef.h>

#include "fit/runs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_runs rs;
  if (sc_runs_load(fuzz_file("runs.csv", data, size), &rs, fuzz_err())) return 0;
  sc_run_filter all, some;
  sc_run_filter_init(&all);
  sc_run_filter_init(&some);
  some.arch = rs.n ? rs.r[0].arch : "xlstm";
  some.set = rs.n ? rs.r[0].set : "all";
  some.ctx = rs.n ? rs.r[0].ctx : 0;
  some.ratio_lo = 1;
  some.ratio_hi = 100;
  some.approx_loss = 1;
  const sc_run_filter *filters[] = {&all, &some};
  for (int i = 0; i < 2; i++) {
    sc_run_sel sel;
    char why[512];
    if (sc_runs_select(&rs, filters[i], &sel, why, sizeof why, fuzz_err()) == 0) sc_run_sel_free(&sel);
  }
  sc_runs_free(&rs);
  return 0;
}
