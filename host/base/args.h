/* Option parsing shared by every subcommand: --name VALUE, --name=VALUE, --flag, positional
 * arguments, --help, and "did you mean" for unknown names. */
#ifndef SCALECL_ARGS_H
#define SCALECL_ARGS_H

#include <stdio.h>

#include "base/err.h"

typedef struct {
  const char *name;     /* long name without dashes, e.g. "device" */
  const char *metavar;  /* value placeholder ("SEL"), or NULL for a flag */
  const char *help;
} sc_opt;

enum { SC_ARG_END = -1, SC_ARG_ERROR = -2, SC_ARG_POSITIONAL = -3, SC_ARG_HELP = -4 };

typedef struct {
  int argc;
  char **argv;
  int i;             /* next argv index */
  const char *value; /* value of the last option or positional */
} sc_argp;

/* argv[0] is the command name; parsing starts at argv[1]. */
void sc_argp_init(sc_argp *p, int argc, char **argv);
/* Returns the index into opts, SC_ARG_POSITIONAL (value set), SC_ARG_HELP, SC_ARG_END, or
 * SC_ARG_ERROR with a message naming the nearest valid option. */
int sc_arg_next(sc_argp *p, const sc_opt *opts, int nopts, sc_err *err);

void sc_usage(FILE *f, const char *synopsis, const char *description, const sc_opt *opts, int nopts);

/* Levenshtein distance, for "did you mean". */
int sc_edit_distance(const char *a, const char *b);
/* Index of the nearest name in names[0..n) or -1 when none is plausibly meant. */
int sc_nearest(const char *word, const char *const *names, int n);

/* Strict number parsing; `what` names the option in the error. */
int sc_parse_long(const char *s, const char *what, long lo, long hi, long *out, sc_err *err);
int sc_parse_double(const char *s, const char *what, double *out, sc_err *err);

#endif
