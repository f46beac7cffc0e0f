/* CSV tables with one header row (RFC 4180: comma separated, optional double quotes, "" escapes a quote,
 * LF or CRLF line ends). Malformed rows are reported with their line numbers. */
#ifndef SCALECL_CSV_H
#define SCALECL_CSV_H

#include <stddef.h>

#include "base/err.h"

typedef struct {
  char name[512]; /* file name used in messages */
  int ncols;
  char **header; /* ncols column names */
  int nrows;
  char **cells; /* nrows * ncols, row-major; empty cells are "" */
  int *lines;   /* line number (1-based, counting the header as line 1) of each row */
  char *buf;    /* owns every string */
} sc_csv;

/* Parses text (len bytes). Blank lines are skipped. Fails, listing up to 10 malformed rows with their line
 * numbers, when a row has the wrong number of fields or a quote is unterminated or misplaced. */
int sc_csv_parse(const char *text, size_t len, const char *name, sc_csv *t, sc_err *err);
int sc_csv_read(const char *path, sc_csv *t, sc_err *err);
void sc_csv_free(sc_csv *t);

/* Index of the named column, or -1. */
int sc_csv_col(const sc_csv *t, const char *name);
const char *sc_csv_cell(const sc_csv *t, int row, int col);
/* Parses a numeric cell: returns 0 with *out set, 1 for an empty cell (*out = NAN), or -1 with a message
 * naming file, line and column. */
int sc_csv_number(const sc_csv *t, int row, int col, double *out, sc_err *err);

#endif
