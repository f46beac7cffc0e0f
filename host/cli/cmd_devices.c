#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "base/settings.h"
#include "cli/commands.h"
#include "runtime/context.h"
#include "runtime/profile.h"

enum {
  C_INDEX,
  C_DEFAULT,
  C_TYPE,
  C_PLATFORM,
  C_PLATFORM_VERSION,
  C_NAME,
  C_VENDOR,
  C_DEVICE_VERSION,
  C_DRIVER,
  C_CL_C,
  C_PROFILE,
  C_CUS,
  C_CLOCK,
  C_GLOBAL_GIB,
  C_GLOBAL,
  C_LOCAL_KIB,
  C_LOCAL,
  C_ALLOC_GIB,
  C_ALLOC,
  C_WG,
  C_WG_MULT,
  C_HW_FMA, C_FP16,
  C_FP64,
  C_SUBGROUPS,
  C_EXTENSIONS,
  C_N
};
static const sc_col cols[C_N] = {
    {"index", NULL, SC_COL_NUM, NULL, 0},
    {"default", NULL, SC_COL_BOOL, NULL, 0},
    {"type", NULL, SC_COL_STR, NULL, 0},
    {"platform", NULL, SC_COL_STR, NULL, 0},
    {"platform_version", NULL, SC_COL_STR, NULL, 1},
    {"name", NULL, SC_COL_STR, NULL, 0},
    {"vendor", NULL, SC_COL_STR, NULL, 0},
    {"device_version", NULL, SC_COL_STR, NULL, 1},
    {"driver_version", NULL, SC_COL_STR, NULL, 0},
    {"opencl_c_version", NULL, SC_COL_STR, NULL, 0},
    {"profile", NULL, SC_COL_STR, NULL, 0},
    {"compute_units", NULL, SC_COL_NUM, NULL, 0},
    {"max_clock_mhz", "MHz", SC_COL_NUM, NULL, 1},
    {"global_mem_gib", "GiB", SC_COL_NUM, "%.1f", 0},
    {"global_mem_bytes", "B", SC_COL_NUM, NULL, 1},
    {"local_mem_kib", "KiB", SC_COL_NUM, "%.0f", 0},
    {"local_mem_bytes", "B", SC_COL_NUM, NULL, 1},
    {"max_alloc_gib", "GiB", SC_COL_NUM, "%.1f", 0},
    {"max_alloc_bytes", "B", SC_COL_NUM, NULL, 1},
    {"max_work_group_size", NULL, SC_COL_NUM, NULL, 0},
    {"preferred_work_group_multiple", NULL, SC_COL_NUM, NULL, 0},
    {"hw_fma", NULL, SC_COL_BOOL, NULL, 0},
    {"fp16", NULL, SC_COL_BOOL, NULL, 0},
    {"fp64", NULL, SC_COL_BOOL, NULL, 0},
    {"subgroups", NULL, SC_COL_BOOL, NULL, 0},
    {"extensions", NULL, SC_COL_STR, NULL, 1},
};

static void device_row(sc_table *t, const sc_device_info *d, int is_default, const char *profile) {
  sc_table_row(t);
  sc_table_num(t, C_INDEX, d->index);
  sc_table_bool(t, C_DEFAULT, is_default);
  sc_table_str(t, C_TYPE, sc_device_type_name(d->type));
  const char *strs[] = {d->platform_name,  d->platform_version, d->name, d->vendor, d->device_version,
                        d->driver_version, d->opencl_c_version};
  for (int j = 0; j < 7; j++) sc_table_str(t, C_PLATFORM + j, strs[j]);
  sc_table_str(t, C_PROFILE, profile);
  sc_table_num(t, C_CUS, d->compute_units);
  sc_table_num(t, C_CLOCK, d->max_clock_mhz);
  sc_table_num(t, C_GLOBAL_GIB, (double)d->global_mem / 1073741824.0);
  sc_table_num(t, C_GLOBAL, (double)d->global_mem);
  sc_table_num(t, C_LOCAL_KIB, (double)d->local_mem / 1024.0);
  sc_table_num(t, C_LOCAL, (double)d->local_mem);
  sc_table_num(t, C_ALLOC_GIB, (double)d->max_alloc / 1073741824.0);
  sc_table_num(t, C_ALLOC, (double)d->max_alloc);
  sc_table_num(t, C_WG, (double)d->max_wg);
  sc_table_num(t, C_WG_MULT, (double)d->pref_wg_multiple);
  sc_table_bool(t, C_HW_FMA, d->hw_fma);
  sc_table_bool(t, C_FP16, d->has_fp16);
  sc_table_bool(t, C_FP64, d->has_fp64);
  sc_table_bool(t, C_SUBGROUPS, d->has_subgroups);
  sc_table_str(t, C_EXTENSIONS, d->extensions ? d->extensions : "");
}

int cmd_devices(int argc, char **argv, sc_err *err) {
  int json = 0;
  sc_output out = {0};
  const sc_option opts[] = {
      SC_OUTPUT_FORMAT_OPTION(&out),
      {"json", SC_OPT_FLAG, &json, NULL, .help = "as --format json: the devices under \"devices\""},
  };
  const sc_args args = {
      "scalecl devices [--format table|md|csv|json] [--json]",
      "Lists every OpenCL device of every platform with its probed capabilities.\n"
      "The device other commands use (marked *) is the one SCALECL_DEVICE names, else the first GPU,\n"
      "else the first CPU; --device on other commands selects by index or by a substring of platform,\n"
      "vendor or device name. The table leaves out the byte counts, clock and extensions that CSV and JSON carry.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (json) out.json = "-"; /* the flag is --json - of the convention */
  if (sc_output_begin(&out, err)) return 2;
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
  sc_table *t = sc_table_create("devices", cols, C_N, err);
  char dir[4096];
  sc_profile_dir(dir, sizeof dir);
  int unprofiled = 0;
  for (int i = 0; t && i < n; i++) {
    char profile[256];
    sc_profile_name(dir, &devs[i], profile, sizeof profile);
    unprofiled += !strcmp(profile, "none");
    device_row(t, &devs[i], i == def, profile);
  }
  cJSON *root = cJSON_CreateObject();
  const int rc = !t || sc_output_emit(&out, root, &t, 1, err);
  if (!rc && unprofiled) fprintf(stderr, "scalecl devices: profile none: " SC_PROFILE_HINT "\n");
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_cl_free_devices(devs, n);
  return rc;
}
