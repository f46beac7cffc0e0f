/* scalecl report: reports over result files from several runs or machines (report/). */
#include <stdio.h>

#include "base/args.h"
#include "cli/subcommand.h"
#include "report/devices.h"

static int report_devices_main(int argc, char **argv, sc_err *err) {
  const char *out = NULL, *title = NULL;
  const char *inputs_v[argc > 0 ? argc : 1];
  sc_strs inputs = {inputs_v, 0};
  const sc_option opts[] = {
      {"out", SC_OPT_OUTDIR, &out, "DIR", .help = "where report.md, summary.csv and the charts go",
       .flags = SC_OPT_REQUIRED},
      {"title", SC_OPT_STRING, &title, "T", .help = "the report's heading (default: Devices compared)"},
  };
  const sc_args args = {
      "scalecl report devices RESULTS... --out DIR [--title T]",
      "Compares devices from the JSON files that `scalecl peak --json FILE` and `scalecl bench gemm|mlstm|\n"
      "attention|model|train|infer --json FILE` wrote on each of them. RESULTS are files or directories (their\n"
      "*.json and their subdirectories' *.json). Results are grouped by device (name, platform, driver); each\n"
      "device's percentages divide by its own peak file (FMA peak, GEMM, read bandwidth). Writes DIR/report.md\n"
      "(the devices, one table per benchmark, a roofline per device and bar charts of the key ratios),\n"
      "the charts as SVG and PNG (gnuplot; data and scripts in DIR/plots/) and DIR/summary.csv (every row).\n"
      "Files that are not benchmark results are named in a warning and skipped; none usable is an error.",
      opts, SC_NOPTS(opts), &inputs};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (inputs.n == 0) {
    sc_fail(err, "name at least one result file or directory");
    return 2;
  }
  const sc_devrep_opts o = {inputs.v, inputs.n, out, title, stderr};
  sc_devrep_summary s;
  if (sc_report_devices(&o, &s, err)) return 1;
  printf("wrote %s/report.md and %s/summary.csv: %d device%s, %d row%s from %d file%s (%d skipped), %d chart%s\n", out,
         out, s.devices, s.devices == 1 ? "" : "s", s.rows, s.rows == 1 ? "" : "s", s.files_read,
         s.files_read == 1 ? "" : "s", s.files_skipped, s.charts, s.charts == 1 ? "" : "s");
  return 0;
}

int cmd_report(int argc, char **argv, sc_err *err) {
  static const sc_topic topics[] = {
      {"devices", report_devices_main, "compare devices: peak and benchmark JSON files to tables and charts"},
  };
  return sc_dispatch_topic("report", topics, (int)(sizeof topics / sizeof topics[0]), argc, argv, err);
}
