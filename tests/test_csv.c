/* CSV reader: quoting, CRLF, blank lines, numbers, and malformed rows reported with their line numbers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/csv.h"
#include "harness.h"

static void parse_ok(const char *text, sc_csv *t) {
  sc_err err;
  if (sc_csv_parse(text, strlen(text), "t.csv", t, &err)) fail_msg("unexpected parse failure: %s", err.msg);
}

static void test_quoting_and_line_ends(void **state) {
  (void)state;
  sc_csv t;
  parse_ok(
      "\xEF\xBB\xBF"
      "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,,\"multi\nline\"\n3,z,\n",
      &t);
  assert_int_equal(t.ncols, 3);
  assert_string_equal(t.header[0], "a");
  assert_string_equal(t.header[2], "c");
  assert_int_equal(t.nrows, 3);
  assert_string_equal(sc_csv_cell(&t, 0, 1), "x, y");
  assert_string_equal(sc_csv_cell(&t, 0, 2), "say \"hi\"");
  assert_string_equal(sc_csv_cell(&t, 1, 1), "");
  assert_string_equal(sc_csv_cell(&t, 1, 2), "multi\nline");
  assert_string_equal(sc_csv_cell(&t, 2, 1), "z");
  assert_string_equal(sc_csv_cell(&t, 2, 2), "");
  /* Line numbers count the header as line 1, blank lines, and the newline inside the quoted field. */
  assert_int_equal(t.lines[0], 2);
  assert_int_equal(t.lines[1], 4);
  assert_int_equal(t.lines[2], 6);
  assert_int_equal(sc_csv_col(&t, "b"), 1);
  assert_int_equal(sc_csv_col(&t, "nope"), -1);
  sc_csv_free(&t);
  /* No newline at the end of the file. */
  parse_ok("a,b\n1,2", &t);
  assert_int_equal(t.nrows, 1);
  assert_string_equal(sc_csv_cell(&t, 0, 1), "2");
  sc_csv_free(&t);
}

static void test_numbers(void **state) {
  (void)state;
  sc_csv t;
  parse_ok("x,y\n1.5e3, 2 \n,abc\n1e999,-0\n", &t);
  sc_err err;
  double v;
  assert_int_equal(sc_csv_number(&t, 0, 0, &v, &err), 0);
  assert_true(v == 1500.0);
  assert_int_equal(sc_csv_number(&t, 0, 1, &v, &err), 0);
  assert_true(v == 2.0);
  assert_int_equal(sc_csv_number(&t, 1, 0, &v, &err), 1);
  assert_true(isnan(v));
  assert_int_equal(sc_csv_number(&t, 1, 1, &v, &err), -1);
  if (!strstr(err.msg, "t.csv:3") || !strstr(err.msg, "'y'") || !strstr(err.msg, "abc"))
    fail_msg("message lacks file:line, column or value: %s", err.msg);
  assert_int_equal(sc_csv_number(&t, 2, 0, &v, &err), -1); /* overflow is not a finite number */
  assert_int_equal(sc_csv_number(&t, 2, 1, &v, &err), 0);
  sc_csv_free(&t);
}

static void test_malformed_rows(void **state) {
  (void)state;
  const char *text =
      "a,b,c\n"
      "1,2,3\n"
      "1,2\n"        /* line 3: too few fields */
      "1,2,3,4\n"    /* line 4: too many */
      "1,x\"y,3\n"   /* line 5: quote inside an unquoted field */
      "1,\"q\"z,3\n" /* line 6: text after a closing quote */
      "4,5,6\n"
      "7,\"open,8\n"; /* line 8: never closed */
  sc_csv t;
  sc_err err;
  assert_int_equal(sc_csv_parse(text, strlen(text), "bad.csv", &t, &err), -1);
  static const char *const want[] = {"5 malformed rows",
                                     "bad.csv:3: 2 fields, the header has 3",
                                     "bad.csv:4: 4 fields",
                                     "bad.csv:5: quote inside unquoted field 2",
                                     "bad.csv:6: text after the closing quote of field 2",
                                     "bad.csv:8: quote opened on line 8 is never closed"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!strstr(err.msg, want[i])) fail_msg("'%s' missing from: %s", want[i], err.msg);
  assert_int_equal(sc_csv_parse("", 0, "empty.csv", &t, &err), -1);
  if (!strstr(err.msg, "empty.csv is empty")) fail_msg("unexpected: %s", err.msg);
  assert_int_equal(sc_csv_read("/nonexistent/x.csv", &t, &err), -1);
  if (!strstr(err.msg, "/nonexistent/x.csv")) fail_msg("unexpected: %s", err.msg);
}

/* More than 10 bad rows: the first 10 are listed and the count is exact. */
static void test_many_malformed(void **state) {
  (void)state;
  char text[4096] = "a,b\n";
  for (int i = 0; i < 25; i++) strcat(text, i % 2 ? "1,2\n" : "1\n");
  sc_csv t;
  sc_err err;
  assert_int_equal(sc_csv_parse(text, strlen(text), "m.csv", &t, &err), -1);
  if (!strstr(err.msg, "13 malformed rows") || !strstr(err.msg, "m.csv:2:") || !strstr(err.msg, "m.csv:20:") ||
      strstr(err.msg, "m.csv:22:") || !strstr(err.msg, "..."))
    fail_msg("unexpected: %s", err.msg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quoting_and_line_ends),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_malformed_rows),
      cmocka_unit_test(test_many_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
