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
/* The same for a device that has no context (`scalecl devices`): dir is the profiles directory. */
int sc_profile_find_in(const char *dir, const sc_device_info *dev, cJSON **root, char *path, size_t cap, sc_err *err);
/* The profiles directory: $SCALECL_PROFILE_DIR, else profiles/ next to the executable. */
void sc_profile_dir(char *buf, size_t cap);
/* The file name of the profile that applies to the device ("pocl-cpu.json"), or "none" (also when a profile
 * is unreadable: the error surfaces when an op loads it). */
void sc_profile_name(const char *dir, const sc_device_info *dev, char *name, size_t cap);
/* One line for a device without a profile: it runs on safe defaults; how to tune it. */
#define SC_PROFILE_HINT                                                                                           \
  "no device profile matches, so defaults are used; tune CLBlast with clblast_tuner_xgemm (Debian "              \
  "clblast-utils) and put the parameters in a profile (platforms/README.md)"

#endif
