#include "base/table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const sc_format_names[] = {"table", "md", "csv", "json", NULL};

typedef struct {
  enum { CELL_NONE, CELL_NUM, CELL_STR, CELL_BOOL } kind;
  double num;
  char *str;
} cell;

struct sc_table {
  const char *key;
  const sc_col *cols;
  int ncols, nrows, cap; /* cap: rows allocated */
  cell *cells;           /* nrows * ncols, row-major */
  int failed;            /* an allocation failed while filling */
};

sc_table *sc_table_create(const char *key, const sc_col *cols, int ncols, sc_err *err) {
  sc_table *t = sc_calloc(1, sizeof *t, "result table", err);
  if (t) *t = (sc_table){.key = key, .cols = cols, .ncols = ncols};
  return t;
}

void sc_table_destroy(sc_table *t) {
  if (!t) return;
  for (int i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i].str);
  free(t->cells);
  free(t);
}

const char *sc_table_key(const sc_table *t) {
  return t->key;
}

int sc_table_nrows(const sc_table *t) {
  return t->nrows;
}

void sc_table_row(sc_table *t) {
  if (t->failed) return;
  if (t->nrows == t->cap) {
    const int cap = t->cap ? 2 * t->cap : 16;
    cell *c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c);
    if (!c) {
      t->failed = 1;
      return;
    }
    t->cells = c, t->cap = cap;
  }
  memset(&t->cells[(size_t)t->nrows * (size_t)t->ncols], 0, (size_t)t->ncols * sizeof *t->cells);
  t->nrows++;
}

/* The cell of the last row, with any string it held released; NULL before the first row or after a failure. */
static cell *last(sc_table *t, int col) {
  if (t->failed || !t->nrows || col < 0 || col >= t->ncols) return NULL;
  cell *c = &t->cells[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)col];
  free(c->str);
  memset(c, 0, sizeof *c);
  return c;
}

void sc_table_num(sc_table *t, int col, double v) {
  cell *c = last(t, col);
  if (c && isfinite(v)) c->kind = CELL_NUM, c->num = v;
}

void sc_table_str(sc_table *t, int col, const char *s) {
  cell *c = last(t, col);
  if (!c || !s) return;
  if (!(c->str = strdup(s))) {
    t->failed = 1;
    return;
  }
  c->kind = CELL_STR;
}

void sc_table_bool(sc_table *t, int col, int v) {
  cell *c = last(t, col);
  if (c) c->kind = CELL_BOOL, c->num = v != 0;
}

static const cell *at(const sc_table *t, int row, int col) {
  return &t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

static int check(const sc_table *t, sc_err *err) {
  return t->failed ? sc_fail(err, "out of host memory filling the %s table", t->key) : 0;
}

void sc_fmt_sig3(double v, char *buf, size_t cap) {
  const double a = fabs(v);
  if (!isfinite(v) || a == 0.0 || a < 1e-3 || a >= 1e9) {
    snprintf(buf, cap, "%.3g", v);
    return;
  }
  const int decimals = a >= 100.0 ? 0 : a >= 10.0 ? 1 : a >= 1.0 ? 2 : 2 - (int)floor(log10(a));
  snprintf(buf, cap, "%.*f", decimals, v);
}

/* The cell as text: human (table, md) or machine (csv: full precision, true/false, empty when missing). */
static const char *text(const sc_table *t, const cell *c, int col, int human, char *buf, size_t cap) {
  switch (c->kind) {
    case CELL_NUM:
      if (human && t->cols[col].fmt && !strcmp(t->cols[col].fmt, SC_FMT_SIG3))
        sc_fmt_sig3(c->num, buf, cap);
      else
        snprintf(buf, cap, human && t->cols[col].fmt ? t->cols[col].fmt : human ? "%.6g" : "%.15g", c->num);
      return buf;
    case CELL_STR:
      return c->str;
    case CELL_BOOL:
      return c->num ? (human ? "yes" : "true") : (human ? "no" : "false");
    default:
      return human ? "-" : "";
  }
}

/* Whether the aligned formats show a column: not wide, and some row has a value (an empty table shows its header). */
static int shown(const sc_table *t, int col) {
  if (t->cols[col].wide) return 0;
  if (!t->nrows) return 1;
  for (int r = 0; r < t->nrows; r++)
    if (at(t, r, col)->kind != CELL_NONE) return 1;
  return 0;
}

static void put_md(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputc('\\', f);
    fputc(*s == '\n' ? ' ' : *s, f);
  }
}

/* Aligned text or markdown: one header row, then the rows; numbers right-aligned. */
static int print_aligned(FILE *f, const sc_table *t, int md, sc_err *err) {
  int *w = sc_calloc((size_t)t->ncols, sizeof *w, "table widths", err);
  if (!w) return -1;
  char buf[64];
  for (int j = 0; j < t->ncols; j++) {
    if (!shown(t, j)) continue;
    w[j] = (int)strlen(t->cols[j].name);
    for (int r = 0; r < t->nrows; r++) {
      const int n = (int)strlen(text(t, at(t, r, j), j, 1, buf, sizeof buf));
      if (n > w[j]) w[j] = n;
    }
  }
  int last_shown = -1;
  for (int j = 0; j < t->ncols; j++)
    if (w[j]) last_shown = j;
  for (int r = -1 - md; r < t->nrows; r++) {
    int first = 1;
    for (int j = 0; j < t->ncols; j++) {
      if (!w[j]) continue;
      const int right = t->cols[j].kind != SC_COL_STR;
      const char *s = r == -1 - md ? t->cols[j].name : r == -1 ? NULL : text(t, at(t, r, j), j, 1, buf, sizeof buf);
      if (md) {
        fputs(first ? "| " : " | ", f);
        if (s)
          put_md(f, s);
        else
          fputs(right ? "--:" : "---", f);
      } else {
        /* Two spaces between columns; no padding after a last left-aligned column. */
        fputs(first ? "" : "  ", f);
        if (right)
          fprintf(f, "%*s", w[j], s);
        else if (j == last_shown)
          fputs(s, f);
        else
          fprintf(f, "%-*s", w[j], s);
      }
      first = 0;
    }
    fputs(md ? " |\n" : "\n", f);
  }
  free(w);
  return 0;
}

static void put_csv(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void print_csv(FILE *f, const sc_table *t) {
  char buf[64];
  for (int r = -1; r < t->nrows; r++)
    for (int j = 0; j < t->ncols; j++) {
      put_csv(f, r < 0 ? t->cols[j].name : text(t, at(t, r, j), j, 0, buf, sizeof buf));
      fputc(j == t->ncols - 1 ? '\n' : ',', f);
    }
}

int sc_table_print(FILE *f, const sc_table *t, sc_format fmt, sc_err *err) {
  if (check(t, err)) return -1;
  if (fmt == SC_FORMAT_CSV) {
    print_csv(f, t);
    return 0;
  }
  if (fmt != SC_FORMAT_TABLE && fmt != SC_FORMAT_MD)
    return sc_fail(err, "the %s table has no such text format", t->key);
  return print_aligned(f, t, fmt == SC_FORMAT_MD, err);
}

cJSON *sc_table_json(const sc_table *t, cJSON *units, sc_err *err) {
  if (check(t, err)) return NULL;
  cJSON *rows = cJSON_CreateArray();
  int ok = rows != NULL;
  for (int j = 0; ok && units && j < t->ncols; j++)
    if (t->cols[j].unit && !cJSON_HasObjectItem(units, t->cols[j].name))
      ok = cJSON_AddStringToObject(units, t->cols[j].name, t->cols[j].unit) != NULL;
  for (int r = 0; ok && r < t->nrows; r++) {
    cJSON *o = cJSON_CreateObject();
    ok = o && cJSON_AddItemToArray(rows, o);
    if (!ok) cJSON_Delete(o);
    for (int j = 0; ok && j < t->ncols; j++) {
      const cell *c = at(t, r, j);
      const char *k = t->cols[j].name;
      ok = (c->kind == CELL_NUM    ? cJSON_AddNumberToObject(o, k, c->num)
            : c->kind == CELL_STR  ? cJSON_AddStringToObject(o, k, c->str)
            : c->kind == CELL_BOOL ? cJSON_AddBoolToObject(o, k, c->num != 0)
                                   : cJSON_AddNullToObject(o, k)) != NULL;
    }
  }
  if (!ok) {
    cJSON_Delete(rows);
    sc_fail(err, "out of host memory formatting the %s table as JSON", t->key);
    return NULL;
  }
  return rows;
}
