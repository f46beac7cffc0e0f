/* Kernel-variant selection (runtime/variant.h): the environment forces, else the profile, else the device type;
 * tile defaults overridden by the profile and by the tuner's override; bad values named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "runtime/variant.h"

static sc_err err;

static void write_profile(const char *dir, const char *text) {
  char path[600];
  snprintf(path, sizeof path, "%s/test.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Opens a context on a fresh profiles directory holding `profile` (NULL: no profile). */
static void open_with(sc_ctx *c, const char *tag, const char *profile) {
  char dir[512];
  th_tmpdir(tag, dir, sizeof dir);
  if (profile) write_profile(dir, profile);
  th_setenv("SCALECL_PROFILE_DIR", dir);
  th_ctx_open(c);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

static void test_device_type_decides_without_profile(void **state) {
  (void)state;
  sc_ctx c;
  open_with(&c, "variant-none", NULL);
  sc_variant v;
  char defs[256];
  if (sc_variant_pick(&c, "mlstm", NULL, "A=1", "A=2 B=3", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  const int gpu = (c.dev.type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0;
  assert_int_equal(v, gpu ? SC_VARIANT_GPU : SC_VARIANT_CPU);
  assert_string_equal(defs, gpu ? "A=2 B=3" : "A=1");
  cJSON *j = sc_variants_json(&c);
  assert_non_null(j);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "mlstm");
  assert_non_null(m);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "variant")->valuestring, gpu ? "gpu" : "cpu");
  assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(m, "why")->valuestring, "device type"));
  cJSON_Delete(j);
  sc_ctx_close(&c);
}

static void test_environment_forces_and_bad_value_named(void **state) {
  (void)state;
  sc_ctx c;
  open_with(&c, "variant-env", "{\"match\": [\"\"], \"kernel_variant\": \"cpu\"}");
  sc_variant v;
  char defs[256];
  th_setenv("SCALECL_KERNEL_VARIANT", "gpu");
  if (sc_variant_pick(&c, "attention", NULL, NULL, "WG=64", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_int_equal(v, SC_VARIANT_GPU);
  assert_string_equal(defs, "WG=64");
  th_setenv("SCALECL_KERNEL_VARIANT", "fast");
  assert_int_not_equal(sc_variant_pick(&c, "attention", NULL, NULL, "WG=64", &v, defs, sizeof defs, &err), 0);
  assert_non_null(strstr(err.msg, "SCALECL_KERNEL_VARIANT='fast'"));
  th_setenv("SCALECL_KERNEL_VARIANT", NULL);
  /* Without the variable the profile decides. */
  if (sc_variant_pick(&c, "attention", NULL, NULL, "WG=64", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_int_equal(v, SC_VARIANT_CPU);
  assert_string_equal(defs, "");
  sc_ctx_close(&c);
}

static void test_profile_per_family_and_tiles(void **state) {
  (void)state;
  sc_ctx c;
  open_with(&c, "variant-tiles",
            "{\"match\": [\"\"], \"kernel_variant\": {\"gemm\": \"gpu\", \"norm\": \"cpu\"},"
            " \"tiles\": {\"gemm_gpu\": {\"TM\": 8, \"VW\": \"4\"}}}");
  sc_variant v;
  char defs[256];
  if (sc_variant_pick(&c, "gemm", NULL, "RM=4", "TM=4 TN=4 VW=1", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_int_equal(v, SC_VARIANT_GPU);
  assert_string_equal(defs, "TM=8 TN=4 VW=4");
  if (sc_variant_pick(&c, "norm", NULL, NULL, "WG=128", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_int_equal(v, SC_VARIANT_CPU);
  /* The tuner's override replaces the profile's values for its key only. */
  snprintf(c.tile_key, sizeof c.tile_key, "gemm_gpu");
  snprintf(c.tile_override, sizeof c.tile_override, "TN=8");
  if (sc_variant_pick(&c, "gemm", NULL, "RM=4", "TM=4 TN=4 VW=1", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_string_equal(defs, "TM=8 TN=8 VW=4");
  snprintf(c.tile_override, sizeof c.tile_override, "XX=2");
  assert_int_not_equal(sc_variant_pick(&c, "gemm", NULL, "RM=4", "TM=4 TN=4 VW=1", &v, defs, sizeof defs, &err), 0);
  assert_non_null(strstr(err.msg, "'XX'"));
  assert_non_null(strstr(err.msg, "TM, TN, VW"));
  sc_ctx_close(&c);
}

/* A shape's entry ("attention_gpu@dh128") applies on top of the family's, for that shape only, and says so. */
static void test_profile_shape_tiles(void **state) {
  (void)state;
  sc_ctx c;
  open_with(&c, "variant-shape",
            "{\"match\": [\"\"], \"kernel_variant\": \"gpu\", \"tiles\": {\"attention_gpu\": {\"BR\": 64},"
            " \"attention_gpu@dh128\": {\"WR\": 8}, \"attention_gpu@dh256\": {\"XX\": 1}}}");
  sc_variant v;
  char defs[256];
  if (sc_variant_pick(&c, "attention", "dh128", NULL, "BR=32 WR=4", &v, defs, sizeof defs, &err))
    fail_msg("%s", err.msg);
  assert_string_equal(defs, "BR=64 WR=8");
  cJSON *j = sc_variants_json(&c);
  assert_non_null(j);
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "attention");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "why")->valuestring,
                      "profile test.json; tiles attention_gpu and attention_gpu@dh128 of test.json");
  cJSON_Delete(j);
  if (sc_variant_pick(&c, "attention", "dh64", NULL, "BR=32 WR=4", &v, defs, sizeof defs, &err))
    fail_msg("%s", err.msg);
  assert_string_equal(defs, "BR=64 WR=4");
  if (sc_variant_pick(&c, "attention", NULL, NULL, "BR=32 WR=4", &v, defs, sizeof defs, &err)) fail_msg("%s", err.msg);
  assert_string_equal(defs, "BR=64 WR=4");
  assert_int_not_equal(sc_variant_pick(&c, "attention", "dh256", NULL, "BR=32 WR=4", &v, defs, sizeof defs, &err), 0);
  assert_non_null(strstr(err.msg, "tiles.attention_gpu@dh256"));
  sc_ctx_close(&c);
}

static void test_profile_errors_name_file_and_key(void **state) {
  (void)state;
  sc_ctx c;
  sc_variant v;
  open_with(&c, "variant-bad1", "{\"match\": [\"\"], \"kernel_variant\": {\"gemm\": \"tpu\"}}");
  assert_int_not_equal(sc_variant_pick(&c, "gemm", NULL, NULL, NULL, &v, NULL, 0, &err), 0);
  assert_non_null(strstr(err.msg, "test.json"));
  assert_non_null(strstr(err.msg, "kernel_variant for gemm"));
  sc_ctx_close(&c);
  open_with(&c, "variant-bad2",
            "{\"match\": [\"\"], \"kernel_variant\": \"gpu\", \"tiles\": {\"gemm_gpu\": {\"TQ\": 2}}}");
  assert_int_not_equal(sc_variant_pick(&c, "gemm", NULL, NULL, "TM=4", &v, NULL, 0, &err), 0);
  assert_non_null(strstr(err.msg, "tiles.gemm_gpu"));
  assert_non_null(strstr(err.msg, "'TQ'"));
  sc_ctx_close(&c);
}

/* An op reads its tile values back from the defines string: by name, else the fallback. */
static void test_tile_value_read_back(void **state) {
  (void)state;
  assert_int_equal(sc_variant_tile("SUMSQ_PARTS=512 WG=256", "WG", 7), 256);
  assert_int_equal(sc_variant_tile("SUMSQ_PARTS=512 WG=256", "SUMSQ_PARTS", 7), 512);
  assert_int_equal(sc_variant_tile("SUMSQ_PARTS=512", "WG", 7), 7);
  assert_int_equal(sc_variant_tile("WG=wide", "WG", 7), 7);
  assert_int_equal(sc_variant_tile("", "WG", 7), 7);
  assert_int_equal(sc_variant_tile(NULL, "WG", 7), 7);
}

/* LS and NEXP, absent or 0 or 1, pass; anything else names the family, the tiles and the switch. */
static void test_switches_zero_or_one(void **state) {
  (void)state;
  sc_err err;
  assert_int_equal(sc_variant_switches_check("mlstm", "TM=32 LS=0 NEXP=1", &err), 0);
  assert_int_equal(sc_variant_switches_check("mlstm", "TM=32", &err), 0);
  assert_int_equal(sc_variant_switches_check("attention", "BR=32 LS=2", &err), -1);
  assert_non_null(strstr(err.msg, "attention gpu tiles 'BR=32 LS=2': LS must be 0"));
  assert_int_equal(sc_variant_switches_check("mlstm", "NEXP=-1", &err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_device_type_decides_without_profile),
      cmocka_unit_test(test_environment_forces_and_bad_value_named),
      cmocka_unit_test(test_profile_per_family_and_tiles),
      cmocka_unit_test(test_profile_shape_tiles),
      cmocka_unit_test(test_profile_errors_name_file_and_key),
      cmocka_unit_test(test_tile_value_read_back),
      cmocka_unit_test(test_switches_zero_or_one),
  };
  return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL), sizeof tests / sizeof tests[0]);
}
