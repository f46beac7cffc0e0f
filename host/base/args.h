/* Command-line options as a table: each row names an option, its kind, where its value goes and its range
 * or choices. One call parses argv into the destinations, checks every value, and answers --help from the
 * same rows; unknown names get the nearest of the command's own options as a hint. */
#ifndef SCALECL_ARGS_H
#define SCALECL_ARGS_H

#include <stdio.h>

#include "base/err.h"

#define SC_ARGS_MAX_LIST 16
#define SC_ARGS_MAX_RANK 4

typedef enum {
  SC_OPT_FLAG,    /* int: set to 1 */
  SC_OPT_STRING,  /* const char *: the (non-empty) value itself: a path, a name, a device selector */
  SC_OPT_STRINGS, /* sc_strs: every occurrence appended (repeatable) */
  SC_OPT_LONG,    /* long in [lo, hi], a multiple of mult; with choices, one of them */
  SC_OPT_DOUBLE,  /* double in [lo, hi]; SC_OPT_LO_OPEN / SC_OPT_HI_OPEN exclude an end */
  SC_OPT_ENUM,    /* int: the index of the value in choices */
  SC_OPT_LONGS,   /* sc_longs: comma-separated values, each checked as SC_OPT_LONG */
  SC_OPT_SHAPES,  /* sc_shapes: comma-separated shapes of `rank` values joined by `sep` (64x64x64) */
  /* Paths, const char * like SC_OPT_STRING, checked once every option is parsed, before the command does any
   * work: an input must be a regular file (base/paths sc_check_input); an output file must be writable, not a
   * directory and not the same file as any input of the command ("-" is standard output); an output
   * directory must exist writable or be creatable. */
  SC_OPT_INFILE,
  SC_OPT_OUTFILE,
  SC_OPT_OUTDIR,
} sc_opt_kind;

enum {
  SC_OPT_REQUIRED = 1, /* a usage error when absent */
  SC_OPT_LO_OPEN = 2,  /* lo itself is out of range */
  SC_OPT_HI_OPEN = 4,  /* hi itself is out of range */
  SC_OPT_NONE = 8,     /* lists: 'none' gives the empty list */
};

typedef struct {
  const char **v; /* room for argc entries, provided by the caller */
  int n;
} sc_strs;

typedef struct {
  long v[SC_ARGS_MAX_LIST];
  int n;
} sc_longs;

typedef struct {
  long v[SC_ARGS_MAX_LIST][SC_ARGS_MAX_RANK];
  int n;
} sc_shapes;

typedef struct {
  const char *name; /* long name without dashes, e.g. "device" */
  sc_opt_kind kind;
  void *dest;                 /* typed as the kind says; holds the default before parsing */
  const char *metavar;        /* value placeholder ("SEL"); NULL for flags */
  const char *help;           /* the range, choices and default are appended in --help */
  double lo, hi;              /* numeric kinds: the range (always given) */
  long mult;                  /* LONG(S), SHAPES: values are multiples of mult (0: any) */
  const char *const *choices; /* ENUM: the names; LONG(S): the allowed values; NULL-terminated */
  int rank;                   /* SHAPES: values per shape */
  char sep;                   /* SHAPES: the separator within a shape ('x' or ':') */
  int flags;                  /* SC_OPT_REQUIRED | SC_OPT_LO_OPEN | ... */
} sc_option;

typedef struct {
  const char *synopsis;    /* printed after "usage: " */
  const char *description; /* a paragraph after the synopsis */
  const sc_option *opts;
  int nopts;
  sc_strs *positional; /* receives positional arguments; NULL: they are usage errors */
} sc_args;

#define SC_NOPTS(opts) ((int)(sizeof(opts) / sizeof((opts)[0])))

/* What sc_args_parse returns when the command should go on; otherwise it returns the exit code. */
enum { SC_ARGS_RUN = -1 };

/* Parses argv[1..argc) (argv[0] is the command name) as --name VALUE, --name=VALUE, --flag and positional
 * arguments; a later occurrence of an option replaces an earlier one (SC_OPT_STRINGS appends). Returns
 * SC_ARGS_RUN, 0 after printing --help to stdout, or 2 after a usage error described in err. */
int sc_args_parse(const sc_args *a, int argc, char **argv, sc_err *err);
/* The --help text: synopsis, description, and one line per option with its range, choices and default. */
void sc_args_help(FILE *f, const sc_args *a);

/* Optimal-string-alignment distance (a transposition counts 1), for "did you mean". */
int sc_edit_distance(const char *a, const char *b);
/* Index of the nearest name in names[0..n), or -1 when none is plausibly meant. A name that word is a prefix
 * of counts as distance 1; ties go to the name closest in length, then to the earlier one. */
int sc_nearest(const char *word, const char *const *names, int n);

/* Strict number parsing; `what` names the option in the error. */
int sc_parse_long(const char *s, const char *what, long lo, long hi, long *out, sc_err *err);
int sc_parse_double(const char *s, const char *what, double *out, sc_err *err);

#endif
