#include "runtime/profile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "base/settings.h"

static int matches(const cJSON *root, const sc_device_info *d) {
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(root, "match"), *m;
  if (!cJSON_IsArray(match) || cJSON_GetArraySize(match) == 0) return 0;
  cJSON_ArrayForEach(m, match) {
    if (!cJSON_IsString(m) || (!strstr(d->name, m->valuestring) && !strstr(d->platform_name, m->valuestring))) return 0;
  }
  return 1;
}

int sc_profile_find(const sc_ctx *c, cJSON **root, char *path, size_t cap, sc_err *err) {
  return sc_profile_find_in(c->profile_dir, &c->dev, root, path, cap, err);
}

void sc_profile_dir(char *buf, size_t cap) {
  const char *dir = sc_settings_get()->profile_dir;
  if (*dir) {
    snprintf(buf, cap, "%s", dir);
    return;
  }
  char ed[4096];
  sc_exe_dir(ed, sizeof ed);
  snprintf(buf, cap, "%.4000s/profiles", ed);
}

void sc_profile_name(const char *dir, const sc_device_info *dev, char *name, size_t cap) {
  cJSON *root;
  char path[4400];
  sc_err err;
  snprintf(name, cap, "none");
  if (sc_profile_find_in(dir, dev, &root, path, sizeof path, &err) || !root) return;
  cJSON_Delete(root);
  const char *slash = strrchr(path, '/');
  snprintf(name, cap, "%s", slash ? slash + 1 : path);
}

int sc_profile_find_in(const char *dir, const sc_device_info *dev, cJSON **root, char *path, size_t cap, sc_err *err) {
  *root = NULL;
  if (cap) path[0] = '\0';
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *ent;
  int rc = 0;
  while (!*root && (ent = readdir(d)) != NULL) {
    size_t nl = strlen(ent->d_name);
    if (nl < 6 || strcmp(ent->d_name + nl - 5, ".json") != 0) continue;
    char *text;
    snprintf(path, cap, "%s/%s", dir, ent->d_name);
    if (sc_read_file(path, &text, NULL, err)) {
      rc = -1;
      break;
    }
    cJSON *r = cJSON_Parse(text);
    /* cJSON's error position points into text: quote it before freeing. */
    if (!r)
      rc = sc_fail(err, "profile %s is not valid JSON (near '%.24s')", path,
                   cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "?");
    free(text);
    if (!r) break;
    if (matches(r, dev))
      *root = r;
    else
      cJSON_Delete(r);
  }
  closedir(d);
  if (!*root && cap) path[0] = '\0';
  return rc;
}
