/* OpenCL devices: enumeration across platforms, capability probe, selection by index or name, and OpenCL
 * error names. */
#ifndef SCALECL_RUNTIME_DEVICE_H
#define SCALECL_RUNTIME_DEVICE_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
  int index; /* global index across all platforms, as `scalecl devices` numbers them */
  cl_platform_id platform;
  cl_device_id id;
  char platform_name[256];
  char platform_vendor[256];
  char platform_version[256];
  char name[256];
  char vendor[256];
  char device_version[256];
  char driver_version[256];
  char opencl_c_version[256];
  cl_device_type type;
  int host_unified; /* CL_DEVICE_HOST_UNIFIED_MEMORY: buffers live in host memory (maps are zero-copy) */
  cl_uint compute_units;
  cl_uint max_clock_mhz;
  cl_ulong global_mem;
  cl_ulong local_mem;
  cl_ulong max_alloc;
  size_t max_wg;
  size_t pref_wg_multiple; /* of a probe kernel; 0 until sc_probe_wg_multiple */
  int has_fp16, has_fp64, has_subgroups;
  int hw_fma;                 /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG: fma() runs in hardware, not emulated */
  int cl_c_major, cl_c_minor; /* parsed from opencl_c_version */
  char *extensions;           /* heap */
} sc_device_info;

const char *sc_cl_errname(cl_int code);
const char *sc_device_type_name(cl_device_type t);
int sc_device_is_pocl(const sc_device_info *d);
/* Fills d->pref_wg_multiple (a kernel property) by building a trivial kernel; ctx may be NULL. */
void sc_probe_wg_multiple(cl_context ctx, sc_device_info *d);

/* Enumerates every device of every platform (dynamic arrays). An empty system is an error whose
 * message names the ICD loader and PoCL packages. */
int sc_cl_enumerate(sc_device_info **devs, int *n, sc_err *err);
void sc_cl_free_devices(sc_device_info *devs, int n);
/* sel: NULL/"" = default (first GPU, else first CPU, else first device); an index; or a
 * case-insensitive substring of platform, vendor or device name. No match: error listing devices. */
int sc_cl_select(const sc_device_info *devs, int n, const char *sel, int *index, sc_err *err);

/* Returns -1 with "<what>: <call> failed: CL_ERROR_NAME" when rc != CL_SUCCESS. */
int sc_cl_check(cl_int rc, const char *what, sc_err *err);

#endif
