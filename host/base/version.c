#include "base/version.h"

#include <stdio.h>

/* CMake sets these for this file only, so a new revision recompiles one file. */
#ifndef SCALECL_GIT_REVISION
#define SCALECL_GIT_REVISION "unknown"
#endif
#ifndef SCALECL_BUILD_TYPE
#define SCALECL_BUILD_TYPE "unknown"
#endif
#ifndef SCALECL_CLBLAST_VERSION
#define SCALECL_CLBLAST_VERSION "unknown"
#endif
#define SC_OPENCL_API "1.2"

const char *sc_version_line(void) {
  static char line[256];
  snprintf(line, sizeof line, "scalecl %s (git %s, %s; OpenCL %s API, CLBlast %s)", SCALECL_VERSION,
           SCALECL_GIT_REVISION, SCALECL_BUILD_TYPE, SC_OPENCL_API, SCALECL_CLBLAST_VERSION);
  return line;
}

cJSON *sc_version_json(void) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (!cJSON_AddStringToObject(o, "version", SCALECL_VERSION) ||
      !cJSON_AddStringToObject(o, "git_revision", SCALECL_GIT_REVISION) ||
      !cJSON_AddStringToObject(o, "build_type", SCALECL_BUILD_TYPE) ||
      !cJSON_AddStringToObject(o, "opencl_api", SC_OPENCL_API) ||
      !cJSON_AddStringToObject(o, "clblast", SCALECL_CLBLAST_VERSION)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
