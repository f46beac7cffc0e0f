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

/* Commands name the path; exit 1, nothing hangs (ctest's timeout would catch a blocked open). */
static void test_commands_refuse_non_files(void **state) {
  (void)state;
  const char *cases[][3] = {
      {"flops --model", dir, "is a directory without a config.json"},
      {"flops --model", fifo, "a FIFO"},
      {"fit --no-plots --runs", dir, "a directory"},
      {"fit --no-plots --runs", fifo, "a FIFO"},
      {"op mlstm --out /dev/null --in", dir, "a directory"},
      {"prepare --out /dev/null --in", fifo, "a FIFO"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' 2>&1", th_scalecl_bin(), cases[i][0], cases[i][1]);
    int rc = th_run_capture(cmd, out, sizeof out);
    printf("  %s -> %d: %s", cases[i][0], rc, out);
    if (rc != 1 || !strstr(out, cases[i][1]) || !strstr(out, cases[i][2]))
      fail_msg("%s %s: exit %d, output lacks '%s': %s", cases[i][0], cases[i][1], rc, cases[i][2], out);
  }
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
