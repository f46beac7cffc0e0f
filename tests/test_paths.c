/* User paths (base/paths). Inputs: a directory, FIFO or missing path given where a file is expected is refused
 * at once with a message naming the path and what it is (a directory once made one reader allocate 2^63
 * bytes, and a FIFO blocked open() forever). Outputs: checked before any work, naming the user's path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/paths.h"
#include "data/shards.h"
#include "harness.h"
#include "model/safetensors.h"

static char dir[512], fifo[600], missing[600];

static void expect(int rc, const sc_err *err, const char *path, const char *kind) {
  assert_int_equal(rc, -1);
  printf("  expected error: %s\n", err->msg);
  if (!strstr(err->msg, path) || !strstr(err->msg, kind)) fail_msg("'%s' does not name %s as %s", err->msg, path, kind);
}

static void test_readers_refuse_non_files(void **state) {
  (void)state;
  sc_err err;
  char *text;
  expect(sc_read_file(dir, &text, NULL, &err), &err, dir, "a directory");
  expect(sc_read_file(fifo, &text, NULL, &err), &err, fifo, "a FIFO");
  expect(sc_read_file(missing, &text, NULL, &err), &err, missing, "No such file");
  sc_st_file st;
  expect(sc_st_open(&st, dir, &err), &err, dir, "a directory");
  expect(sc_st_open(&st, fifo, &err), &err, fifo, "a FIFO");
  sc_shard sh;
  expect(sc_shard_open(&sh, fifo, &err), &err, fifo, "a FIFO");
  expect(sc_shard_open(&sh, dir, &err), &err, dir, "a directory");
}

/* Runs `scalecl <args> <path>`; expects exit rc and an output naming path and holding needle. */
static void expect_cli(const char *args, const char *path, int rc, const char *needle) {
  char cmd[2048], out[8192];
  snprintf(cmd, sizeof cmd, "'%s' %s '%s' 2>&1", th_scalecl_bin(), args, path);
  const int got = th_run_capture(cmd, out, sizeof out);
  printf("  %s -> %d: %s", args, got, out);
  if (got != rc || !strstr(out, path) || !strstr(out, needle))
    fail_msg("%s %s: exit %d (want %d), output lacks '%s': %s", args, path, got, rc, needle, out);
}

/* Commands name the path, and nothing hangs (ctest's timeout would catch a blocked open). Paths given to
 * options of a path kind are usage errors (exit 2); --model (a preset name or a path) fails at run time. */
static void test_commands_refuse_non_files(void **state) {
  (void)state;
  expect_cli("flops --model", dir, 1, "is a directory without a config.json");
  expect_cli("flops --model", fifo, 1, "a FIFO");
  expect_cli("fit --no-plots --runs", dir, 2, "a directory");
  expect_cli("fit --no-plots --runs", fifo, 2, "a FIFO");
  expect_cli("op mlstm --out /dev/null --in", dir, 2, "a directory");
  char out_dir[700];
  snprintf(out_dir, sizeof out_dir, "%s/prep", dir);
  char args[800];
  snprintf(args, sizeof args, "prepare --out '%s' --in", out_dir);
  expect_cli(args, fifo, 1, "a FIFO");
}

/* Output paths are checked before any work (a bad --json used to fail after the whole measurement, naming an
 * internal temp file), and an output may not overwrite an input. */
static void test_commands_check_outputs_first(void **state) {
  (void)state;
  char file[700], args[1600];
  snprintf(file, sizeof file, "%s/in.safetensors", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  expect_cli("peak --json", "/nonexistent-dir/p.json", 2, "does not exist");
  expect_cli("peak --json", dir, 2, "is a directory; give a file path");
  expect_cli("bench mlstm --json", "/nonexistent-dir/m.json", 2, "does not exist");
  expect_cli("bench attention --json", dir, 2, "is a directory");
  snprintf(args, sizeof args, "op mlstm --in '%s' --out", file);
  expect_cli(args, file, 2, "same file as the input");
  snprintf(args, sizeof args, "op attention --in '%s' --out", file);
  expect_cli(args, file, 2, "same file as the input");
  snprintf(args, sizeof args, "fit --runs '%s' --out", file);
  char below[800];
  snprintf(below, sizeof below, "%s/out", file);
  expect_cli(args, below, 2, "is not a directory");
  expect_cli("prepare --in /dev/null --out", below, 2, "is not a directory");
}

static void expect_out(int rc, const sc_err *err, const char *needle) {
  assert_int_equal(rc, -1);
  printf("  expected error: %s\n", err->msg);
  if (!strstr(err->msg, needle)) fail_msg("'%s' lacks '%s'", err->msg, needle);
}

static void test_output_paths(void **state) {
  (void)state;
  sc_err err;
  char file[700], sub[700], deep[700];
  snprintf(file, sizeof file, "%s/in.json", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(sub, sizeof sub, "%s/nodir/out.json", dir);
  snprintf(deep, sizeof deep, "%s/a/b/c", dir);
  const char *inputs[] = {NULL, file};
  /* Files. */
  assert_int_equal(sc_check_output_file("-", "--json", NULL, 0, &err), 0);
  assert_int_equal(sc_check_output_file(missing, "--json", inputs, 2, &err), 0);
  assert_int_equal(sc_check_output_file(file, "--json", NULL, 0, &err), 0); /* overwriting a non-input is fine */
  expect_out(sc_check_output_file(dir, "--json", NULL, 0, &err), &err, "is a directory");
  expect_out(sc_check_output_file(sub, "--json", NULL, 0, &err), &err, "does not exist");
  expect_out(sc_check_output_file(file, "--out", inputs, 2, &err), &err, "same file as the input");
  char alias[700];
  snprintf(alias, sizeof alias, "%s/./in.json", dir);
  expect_out(sc_check_output_file(alias, "--out", inputs, 2, &err), &err, "same file as the input");
  expect_out(sc_check_output_file("/nonexistent-dir/p.json", "--json", NULL, 0, &err), &err, "/nonexistent-dir");
  /* Directories: existing, new below an existing one, new several levels down, and a file in the way. */
  assert_int_equal(sc_check_output_dir(dir, "--out", &err), 0);
  assert_int_equal(sc_check_output_dir(deep, "--out", &err), 0);
  expect_out(sc_check_output_dir(file, "--out", &err), &err, "not a directory");
  char below_file[800];
  snprintf(below_file, sizeof below_file, "%s/x", file);
  expect_out(sc_check_output_dir(below_file, "--out", &err), &err, "is not a directory");
}

int main(void) {
  th_tmpdir("inputs", dir, sizeof dir);
  snprintf(fifo, sizeof fifo, "%s/pipe", dir);
  snprintf(missing, sizeof missing, "%s/missing.json", dir);
  if (mkfifo(fifo, 0600) != 0) {
    perror("mkfifo");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_readers_refuse_non_files),
      cmocka_unit_test(test_commands_refuse_non_files),
      cmocka_unit_test(test_output_paths),
      cmocka_unit_test(test_commands_check_outputs_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
