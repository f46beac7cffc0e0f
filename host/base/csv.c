#include "base/csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CSV_MAX_REPORTED = 10 };

typedef struct {
  char **v;
  size_t n, cap;
} ptr_vec;

typedef struct {
  int *v;
  size_t n, cap;
} int_vec;

static int int_push(int_vec *a, int x, sc_err *err) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 256;
    int *v = realloc(a->v, cap * sizeof *v);
    if (!v) return sc_fail(err, "out of host memory growing a CSV table to %zu rows", cap);
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = x;
  return 0;
}

static int ptr_push(ptr_vec *a, char *p, sc_err *err) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 256;
    char **v = realloc(a->v, cap * sizeof *v);
    if (!v) return sc_fail(err, "out of host memory growing a CSV table to %zu cells", cap);
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = p;
  return 0;
}

typedef struct {
  char *buf;
  size_t len, pos;
  int line;
} csv_cursor;

/* Parses one record starting at c->pos into fields (pointers into buf, NUL-terminated in place).
 * Returns 0, or -1 with a short reason in why (the caller adds the line number) after skipping to the
 * end of the offending line. */
static int parse_record(csv_cursor *c, ptr_vec *fields, char *why, size_t whylen, sc_err *err) {
  char *b = c->buf;
  fields->n = 0;
  for (;;) {
    size_t out = c->pos;
    char *start = b + out;
    char delim;
    if (c->pos < c->len && b[c->pos] == '"') {
      int open_line = c->line;
      c->pos++;
      for (;;) {
        if (c->pos >= c->len) {
          snprintf(why, whylen, "quote opened on line %d is never closed", open_line);
          return -1;
        }
        char ch = b[c->pos];
        if (ch == '"') {
          if (c->pos + 1 < c->len && b[c->pos + 1] == '"') {
            b[out++] = '"';
            c->pos += 2;
            continue;
          }
          c->pos++;
          break;
        }
        if (ch == '\n') c->line++;
        b[out++] = ch;
        c->pos++;
      }
      delim = c->pos < c->len ? b[c->pos] : '\n';
      if (delim == '\r' && (c->pos + 1 >= c->len || b[c->pos + 1] == '\n')) delim = '\n';
      if (delim != ',' && delim != '\n') {
        snprintf(why, whylen, "text after the closing quote of field %zu", fields->n + 1);
        goto skip_line;
      }
    } else {
      while (c->pos < c->len && b[c->pos] != ',' && b[c->pos] != '\n') {
        if (b[c->pos] == '"') {
          snprintf(why, whylen, "quote inside unquoted field %zu (quote the whole field and double the quote)",
                   fields->n + 1);
          goto skip_line;
        }
        c->pos++;
      }
      out = c->pos;
      if (out > (size_t)(start - b) && b[out - 1] == '\r') out--;
      delim = c->pos < c->len ? b[c->pos] : '\n';
    }
    if (ptr_push(fields, start, err)) return -2;
    if (c->pos < c->len && b[c->pos] == '\r') c->pos++; /* CR of a CRLF after a quoted field */
    b[out] = '\0';
    if (c->pos < c->len) c->pos++; /* consume the delimiter */
    if (delim == '\n') {
      c->line++;
      return 0;
    }
  }
skip_line:
  while (c->pos < c->len && b[c->pos] != '\n') c->pos++;
  if (c->pos < c->len) c->pos++;
  c->line++;
  return -1;
}

int sc_csv_parse(const char *text, size_t len, const char *name, sc_csv *t, sc_err *err) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3; /* UTF-8 byte order mark */
  t->buf = sc_malloc(len + 1, "CSV text", err);
  if (!t->buf) return -1;
  memcpy(t->buf, text, len);
  t->buf[len] = '\0';
  csv_cursor c = {t->buf, len, 0, 1};
  ptr_vec fields = {0}, cells = {0};
  int_vec lines = {0};
  char report[CSV_MAX_REPORTED][160];
  int nbad = 0, have_header = 0, rc = 0;
  while (c.pos < len) {
    if (t->buf[c.pos] == '\n' || (t->buf[c.pos] == '\r' && c.pos + 1 < len && t->buf[c.pos + 1] == '\n')) {
      c.pos += t->buf[c.pos] == '\r' ? 2 : 1;
      c.line++;
      continue;
    }
    int line = c.line;
    char why[128];
    int r = parse_record(&c, &fields, why, sizeof why, err);
    if (r == -2) {
      rc = -1;
      goto done;
    }
    if (r == 0 && !have_header) {
      t->ncols = (int)fields.n;
      t->header = malloc(fields.n * sizeof *t->header);
      if (!t->header) {
        rc = sc_fail(err, "out of host memory for the CSV header of %s", name);
        goto done;
      }
      memcpy(t->header, fields.v, fields.n * sizeof *t->header);
      have_header = 1;
      continue;
    }
    if (r == 0 && (int)fields.n != t->ncols) {
      snprintf(why, sizeof why, "%zu fields, the header has %d", fields.n, t->ncols);
      r = -1;
    }
    if (r == -1) {
      if (nbad < CSV_MAX_REPORTED) snprintf(report[nbad], sizeof report[nbad], "%d: %s", line, why);
      nbad++;
      continue;
    }
    for (size_t k = 0; k < fields.n; k++)
      if (ptr_push(&cells, fields.v[k], err)) {
        rc = -1;
        goto done;
      }
    if (int_push(&lines, line, err)) {
      rc = -1;
      goto done;
    }
  }
  if (!have_header) {
    rc = sc_fail(err, "%s is empty: expected a header row with column names", name);
    goto done;
  }
  if (nbad) {
    char msg[8192];
    size_t o = 0;
    msg[0] = '\0';
    for (int k = 0; k < nbad && k < CSV_MAX_REPORTED && o < sizeof msg; k++)
      o += (size_t)snprintf(msg + o, sizeof msg - o, "\n  %s:%s", name, report[k]);
    rc = sc_fail(err, "%s has %d malformed row%s (fix or delete them):%s%s", name, nbad, nbad == 1 ? "" : "s", msg,
                 nbad > CSV_MAX_REPORTED ? "\n  ..." : "");
    goto done;
  }
  t->nrows = (int)lines.n;
  t->cells = cells.v;
  cells.v = NULL;
  t->lines = lines.v;
  lines.v = NULL;
done:
  free(fields.v);
  free(cells.v);
  free(lines.v);
  if (rc) sc_csv_free(t);
  return rc;
}

int sc_csv_read(const char *path, sc_csv *t, sc_err *err) {
  char *text;
  size_t len;
  memset(t, 0, sizeof *t);
  if (sc_read_file(path, &text, &len, err)) return -1;
  int rc = sc_csv_parse(text, len, path, t, err);
  free(text);
  return rc;
}

void sc_csv_free(sc_csv *t) {
  free(t->header);
  free(t->cells);
  free(t->lines);
  free(t->buf);
  t->header = t->cells = NULL;
  t->lines = NULL;
  t->buf = NULL;
  t->nrows = t->ncols = 0;
}

int sc_csv_col(const sc_csv *t, const char *name) {
  for (int k = 0; k < t->ncols; k++)
    if (strcmp(t->header[k], name) == 0) return k;
  return -1;
}

const char *sc_csv_cell(const sc_csv *t, int row, int col) {
  return t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

int sc_csv_number(const sc_csv *t, int row, int col, double *out, sc_err *err) {
  const char *s = sc_csv_cell(t, row, col);
  while (*s == ' ') s++;
  if (!*s) {
    *out = NAN;
    return 1;
  }
  char *end;
  double v = strtod(s, &end); /* underflow to 0 or a subnormal is fine */
  while (*end == ' ') end++;
  if (end == s || *end || !isfinite(v))
    return sc_fail(err, "%s:%d: column '%s': '%s' is not a finite number", t->name, t->lines[row], t->header[col],
                   sc_csv_cell(t, row, col));
  *out = v;
  return 0;
}
