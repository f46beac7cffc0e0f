/* scalecl env: the version and every setting (SCALECL_* variables with defaults filled in), so that a
 * number can be traced to what produced it. Benchmark JSON records the same object. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/args.h"
#include "base/settings.h"
#include "base/version.h"
#include "cli/commands.h"

int cmd_env(int argc, char **argv, sc_err *err) {
  int json = 0;
  const sc_option opts[] = {
      {"json", SC_OPT_FLAG, &json, NULL, .help = "print {\"scalecl\": version, \"settings\": {...}} as JSON"}};
  const sc_args args = {
      "scalecl env [--json]",
      "Prints the scalecl version and every SCALECL_* setting as the library uses it (defaults filled\n"
      "in; empty means the built-in default described in README.md). Benchmark JSON records the same.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  cJSON *root = cJSON_CreateObject(), *settings = sc_settings_json(), *version = sc_version_json();
  if (!root || !settings || !version) {
    cJSON_Delete(root);
    cJSON_Delete(settings);
    cJSON_Delete(version);
    return sc_fail(err, "out of host memory"), 1;
  }
  cJSON_AddItemToObject(root, "scalecl", version);
  cJSON_AddItemToObject(root, "settings", settings);
  if (json) {
    char *s = cJSON_Print(root);
    if (s) printf("%s\n", s);
    free(s);
  } else {
    printf("%s\n", sc_version_line());
    const cJSON *it;
    cJSON_ArrayForEach(it, settings) {
      if (cJSON_IsString(it))
        printf("%-28s %s\n", it->string, *it->valuestring ? it->valuestring : "(default)");
      else if (cJSON_IsBool(it))
        printf("%-28s %s\n", it->string, cJSON_IsTrue(it) ? "1" : "0");
      else
        printf("%-28s %g\n", it->string, it->valuedouble);
    }
  }
  cJSON_Delete(root);
  return 0;
}
