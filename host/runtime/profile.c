#include "runtime/profile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int matches(const cJSON *root, const sc_device_info *d) {
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(root, "match"), *m;
  if (!cJSON_IsArray(match) || cJSON_GetArraySize(match) == 0) return 0;
  cJSON_ArrayForEach(m, match) {
    if (!cJSON_IsString(m) || (!strstr(d->name, m->valuestring) && !strstr(d->platform_name, m->valuestring))) return 0;
  }
  return 1;
}

int sc_profile_find(const sc_ctx *c, cJSON **root, char *path, size_t cap, sc_err *err) {
  *root = NULL;
  if (cap) path[0] = '\0';
  DIR *d = opendir(c->profile_dir);
  if (!d) return 0;
  struct dirent *ent;
  int rc = 0;
  while (!*root && (ent = readdir(d)) != NULL) {
    size_t nl = strlen(ent->d_name);
    if (nl < 6 || strcmp(ent->d_name + nl - 5, ".json") != 0) continue;
    char *text;
    snprintf(path, cap, "%s/%s", c->profile_dir, ent->d_name);
    if (sc_read_file(path, &text, NULL, err)) {
      rc = -1;
      break;
    }
    cJSON *r = cJSON_Parse(text);
    free(text);
    if (!r) {
      rc = sc_fail(err, "profile %s is not valid JSON (near '%.24s')", path,
                   cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "?");
      break;
    }
    if (matches(r, &c->dev))
      *root = r;
    else
      cJSON_Delete(r);
  }
  closedir(d);
  if (!*root && cap) path[0] = '\0';
  return rc;
}
