/* Result tables that every command prints the same way: columns (name, unit, kind), rows of typed cells, and four
 * renderers: an aligned text table, markdown, CSV (RFC 4180) and JSON rows keyed by the column names. A column's
 * name is the same in every format, so a script can switch formats without renaming anything; the units are
 * listed in the JSON ("units"). Missing values print as "-" in text and markdown, as an empty CSV field and as
 * JSON null. The text and markdown tables leave out wide columns and columns with no value in any row; CSV and
 * JSON always carry every column, so their schema does not depend on the device. */
#ifndef SCALECL_BASE_TABLE_H
#define SCALECL_BASE_TABLE_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/err.h"

typedef enum { SC_FORMAT_TABLE, SC_FORMAT_MD, SC_FORMAT_CSV, SC_FORMAT_JSON } sc_format;
/* "table", "md", "csv", "json", NULL: the choices of an SC_OPT_ENUM --format. */
extern const char *const sc_format_names[];

typedef enum { SC_COL_STR, SC_COL_NUM, SC_COL_BOOL } sc_col_kind;

/* fmt for rates and times that span many decades across devices: 0.283, 42.7, 11426 (not 1.14e+04). */
#define SC_FMT_SIG3 "sig3"

typedef struct {
  const char *name; /* the header in table, md and csv; the key in JSON */
  const char *unit; /* NULL when none */
  sc_col_kind kind; /* strings align left, numbers and booleans right */
  const char *fmt;  /* NUM: printf format of a double in table and md ("%.1f"; NULL: "%.6g"; SC_FMT_SIG3: three
                       significant digits without exponents from 0.001 to 1e9); CSV and JSON keep full precision */
  int wide;         /* too long for an aligned table (a device's extension list): only in csv and json */
} sc_col;

typedef struct sc_table sc_table;

/* key names the rows in the JSON document; cols must outlive the table. */
/* v with three significant digits (SC_FMT_SIG3): fixed notation from 0.001 up to 1e9, "%.3g" outside. */
void sc_fmt_sig3(double v, char *buf, size_t cap);
sc_table *sc_table_create(const char *key, const sc_col *cols, int ncols, sc_err *err);
void sc_table_destroy(sc_table *t);
const char *sc_table_key(const sc_table *t);
int sc_table_nrows(const sc_table *t);

/* Appends a row with every cell missing; sc_table_num/str/bool then set cells of that row by column index. An
 * allocation failure is kept in the table and reported by the renderers, so code that fills a table checks once. */
void sc_table_row(sc_table *t);
void sc_table_num(sc_table *t, int col, double v);      /* NaN or inf: missing */
void sc_table_str(sc_table *t, int col, const char *s); /* copied; NULL: missing */
void sc_table_bool(sc_table *t, int col, int v);

/* Writes the table to f as SC_FORMAT_TABLE, _MD or _CSV. */
int sc_table_print(FILE *f, const sc_table *t, sc_format fmt, sc_err *err);
/* The rows as a JSON array of objects keyed by the column names. When units is not NULL, adds name: unit to it for
 * every column with a unit. */
cJSON *sc_table_json(const sc_table *t, cJSON *units, sc_err *err);

#endif
