#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/args.h"
#include "base/settings.h"
#include "cli/commands.h"
#include "runtime/context.h"

static cJSON *device_json(const sc_device_info *d, int is_default) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "index", d->index);
  cJSON_AddBoolToObject(o, "default", is_default);
  cJSON_AddStringToObject(o, "platform", d->platform_name);
  cJSON_AddStringToObject(o, "platform_version", d->platform_version);
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "vendor", d->vendor);
  cJSON_AddStringToObject(o, "type", sc_device_type_name(d->type));
  cJSON_AddStringToObject(o, "device_version", d->device_version);
  cJSON_AddStringToObject(o, "driver_version", d->driver_version);
  cJSON_AddStringToObject(o, "opencl_c_version", d->opencl_c_version);
  cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
  cJSON_AddNumberToObject(o, "max_clock_mhz", d->max_clock_mhz);
  cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
  cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
  cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
  cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_wg);
  cJSON_AddNumberToObject(o, "preferred_work_group_multiple", (double)d->pref_wg_multiple);
  cJSON_AddBoolToObject(o, "fp16", d->has_fp16);
  cJSON_AddBoolToObject(o, "fp64", d->has_fp64);
  cJSON_AddBoolToObject(o, "subgroups", d->has_subgroups);
  cJSON_AddStringToObject(o, "extensions", d->extensions ? d->extensions : "");
  return o;
}

int cmd_devices(int argc, char **argv, sc_err *err) {
  int json = 0;
  const sc_option opts[] = {{"json", SC_OPT_FLAG, &json, NULL, .help = "print the devices as a JSON array"}};
  const sc_args args = {
      "scalecl devices [--json]",
      "Lists every OpenCL device of every platform with its probed capabilities.\n"
      "The device other commands use (marked *) is the one SCALECL_DEVICE names, else the first GPU,\n"
      "else the first CPU; --device on other commands selects by index or by a substring of platform,\n"
      "vendor or device name.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  sc_device_info *devs;
  int n, def;
  if (sc_cl_enumerate(&devs, &n, err)) return 1;
  /* Mark what other commands would open: SCALECL_DEVICE when set, and none when it matches nothing. */
  const char *sel = sc_settings_get()->device;
  if (sc_cl_select(devs, n, sel, &def, err)) {
    def = -1;
    fprintf(stderr,
            "scalecl devices: warning: SCALECL_DEVICE='%s' matches no device, so other commands will fail; set it to "
            "an index or a substring of a name below\n",
            sel);
  }
  for (int i = 0; i < n; i++) sc_probe_wg_multiple(NULL, &devs[i]);
  if (json) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, device_json(&devs[i], i == def));
    char *s = cJSON_Print(arr);
    printf("%s\n", s ? s : "[]");
    free(s);
    cJSON_Delete(arr);
  } else {
    printf("%-3s %-5s %-28s %-40s %4s %9s %7s %9s %5s %4s %-8s %s\n", "#", "type", "platform", "device", "CUs",
           "global", "local", "max-alloc", "maxWG", "WGx", "CL C", "fp16/fp64/subgroups");
    for (int i = 0; i < n; i++) {
      const sc_device_info *d = &devs[i];
      printf("%2d%c %-5s %-28.28s %-40.40s %4u %7.1fGi %5.0fKi %7.1fGi %5zu %4zu %-8.8s %s/%s/%s\n",
             i, i == def ? '*' : ' ', sc_device_type_name(d->type),
             d->platform_name, d->name, d->compute_units, d->global_mem / 1073741824.0, d->local_mem / 1024.0,
             d->max_alloc / 1073741824.0, d->max_wg, d->pref_wg_multiple, d->opencl_c_version + (d->opencl_c_version[0] == 'O' ? 9 : 0),
             d->has_fp16 ? "yes" : "no", d->has_fp64 ? "yes" : "no", d->has_subgroups ? "yes" : "no");
      printf("    vendor: %s | device version: %s | driver: %s\n", d->vendor, d->device_version, d->driver_version);
    }
  }
  sc_cl_free_devices(devs, n);
  return 0;
}
