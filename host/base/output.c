#include "base/output.h"

#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "base/version.h"

int sc_output_begin(sc_output *o, sc_err *err) {
  if (o->json && !strcmp(o->json, "-")) {
    if (o->format != SC_FORMAT_TABLE && o->format != SC_FORMAT_JSON)
      return sc_fail(err, "--json - writes JSON to stdout, which --format %s also wants; give --json FILE",
                     sc_format_names[o->format]);
    o->format = SC_FORMAT_JSON;
    o->json = NULL;
  }
  o->human = o->format == SC_FORMAT_TABLE ? stdout : stderr;
  return 0;
}

/* Adds the tables with their units, the version and the settings to root. */
static int complete(cJSON *root, sc_table *const *tables, int n, sc_err *err) {
  cJSON *units = n ? cJSON_CreateObject() : NULL;
  if (n && (!units || !cJSON_AddItemToObject(root, "units", units))) {
    cJSON_Delete(units);
    return sc_fail(err, "out of host memory formatting JSON");
  }
  for (int i = 0; i < n; i++) {
    cJSON *rows = sc_table_json(tables[i], units, err);
    if (!rows) return -1;
    if (!cJSON_AddItemToObject(root, sc_table_key(tables[i]), rows)) {
      cJSON_Delete(rows);
      return sc_fail(err, "out of host memory formatting JSON");
    }
  }
  cJSON *version = sc_version_json(), *settings = sc_settings_json();
  if (!version || !settings || !cJSON_AddItemToObject(root, "scalecl", version)) {
    cJSON_Delete(version);
    cJSON_Delete(settings);
    return sc_fail(err, "out of host memory formatting JSON");
  }
  if (!cJSON_AddItemToObject(root, "settings", settings)) {
    cJSON_Delete(settings);
    return sc_fail(err, "out of host memory formatting JSON");
  }
  return 0;
}

int sc_output_emit(const sc_output *o, cJSON *root, sc_table *const *tables, int n, sc_err *err) {
  if (o->format != SC_FORMAT_JSON) {
    for (int i = 0; i < n; i++) {
      if (i) putchar('\n');
      if (sc_table_print(stdout, tables[i], (sc_format)o->format, err)) return -1;
    }
    fflush(stdout);
  }
  if (o->format != SC_FORMAT_JSON && !o->json) return 0;
  if (!root) return sc_fail(err, "out of host memory formatting JSON");
  if (complete(root, tables, n, err)) return -1;
  char *text = cJSON_Print(root);
  if (!text) return sc_fail(err, "out of host memory formatting JSON");
  int rc = 0;
  if (o->format == SC_FORMAT_JSON) {
    printf("%s\n", text);
    fflush(stdout);
  }
  if (o->json) rc = sc_write_file_atomic(o->json, text, strlen(text), err);
  free(text);
  return rc;
}
