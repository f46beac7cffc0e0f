#include "fit/runs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"

/* Names end up in CSV cells, JSON, chart legends and gnuplot scripts: printable, without quotes, commas or
 * backslashes. */
static int copy_name(char *dst, size_t cap, const sc_csv *t, int row, int col, sc_err *err) {
  const char *s = sc_csv_cell(t, row, col);
  if (strlen(s) >= cap)
    return sc_fail(err, "%s:%d: column '%s': '%s' is longer than %zu characters", t->name, t->lines[row],
                   t->header[col], s, cap - 1);
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f || strchr("\"',\\", *p))
      return sc_fail(err,
                     "%s:%d: column '%s': character %d of the name is %s; names may not hold quotes, commas, "
                     "backslashes or control characters",
                     t->name, t->lines[row], t->header[col], (int)(p - s) + 1,
                     (unsigned char)*p < 0x20 || *p == 0x7f ? "a control character" : "not allowed");
  memcpy(dst, s, strlen(s) + 1);
  return 0;
}

static int positive(const sc_csv *t, int row, int col, double *v, sc_err *err) {
  int r = sc_csv_number(t, row, col, v, err);
  if (r < 0) return -1;
  if (r == 1 || !(*v > 0) || *v > SC_RUNS_MAX_VALUE)
    return sc_fail(err, "%s:%d: column '%s' must be a positive number up to %g, found '%s'", t->name, t->lines[row],
                   t->header[col], SC_RUNS_MAX_VALUE, sc_csv_cell(t, row, col));
  return 0;
}

/* One row into r; -1 with a message naming file:line. */
/* Column indices of a runs table: the required ones, then the optional ones (-1 when absent). */
typedef struct {
  int req[5]; /* arch, n_params, n_tokens, flops, val_loss */
  int set, ctx, budget, lo, hi;
} columns;

static int parse_row(const sc_csv *t, int i, const columns *k, sc_run *r, sc_err *err) {
  const int *col = k->req, c_set = k->set, c_ctx = k->ctx, c_budget = k->budget, c_lo = k->lo, c_hi = k->hi;
  const int has_approx = c_lo >= 0 && c_hi >= 0;
  r->line = t->lines[i];
  double v;
  if (copy_name(r->arch, sizeof r->arch, t, i, col[0], err) || positive(t, i, col[1], &r->n, err) ||
      positive(t, i, col[2], &r->d, err) || positive(t, i, col[3], &r->c, err))
    return -1;
  int lr = sc_csv_number(t, i, col[4], &r->loss, err);
  if (lr < 0) return -1;
  if (lr == 0 && !(r->loss > 0 && r->loss <= SC_RUNS_MAX_VALUE)) {
    sc_fail(err, "%s:%d: val_loss must be a positive number up to %g, found '%s'", t->name, r->line, SC_RUNS_MAX_VALUE,
            sc_csv_cell(t, i, col[4]));
    return -1;
  }
  if (!r->arch[0]) {
    sc_fail(err, "%s:%d: empty arch", t->name, r->line);
    return -1;
  }
  if (c_set >= 0 && copy_name(r->set, sizeof r->set, t, i, c_set, err)) return -1;
  if (c_ctx >= 0) {
    int cr = sc_csv_number(t, i, c_ctx, &v, err);
    if (cr < 0) return -1;
    if (cr == 0 && (v != floor(v) || v < 1 || v > 1e9)) {
      sc_fail(err, "%s:%d: ctx must be a positive integer, found '%s'", t->name, r->line, sc_csv_cell(t, i, c_ctx));
      return -1;
    }
    r->ctx = cr == 0 ? (int)v : 0;
  }
  if (c_budget >= 0) {
    int br = sc_csv_number(t, i, c_budget, &v, err);
    if (br < 0) return -1;
    r->budget = br == 0 ? v : 0;
    if (br == 0 && !(v > 0)) {
      sc_fail(err, "%s:%d: isoflop_budget must be positive or empty", t->name, r->line);
      return -1;
    }
  }
  r->loss_lo = r->loss_hi = NAN;
  if (has_approx &&
      (sc_csv_number(t, i, c_lo, &r->loss_lo, err) < 0 || sc_csv_number(t, i, c_hi, &r->loss_hi, err) < 0))
    return -1;
  return 0;
}

int sc_runs_load(const char *path, sc_runs *rs, sc_err *err) {
  memset(rs, 0, sizeof *rs);
  snprintf(rs->path, sizeof rs->path, "%s", path);
  sc_csv t;
  if (sc_csv_read(path, &t, err)) return -1;
  static const char *const required[] = {"arch", "n_params", "n_tokens", "flops", "val_loss"};
  columns col;
  for (int k = 0; k < 5; k++) {
    col.req[k] = sc_csv_col(&t, required[k]);
    if (col.req[k] < 0) {
      sc_fail(err,
              "%s has no column '%s'; a runs table needs arch, n_params, n_tokens, flops, val_loss "
              "(optional: experiment_set, ctx, isoflop_budget, val_loss_approx_lo/hi)",
              path, required[k]);
      sc_csv_free(&t);
      return -1;
    }
  }
  col.set = sc_csv_col(&t, "experiment_set"), col.ctx = sc_csv_col(&t, "ctx");
  col.budget = sc_csv_col(&t, "isoflop_budget");
  col.lo = sc_csv_col(&t, "val_loss_approx_lo"), col.hi = sc_csv_col(&t, "val_loss_approx_hi");
  rs->has_set = col.set >= 0;
  rs->has_ctx = col.ctx >= 0;
  rs->has_approx = col.lo >= 0 && col.hi >= 0;
  rs->r = sc_calloc(t.nrows ? (size_t)t.nrows : 1, sizeof *rs->r, "runs table", err);
  if (!rs->r) {
    sc_csv_free(&t);
    return -1;
  }
  /* Every bad row is reported at once (up to MAX_REPORTED), as the CSV reader does for malformed rows. */
  enum { MAX_REPORTED = 20 };
  char *report = sc_malloc(SC_ERR_MAX, "runs table errors", err);
  if (!report) goto fail;
  report[0] = '\0';
  int bad = 0;
  size_t used = 0;
  for (int i = 0; i < t.nrows; i++) {
    if (!parse_row(&t, i, &col, &rs->r[i], err)) continue;
    if (bad++ < MAX_REPORTED && used < SC_ERR_MAX)
      used += (size_t)snprintf(report + used, SC_ERR_MAX - used, "\n  %s", err->msg);
  }
  if (bad) {
    sc_fail(err, "%s has %d bad row%s (fix or delete them):%s%s", path, bad, bad == 1 ? "" : "s", report,
            bad > MAX_REPORTED ? "\n  ..." : "");
    free(report);
    goto fail;
  }
  free(report);
  rs->n = t.nrows;
  sc_csv_free(&t);
  return 0;
fail:
  sc_csv_free(&t);
  sc_runs_free(rs);
  return -1;
}

void sc_runs_free(sc_runs *rs) {
  free(rs->r);
  rs->r = NULL;
  rs->n = 0;
}

void sc_run_filter_init(sc_run_filter *f) {
  memset(f, 0, sizeof *f);
  f->ratio_lo = 0;
  f->ratio_hi = INFINITY;
}

static int has_loss(const sc_run *r, int approx) {
  return !isnan(r->loss) || (approx && r->loss_lo > 0 && r->loss_hi >= r->loss_lo);
}

static void field_str(const sc_run *r, int field, char *v, size_t cap) {
  if (field == 0)
    snprintf(v, cap, "%s", r->arch);
  else if (field == 1)
    snprintf(v, cap, "%d", r->ctx);
  else
    snprintf(v, cap, "%s", r->set[0] ? r->set : "(empty)");
}

/* Lists the distinct values of a field (0 arch, 1 ctx, 2 set) among rows still in play, for hints. */
static void list_values(const sc_runs *rs, const char *keep, int field, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (int i = 0; i < rs->n; i++) {
    if (!keep[i]) continue;
    char v[64], w[64];
    field_str(&rs->r[i], field, v, sizeof v);
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) {
      if (!keep[j]) continue;
      field_str(&rs->r[j], field, w, sizeof w);
      seen = strcmp(v, w) == 0;
    }
    if (!seen && o + strlen(v) + 3 < cap) o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", v);
  }
}

int sc_runs_select(const sc_runs *rs, const sc_run_filter *f, sc_run_sel *sel, char *why, size_t whylen, sc_err *err) {
  memset(sel, 0, sizeof *sel);
  if (why && whylen) why[0] = '\0';
  const size_t cap = rs->n ? (size_t)rs->n : 1;
  char *keep = sc_malloc(cap, "row mask", err);
  sel->idx = sc_malloc(cap * sizeof *sel->idx, "selection", err);
  sel->loss = sc_malloc(cap * sizeof *sel->loss, "selection", err);
  if (!keep || !sel->idx || !sel->loss) {
    free(keep);
    sc_run_sel_free(sel);
    return -1;
  }
  memset(keep, 1, (size_t)rs->n);
  int left = rs->n;
  char desc[256] = "";
  for (int step = 0; step < 5 && left > 0; step++) {
    char avail[512] = "";
    int field = -1;
    if (step == 0 && f->arch) {
      snprintf(desc, sizeof desc, "--arch %s", f->arch);
      field = 0;
    } else if (step == 1 && f->ctx) {
      snprintf(desc, sizeof desc, "--ctx %d", f->ctx);
      field = 1;
    } else if (step == 2 && f->set && strcmp(f->set, "all") != 0) {
      snprintf(desc, sizeof desc, "--set %s", f->set);
      field = 2;
    } else if (step == 3 && (f->ratio_lo > 0 || isfinite(f->ratio_hi))) {
      snprintf(desc, sizeof desc, "token/param range [%g, %g]", f->ratio_lo, f->ratio_hi);
    } else if (step == 4) {
      snprintf(desc, sizeof desc, "a val_loss%s", f->approx_loss ? " or an approximate loss interval" : "");
    } else {
      continue;
    }
    if ((field == 1 && !rs->has_ctx) || (field == 2 && !rs->has_set))
      snprintf(avail, sizeof avail, "none: %.400s has no %s column", rs->path, field == 1 ? "ctx" : "experiment_set");
    else if (field >= 0)
      list_values(rs, keep, field, avail, sizeof avail);
    int before = left;
    for (int i = 0; i < rs->n; i++) {
      if (!keep[i]) continue;
      const sc_run *r = &rs->r[i];
      int ok = 1;
      if (step == 0) ok = strcmp(r->arch, f->arch) == 0;
      if (step == 1) ok = r->ctx == f->ctx;
      if (step == 2) ok = strcmp(r->set, f->set) == 0;
      if (step == 3) ok = r->d / r->n >= f->ratio_lo && r->d / r->n <= f->ratio_hi;
      if (step == 4) {
        ok = has_loss(r, f->approx_loss);
        if (!ok) sel->n_missing++;
      }
      if (!ok) keep[i] = 0, left--;
    }
    if (left == 0 && why && whylen) {
      if (step == 4)
        snprintf(why, whylen, "none of the %d rows left has %s", before, desc);
      else
        snprintf(why, whylen, "%s removed the last %d rows%s%s%s", desc, before, avail[0] ? " (available: " : "", avail,
                 avail[0] ? ")" : "");
    }
  }
  for (int i = 0; i < rs->n; i++) {
    if (!keep[i]) continue;
    const sc_run *r = &rs->r[i];
    int approx = isnan(r->loss);
    sel->idx[sel->n] = i;
    sel->loss[sel->n] = approx ? 0.5 * (r->loss_lo + r->loss_hi) : r->loss;
    sel->n_approx += approx;
    sel->n++;
  }
  if (rs->n == 0 && why && whylen) snprintf(why, whylen, "%s has no data rows", rs->path);
  free(keep);
  return 0;
}

void sc_run_sel_free(sc_run_sel *sel) {
  free(sel->idx);
  free(sel->loss);
  memset(sel, 0, sizeof *sel);
}
