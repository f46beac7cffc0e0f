/* `scalecl report devices`: the vendor comparison of benchmark results from several devices. It reads the JSON files
 * that `scalecl peak --json FILE` and `scalecl bench gemm|mlstm|attention|model|train|infer --json FILE` write (each
 * names its kind in "benchmark", its device, the kernel variants that ran and the scalecl that built it), groups them
 * by device (name, platform and driver), and writes into a directory:
 *   report.md    the devices (type, compute units, measured FMA peak, read bandwidth and GEMM, scalecl versions,
 *                kernel variants), one table per benchmark kind with every row's share of its device's FMA peak,
 *                GEMM and read bandwidth, a roofline chart per device and bar charts of the key ratios;
 *   *.svg, *.png the charts, drawn by gnuplot (left out, with a note, when gnuplot is missing); their data and
 *                scripts in plots/;
 *   summary.csv  every row of every table.
 * Percentages divide by the device's own `peak` file (the best figure when there are several); a device without one
 * gets its rows without percentages and a note saying how to measure it. *.jsonl inputs are the peer's timings
 * (platforms/peer-torch.py), set beside scalecl's rows of the device whose results share their folder. It needs no OpenCL device: it only reads
 * files, which is why it is a layer of its own above base alone. */
#ifndef SCALECL_REPORT_DEVICES_H
#define SCALECL_REPORT_DEVICES_H

#include <stdio.h>

#include "base/err.h"

typedef struct {
  const char *const *inputs; /* JSON files, or directories whose *.json and whose subdirectories' *.json are read */
  int n_inputs;
  const char *out_dir;
  const char *title; /* NULL: "Devices compared" */
  FILE *warn;        /* one line per file skipped (unreadable, not JSON, not a scalecl benchmark) */
} sc_devrep_opts;

typedef struct {
  int files_read, files_skipped, devices, rows;
  int charts; /* charts drawn, each as SVG and PNG; 0 without gnuplot */
} sc_devrep_summary;

/* Reads the inputs and writes the report; no usable file at all is an error (after the warnings). */
int sc_report_devices(const sc_devrep_opts *o, sc_devrep_summary *s, sc_err *err);

#endif
