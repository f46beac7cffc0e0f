/* What report/devices.c (reading, tables) and report/devices_plots.c (charts) share: the benchmark kinds, the
 * devices and rows read from the files, and the ratios every table and chart shows. */
#ifndef SCALECL_REPORT_DEVICES_IMPL_H
#define SCALECL_REPORT_DEVICES_IMPL_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/err.h"
#include "base/table.h"

enum { RD_GEMM, RD_MLSTM, RD_ATTENTION, RD_MODEL, RD_TRAIN, RD_INFER, RD_KINDS };

typedef struct {
  const char *name;     /* the "benchmark" field */
  const char *title;    /* the table's heading */
  const char *family;   /* the op family whose kernel variant the rows used; NULL: the whole model's */
  const char *thr_unit; /* the throughput column */
  char letter;          /* the rows' point labels: G1, G2, ... */
} rd_kind;
extern const rd_kind rd_kinds[RD_KINDS];

enum { RD_TEXT = 1024 };

typedef struct {
  char name[256], platform[256], driver[128], type[32], label[660];
  double cus;
  int has_peak; /* fma, bw and gemm come from a peak file (the best of each over its peak files) */
  double fma, bw, gemm;
  char gemm_backend[16];
  int nfiles;
  char peak_files[RD_TEXT], versions[RD_TEXT], variants[RD_TEXT]; /* distinct entries joined by "; " */
  char checks[RD_TEXT];                                           /* `scalecl check` verdicts, likewise */
} rd_dev;

typedef struct {
  int dev, kind, file;
  int decode;          /* a decode step: bandwidth bound, so no % of GEMM */
  char variant[24];    /* cpu, gpu, mixed, a GEMM backend that has no variants (clblast, host), or "-" */
  char config[200];    /* shape and pass, without the variant, so cpu and gpu rows match */
  char point[16];      /* its label on the device's roofline */
  double ms, thr;      /* time per call; throughput in the kind's unit */
  double gflops;       /* NaN: the row counts no FLOPs */
  double flops, bytes; /* per call; NaN when the file lacks them */
} rd_row;

typedef struct {
  rd_dev *devs;
  int ndev;
  rd_row *rows;
  int nrows, cap;
} rd_set;

/* NaN where the ratio does not apply or its device has no peak file. */
double rd_pct_fma(const rd_set *s, const rd_row *r);
double rd_pct_gemm(const rd_set *s, const rd_row *r);
double rd_pct_bw(const rd_set *s, const rd_row *r);
double rd_intensity(const rd_row *r); /* FLOP/byte */

/* Draws the roofline of every device with a peak and the ratio bar charts into dir (data and scripts in
 * dir/plots/), writing each chart's markdown image line (or why it is missing) to md: rooflines[d] gets device d's,
 * ratios gets the bar charts'. Counts the charts drawn. */
int rd_charts(const char *gnuplot, const char *dir, const rd_set *s, char **rooflines, FILE *ratios, int *charts,
              sc_err *err);

/* The best % of FMA peak per kind of each (device, variant) series, and the gpu-over-cpu speedup per kind of each
 * device that has both (the geometric mean of cpu time / gpu time over rows of the same config). */
typedef struct {
  int dev;
  char variant[24];
  double best[RD_KINDS]; /* NaN: no row */
} rd_series;
int rd_series_list(const rd_set *s, rd_series **out, int *n, sc_err *err);
double rd_speedup(const rd_set *s, int dev, int kind, int *matched);

/* ", f16 KV cache" for a result or peer line over decode caches of halves (its "kv_cache": "f16"), else "": the
 * shape names of bench attention's decode rows and bench infer's rows carry it. */
const char *rd_kv_note(const cJSON *o);

/* Writes intro, then t as a markdown table and a blank line, when t has rows; destroys t either way. */
int rd_md_table(FILE *f, const char *intro, sc_table *t, sc_err *err);

/* The "Against the peer" section (report/devices_peer.c): the JSON lines of platforms/peer-torch.py in peers, each
 * file taken as run on the device whose result files (files, indexed as the rows' file) share its directory,
 * beside scalecl's fastest row of the same shape and pass; nothing when no line matches a device. A peer file
 * without such a device, or unreadable, is a warning. */
int rd_peer_section(FILE *f, const rd_set *s, char *const *files, char *const *peers, int npeers, FILE *warn,
                    sc_err *err);

#endif
