/* What built this binary: scalecl version, git revision, build type, the OpenCL API level it targets and
 * the CLBlast it was built against. `scalecl --version` prints it; every JSON output records it. */
#ifndef SCALECL_BASE_VERSION_H
#define SCALECL_BASE_VERSION_H

#include <cjson/cJSON.h>

/* One line: "scalecl 0.1.0 (git abc1234, RelWithDebInfo; OpenCL 1.2 API, CLBlast 1.5.3)". */
const char *sc_version_line(void);
/* {"version", "git_revision", "build_type", "opencl_api", "clblast"}; NULL when out of memory. */
cJSON *sc_version_json(void);

#endif
