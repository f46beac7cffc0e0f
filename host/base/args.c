#include "base/args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"

enum { MAX_OPTS = 63 };

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
      /* Swapped neighbours ("modle") are one typo, not two. */
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
        d[i][j] = d[i - 2][j - 2] + 1;
    }
  return d[la][lb];
}

int sc_nearest(const char *word, const char *const *names, int n) {
  const int wl = (int)strlen(word);
  int best = -1, bestd = INT_MAX, bestl = INT_MAX;
  for (int i = 0; i < n; i++) {
    int dist = sc_edit_distance(word, names[i]), dl = abs((int)strlen(names[i]) - wl);
    /* A prefix match counts as close: "--dev" means "--device". */
    if (wl && strncmp(names[i], word, (size_t)wl) == 0 && dist > 1) dist = 1;
    if (dist < bestd || (dist == bestd && dl < bestl)) best = i, bestd = dist, bestl = dl;
  }
  const int limit = wl / 2 + 1;
  return bestd <= (limit < 3 ? 3 : limit) ? best : -1;
}

/* Splits "--name[=value]" and finds name among names[0..n); -1 with a hint when it is unknown. */
static int lookup(const char *arg, const char *const *names, int n, const char **value, sc_err *err) {
  if (arg[1] != '-') return sc_fail(err, "unknown option '%s' (options are --long-names; see --help)", arg);
  const char *name = arg + 2, *eq = strchr(name, '=');
  const size_t len = eq ? (size_t)(eq - name) : strlen(name);
  *value = eq ? eq + 1 : NULL;
  for (int k = 0; k < n; k++)
    if (strlen(names[k]) == len && strncmp(names[k], name, len) == 0) return k;
  char word[128];
  snprintf(word, sizeof word, "%.*s", (int)(len < 127 ? len : 127), name);
  const char *all[MAX_OPTS + 1];
  const int m = n < MAX_OPTS ? n : MAX_OPTS;
  memcpy(all, names, (size_t)m * sizeof *all);
  all[m] = "help";
  const int near = sc_nearest(word, all, m + 1);
  if (near >= 0) return sc_fail(err, "unknown option '--%s'; did you mean '--%s'?", word, all[near]);
  return sc_fail(err, "unknown option '--%s' (see --help)", word);
}

static int is_help(const char *a) {
  return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static size_t list_len(const char *const *l) {
  size_t n = 0;
  while (l && l[n]) n++;
  return n;
}

/* printf at the end of the string in buf[cap]. */
static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...) {
  const size_t at = strlen(buf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + at, cap - at, fmt, ap);
  va_end(ap);
}

/* "in [1, 1000]", "a multiple of 8 in [8, 512]" or "one of a, b, c": what a value must be. */
static void rule_text(const sc_option *o, char *buf, size_t cap) {
  buf[0] = '\0';
  if (o->choices) {
    append(buf, cap, "one of ");
    for (size_t i = 0; o->choices[i]; i++) append(buf, cap, "%s%s", i ? ", " : "", o->choices[i]);
    return;
  }
  if (o->mult > 1) append(buf, cap, "a multiple of %ld ", o->mult);
  append(buf, cap, "in %c%.15g, %.15g%c", o->flags & SC_OPT_LO_OPEN ? '(' : '[', o->lo, o->hi,
         o->flags & SC_OPT_HI_OPEN || isinf(o->hi) ? ')' : ']');
}

static int number_ok(const sc_option *o, double v) {
  if (o->choices) {
    for (size_t i = 0; o->choices[i]; i++)
      if (strtod(o->choices[i], NULL) == v) return 1;
    return 0;
  }
  if (o->mult > 1 && fmod(v, (double)o->mult) != 0) return 0;
  return (o->flags & SC_OPT_LO_OPEN ? v > o->lo : v >= o->lo) && (o->flags & SC_OPT_HI_OPEN ? v < o->hi : v <= o->hi);
}

/* Parses one number of option o from s (for lists, one item) and checks it against o's rule. */
static int parse_number(const sc_option *o, const char *s, double *d, long *l, sc_err *err) {
  char what[80], rule[256];
  snprintf(what, sizeof what, "--%s", o->name);
  if (o->kind == SC_OPT_DOUBLE ? sc_parse_double(s, what, d, err) : sc_parse_long(s, what, LONG_MIN, LONG_MAX, l, err))
    return -1;
  if (o->kind != SC_OPT_DOUBLE) *d = (double)*l;
  if (number_ok(o, *d)) return 0;
  rule_text(o, rule, sizeof rule);
  return sc_fail(err, "%s %s is not %s", what, s, rule);
}

/* Comma-separated longs (SHAPES: shapes of o->rank longs joined by o->sep) into dest. */
static int parse_list(const sc_option *o, const char *s, sc_err *err) {
  const int rank = o->kind == SC_OPT_SHAPES ? o->rank : 1;
  long vals[SC_ARGS_MAX_LIST][SC_ARGS_MAX_RANK];
  int n = 0;
  if (o->flags & SC_OPT_NONE && !strcmp(s, "none")) s = "";
  for (const char *item = s; *item; n++) {
    const size_t len = strcspn(item, ",");
    if (n == SC_ARGS_MAX_LIST) return sc_fail(err, "--%s: more than %d items", o->name, SC_ARGS_MAX_LIST);
    const char *part = item;
    for (int r = 0; r < rank; r++) {
      const char *stop = r + 1 < rank ? memchr(part, o->sep, (size_t)(item + len - part)) : item + len;
      char buf[32];
      double d;
      if (!stop || stop == part || (size_t)(stop - part) >= sizeof buf)
        return sc_fail(err, "--%s: cannot parse '%.*s' (expected %s)", o->name, (int)len, item, o->metavar);
      snprintf(buf, sizeof buf, "%.*s", (int)(stop - part), part);
      if (parse_number(o, buf, &d, &vals[n][r], err)) return -1;
      part = stop + 1;
    }
    item += len + (item[len] == ',');
  }
  if (o->kind == SC_OPT_SHAPES) {
    sc_shapes *out = o->dest;
    memcpy(out->v, vals, sizeof vals);
    out->n = n;
  } else {
    sc_longs *out = o->dest;
    for (int i = 0; i < n; i++) out->v[i] = vals[i][0];
    out->n = n;
  }
  return 0;
}

static int set_value(const sc_option *o, const char *s, sc_err *err) {
  double d;
  long l;
  if (!*s) return sc_fail(err, "--%s: empty value (expected %s)", o->name, o->metavar);
  switch (o->kind) {
    case SC_OPT_FLAG:
      break;
    case SC_OPT_STRING:
    case SC_OPT_INFILE:
    case SC_OPT_OUTFILE:
    case SC_OPT_OUTDIR:
      *(const char **)o->dest = s;
      break;
    case SC_OPT_STRINGS: {
      sc_strs *v = o->dest;
      v->v[v->n++] = s;
      break;
    }
    case SC_OPT_LONG:
      if (parse_number(o, s, &d, &l, err)) return -1;
      *(long *)o->dest = l;
      break;
    case SC_OPT_DOUBLE:
      return parse_number(o, s, (double *)o->dest, &l, err);
    case SC_OPT_ENUM: {
      const int n = (int)list_len(o->choices);
      for (int i = 0; i < n; i++)
        if (!strcmp(o->choices[i], s)) return *(int *)o->dest = i, 0;
      char rule[256];
      rule_text(o, rule, sizeof rule);
      const int near = sc_nearest(s, o->choices, n);
      if (near >= 0)
        return sc_fail(err, "--%s: '%s' is not %s; did you mean '%s'?", o->name, s, rule, o->choices[near]);
      return sc_fail(err, "--%s: '%s' is not %s", o->name, s, rule);
    }
    case SC_OPT_LONGS:
    case SC_OPT_SHAPES:
      return parse_list(o, s, err);
  }
  return 0;
}

/* The path kinds' checks (see sc_opt_kind), inputs first so outputs can be compared with them. */
static int check_paths(const sc_args *a, int n, sc_err *err) {
  const char *inputs[MAX_OPTS];
  int ni = 0;
  char what[80];
  for (int k = 0; k < n; k++) {
    const sc_option *o = &a->opts[k];
    const char *v = o->kind == SC_OPT_INFILE ? *(const char *const *)o->dest : NULL;
    snprintf(what, sizeof what, "--%s", o->name);
    if (v && sc_check_input(v, what, err)) return -1;
    if (v) inputs[ni++] = v;
  }
  for (int k = 0; k < n; k++) {
    const sc_option *o = &a->opts[k];
    if (o->kind != SC_OPT_OUTFILE && o->kind != SC_OPT_OUTDIR) continue;
    const char *v = *(const char *const *)o->dest;
    snprintf(what, sizeof what, "--%s", o->name);
    if (v && (o->kind == SC_OPT_OUTFILE ? sc_check_output_file(v, what, inputs, ni, err)
                                        : sc_check_output_dir(v, what, err)))
      return -1;
  }
  return 0;
}

int sc_args_parse(const sc_args *a, int argc, char **argv, sc_err *err) {
  const char *names[MAX_OPTS];
  unsigned char seen[MAX_OPTS] = {0};
  const int n = a->nopts < MAX_OPTS ? a->nopts : MAX_OPTS;
  for (int k = 0; k < n; k++) names[k] = a->opts[k].name;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *value = NULL;
    if (is_help(arg)) return sc_args_help(stdout, a), 0;
    if (arg[0] != '-' || arg[1] == '\0') {
      if (!a->positional) return sc_fail(err, "unexpected argument '%s'", arg), 2;
      a->positional->v[a->positional->n++] = arg;
      continue;
    }
    const int k = lookup(arg, names, n, &value, err);
    if (k < 0) return 2;
    const sc_option *o = &a->opts[k];
    if (o->kind == SC_OPT_FLAG) {
      if (value) return sc_fail(err, "option --%s takes no value (got '%s')", o->name, value), 2;
      *(int *)o->dest = 1;
    } else {
      if (!value && i + 1 >= argc) return sc_fail(err, "option --%s needs a value %s", o->name, o->metavar), 2;
      if (set_value(o, value ? value : argv[++i], err)) return 2;
    }
    seen[k] = 1;
  }
  for (int k = 0; k < n; k++)
    if (a->opts[k].flags & SC_OPT_REQUIRED && !seen[k])
      return sc_fail(err, "missing required option --%s %s", a->opts[k].name, a->opts[k].metavar), 2;
  return check_paths(a, n, err) ? 2 : SC_ARGS_RUN;
}

static void help_line(FILE *f, const char *name, const char *metavar, const char *text) {
  char left[96];
  snprintf(left, sizeof left, "--%s%s%s", name, metavar ? " " : "", metavar ? metavar : "");
  fprintf(f, "  %-26s %s\n", left, text);
}

/* A list destination as it would be typed: "8,16", "64:128,256:512", or "none". */
static void list_text(const sc_option *o, char *buf, size_t cap) {
  const sc_longs *l = o->dest;
  const sc_shapes *s = o->dest;
  const int shapes = o->kind == SC_OPT_SHAPES, n = shapes ? s->n : l->n;
  buf[0] = '\0';
  for (int i = 0; i < n; i++)
    for (int r = 0; r < (shapes ? o->rank : 1); r++)
      append(buf, cap, "%s%ld", r ? (const char[]){o->sep, '\0'} : i ? "," : "", shapes ? s->v[i][r] : l->v[i]);
  if (!n && o->flags & SC_OPT_NONE) snprintf(buf, cap, "none");
}

/* The default held in o->dest, as typed on the command line; "" when there is none worth showing. */
static void default_text(const sc_option *o, char *buf, size_t cap) {
  buf[0] = '\0';
  switch (o->kind) {
    case SC_OPT_STRING:
    case SC_OPT_INFILE:
    case SC_OPT_OUTFILE:
    case SC_OPT_OUTDIR: {
      const char *v = *(const char *const *)o->dest;
      if (v) snprintf(buf, cap, "%s", v);
      break;
    }
    case SC_OPT_LONG: {
      const long v = *(const long *)o->dest;
      if (number_ok(o, (double)v)) snprintf(buf, cap, "%ld", v);
      break;
    }
    case SC_OPT_DOUBLE: {
      const double v = *(const double *)o->dest;
      if (number_ok(o, v)) snprintf(buf, cap, "%g", v);
      break;
    }
    case SC_OPT_ENUM: {
      const int v = *(const int *)o->dest;
      if (v >= 0 && (size_t)v < list_len(o->choices)) snprintf(buf, cap, "%s", o->choices[v]);
      break;
    }
    case SC_OPT_LONGS:
    case SC_OPT_SHAPES:
      list_text(o, buf, cap);
      break;
    case SC_OPT_FLAG:
    case SC_OPT_STRINGS:
      break;
  }
}

void sc_args_help(FILE *f, const sc_args *a) {
  fprintf(f, "usage: %s\n", a->synopsis);
  if (a->description && *a->description) fprintf(f, "\n%s\n", a->description);
  fprintf(f, "\noptions:\n");
  for (int k = 0; k < a->nopts; k++) {
    const sc_option *o = &a->opts[k];
    char rule[256] = "", def[256], text[1024];
    const int ruled = o->kind == SC_OPT_LONG || o->kind == SC_OPT_DOUBLE || o->kind == SC_OPT_ENUM ||
                      o->kind == SC_OPT_LONGS || o->kind == SC_OPT_SHAPES;
    const int list = o->kind == SC_OPT_LONGS || o->kind == SC_OPT_SHAPES;
    if (ruled) rule_text(o, rule, sizeof rule);
    default_text(o, def, sizeof def);
    /* help (each in [8, 512]; default 64,128) [required] */
    snprintf(text, sizeof text, "%s", o->help);
    const char *sep = " (";
    if (*rule) append(text, sizeof text, "%s%s%s", sep, list ? "each " : "", rule), sep = "; ";
    if (*def) append(text, sizeof text, "%sdefault %s", sep, def), sep = "; ";
    if (*sep == ';') append(text, sizeof text, ")");
    if (o->flags & SC_OPT_REQUIRED) append(text, sizeof text, " [required]");
    help_line(f, o->name, o->metavar, text);
  }
  help_line(f, "help", NULL, "show this help");
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
