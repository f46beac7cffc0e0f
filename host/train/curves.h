/* Loss curves of training runs (`scalecl plot curves`): train loss (thin, as logged per step) and validation
 * loss (points) of each run against tokens or training FLOPs, one colour per run, drawn by gnuplot. */
#ifndef SCALECL_TRAIN_CURVES_H
#define SCALECL_TRAIN_CURVES_H

#include "base/err.h"

typedef enum { SC_CURVES_TOKENS, SC_CURVES_FLOPS } sc_curves_x;
extern const char *const sc_curves_x_names[]; /* "tokens", "flops", NULL */

/* Draws runs[0..n) into out (.svg or .png, by its extension); writes the data and the gnuplot script next to it
 * as out.dat and out.gp. A run is a directory holding run.json and metrics.jsonl. */
int sc_plot_curves(const char *const *runs, int n, sc_curves_x x, const char *out, sc_err *err);

#endif
