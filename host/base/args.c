#include "base/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sc_argp_init(sc_argp *p, int argc, char **argv) {
  p->argc = argc;
  p->argv = argv;
  p->i = 1;
  p->value = NULL;
}

int sc_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 64;
  int d[64][64];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
      d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
    }
  return d[la][lb];
}

int sc_nearest(const char *word, const char *const *names, int n) {
  int best = -1, bestd = 1 << 30;
  for (int i = 0; i < n; i++) {
    int dist = sc_edit_distance(word, names[i]);
    /* A prefix match counts as close: "--dev" means "--device". */
    if (strncmp(names[i], word, strlen(word)) == 0) dist = 1;
    if (dist < bestd) {
      bestd = dist;
      best = i;
    }
  }
  int limit = (int)strlen(word) / 2 + 1;
  return bestd <= (limit < 3 ? 3 : limit) ? best : -1;
}

int sc_arg_next(sc_argp *p, const sc_opt *opts, int nopts, sc_err *err) {
  p->value = NULL;
  if (p->i >= p->argc) return SC_ARG_END;
  const char *a = p->argv[p->i++];
  if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return SC_ARG_HELP;
  if (a[0] != '-' || a[1] == '\0') {
    p->value = a;
    return SC_ARG_POSITIONAL;
  }
  if (a[1] != '-') {
    sc_fail(err, "unknown option '%s' (options are --long-names; see --help)", a);
    return SC_ARG_ERROR;
  }
  const char *name = a + 2;
  const char *eq = strchr(name, '=');
  size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
  for (int k = 0; k < nopts; k++) {
    if (strlen(opts[k].name) != nlen || strncmp(opts[k].name, name, nlen) != 0) continue;
    if (!opts[k].metavar) {
      if (eq) {
        sc_fail(err, "option --%s takes no value", opts[k].name);
        return SC_ARG_ERROR;
      }
      return k;
    }
    if (eq) {
      p->value = eq + 1;
    } else {
      if (p->i >= p->argc) {
        sc_fail(err, "option --%s needs a value %s", opts[k].name, opts[k].metavar);
        return SC_ARG_ERROR;
      }
      p->value = p->argv[p->i++];
    }
    return k;
  }
  char word[128];
  snprintf(word, sizeof word, "%.*s", (int)(nlen < 127 ? nlen : 127), name);
  const char *names[128];
  int n = nopts < 127 ? nopts : 127;
  for (int k = 0; k < n; k++) names[k] = opts[k].name;
  names[n] = "help";
  int near = sc_nearest(word, names, n + 1);
  if (near >= 0)
    sc_fail(err, "unknown option '--%s'; did you mean '--%s'?", word, names[near]);
  else
    sc_fail(err, "unknown option '--%s' (see --help)", word);
  return SC_ARG_ERROR;
}

void sc_usage(FILE *f, const char *synopsis, const char *description, const sc_opt *opts, int nopts) {
  fprintf(f, "usage: %s\n", synopsis);
  if (description && *description) fprintf(f, "\n%s\n", description);
  fprintf(f, "\noptions:\n");
  for (int k = 0; k < nopts; k++) {
    char left[96];
    snprintf(left, sizeof left, "--%s%s%s", opts[k].name, opts[k].metavar ? " " : "",
             opts[k].metavar ? opts[k].metavar : "");
    fprintf(f, "  %-26s %s\n", left, opts[k].help);
  }
  fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

int sc_parse_long(const char *s, const char *what, long lo, long hi, long *out, sc_err *err) {
  char *end;
  errno = 0;
  double scaled = 0;
  long v = strtol(s, &end, 10);
  /* Accept 1e6-style values for counts too. */
  if (*end == 'e' || *end == 'E' || *end == '.') {
    scaled = strtod(s, &end);
    if (*end || scaled != floor(scaled) || fabs(scaled) > 9e18)
      return sc_fail(err, "%s: '%s' is not an integer", what, s);
    v = (long)scaled;
  }
  if (errno || *end || end == s) return sc_fail(err, "%s: '%s' is not an integer", what, s);
  if (v < lo || v > hi) return sc_fail(err, "%s: %ld is out of range [%ld, %ld]", what, v, lo, hi);
  *out = v;
  return 0;
}

int sc_parse_double(const char *s, const char *what, double *out, sc_err *err) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s || !isfinite(v)) return sc_fail(err, "%s: '%s' is not a finite number", what, s);
  *out = v;
  return 0;
}
