#include "bench/infer_plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/gnuplot.h"

/* The paper's models drawn for reference: the smallest and a mid size of both architectures. */
static const char *const paper_sizes[] = {"160m", "1.4b"};
enum { NSIZES = 2, MAX_SERIES = 256 };

typedef struct {
  char title[200];
  int paper;
} series;

static int close_checked(FILE *f, const char *path, sc_err *err) {
  const int bad = ferror(f);
  if (fclose(f) || bad) return sc_fail(err, "write error on %s (disk full?)", path);
  return 0;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap, sc_err *err) {
  snprintf(path, cap, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) sc_fail(err, "cannot write %s; check that --plot names a writable directory", path);
  return f;
}

/* Our series: one block per (model, batch) in the order measured; columns prefill, ttft and its sd, step and its
 * sd (ms). */
static int our_blocks(FILE *f, const sc_infer_point *pts, int n, series *s, int *ns) {
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) seen = pts[j].B == pts[i].B && !strcmp(pts[j].model, pts[i].model);
    if (seen) continue;
    int rows = 0;
    for (int j = i; j < n; j++)
      if (pts[j].ok && pts[j].B == pts[i].B && !strcmp(pts[j].model, pts[i].model))
        fprintf(f, "%ld %.6g %.6g %.6g %.6g\n", pts[j].P, 1e3 * pts[j].ttft, 1e3 * pts[j].ttft_sd, 1e3 * pts[j].step,
                1e3 * pts[j].step_sd),
            rows++;
    if (!rows) fprintf(f, "NaN NaN NaN NaN NaN\n");
    fprintf(f, "\n\n");
    if (*ns < MAX_SERIES) snprintf(s[*ns].title, sizeof s[*ns].title, "%s, batch %ld", pts[i].model, pts[i].B);
    s[(*ns)++].paper = 0;
  }
  return 0;
}

/* The paper's series at the smallest batch measured here, prefill up to the longest measured (at least 1024). */
static int paper_blocks(FILE *f, const sc_csv *t, long B, long pmax, series *s, int *ns, sc_err *err) {
  const int c_arch = sc_csv_col(t, "arch"), c_size = sc_csv_col(t, "model_size"), c_b = sc_csv_col(t, "batch_size"),
            c_p = sc_csv_col(t, "prefill_len"), c_ttft = sc_csv_col(t, "ttft_ms"), c_step = sc_csv_col(t, "step_ms");
  if (c_arch < 0 || c_size < 0 || c_b < 0 || c_p < 0 || c_ttft < 0 || c_step < 0)
    return sc_fail(err, "%s: expected columns arch, model_size, batch_size, prefill_len, ttft_ms, step_ms", t->name);
  static const char *const archs[] = {"xlstm", "transformer"};
  for (int a = 0; a < 2; a++)
    for (int z = 0; z < NSIZES && *ns < MAX_SERIES; z++) {
      int rows = 0;
      for (int r = 0; r < t->nrows; r++) {
        double b, p, ttft, step;
        if (strcmp(sc_csv_cell(t, r, c_arch), archs[a]) || strcmp(sc_csv_cell(t, r, c_size), paper_sizes[z])) continue;
        if (sc_csv_number(t, r, c_b, &b, err) < 0 || sc_csv_number(t, r, c_p, &p, err) < 0 ||
            sc_csv_number(t, r, c_ttft, &ttft, err) < 0 || sc_csv_number(t, r, c_step, &step, err) < 0)
          return -1;
        if (b != (double)B || p > (double)(pmax > 1024 ? pmax : 1024)) continue;
        fprintf(f, "%.0f %.6g 0 %.6g 0\n", p, ttft, step), rows++;
      }
      if (!rows) fprintf(f, "NaN NaN NaN NaN NaN\n");
      fprintf(f, "\n\n");
      snprintf(s[*ns].title, sizeof s[*ns].title, "paper H100: %s %s, batch %ld", a ? "Llama" : "xLSTM", paper_sizes[z],
               B);
      s[(*ns)++].paper = 1;
    }
  return 0;
}

static int chart(const char *dir, const char *gnuplot, const char *name, int col, const char *what, const char *ylabel,
                 const char *device, const series *s, int ns, sc_err *err) {
  char path[4096], gp[64], dev[256];
  snprintf(gp, sizeof gp, "%s.gp", name);
  FILE *f = open_out(dir, gp, path, sizeof path, err);
  if (!f) return -1;
  sc_gnuplot_escape(device, dev, sizeof dev);
  for (int term = 0; term < 2; term++) {
    fprintf(f, term ? "set terminal pngcairo size 1100,640 enhanced font 'DejaVu Sans,11' background rgb 'white'\n"
                    : "set terminal svg size 1100,640 dynamic enhanced font 'DejaVu Sans,12' background rgb 'white'\n");
    fprintf(f,
            "set output '%s.%s'\nset title '%s against prefill length' . \"\\n\" . '{/*0.8 solid: measured on %s; "
            "dashed: the "
            "paper''s H100 numbers}'\nset xlabel 'prefill length (tokens)'\nset ylabel '%s'\nset logscale y\n"
            "set grid\nset key outside right top\nplot ",
            name, term ? "png" : "svg", what, dev, ylabel);
    for (int i = 0; i < ns; i++) {
      char title[400];
      sc_gnuplot_escape(s[i].title, title, sizeof title);
      fprintf(f, "%s'infer.dat' index %d using 1:%d:%d with %s lw 2 title '%s'", i ? ", \\\n     " : "", i, col,
              col + 1, s[i].paper ? "linespoints dt 2 pt 6" : "yerrorlines dt 1 pt 7", title);
    }
    fprintf(f, "\nunset output\n");
  }
  char log[4096];
  snprintf(log, sizeof log, "%s/gnuplot.log", dir);
  return close_checked(f, path, err) || sc_gnuplot_run(gnuplot, dir, gp, log, err);
}

int sc_infer_plot(const char *dir, const sc_infer_point *pts, int n, const sc_table *results, const sc_table *goals,
                  const char *device, sc_err *err) {
  char path[4096], gnuplot[4096];
  if (sc_mkdirs(dir, err)) return -1;
  FILE *f = open_out(dir, "infer.md", path, sizeof path, err);
  if (!f) return -1;
  fprintf(f, "# Inference: TTFT and step time (scalecl bench infer)\n\nDevice: %s.\n\n## Results\n\n", device);
  int rc = sc_table_print(f, results, SC_FORMAT_MD, err);
  if (!rc) fprintf(f, "\n## Goals\n\n");
  if (!rc) rc = sc_table_print(f, goals, SC_FORMAT_MD, err);
  if (!rc)
    fprintf(f,
            "\nCharts: infer_ttft.svg, infer_step.svg (dashed: the paper's H100 numbers at the smallest batch "
            "measured here, for reference only).\n");
  if (close_checked(f, path, err) || rc) return -1;

  long B = 0, pmax = 0;
  for (int i = 0; i < n; i++) {
    if (!B || pts[i].B < B) B = pts[i].B;
    if (pts[i].P > pmax) pmax = pts[i].P;
  }
  series *s = calloc(MAX_SERIES, sizeof *s);
  if (!s) return sc_fail(err, "out of host memory for the chart series");
  int ns = 0;
  if (!(f = open_out(dir, "infer.dat", path, sizeof path, err))) return free(s), -1;
  our_blocks(f, pts, n, s, &ns);
  char csv_path[4096];
  const char *shared = getenv("SCALECL_SHARED_DATA");
  snprintf(csv_path, sizeof csv_path, "%s/xlstm_inference_times.csv",
           shared ? shared : SCALECL_SOURCE_DIR "/../shared/data");
  sc_csv t = {0};
  sc_err miss;
  if (sc_csv_read(csv_path, &t, &miss))
    fprintf(stderr, "note: no paper reference lines: %s\n", miss.msg);
  else
    rc = paper_blocks(f, &t, B, pmax, s, &ns, err);
  sc_csv_free(&t);
  if (close_checked(f, path, err) || rc) return free(s), -1;
  if (ns > MAX_SERIES) ns = MAX_SERIES;
  rc = !sc_gnuplot_find(gnuplot, sizeof gnuplot, err) ||
       chart(dir, gnuplot, "infer_ttft", 2, "Time to first token", "time to first token (ms)", device, s, ns, err) ||
       chart(dir, gnuplot, "infer_step", 4, "Step time", "step time (ms per token)", device, s, ns, err);
  free(s);
  return rc ? -1 : 0;
}
