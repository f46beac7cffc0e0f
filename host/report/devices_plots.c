/* The charts of `scalecl report devices`: a roofline per device (attainable GFLOP/s against FLOP/byte under its
 * measured FMA peak and read bandwidth, every row with FLOPs and bytes a labelled point, colour by benchmark, shape
 * by kernel variant), the best % of FMA peak per benchmark of every (device, variant), and the gpu variant's speedup
 * over the cpu variant on devices that ran both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/gnuplot.h"
#include "report/devices_impl.h"

static const char *const colors[RD_KINDS] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
static const char *const series_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                            "#9467bd", "#8c564b", "#e377c2", "#17becf"};
enum { NSERIES_COLORS = 8 };

/* cpu: circles, gpu: triangles, a GEMM library: squares, unrecorded: diamonds. */
static int point_type(const char *variant) {
  return !strcmp(variant, "cpu") ? 7 : !strcmp(variant, "gpu") ? 9 : !strcmp(variant, "-") ? 13 : 5;
}

static int plottable(const rd_row *r) {
  return rd_intensity(r) > 0 && r->gflops > 0;
}

/* A script body built in memory. */
typedef struct {
  char *buf;
  size_t len;
  FILE *f;
} body;

static int body_open(body *b, sc_err *err) {
  b->buf = NULL;
  b->f = open_memstream(&b->buf, &b->len);
  return b->f ? 0 : sc_fail(err, "out of host memory for a gnuplot script");
}

/* Closes the body and draws it; frees it either way. */
static int body_draw(body *b, const char *gnuplot, const char *dir, const char *name, int w, int h, sc_err *err) {
  int rc = fclose(b->f) ? sc_fail(err, "out of host memory for a gnuplot script") : 0;
  if (!rc) rc = sc_gnuplot_chart(gnuplot, dir, "plots/", name, w, h, b->buf, err);
  free(b->buf);
  return rc;
}

static FILE *open_data(const char *dir, const char *name, sc_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/plots/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) sc_fail(err, "cannot write %s", path);
  return f;
}

static int close_data(FILE *f, const char *name, sc_err *err) {
  const int bad = ferror(f);
  return fclose(f) != 0 || bad ? sc_fail(err, "write error on plots/%s (disk full?)", name) : 0;
}

/* The markdown line of an image, kept until the report is written. */
static int image_line(char **out, const char *alt, const char *name, sc_err *err) {
  char line[1024];
  snprintf(line, sizeof line, "![%s](%s.png)\n\n", alt, name);
  return (*out = sc_strdup(line, err)) ? 0 : -1;
}

static int roofline(const char *gnuplot, const char *dir, const rd_set *s, int d, char **md, sc_err *err) {
  const rd_dev *dv = &s->devs[d];
  char name[64], dat[80], label[800];
  snprintf(name, sizeof name, "roofline_%d", d + 1);
  snprintf(dat, sizeof dat, "%s.dat", name);
  sc_gnuplot_escape(dv->label, label, sizeof label);
  /* The variants of the device's points, and axes that hold the points and the ridge (fma / bw). */
  const char *variants[64];
  int nv = 0;
  double xlo = dv->fma / dv->bw, xhi = xlo, ylo = dv->fma;
  for (int i = 0; i < s->nrows; i++) {
    const rd_row *r = &s->rows[i];
    if (r->dev != d || !plottable(r)) continue;
    int j = 0;
    while (j < nv && strcmp(variants[j], r->variant)) j++;
    if (j == nv && nv < 64) variants[nv++] = r->variant;
    xlo = fmin(xlo, rd_intensity(r)), xhi = fmax(xhi, rd_intensity(r)), ylo = fmin(ylo, r->gflops);
  }
  if (!nv) return 0;
  FILE *f = open_data(dir, dat, err);
  if (!f) return -1;
  body b;
  if (body_open(&b, err)) return fclose(f), -1;
  fprintf(b.f,
          "reset\nset title '%s: roofline from scalecl peak, FMA %.4g GFLOP/s, read bandwidth %.4g GB/s' "
          "font ',13'\nset logscale xy\nset grid\nset format x '10^{%%L}'\nset format y '10^{%%L}'\n"
          "set xlabel 'arithmetic intensity (FLOP per byte the row must move at least)'\n"
          "set ylabel 'attainable GFLOP/s'\nset key outside below center horizontal maxcols 4 font ',10'\n"
          "set samples 500\nset xrange [%.6g:%.6g]\nset yrange [%.6g:%.6g]\nfma = %.8g\nbw = %.8g\n"
          "plot (x * bw < fma ? x * bw : fma) with lines lw 3 lc rgb 'black' title 'roof', \\\n"
          "  fma with lines dt 2 lc rgb '#888888' title 'FMA peak', \\\n"
          "  x * bw with lines dt 3 lc rgb '#888888' title 'read bandwidth x intensity'",
          label, dv->fma, dv->bw, xlo / 3, xhi * 3, ylo / 3, dv->fma * 3, dv->fma, dv->bw);
  /* One data block per (kind, variant) series: "intensity gflops label". */
  int block = 0;
  for (int k = 0; k < RD_KINDS; k++)
    for (int v = 0; v < nv; v++) {
      int n = 0;
      for (int i = 0; i < s->nrows; i++) {
        const rd_row *r = &s->rows[i];
        if (r->dev != d || r->kind != k || strcmp(r->variant, variants[v]) || !plottable(r)) continue;
        fprintf(f, "%.8g %.8g \"%s\"\n", rd_intensity(r), r->gflops, r->point);
        n++;
      }
      if (!n) continue;
      fprintf(f, "\n\n");
      char vt[64];
      sc_gnuplot_escape(variants[v], vt, sizeof vt);
      fprintf(b.f,
              ", \\\n  'plots/%s' index %d using 1:2 with points pt %d ps 1.4 lc rgb '%s' title '%s (%s)', \\\n"
              "  '' index %d using 1:2:3 with labels offset char 0.7,0.6 left font ',9' tc rgb '%s' notitle",
              dat, block, point_type(variants[v]), colors[k], rd_kinds[k].name, vt, block, colors[k]);
      block++;
    }
  fprintf(b.f, "\n");
  if (close_data(f, dat, err)) {
    fclose(b.f);
    free(b.buf);
    return -1;
  }
  if (body_draw(&b, gnuplot, dir, name, 1100, 680, err)) return -1;
  snprintf(label, sizeof label, "roofline of %s", dv->label);
  return image_line(md, label, name, err);
}

/* A clustered bar chart: one group per kind with a value in any series, one bar per series. */
static int bars(const char *gnuplot, const char *dir, const char *name, const char *title, const char *ylabel,
                double ref_line, char *const *series, int ns, const double *v /* [ns][RD_KINDS] */, FILE *md,
                sc_err *err) {
  char dat[80];
  snprintf(dat, sizeof dat, "%s.dat", name);
  FILE *f = open_data(dir, dat, err);
  if (!f) return -1;
  for (int k = 0; k < RD_KINDS; k++) {
    int any = 0;
    for (int j = 0; j < ns; j++) any |= isfinite(v[j * RD_KINDS + k]);
    if (!any) continue;
    fprintf(f, "%s", rd_kinds[k].name);
    for (int j = 0; j < ns; j++)
      isfinite(v[j * RD_KINDS + k]) ? fprintf(f, " %.6g", v[j * RD_KINDS + k]) : fprintf(f, " -");
    fprintf(f, "\n");
  }
  if (close_data(f, dat, err)) return -1;
  body b;
  if (body_open(&b, err)) return -1;
  fprintf(b.f,
          "reset\nset title '%s' font ',14'\nset datafile missing '-'\nset style data histograms\n"
          "set style histogram clustered gap 1\nset style fill solid 0.85 border -1\nset boxwidth 0.9\n"
          "set grid ytics\nset yrange [0:*]\nset ylabel '%s'\nset key outside below center horizontal font ',10'\n",
          title, ylabel);
  if (ref_line > 0)
    fprintf(b.f, "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lw 2\n", ref_line, ref_line);
  for (int j = 0; j < ns; j++) {
    char t[800];
    sc_gnuplot_escape(series[j], t, sizeof t);
    fprintf(b.f, "%s'plots/%s' using %d%s lc rgb '%s' title '%s'", j ? ", \\\n  " : "plot ", dat, j + 2,
            j ? "" : ":xtic(1)", series_colors[j % NSERIES_COLORS], t);
  }
  fprintf(b.f, "\n");
  if (body_draw(&b, gnuplot, dir, name, 1000, 560, err)) return -1;
  fprintf(md, "![%s](%s.png)\n\n", title, name);
  return 0;
}

static int ratio_charts(const char *gnuplot, const char *dir, const rd_set *s, FILE *md, int *charts, sc_err *err) {
  rd_series *sv;
  int n;
  if (rd_series_list(s, &sv, &n, err)) return -1;
  char **names = calloc((size_t)(n + s->ndev), sizeof *names);
  double *v = malloc((size_t)(n + s->ndev) * RD_KINDS * sizeof *v);
  int rc = !names || !v ? sc_fail(err, "out of host memory") : 0, ns = 0, any = 0;
  for (int j = 0; !rc && j < n; j++) {
    char t[720];
    snprintf(t, sizeof t, "%s, %s", s->devs[sv[j].dev].label, sv[j].variant);
    for (int k = 0; k < RD_KINDS; k++) any |= isfinite(v[ns * RD_KINDS + k] = sv[j].best[k]);
    if (!(names[ns++] = sc_strdup(t, err))) rc = -1;
  }
  if (!rc && any) {
    rc = bars(gnuplot, dir, "pct_fma_peak", "Best row per benchmark, % of the device FMA peak", "% of FMA peak", 0,
              names, ns, v, md, err);
    *charts += !rc;
  }
  for (int j = 0; j < ns; j++) free(names[j]);
  ns = 0, any = 0;
  for (int d = 0; !rc && d < s->ndev; d++) {
    int m, has = 0;
    for (int k = 0; k < RD_KINDS; k++) has |= (v[ns * RD_KINDS + k] = rd_speedup(s, d, k, &m), m > 0);
    if (!has) continue;
    any = 1;
    if (!(names[ns++] = sc_strdup(s->devs[d].label, err))) rc = -1;
  }
  if (!rc && any) {
    rc = bars(gnuplot, dir, "speedup_gpu_cpu",
              "gpu variant over cpu variant: cpu time / gpu time (geometric mean over matching rows)", "speedup", 1,
              names, ns, v, md, err);
    *charts += !rc;
  }
  for (int j = 0; names && j < ns; j++) free(names[j]);
  free(names);
  free(v);
  free(sv);
  return rc;
}

int rd_charts(const char *gnuplot, const char *dir, const rd_set *s, char **rooflines, FILE *ratios, int *charts,
              sc_err *err) {
  for (int d = 0; d < s->ndev; d++) {
    if (!s->devs[d].has_peak || !(s->devs[d].fma > 0) || !(s->devs[d].bw > 0)) continue;
    if (roofline(gnuplot, dir, s, d, &rooflines[d], err)) return -1;
    *charts += rooflines[d] != NULL;
  }
  return ratio_charts(gnuplot, dir, s, ratios, charts, err);
}
