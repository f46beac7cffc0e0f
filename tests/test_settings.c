/* Settings: every SCALECL_* variable read in one place, with defaults; `scalecl env`, `--version`, and the
 * version and settings recorded in benchmark JSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "base/version.h"
#include "harness.h"

/* Values come from the environment at reload time, with defaults for unset or unusable ones. */
static void test_reload_and_defaults(void **state) {
  (void)state;
  th_setenv("SCALECL_DATA_DIR", NULL);
  th_setenv("SCALECL_MLSTM_WORKSPACE_MB", "abc");
  const sc_settings *s = sc_settings_get();
  assert_string_equal(s->data_dir, "data");
  assert_int_equal(s->mlstm_workspace_mb, 512);
  th_setenv("SCALECL_DATA_DIR", "/srv/corpus");
  th_setenv("SCALECL_MLSTM_WORKSPACE_MB", "64");
  th_setenv("SCALECL_CACHE_DEBUG", "0");
  assert_string_equal(s->data_dir, "/srv/corpus");
  assert_int_equal(s->mlstm_workspace_mb, 64);
  assert_int_equal(s->cache_debug, 0);
  th_setenv("SCALECL_CACHE_DEBUG", "1");
  assert_int_equal(s->cache_debug, 1);
  th_setenv("SCALECL_DATA_DIR", NULL);
  th_setenv("SCALECL_MLSTM_WORKSPACE_MB", NULL);
  th_setenv("SCALECL_CACHE_DEBUG", NULL);
}

/* The JSON names every variable that settings.c reads, with the value in use. */
static void test_json_lists_every_variable(void **state) {
  (void)state;
  th_setenv("SCALECL_GEMM", "own");
  cJSON *o = sc_settings_json();
  assert_non_null(o);
  static const char *const names[] = {"SCALECL_DEVICE",      "SCALECL_KERNEL_DIR",        "SCALECL_PROFILE_DIR",
                                      "SCALECL_CACHE_DIR",   "SCALECL_BUILD_OPTIONS",     "SCALECL_GEMM",
                                      "SCALECL_MODELS_DIR",  "SCALECL_DATA_DIR",          "SCALECL_GNUPLOT",
                                      "SCALECL_CACHE_DEBUG", "SCALECL_MLSTM_WORKSPACE_MB"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!cJSON_GetObjectItemCaseSensitive(o, names[i])) fail_msg("settings JSON lacks %s", names[i]);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "SCALECL_GEMM")->valuestring, "own");
  cJSON_Delete(o);
  th_setenv("SCALECL_GEMM", NULL);
  /* Every SCALECL_ name in settings.c appears in the JSON: count them in the source. */
  char *src;
  size_t len;
  static sc_err err;
  if (sc_read_file(SCALECL_SOURCE_DIR "/host/base/settings.c", &src, &len, &err)) fail_msg("%s", err.msg);
  o = sc_settings_json();
  for (const char *p = src; (p = strstr(p, "\"SCALECL_")) != NULL; p++) {
    char name[64];
    if (sscanf(p + 1, "%63[A-Z_0-9]", name) == 1 && !cJSON_GetObjectItemCaseSensitive(o, name))
      fail_msg("settings.c reads %s but sc_settings_json does not report it", name);
  }
  cJSON_Delete(o);
  free(src);
}

static void test_cli_env_and_version(void **state) {
  (void)state;
  char cmd[1024], out[8192];
  snprintf(cmd, sizeof cmd, "SCALECL_GEMM=clblast '%s' env --json", th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  cJSON *o = cJSON_Parse(out);
  if (!o) fail_msg("scalecl env --json is not JSON: %s", out);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "settings");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(s, "SCALECL_GEMM")->valuestring, "clblast");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "scalecl");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(v, "version")->valuestring, SCALECL_VERSION);
  cJSON_Delete(o);
  snprintf(cmd, sizeof cmd, "'%s' --version", th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_true(strncmp(out, "scalecl " SCALECL_VERSION " (git ", strlen("scalecl " SCALECL_VERSION " (git ")) == 0);
  assert_non_null(strstr(out, sc_version_line()));
}

/* `devices` marks the device SCALECL_DEVICE names, and none (with a warning) when it names nothing. */
static void test_devices_follow_scalecl_device(void **state) {
  (void)state;
  char cmd[1024], out[16384];
  snprintf(cmd, sizeof cmd, "SCALECL_DEVICE=no-such-device '%s' devices --format csv 2>&1", th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "SCALECL_DEVICE='no-such-device' matches no device"));
  for (const char *line = strchr(out, '\n'); line; line = strchr(line + 1, '\n')) {
    const char *comma = strchr(line + 1, ',');
    if (comma && !strncmp(comma, ",true,", 6)) fail_msg("a device is marked default: %s", out);
  }
  snprintf(cmd, sizeof cmd, "SCALECL_DEVICE=0 '%s' devices --format csv 2>&1", th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "\n0,true,"));
}

/* `devices` names the profile each device uses; a device without one gets a hint on tuning, and benchmark JSON
 * records the profile. */
static void test_devices_name_profiles(void **state) {
  (void)state;
  char dir[512], cmd[2048], out[16384];
  th_tmpdir("profiles", dir, sizeof dir);
  snprintf(cmd, sizeof cmd, "SCALECL_PROFILE_DIR='%s' '%s' devices --format csv 2>&1", dir, th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, ",profile,"));
  assert_non_null(strstr(out, ",none,"));
  assert_non_null(strstr(out, "profile none: no device profile matches, so defaults are used; tune CLBlast"));
  char prof[700];
  snprintf(prof, sizeof prof, "%s/mine.json", dir);
  static sc_err err;
  const char *body = "{\"match\": [\"\"], \"gemm_backend\": \"own\"}";
  if (sc_write_file_atomic(prof, body, strlen(body), &err)) fail_msg("%s", err.msg);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, ",mine.json,"));
  assert_null(strstr(out, "profile none"));
  snprintf(cmd, sizeof cmd,
           "SCALECL_PROFILE_DIR='%s' '%s' bench gemm --shapes 16x16x16 --samples 1 --json - 2>/dev/null", dir,
           th_scalecl_bin());
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"profile\":\t\"mine.json\""));
}

/* A benchmark JSON records the version and the settings it ran with. */
static void test_bench_json_records_settings(void **state) {
  (void)state;
  char dir[512], cmd[2048], out[4096], path[600];
  th_tmpdir("settings", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/peak.json", dir);
  snprintf(cmd, sizeof cmd, "SCALECL_MLSTM_WORKSPACE_MB=96 '%s' peak --quick --no-gemm --json '%s' >/dev/null",
           th_scalecl_bin(), path);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  char *text;
  static sc_err err;
  if (sc_read_file(path, &text, NULL, &err)) fail_msg("%s", err.msg);
  cJSON *o = cJSON_Parse(text);
  free(text);
  assert_non_null(o);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "settings");
  assert_non_null(s);
  assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(s, "SCALECL_MLSTM_WORKSPACE_MB")->valuedouble, 96);
  assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "scalecl"), "git_revision"));
  cJSON_Delete(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reload_and_defaults),           cmocka_unit_test(test_json_lists_every_variable),
      cmocka_unit_test(test_cli_env_and_version),           cmocka_unit_test(test_bench_json_records_settings),
      cmocka_unit_test(test_devices_follow_scalecl_device), cmocka_unit_test(test_devices_name_profiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
