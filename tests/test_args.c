/* The option table parser (base/args): every kind, ranges and choices, both value spellings, the usage errors
 * with the nearest option name, and --help from the same rows; then the scalecl binary's usage-error contract:
 * one error line first, the --help hint second, exit 2 for usage errors and 1 for runtime failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "harness.h"

static const char *const colors[] = {"red", "green", "blue", NULL};
static const char *const chunks[] = {"16", "32", "64", "128", NULL};

/* The destinations of the test table, reset to their defaults before each parse. */
static struct {
  int flag, color;
  const char *model, *mode;
  const char *inv[32], *posv[32];
  sc_strs in, pos;
  long n, chunk;
  double x;
  sc_longs list;
  sc_shapes shapes;
} d;

static const sc_option opts[] = {
    {"flag", SC_OPT_FLAG, &d.flag, NULL, .help = "a flag"},
    {"model", SC_OPT_STRING, &d.model, "NAME", .help = "a model"},
    {"mode", SC_OPT_STRING, &d.mode, "M", .help = "a mode"},
    {"color", SC_OPT_ENUM, &d.color, "C", .help = "a colour", .choices = colors},
    {"in", SC_OPT_STRINGS, &d.in, "PATH", .help = "inputs"},
    {"n", SC_OPT_LONG, &d.n, "N", .help = "a count", .lo = 1, .hi = 100},
    {"chunk", SC_OPT_LONG, &d.chunk, "L", .help = "a chunk length", .choices = chunks},
    {"x", SC_OPT_DOUBLE, &d.x, "X", .help = "a fraction", .lo = 0, .hi = 1, .flags = SC_OPT_HI_OPEN},
    {"list", SC_OPT_LONGS, &d.list, "LIST", .help = "a list", .lo = 8, .hi = 64, .mult = 8, .flags = SC_OPT_NONE},
    {"shapes", SC_OPT_SHAPES, &d.shapes, "AxB,...", .help = "shapes", .lo = 1, .hi = 1000, .rank = 2, .sep = 'x'},
};

static sc_err err;

/* Parses the space-separated words of line with the test table; positional arguments are accepted only when
 * positional is set. */
static int parse(const char *line, int positional) {
  memset(&d, 0, sizeof d);
  d.in.v = d.inv, d.pos.v = d.posv;
  d.n = 5, d.chunk = 64, d.x = 0.25, d.color = 2;
  d.list = (sc_longs){{8, 16}, 2};
  d.shapes = (sc_shapes){{{2, 3}}, 1};
  static char buf[1024];
  char *argv[64] = {"test"};
  int argc = 1;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
    argv[argc++] = t;
  const sc_args a = {"test [options]", "A table with every kind.", opts, SC_NOPTS(opts), positional ? &d.pos : NULL};
  err.msg[0] = '\0';
  return sc_args_parse(&a, argc, argv, &err);
}

static void expect_error(const char *line, const char *needle) {
  const int rc = parse(line, 0);
  if (rc != 2 || !strstr(err.msg, needle)) fail_msg("'%s': rc %d, message '%s' lacks '%s'", line, rc, err.msg, needle);
}

static void test_every_kind(void **state) {
  (void)state;
  assert_int_equal(parse("", 0), SC_ARGS_RUN);
  assert_int_equal(d.n, 5);
  assert_null(d.model);
  assert_int_equal(parse("--flag --model m1 --mode=fast --color green --in a --in=b --n 7 --chunk 128 --x 0.5 "
                         "--list 8,64 --shapes 1x2,30x40",
                         0),
                   SC_ARGS_RUN);
  assert_int_equal(d.flag, 1);
  assert_string_equal(d.model, "m1");
  assert_string_equal(d.mode, "fast");
  assert_int_equal(d.color, 1);
  assert_int_equal(d.in.n, 2);
  assert_string_equal(d.in.v[0], "a");
  assert_string_equal(d.in.v[1], "b");
  assert_int_equal(d.n, 7);
  assert_int_equal(d.chunk, 128);
  assert_true(d.x == 0.5);
  assert_int_equal(d.list.n, 2);
  assert_int_equal(d.list.v[1], 64);
  assert_int_equal(d.shapes.n, 2);
  assert_int_equal(d.shapes.v[1][0], 30);
  assert_int_equal(d.shapes.v[1][1], 40);
  /* Counts may be written as 1e2; 'none' empties a list that allows it. */
  assert_int_equal(parse("--n 1e2 --list none", 0), SC_ARGS_RUN);
  assert_int_equal(d.n, 100);
  assert_int_equal(d.list.n, 0);
  /* Values that start with '-' are values, not options. */
  assert_int_equal(parse("--model -m", 0), SC_ARGS_RUN);
  assert_string_equal(d.model, "-m");
}

static void test_ranges_and_choices(void **state) {
  (void)state;
  expect_error("--n 0", "--n 0 is not in [1, 100]");
  expect_error("--n 101", "--n 101 is not in [1, 100]");
  expect_error("--n 2.5", "--n: '2.5' is not an integer");
  expect_error("--x 1", "--x 1 is not in [0, 1)");
  expect_error("--x -0.1", "is not in [0, 1)");
  expect_error("--x nan", "--x: 'nan' is not a finite number");
  assert_int_equal(parse("--x 0", 0), SC_ARGS_RUN);
  expect_error("--chunk 48", "--chunk 48 is not one of 16, 32, 64, 128");
  expect_error("--color purple", "--color: 'purple' is not one of red, green, blue");
  expect_error("--color gren", "did you mean 'green'?");
  expect_error("--list 8,12", "--list 12 is not a multiple of 8 in [8, 64]");
  expect_error("--list 8,,16", "--list: cannot parse");
  expect_error("--list 8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8", "more than 16 items");
  expect_error("--shapes 64", "--shapes: cannot parse '64' (expected AxB,...)");
  expect_error("--shapes 64:64", "--shapes: cannot parse '64:64'");
  expect_error("--shapes 2x0", "--shapes 0 is not in [1, 1000]");
  expect_error("--model=", "--model: empty value");
}

static void test_usage_errors(void **state) {
  (void)state;
  expect_error("--flag=1", "option --flag takes no value");
  expect_error("--n", "option --n needs a value N");
  expect_error("-n 3", "unknown option '-n'");
  expect_error("stray", "unexpected argument 'stray'");
  /* The nearest of the command's own names: a transposition is one typo, and of two names at the same
   * distance the one of the typed length wins, whatever the table order. */
  expect_error("--modle x", "unknown option '--modle'; did you mean '--model'?");
  expect_error("--mdoe x", "did you mean '--mode'?");
  expect_error("--colr red", "did you mean '--color'?");
  expect_error("--hlep", "did you mean '--help'?");
  expect_error("--zzzzzzzz", "unknown option '--zzzzzzzz' (see --help)");
  const char *const a[] = {"mode", "model"}, *const b[] = {"model", "mode"};
  assert_int_equal(sc_nearest("modle", a, 2), 1);
  assert_int_equal(sc_nearest("modle", b, 2), 0);
  /* A prefix is close ("dev" means "device"), but not closer than a same-length near miss. */
  const char *const c[] = {"json", "device"}, *const e[] = {"seeds-file", "seek"};
  assert_int_equal(sc_nearest("dev", c, 2), 1);
  assert_int_equal(sc_nearest("seed", e, 2), 1);
  assert_int_equal(sc_edit_distance("modle", "model"), 1);
  assert_int_equal(sc_edit_distance("modle", "mode"), 1);
}

static void test_repeats_positionals_required(void **state) {
  (void)state;
  /* A later occurrence replaces an earlier one; repeatable options append. */
  assert_int_equal(parse("--n 3 --n 4 --list 8 --list 16,24 --in a --in b --in c", 0), SC_ARGS_RUN);
  assert_int_equal(d.n, 4);
  assert_int_equal(d.list.n, 2);
  assert_int_equal(d.list.v[0], 16);
  assert_int_equal(d.in.n, 3);
  assert_int_equal(parse("p1 --flag p2 - p3", 1), SC_ARGS_RUN);
  assert_int_equal(d.pos.n, 4);
  assert_string_equal(d.pos.v[0], "p1");
  assert_string_equal(d.pos.v[2], "-");
  assert_int_equal(d.flag, 1);
  long need = 0;
  const sc_option req[] = {
      {"need", SC_OPT_LONG, &need, "N", .help = "needed", .lo = 1, .hi = 9, .flags = SC_OPT_REQUIRED}};
  const sc_args a = {"req --need N", NULL, req, 1, NULL};
  char *argv[] = {"req", "--need", "3"};
  assert_int_equal(sc_args_parse(&a, 1, argv, &err), 2);
  assert_string_equal(err.msg, "missing required option --need N");
  assert_int_equal(sc_args_parse(&a, 3, argv, &err), SC_ARGS_RUN);
  assert_int_equal(need, 3);
}

static void test_help_from_the_table(void **state) {
  (void)state;
  parse("", 0); /* the defaults */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  const sc_args a = {"test [options]", "A table with every kind.", opts, SC_NOPTS(opts), NULL};
  sc_args_help(f, &a);
  fclose(f);
  static const char *const needles[] = {"usage: test [options]",
                                        "A table with every kind.",
                                        "--n N",
                                        "a count (in [1, 100]; default 5)",
                                        "a chunk length (one of 16, 32, 64, 128; default 64)",
                                        "a fraction (in [0, 1); default 0.25)",
                                        "a colour (one of red, green, blue; default blue)",
                                        "a list (each a multiple of 8 in [8, 64]; default 8,16)",
                                        "shapes (each in [1, 1000]; default 2x3)",
                                        "--flag ",
                                        "--help",
                                        NULL};
  for (int i = 0; needles[i]; i++)
    if (!strstr(text, needles[i])) fail_msg("--help lacks '%s':\n%s", needles[i], text);
  free(text);
  /* --help anywhere prints this text and returns 0 (to exit successfully). */
  assert_int_equal(parse("--n 3 --help", 0), 0);
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Runs `scalecl ARGS` and returns its exit status with its stderr in err_text (stdout is dropped). */
static int run_cli(const char *args, char *err_text, size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", th_scalecl_bin(), args);
  return th_run_capture(cmd, err_text, cap);
}

/* A usage error: exit 2, "<prefix>: error: <needle...>" as the first line, the --help hint as the second. */
static void expect_usage_error(const char *args, const char *prefix, const char *needle) {
  char out[16384], first[1024], hint[512];
  const int rc = run_cli(args, out, sizeof out);
  snprintf(first, sizeof first, "%s: error: ", prefix);
  snprintf(hint, sizeof hint, "\nrun '%s --help' for usage\n", prefix);
  if (rc != 2 || !starts_with(out, first) || !strstr(out, needle) || strstr(out, hint) != strchr(out, '\n'))
    fail_msg("scalecl %s: exit %d (want 2), stderr does not start with '%s...%s' and the hint:\n%s", args, rc, first,
             needle, out);
}

static void test_cli_usage_errors(void **state) {
  (void)state;
  /* Path options have no numeric range to show in --help. */
  char cmd[1024], help[1 << 14];
  snprintf(cmd, sizeof cmd, "'%s' eval --help", th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, help, sizeof help), 0);
  assert_non_null(strstr(help, "--dump OUT.safetensors"));
  assert_null(strstr(help, "[0, 0]"));
  expect_usage_error("bench gemm --shapes 64x64", "scalecl bench gemm", "--shapes: cannot parse '64x64'");
  expect_usage_error("bench mlstm --dims 64x128", "scalecl bench mlstm", "--dims: cannot parse '64x128'");
  expect_usage_error("op mlstn", "scalecl op", "unknown topic 'mlstn'; did you mean 'mlstm'?");
  expect_usage_error("bench", "scalecl bench", "missing topic (one of gemm,");
  expect_usage_error("peak --min-time -1", "scalecl peak", "--min-time -1 is not in (0, 60]");
  expect_usage_error("peak --min-time 1e9", "scalecl peak", "--min-time 1e9 is not in (0, 60]");
  expect_usage_error("peak --samples 0", "scalecl peak", "--samples 0 is not in [1, 1000]");
  expect_usage_error("bench mlstm --chunks 48", "scalecl bench mlstm", "--chunks 48 is not one of 16, 32, 64, 128");
  expect_usage_error("op mlstm --chunk 48", "scalecl op mlstm", "--chunk 48 is not one of 16, 32, 64, 128");
  expect_usage_error("op mlstm --in x.safetensors", "scalecl op mlstm", "missing required option --out FILE");
  expect_usage_error("flops --modle xlstm-164m", "scalecl flops", "did you mean '--model'?");
  expect_usage_error("flops --model xlstm-164m --budget 1e20 --tokens 1e9", "scalecl flops", "not both");
  expect_usage_error("bench attention --head-dims 24", "scalecl bench attention", "not a multiple of 16");
  expect_usage_error("bench loader --B=", "scalecl bench loader", "--B: empty value");
  expect_usage_error("bench fit --samples 1001", "scalecl bench fit", "--samples 1001 is not in [1, 1000]");
  expect_usage_error("devices --json=yes", "scalecl devices", "option --json takes no value");
  expect_usage_error("prepare --format xml --in x --out y", "scalecl prepare", "is not one of auto, text, jsonl");
  expect_usage_error("devics", "scalecl", "unknown command 'devics'; did you mean 'devices'?");
  expect_usage_error("", "scalecl", "missing command (one of devices,");
}

/* Runtime failures exit 1 with the error line first and no --help hint; messages do not repeat the command. */
static void test_cli_runtime_failures(void **state) {
  (void)state;
  char dir[512], args[2048], out[16384];
  th_tmpdir("args-cli", dir, sizeof dir);
  snprintf(args, sizeof args, "bench loader --data %s/no-such-shards", dir);
  assert_int_equal(run_cli(args, out, sizeof out), 1);
  if (!starts_with(out, "scalecl bench loader: error: ") || strstr(out, "--help")) fail_msg("bench loader: %s", out);
  snprintf(args, sizeof args, "touch %s/empty.txt", dir);
  assert_int_equal(system(args), 0);
  snprintf(args, sizeof args, "prepare --in %s/empty.txt --out %s/o --quiet", dir, dir);
  assert_int_equal(run_cli(args, out, sizeof out), 1);
  if (!starts_with(out, "scalecl prepare: error: ") || !strstr(out, "empty.txt holds no documents (1 file,") ||
      strstr(out, "--help"))
    fail_msg("prepare: %s", out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_kind),           cmocka_unit_test(test_ranges_and_choices),
      cmocka_unit_test(test_usage_errors),         cmocka_unit_test(test_repeats_positionals_required),
      cmocka_unit_test(test_help_from_the_table),  cmocka_unit_test(test_cli_usage_errors),
      cmocka_unit_test(test_cli_runtime_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
