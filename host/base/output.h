/* Where a command's results go, the same for every command that prints a table: --format picks what stdout
 * carries (an aligned table by default, markdown, CSV or JSON), --json FILE also writes the JSON document to FILE,
 * and --json - is --format json. Human text (the device line, notes, summaries) goes to stdout with the table
 * format and to stderr with the others, so stdout always parses as the chosen format. The JSON document is one
 * object: the command's own fields, each table's rows under its key, "units", and the version ("scalecl") and
 * settings ("settings") that produced the numbers. */
#ifndef SCALECL_BASE_OUTPUT_H
#define SCALECL_BASE_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/args.h"
#include "base/table.h"

typedef struct {
  int format;       /* sc_format: the --format destination; SC_FORMAT_TABLE by default */
  const char *json; /* --json FILE (or "-"); NULL when not given */
  FILE *human;      /* set by sc_output_begin */
} sc_output;

/* The option rows of the convention, for a command's option table. Commands whose --json has always been a flag
 * (flops, devices) take the --format row alone and set format to SC_FORMAT_JSON for their flag. */
#define SC_OUTPUT_FORMAT_OPTION(o)                                                                                   \
  {                                                                                                                  \
    "format", SC_OPT_ENUM, &(o)->format, "FMT", .help = "what stdout carries: aligned table, markdown, CSV or JSON", \
                                                .choices = sc_format_names                                           \
  }
#define SC_OUTPUT_OPTIONS(o)                                        \
  SC_OUTPUT_FORMAT_OPTION(o), {                                     \
    "json", SC_OPT_OUTFILE, &(o)->json, "FILE",                     \
        .help =                                                     \
            "also write the JSON document to FILE; '-': to stdout " \
            "(as --format json), human text to stderr"              \
  }

/* Resolves --json - and sets o->human; stdout cannot carry JSON and another format (a usage error). */
int sc_output_begin(sc_output *o, sc_err *err);

/* Prints the tables to stdout in o->format (one after another with a blank line between, the CSV of each with its
 * own header) and, for the JSON format or --json FILE, completes root (see above; the caller still owns it) and
 * writes it, to a file atomically. */
int sc_output_emit(const sc_output *o, cJSON *root, sc_table *const *tables, int n, sc_err *err);

#endif
