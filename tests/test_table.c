/* The table renderers: each format for a small table with strings, numbers, booleans, missing values, a column
 * with no value (left out of the aligned formats), a wide column, and CSV's comma and quote escapes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/table.h"
#include "harness.h"

enum { C_NAME, C_VALUE, C_FLAG, C_EMPTY, C_NOTE, C_N };
static const sc_col cols[C_N] = {
    {"name", NULL, SC_COL_STR, NULL, 0},
    {"value", "ms", SC_COL_NUM, "%.1f", 0},
    {"flag", NULL, SC_COL_BOOL, NULL, 0},
    {"empty", NULL, SC_COL_NUM, NULL, 0},
    {"note", NULL, SC_COL_STR, NULL, 1 /* wide */},
};

static sc_table *sample(void) {
  static sc_err err;
  sc_table *t = sc_table_create("rows", cols, C_N, &err);
  assert_non_null(t);
  sc_table_row(t);
  sc_table_str(t, C_NAME, "a");
  sc_table_num(t, C_VALUE, 1.5);
  sc_table_bool(t, C_FLAG, 1);
  sc_table_str(t, C_NOTE, "x,y");
  sc_table_row(t);
  sc_table_str(t, C_NAME, "say \"hi\"");
  sc_table_num(t, C_VALUE, NAN); /* missing */
  sc_table_bool(t, C_FLAG, 0);
  sc_table_str(t, C_NOTE, "plain");
  return t;
}

static void expect_render(sc_format fmt, const char *want) {
  static sc_err err;
  sc_table *t = sample();
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(sc_table_print(f, t, fmt, &err), 0);
  fclose(f);
  if (strcmp(buf, want)) fail_msg("%s rendered\n%s\nwanted\n%s", sc_format_names[fmt], buf, want);
  free(buf);
  sc_table_destroy(t);
}

static void test_table_aligns_and_leaves_out_empty_and_wide_columns(void **state) {
  (void)state;
  expect_render(SC_FORMAT_TABLE,
                "name      value  flag\n"
                "a           1.5   yes\n"
                "say \"hi\"      -    no\n");
}

/* A table without rows still names its columns. */
static void test_empty_table_prints_its_header(void **state) {
  (void)state;
  static sc_err err;
  sc_table *t = sc_table_create("rows", cols, C_N, &err);
  assert_non_null(t);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(sc_table_print(f, t, SC_FORMAT_TABLE, &err), 0);
  fclose(f);
  assert_string_equal(buf, "name  value  flag  empty\n");
  free(buf);
  sc_table_destroy(t);
}

static void test_markdown(void **state) {
  (void)state;
  expect_render(SC_FORMAT_MD,
                "| name | value | flag |\n"
                "| --- | --: | --: |\n"
                "| a | 1.5 | yes |\n"
                "| say \"hi\" | - | no |\n");
}

static void test_csv_quotes_and_keeps_every_column(void **state) {
  (void)state;
  expect_render(SC_FORMAT_CSV,
                "name,value,flag,empty,note\n"
                "a,1.5,true,,\"x,y\"\n"
                "\"say \"\"hi\"\"\",,false,,plain\n");
}

static void test_json_rows_keyed_by_column_names(void **state) {
  (void)state;
  static sc_err err;
  sc_table *t = sample();
  cJSON *units = cJSON_CreateObject();
  cJSON *rows = sc_table_json(t, units, &err);
  assert_non_null(rows);
  assert_int_equal(cJSON_GetArraySize(rows), 2);
  const cJSON *r0 = cJSON_GetArrayItem(rows, 0), *r1 = cJSON_GetArrayItem(rows, 1), *k;
  int j = 0;
  cJSON_ArrayForEach(k, r0) assert_string_equal(k->string, cols[j++].name);
  assert_int_equal(j, C_N);
  assert_string_equal(cJSON_GetObjectItem(r0, "name")->valuestring, "a");
  assert_true(cJSON_GetObjectItem(r0, "value")->valuedouble == 1.5);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r0, "flag")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r0, "empty")));
  assert_string_equal(cJSON_GetObjectItem(r0, "note")->valuestring, "x,y");
  assert_string_equal(cJSON_GetObjectItem(r1, "name")->valuestring, "say \"hi\"");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r1, "value")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r1, "flag")));
  assert_string_equal(cJSON_GetObjectItem(units, "value")->valuestring, "ms");
  assert_int_equal(cJSON_GetArraySize(units), 1);
  cJSON_Delete(rows);
  cJSON_Delete(units);
  sc_table_destroy(t);
}

/* Three significant digits without exponents across the decades devices span; exponents only far outside. */
static void test_sig3(void **state) {
  (void)state;
  static const struct {
    double v;
    const char *want;
  } cases[] = {{61926.28, "61926"}, {11425.9, "11426"}, {123.456, "123"},      {42.66, "42.7"},
               {5.128, "5.13"},     {0.2834, "0.283"},  {0.004567, "0.00457"}, {-2.5, "-2.50"},
               {0.0, "0"},          {1e-5, "1e-05"},    {2.5e9, "2.5e+09"},    {NAN, "nan"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    sc_fmt_sig3(cases[i].v, buf, sizeof buf);
    assert_string_equal(buf, cases[i].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_aligns_and_leaves_out_empty_and_wide_columns),
      cmocka_unit_test(test_empty_table_prints_its_header),
      cmocka_unit_test(test_markdown),
      cmocka_unit_test(test_csv_quotes_and_keeps_every_column),
      cmocka_unit_test(test_json_rows_keyed_by_column_names),
      cmocka_unit_test(test_sig3),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
