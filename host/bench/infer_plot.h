/* The report of `scalecl bench infer --plot DIR`: TTFT and step time against prefill length per model and batch
 * (SVG and PNG through gnuplot; the median with the sd over repetitions as error bars), with the paper's H100 numbers
 * (xlstm_inference_times.csv) as dashed reference lines, and infer.md holding the results and goals tables. */
#ifndef SCALECL_BENCH_INFER_PLOT_H
#define SCALECL_BENCH_INFER_PLOT_H

#include "base/table.h"
#include "model/config.h"

/* One measured point of the grid (seconds): medians over the repetitions and their sd (0 for one). */
typedef struct {
  char model[128];
  sc_arch arch;
  long B, P;
  double ttft, ttft_sd, step, step_sd;
  int ok; /* measured (0: did not fit) */
} sc_infer_point;

/* Writes DIR/infer.md, DIR/infer.dat, DIR/infer_{ttft,step}.{gp,svg,png}. The paper's table is
 * $SCALECL_SHARED_DATA/xlstm_inference_times.csv, else ../shared/data next to the source tree; without it the
 * charts have no reference lines (and say so on stderr). */
int sc_infer_plot(const char *dir, const sc_infer_point *pts, int n, const sc_table *results, const sc_table *goals,
                  const char *device, sc_err *err);

#endif
