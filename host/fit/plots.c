#include "fit/plots.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gnuplot.h"

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf"};
enum { NCOLORS = 8, CURVE_POINTS = 80 };

/* Safe in a file name. */
static void file_part(const char *s, char *out, size_t cap) {
  size_t o = 0;
  for (; *s && o + 1 < cap; s++) out[o++] = isalnum((unsigned char)*s) || *s == '-' ? *s : '_';
  out[o] = '\0';
}

/* The architecture as a reader names it in a title: "xLSTM", "Transformer", else as in the table. */
static void display_part(const char *arch, char *out, size_t cap) {
  if (!strcmp(arch, "xlstm"))
    snprintf(out, cap, "xLSTM");
  else if (!strcmp(arch, "transformer") || !strcmp(arch, "llama"))
    snprintf(out, cap, "Transformer");
  else
    sc_gnuplot_escape(arch, out, cap);
}

/* Tight autoscaled axes (gnuplot's log autoscale rounds out to whole decades, leaving empty ones) with a margin. */
static const char *const tight_axes =
    "set autoscale xfix\nset autoscale yfix\n"
    "set offsets graph 0.03, graph 0.03, graph 0.06, graph 0.06\n";

static FILE *open_in(const char *dir, const char *sub, const char *name, sc_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%s", dir, sub, name);
  FILE *f = fopen(path, "w");
  if (!f) sc_fail(err, "cannot write %s", path);
  return f;
}

static int close_checked(FILE *f, const char *what, sc_err *err) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return sc_fail(err, "write error on %s (disk full?)", what);
  return 0;
}

/* Ends a data block. gnuplot ignores comment lines and merges runs of blank lines, so an empty block would
 * vanish and shift the index of every later one: it gets a row of undefined values instead (never plotted). */
static void end_block(FILE *f, int rows) {
  if (!rows) fprintf(f, "NaN NaN NaN NaN\n");
  fprintf(f, "\n\n");
}

/* Draws body into dir/<name>.svg and .png (script in plots/) and appends their names to names. */
static int chart(const char *gnuplot, const char *dir, const char *name, int w, int h, const char *body, char *names,
                 size_t cap, sc_err *err) {
  if (sc_gnuplot_chart(gnuplot, dir, "plots/", name, w, h, body, err)) return -1;
  size_t o = strlen(names);
  snprintf(names + o, cap - o, "%s%s.svg %s.png", o ? " " : "", name, name);
  return 0;
}

typedef struct {
  char *buf;
  size_t len;
  FILE *f;
} script_buf;

static int sb_open(script_buf *s, sc_err *err) {
  s->buf = NULL;
  s->f = open_memstream(&s->buf, &s->len);
  return s->f ? 0 : sc_fail(err, "out of host memory for a gnuplot script");
}

static int sb_close(script_buf *s, sc_err *err) {
  if (fclose(s->f) != 0) {
    free(s->buf);
    s->buf = NULL;
    return sc_fail(err, "out of host memory for a gnuplot script");
  }
  return 0;
}

/* ---- IsoFLOP profiles ------------------------------------------------------------------------------ */

static int parabola_curve(FILE *f, const sc_parabola *p) {
  if (p->status == SC_PARABOLA_DEGENERATE) return 0;
  double pad = 0.1 * (p->x_max - p->x_min) + 0.02;
  for (int i = 0; i < CURVE_POINTS; i++) {
    double x = p->x_min - pad + (p->x_max - p->x_min + 2 * pad) * i / (CURVE_POINTS - 1), t = x - p->xc;
    fprintf(f, "%.8g %.8g\n", pow(10, x), p->c[0] + p->c[1] * t + p->c[2] * t * t);
  }
  return CURVE_POINTS;
}

static int has_vertex(const sc_parabola *p) {
  return p->status == SC_PARABOLA_OK || p->status == SC_PARABOLA_OUTSIDE;
}

/* Why a budget is not in a power law ("" when it is), for the label drawn next to its runs. */
static const char *left_out_why(const sc_iso_budget *b, const sc_parabola *p, int used) {
  if (used) return "";
  if (!has_vertex(p)) return p->status == SC_PARABOLA_DEGENERATE ? "too few runs" : "no minimum (concave)";
  if (p->status == SC_PARABOLA_OUTSIDE) return "minimum outside the sampled range";
  return b->in_window ? "left out" : "outside the fit window";
}

static int isoflop_chart(const char *gnuplot, const char *dir, const char *caption, const sc_fit_plot_arch *a,
                         char *names, size_t cap, sc_err *err) {
  const sc_iso_result *r = a->iso;
  char fa[128], la[256], dat[256], name[160];
  file_part(a->arch, fa, sizeof fa);
  display_part(a->arch, la, sizeof la);
  snprintf(name, sizeof name, "isoflop_%s", fa);
  snprintf(dat, sizeof dat, "%s.dat", name);
  FILE *f = open_in(dir, "plots/", dat, err);
  if (!f) return -1;
  /* Four blocks per budget: runs (N D loss), N parabola, D parabola, vertices (N* L*n D* L*d). */
  for (int k = 0; k < r->nb; k++) {
    const sc_iso_budget *b = &r->b[k];
    fprintf(f, "# budget %.4g FLOPs: runs\n", b->nominal);
    for (int j = 0; j < b->n; j++) {
      int q = b->runs[j];
      fprintf(f, "%.8g %.8g %.8g\n", a->iso_n[q], a->iso_d[q], a->iso_loss[q]);
    }
    end_block(f, b->n);
    fprintf(f, "# N parabola\n");
    end_block(f, parabola_curve(f, &b->pn));
    fprintf(f, "# D parabola\n");
    end_block(f, parabola_curve(f, &b->pd));
    fprintf(f, "# vertices\n");
    int v = has_vertex(&b->pn) && has_vertex(&b->pd);
    if (v)
      fprintf(f, "%.8g %.8g %.8g %.8g\n", pow(10, b->pn.x_star), b->pn.l_star, pow(10, b->pd.x_star), b->pd.l_star);
    end_block(f, v);
  }
  if (close_checked(f, dat, err)) return -1;
  script_buf s;
  if (sb_open(&s, err)) return -1;
  fprintf(s.f,
          "reset\nset multiplot layout 1,2 title '%s: IsoFLOP profiles, loss as a function of N (left) and of D "
          "(right) at fixed compute, parabolas in log_{10} and their minima (%s)' font ',14'\n"
          "set logscale x\nset format x '10^{%%L}'\nset grid\nset ylabel 'validation loss (nats/token)'\n"
          "set key outside below center horizontal Left reverse maxcols 3 font ',10'\n%s",
          la, caption, tight_axes);
  for (int panel = 0; panel < 2; panel++) {
    fprintf(s.f, "unset label\nset xlabel '%s'\n", panel ? "training tokens D" : "parameters N");
    /* Budgets left out of the power law say why next to their best run. */
    for (int k = 0; k < r->nb; k++) {
      const sc_iso_budget *b = &r->b[k];
      const char *why = left_out_why(b, panel ? &b->pd : &b->pn, panel ? b->used_d : b->used_n);
      int best = -1;
      for (int j = 0; j < b->n; j++)
        if (best < 0 || a->iso_loss[b->runs[j]] < a->iso_loss[b->runs[best]]) best = j;
      if (*why && best >= 0) {
        const int q = b->runs[best];
        fprintf(s.f, "set label '%s' at %.8g,%.8g center offset 0,%.1f font ',9' tc rgb '%s'\n", why,
                panel ? a->iso_d[q] : a->iso_n[q], a->iso_loss[q], -1.1 - 1.0 * (k % 2), colors[k % NCOLORS]);
      }
    }
    fprintf(s.f, "plot ");
    int first = 1;
    for (int k = 0; k < r->nb; k++) {
      const sc_iso_budget *b = &r->b[k];
      const sc_parabola *p = panel ? &b->pd : &b->pn;
      const char *c = colors[k % NCOLORS];
      fprintf(s.f, "%s'plots/%s' index %d using %d:3 with points pt 7 ps 0.7 lc rgb '%s' title '%.3g FLOPs%s'",
              first ? "" : ", \\\n  ", dat, 4 * k, panel ? 2 : 1, c, b->nominal,
              (panel ? b->used_d : b->used_n) ? "" : " (not in the power law)");
      first = 0;
      if (p->status != SC_PARABOLA_DEGENERATE)
        fprintf(s.f, ", \\\n  '' index %d using 1:2 with lines lw 2 lc rgb '%s' notitle", 4 * k + 1 + panel, c);
      if (has_vertex(&b->pn) && has_vertex(&b->pd))
        fprintf(s.f, ", \\\n  '' index %d using %d:%d with points pt %d ps 2.2 lw 2 lc rgb 'black' notitle", 4 * k + 3,
                panel ? 3 : 1, panel ? 4 : 2, p->status == SC_PARABOLA_OK ? 3 : 6);
    }
    fprintf(s.f, ", \\\n  NaN with points pt 3 ps 2.2 lw 2 lc rgb 'black' title 'parabola minimum'");
    for (int k = 0; k < r->nb; k++)
      if ((panel ? r->b[k].pd : r->b[k].pn).status == SC_PARABOLA_OUTSIDE) {
        fprintf(s.f,
                ", \\\n  NaN with points pt 6 ps 2.2 lw 2 lc rgb 'black' title 'minimum outside the sampled range'");
        break;
      }
    fprintf(s.f, "\n");
  }
  fprintf(s.f, "unset multiplot\n");
  if (sb_close(&s, err)) return -1;
  int rc = chart(gnuplot, dir, name, 1400, 640, s.buf, names, cap, err);
  free(s.buf);
  return rc;
}

/* ---- N*(C), D*(C) -------------------------------------------------------------------------------- */

static int optimal_chart(const char *gnuplot, const char *dir, const char *caption, const sc_fit_plot_arch *a,
                         int narch, char *names, size_t cap, sc_err *err) {
  const char *dat = "optimal_nd.dat";
  FILE *f = open_in(dir, "plots/", dat, err);
  if (!f) return -1;
  double cmin = INFINITY, cmax = 0;
  for (int k = 0; k < narch; k++)
    for (int j = 0; a[k].iso && j < a[k].iso->nb; j++)
      cmin = fmin(cmin, a[k].iso->b[j].flops), cmax = fmax(cmax, a[k].iso->b[j].flops);
  /* Three blocks per architecture: budgets in the power law (C N* D*), other budgets with a vertex, law lines. */
  int used[64][3] = {{0}};
  for (int k = 0; k < narch && k < 64; k++) {
    const sc_iso_result *r = a[k].iso;
    for (int pass = 0; pass < 2; pass++) {
      fprintf(f, "# %s: %s\n", a[k].arch, pass ? "budgets left out of the power laws" : "budgets in the power laws");
      for (int j = 0; r && j < r->nb; j++) {
        const sc_iso_budget *b = &r->b[j];
        int in = b->used_n && b->used_d;
        if (in != !pass || !has_vertex(&b->pn) || !has_vertex(&b->pd)) continue;
        fprintf(f, "%.8g %.8g %.8g\n", b->flops, pow(10, b->pn.x_star), pow(10, b->pd.x_star));
        used[k][pass]++;
      }
      end_block(f, used[k][pass]);
    }
    /* C, N*, D*, the band of N* and D* (1.96 s.e. of the exponent, widening away from the centre of the fitted
     * budgets in ln C), and whether C lies between the fitted budgets (beyond them the line is extrapolated). */
    fprintf(f, "# %s: power laws: C N D N_lo N_hi D_lo D_hi fitted\n", a[k].arch);
    if (r && isfinite(r->n_law.exponent) && isfinite(r->d_law.exponent)) {
      double flo = INFINITY, fhi = 0, centre = 0;
      int nf = 0;
      for (int j = 0; j < r->nb; j++)
        if (r->b[j].used_n && r->b[j].used_d)
          flo = fmin(flo, r->b[j].flops), fhi = fmax(fhi, r->b[j].flops), centre += log(r->b[j].flops), nf++;
      centre = nf ? centre / nf : 0;
      const double lo = log(cmin / 2), hi = log(cmax * 3);
      for (int i = 0; i < CURVE_POINTS; i++) {
        const double c = exp(lo + (hi - lo) * i / (CURVE_POINTS - 1)), dist = fabs(log(c) - centre);
        const double n = r->n_law.prefactor * pow(c, r->n_law.exponent);
        const double d = r->d_law.prefactor * pow(c, r->d_law.exponent);
        const double wn = exp(1.96 * r->n_law.se_exponent * dist), wd = exp(1.96 * r->d_law.se_exponent * dist);
        fprintf(f, "%.8g %.8g %.8g %.8g %.8g %.8g %.8g %d\n", c, n, d, n / wn, n * wn, d / wd, d * wd,
                c >= flo * 0.999 && c <= fhi * 1.001);
      }
      used[k][2] = 1;
    }
    end_block(f, used[k][2]);
  }
  if (close_checked(f, dat, err)) return -1;
  script_buf s;
  if (sb_open(&s, err)) return -1;
  fprintf(s.f,
          "reset\nset multiplot layout 1,2 title 'Compute-optimal model size N* and training tokens D* from the "
          "IsoFLOP minima (%s)' font ',15'\n"
          "set logscale xy\nset format x '10^{%%L}'\nset format y '10^{%%L}'\nset grid\n"
          "set xlabel 'training compute C (FLOPs)'\nset key top left box opaque font ',10'\n%s",
          caption, tight_axes);
  int any = 0;
  for (int panel = 0; panel < 2; panel++) {
    fprintf(s.f, "set ylabel '%s'\nplot ",
            panel ? "compute-optimal training tokens D*" : "compute-optimal parameters N*");
    int first = 1;
    for (int k = 0; k < narch && k < 64; k++) {
      char la[256];
      display_part(a[k].arch, la, sizeof la);
      const char *c = colors[k % NCOLORS];
      const sc_power_law *law = a[k].iso ? (panel ? &a[k].iso->d_law : &a[k].iso->n_law) : NULL;
      if (used[k][0]) {
        fprintf(s.f, "%s'plots/%s' index %d using 1:%d with points pt 7 ps 1.4 lc rgb '%s' title '%s minima'",
                first ? "" : ", \\\n  ", dat, 3 * k, panel ? 3 : 2, c, la);
        first = 0;
      }
      if (used[k][1]) {
        fprintf(s.f, "%s'plots/%s' index %d using 1:%d with points pt 6 ps 1.4 lc rgb '%s' title '%s, not fitted'",
                first ? "" : ", \\\n  ", dat, 3 * k + 1, panel ? 3 : 2, c, la);
        first = 0;
      }
      if (used[k][2]) {
        /* Solid over the fitted budgets with a band; dashed where extrapolated; a law through two budgets has no
         * error estimate, so it is drawn dashed and thin throughout and says so. */
        const int sure = isfinite(law->se_exponent);
        if (sure)
          fprintf(s.f,
                  "%s'plots/%s' index %d using 1:%d:%d with filledcurves fc rgb '%s' fs transparent solid 0.15 "
                  "noborder notitle",
                  first ? "" : ", \\\n  ", dat, 3 * k + 2, panel ? 6 : 4, panel ? 7 : 5, c);
        fprintf(s.f, "%s'plots/%s' index %d using 1:%d with lines dt 2 lw 1.5 lc rgb '%s' notitle",
                sure || !first ? ", \\\n  " : "", dat, 3 * k + 2, panel ? 3 : 2, c);
        fprintf(s.f,
                ", \\\n  '' index %d using 1:($8 > 0.5 ? $%d : NaN) with lines %s lc rgb '%s' title '%s: %s* = %.4g "
                "C^{%.4f}%s'",
                3 * k + 2, panel ? 3 : 2, sure ? "lw 2.5" : "dt 4 lw 1.5", c, la, panel ? "D" : "N", law->prefactor,
                law->exponent, sure ? " ± 95% band" : ", 2 budgets: no error estimate");
        first = 0;
      }
    }
    if (first)
      fprintf(s.f, "NaN title 'no IsoFLOP minima'");
    else
      fprintf(s.f, ", \\\n  NaN with lines dt 2 lw 1.5 lc rgb 'gray40' title 'extrapolated beyond the fitted budgets'");
    any |= !first;
    fprintf(s.f, "\n");
  }
  fprintf(s.f, "unset multiplot\n");
  if (sb_close(&s, err)) return -1;
  int rc = any ? chart(gnuplot, dir, "optimal_nd", 1400, 560, s.buf, names, cap, err) : 0;
  free(s.buf);
  return rc;
}

/* ---- Pareto frontier ------------------------------------------------------------------------------ */

static int cmp_by_first(const void *x, const void *y) {
  const double *a = x, *b = y;
  return (a[0] > b[0]) - (a[0] < b[0]);
}

/* The smallest of 1, 2, 5 times a power of ten that is at least x: at most ~10 ticks whatever the range. */
static double nice_step(double x) {
  const double p = pow(10, floor(log10(x)));
  return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

static int pareto_chart(const char *gnuplot, const char *dir, const char *caption, const char *run_set,
                        const sc_fit_plot_arch *a, int narch, char *names, size_t cap, sc_err *err) {
  const char *dat = "pareto.dat";
  FILE *f = open_in(dir, "plots/", dat, err);
  if (!f) return -1;
  /* Two blocks per architecture: its runs (C, loss) and its frontier (runs no cheaper run beats). */
  double lmin = INFINITY, lmax = 0;
  for (int k = 0; k < narch; k++) {
    int n = a[k].lnd ? a[k].n_lnd : 0;
    double *cl = malloc((size_t)(n ? n : 1) * 2 * sizeof *cl);
    if (!cl) {
      fclose(f);
      return sc_fail(err, "out of host memory for the Pareto chart");
    }
    for (int i = 0; i < n; i++) {
      cl[2 * i] = a[k].lnd_c[i], cl[2 * i + 1] = a[k].lnd_loss[i];
      lmin = fmin(lmin, cl[2 * i + 1]), lmax = fmax(lmax, cl[2 * i + 1]);
    }
    qsort(cl, (size_t)n, 2 * sizeof *cl, cmp_by_first);
    fprintf(f, "# %s: runs\n", a[k].arch);
    for (int i = 0; i < n; i++) fprintf(f, "%.8g %.8g\n", cl[2 * i], cl[2 * i + 1]);
    end_block(f, n);
    fprintf(f, "# %s: Pareto frontier\n", a[k].arch);
    double best = INFINITY;
    for (int i = 0; i < n; i++)
      if (cl[2 * i + 1] < best) best = cl[2 * i + 1], fprintf(f, "%.8g %.8g\n", cl[2 * i], best);
    end_block(f, n);
    free(cl);
  }
  if (close_checked(f, dat, err)) return -1;
  int nruns = 0;
  for (int k = 0; k < narch; k++) nruns += a[k].lnd ? a[k].n_lnd : 0;
  script_buf s;
  if (sb_open(&s, err)) return -1;
  /* Losses within a factor 2 read best on a linear axis with even ticks; a wider range needs a log axis. */
  const int log_y = isfinite(lmin) && lmax >= 2 * lmin;
  fprintf(s.f,
          "reset\nset title 'Validation loss against training compute: the %d runs%s%s (%s)'.\"\\n\"."
          "'and each architecture''s Pareto frontier (runs no cheaper run beats)' font ',14'\n"
          "set logscale x\nset format x '10^{%%L}'\nset grid\nset xlabel 'training compute C (FLOPs)'\n"
          "set ylabel 'validation loss (nats/token)%s'\nset key top right box opaque\n%s",
          nruns, run_set ? " of set " : "", run_set ? run_set : "", caption, log_y ? ", log scale" : "", tight_axes);
  if (log_y)
    fprintf(s.f, "set logscale y\nset format y '%%.3g'\n");
  else if (isfinite(lmin)) {
    const double lo = lmin * 0.97, hi = lmax * 1.03, step = nice_step((hi - lo) / 8);
    fprintf(s.f, "set yrange [%.4g:%.4g]\nset ytics %.3g\nset format y '%%.2f'\n", lo, hi, step);
  }
  fprintf(s.f, "plot ");
  int first = 1;
  for (int k = 0; k < narch; k++) {
    if (!a[k].lnd || a[k].n_lnd == 0) continue;
    char la[256];
    display_part(a[k].arch, la, sizeof la);
    const char *c = colors[k % NCOLORS];
    fprintf(s.f,
            "%s'plots/%s' index %d using 1:2 with points pt 6 ps 0.9 lc rgb '%s' title '%s runs', \\\n"
            "  '' index %d using 1:2 with linespoints lw 2 pt 7 ps 1 lc rgb '%s' title '%s Pareto frontier'",
            first ? "" : ", \\\n  ", dat, 2 * k, c, la, 2 * k + 1, c, la);
    first = 0;
  }
  fprintf(s.f, "\n");
  if (sb_close(&s, err)) return -1;
  int rc = first ? 0 : chart(gnuplot, dir, "pareto", 1000, 650, s.buf, names, cap, err);
  free(s.buf);
  return rc;
}

/* ---- L(N, D) fit by token/param ratio --------------------------------------------------------------- */

/* Upper edges of the D/N bins (the last bin is open): the paper's ratios 22 to 2200 and the CPU runs' few. */
static const double ratio_edges[NCOLORS - 1] = {5, 10, 20, 40, 80, 160, 640};

static int ratio_bin(double r) {
  int b = 0;
  while (b < NCOLORS - 1 && r >= ratio_edges[b]) b++;
  return b;
}

static int lnd_chart(const char *gnuplot, const char *dir, const char *caption, const sc_fit_plot_arch *a, char *names,
                     size_t cap, sc_err *err) {
  const int n = a->n_lnd;
  char fa[128], la[256], dat[256], name[160];
  file_part(a->arch, fa, sizeof fa);
  display_part(a->arch, la, sizeof la);
  snprintf(name, sizeof name, "lnd_%s", fa);
  snprintf(dat, sizeof dat, "%s.dat", name);
  /* Runs sorted by D/N and grouped into fixed bins of D/N, each with its own colour, so that the charts of
   * different architectures (and fits) can be compared colour for colour. */
  double *rr = malloc((size_t)n * 2 * sizeof *rr);
  int *start = malloc((size_t)(n + 1) * sizeof *start);
  if (!rr || !start) {
    free(rr);
    free(start);
    return sc_fail(err, "out of host memory for the L(N,D) chart");
  }
  for (int i = 0; i < n; i++) rr[2 * i] = a->lnd_d[i] / a->lnd_n[i], rr[2 * i + 1] = i;
  qsort(rr, (size_t)n, 2 * sizeof *rr, cmp_by_first);
  int ng = 0, bin[NCOLORS + 1];
  for (int i = 0; i < n; i++) {
    const int b = ratio_bin(rr[2 * i]);
    if (i == 0 || b != bin[ng - 1]) bin[ng] = b, start[ng++] = i;
  }
  start[ng] = n;
  FILE *f = open_in(dir, "plots/", dat, err);
  if (!f) {
    free(rr);
    free(start);
    return -1;
  }
  double ratio[NCOLORS];
  for (int g = 0; g < ng; g++) {
    double lr = 0, nlo = INFINITY, nhi = 0;
    fprintf(f, "# runs with D/N in [%.4g, %.4g]: N D loss\n", rr[2 * start[g]], rr[2 * (start[g + 1] - 1)]);
    for (int i = start[g]; i < start[g + 1]; i++) {
      int q = (int)rr[2 * i + 1];
      lr += log(rr[2 * i]) / (start[g + 1] - start[g]);
      nlo = fmin(nlo, a->lnd_n[q]), nhi = fmax(nhi, a->lnd_n[q]);
      fprintf(f, "%.8g %.8g %.8g\n", a->lnd_n[q], a->lnd_d[q], a->lnd_loss[q]);
    }
    end_block(f, 1);
    ratio[g] = exp(lr);
    fprintf(f, "# fitted L(N, %.4g N)\n", ratio[g]);
    double lo = log(nlo / 1.5), hi = log(nhi * 1.5);
    for (int i = 0; i < CURVE_POINTS; i++) {
      double nn = exp(lo + (hi - lo) * i / (CURVE_POINTS - 1));
      fprintf(f, "%.8g %.8g\n", nn, exp(sc_lnd_predict(a->lnd_opts, a->lnd->p, log(nn), log(ratio[g] * nn))));
    }
    end_block(f, CURVE_POINTS);
  }
  free(rr);
  free(start);
  if (close_checked(f, dat, err)) return -1;
  script_buf s;
  if (sb_open(&s, err)) return -1;
  const double *p = a->lnd->p;
  fprintf(s.f,
          "reset\nset title '%s: loss as a function of N at fixed D/N, fitted (lines) and observed (points) (%s)'."
          "\"\\n\".'L(N,D) = E + (A N^{-α} + B D^{-β})^{γ}: α = %.4f, β = %.4f, γ = %.4f, A = %.4g, B = %.4g, "
          "E = %.4f' font ',13'\n"
          "set logscale x\nset format x '10^{%%L}'\nset grid\nset xlabel 'parameters N'\n"
          "set ylabel 'validation loss (nats/token)'\nset key top right box opaque title 'token/param ratio D/N'\n%s"
          "plot ",
          la, caption, p[SC_LND_ALPHA], p[SC_LND_BETA], p[SC_LND_GAMMA], exp(p[SC_LND_A]), exp(p[SC_LND_B]),
          exp(p[SC_LND_E]), tight_axes);
  for (int g = 0; g < ng; g++) {
    const char *c = colors[bin[g]];
    char range[64];
    if (bin[g] == 0)
      snprintf(range, sizeof range, "D/N < %g", ratio_edges[0]);
    else if (bin[g] == NCOLORS - 1)
      snprintf(range, sizeof range, "D/N ≥ %g", ratio_edges[NCOLORS - 2]);
    else
      snprintf(range, sizeof range, "D/N %g–%g", ratio_edges[bin[g] - 1], ratio_edges[bin[g]]);
    fprintf(s.f,
            "%s'plots/%s' index %d using 1:3 with points pt 7 ps 1 lc rgb '%s' title '%s (mean %.*f)', \\\n"
            "  '' index %d using 1:2 with lines lw 2 lc rgb '%s' notitle",
            g ? ", \\\n  " : "", dat, 2 * g, c, range, ratio[g] >= 10 ? 0 : 1, ratio[g], 2 * g + 1, c);
  }
  fprintf(s.f, ", \\\n  NaN with lines lw 2 lc rgb 'gray30' title 'lines: the fitted L(N,D) at the bin''s mean D/N'\n");
  if (sb_close(&s, err)) return -1;
  int rc = chart(gnuplot, dir, name, 1100, 700, s.buf, names, cap, err);
  free(s.buf);
  return rc;
}

int sc_fit_plots(const char *gnuplot, const char *dir, const char *caption, const char *run_set,
                 const sc_fit_plot_arch *a, int narch, char *names, size_t cap, sc_err *err) {
  char sub[4096];
  snprintf(sub, sizeof sub, "%s/plots", dir);
  if (sc_mkdirs(sub, err)) return -1;
  char cap_label[512];
  sc_gnuplot_escape(caption, cap_label, sizeof cap_label);
  caption = cap_label;
  for (int k = 0; k < narch; k++)
    if (a[k].iso && a[k].iso->nb > 0 && isoflop_chart(gnuplot, dir, caption, &a[k], names, cap, err)) return -1;
  if (optimal_chart(gnuplot, dir, caption, a, narch, names, cap, err)) return -1;
  char set_label[256];
  if (run_set) sc_gnuplot_escape(run_set, set_label, sizeof set_label);
  if (pareto_chart(gnuplot, dir, caption, run_set ? set_label : NULL, a, narch, names, cap, err)) return -1;
  for (int k = 0; k < narch; k++)
    if (a[k].lnd && a[k].n_lnd > 0 && lnd_chart(gnuplot, dir, caption, &a[k], names, cap, err)) return -1;
  return 0;
}
