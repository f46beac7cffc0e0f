/* Per-device profiles (platforms/profiles/NAME.json, copied next to the binary): tuning parameters that ops read,
 * never hard-coded. A profile applies when every string of its "match" array occurs in the platform or
 * device name; the first such file (in directory order) wins. The runtime only finds and parses the file;
 * each op reads its own keys. */
#ifndef SCALECL_RUNTIME_PROFILE_H
#define SCALECL_RUNTIME_PROFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "runtime/context.h"

/* Sets *root to the parsed profile matching c's device (the caller deletes it) and path to its file, or
 * *root = NULL when none matches or the directory is missing. A profile that is not valid JSON is an error
 * naming the file. */
int sc_profile_find(const sc_ctx *c, cJSON **root, char *path, size_t cap, sc_err *err);

#endif
