/* Device profiles (runtime/profile.h): a profiles directory holding the input as its one file, matched against
 * PoCL's CPU device. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "runtime/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sc_device_info dev;
  snprintf(dev.name, sizeof dev.name, "cpu-haswell-AMD EPYC 7B13 64-Core Processor");
  snprintf(dev.platform_name, sizeof dev.platform_name, "Portable Computing Language");
  fuzz_file("pocl-cpu.json", data, size);
  cJSON *root;
  char path[4400];
  if (sc_profile_find_in(fuzz_dir(), &dev, &root, path, sizeof path, fuzz_err()) == 0) cJSON_Delete(root);
  return 0;
}
