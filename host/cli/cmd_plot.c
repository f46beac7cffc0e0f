/* scalecl plot: charts of training runs (train/curves.h). */
#include <stdio.h>
#include <string.h>

#include "base/args.h"
#include "cli/subcommand.h"
#include "train/curves.h"

static int plot_curves_main(int argc, char **argv, sc_err *err) {
  const char *out = "curves.svg";
  int x = SC_CURVES_TOKENS;
  const char *runs_v[argc > 0 ? argc : 1];
  sc_strs runs = {runs_v, 0};
  const sc_option opts[] = {
      {"out", SC_OPT_OUTFILE, &out, "FILE.svg|FILE.png", .help = "the chart (data and script beside it)"},
      {"x", SC_OPT_ENUM, &x, "AXIS", .help = "horizontal axis", .choices = sc_curves_x_names},
  };
  const sc_args args = {"scalecl plot curves RUN... [--out FILE.svg|FILE.png] [--x tokens|flops]",
                        "Draws the training loss (per step) and validation loss of one or more runs of\n"
                        "'scalecl train' against tokens or training FLOPs, with gnuplot.",
                        opts, SC_NOPTS(opts), &runs};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (runs.n == 0) {
    sc_fail(err, "name at least one run directory");
    return 2;
  }
  if (sc_plot_curves(runs.v, runs.n, (sc_curves_x)x, out, err)) return 1;
  printf("wrote %s (%d run%s)\n", out, runs.n, runs.n == 1 ? "" : "s");
  return 0;
}

int cmd_plot(int argc, char **argv, sc_err *err) {
  static const sc_topic topics[] = {
      {"curves", plot_curves_main, "training and validation loss of runs against tokens or FLOPs"},
  };
  return sc_dispatch_topic("plot", topics, (int)(sizeof topics / sizeof topics[0]), argc, argv, err);
}
