#include "runtime/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sc_cl_errname(cl_int code) {
  switch (code) {
#define E(x) \
  case x:    \
    return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "CL_UNKNOWN_ERROR";
  }
}

int sc_cl_check(cl_int rc, const char *what, sc_err *err) {
  if (rc == CL_SUCCESS) return 0;
  return sc_fail(err, "%s failed: %s (%d)", what, sc_cl_errname(rc), (int)rc);
}

const char *sc_device_type_name(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "GPU";
  if (t & CL_DEVICE_TYPE_CPU) return "CPU";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "ACCEL";
  return "OTHER";
}

static int ci_contains(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  if (n == 0) return 1;
  for (const char *h = hay; *h; h++) {
    size_t i = 0;
    while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return 1;
  }
  return 0;
}

int sc_device_is_pocl(const sc_device_info *d) {
  return ci_contains(d->platform_name, "portable computing language") || ci_contains(d->platform_name, "pocl");
}

static void get_str(cl_device_id d, cl_device_info p, char *buf, size_t n) {
  buf[0] = '\0';
  if (clGetDeviceInfo(d, p, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
  buf[n - 1] = '\0';
}

static void get_pstr(cl_platform_id pl, cl_platform_info p, char *buf, size_t n) {
  buf[0] = '\0';
  if (clGetPlatformInfo(pl, p, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
  buf[n - 1] = '\0';
}

static int has_ext(const char *exts, const char *name) {
  size_t n = strlen(name);
  for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
    if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
  return 0;
}

static int probe_device(sc_device_info *di, cl_platform_id pl, cl_device_id d, sc_err *err) {
  memset(di, 0, sizeof *di);
  di->platform = pl;
  di->id = d;
  get_pstr(pl, CL_PLATFORM_NAME, di->platform_name, sizeof di->platform_name);
  get_pstr(pl, CL_PLATFORM_VENDOR, di->platform_vendor, sizeof di->platform_vendor);
  get_pstr(pl, CL_PLATFORM_VERSION, di->platform_version, sizeof di->platform_version);
  get_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
  get_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
  get_str(d, CL_DEVICE_VERSION, di->device_version, sizeof di->device_version);
  get_str(d, CL_DRIVER_VERSION, di->driver_version, sizeof di->driver_version);
  get_str(d, CL_DEVICE_OPENCL_C_VERSION, di->opencl_c_version, sizeof di->opencl_c_version);
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  di->host_unified = unified == CL_TRUE;
  clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units, &di->compute_units, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof di->max_clock_mhz, &di->max_clock_mhz, NULL);
  clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem, &di->global_mem, NULL);
  clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem, &di->local_mem, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc, &di->max_alloc, NULL);
  clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg, &di->max_wg, NULL);
  size_t elen = 0;
  clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &elen);
  di->extensions = sc_calloc(elen + 1, 1, "device extension list", err);
  if (!di->extensions) return -1;
  if (elen) clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, elen, di->extensions, NULL);
  cl_device_fp_config fp = 0;
  clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
  di->hw_fma = (fp & CL_FP_FMA) != 0;
  di->has_fp16 = has_ext(di->extensions, "cl_khr_fp16");
  di->has_fp64 = has_ext(di->extensions, "cl_khr_fp64");
  di->has_subgroups = has_ext(di->extensions, "cl_khr_subgroups") || has_ext(di->extensions, "cl_intel_subgroups");
  if (sscanf(di->opencl_c_version, "OpenCL C %d.%d", &di->cl_c_major, &di->cl_c_minor) != 2) {
    di->cl_c_major = 1;
    di->cl_c_minor = 2;
  }
  return 0;
}

void sc_probe_wg_multiple(cl_context ctx, sc_device_info *d) {
  cl_int rc;
  cl_context own = NULL;
  if (!ctx) ctx = own = clCreateContext(NULL, 1, &d->id, NULL, NULL, &rc);
  if (!ctx) return;
  const char *src = "__kernel void probe(__global float *x) { x[get_global_id(0)] += 1.0f; }";
  cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &rc);
  if (prog && clBuildProgram(prog, 1, &d->id, "-cl-std=CL1.2", NULL, NULL) == CL_SUCCESS) {
    cl_kernel k = clCreateKernel(prog, "probe", &rc);
    if (k) {
      clGetKernelWorkGroupInfo(k, d->id, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof d->pref_wg_multiple,
                               &d->pref_wg_multiple, NULL);
      clReleaseKernel(k);
    }
  }
  if (prog) clReleaseProgram(prog);
  if (own) clReleaseContext(own);
}

void sc_cl_free_devices(sc_device_info *devs, int n) {
  if (!devs) return;
  for (int i = 0; i < n; i++) free(devs[i].extensions);
  free(devs);
}

int sc_cl_enumerate(sc_device_info **out, int *nout, sc_err *err) {
  *out = NULL;
  *nout = 0;
  cl_uint np = 0;
  cl_int rc = clGetPlatformIDs(0, NULL, &np);
  if (rc != CL_SUCCESS || np == 0)
    return sc_fail(err,
                   "no OpenCL platform found (%s). Install the ICD loader and a driver, e.g. on Debian: "
                   "apt-get install ocl-icd-libopencl1 pocl-opencl-icd (CPU), or your GPU vendor's OpenCL ICD; "
                   "check /etc/OpenCL/vendors/*.icd and `clinfo -l`",
                   rc == CL_SUCCESS ? "0 platforms" : sc_cl_errname(rc));
  cl_platform_id *pls = sc_calloc(np, sizeof *pls, "platform list", err);
  if (!pls) return -1;
  if (sc_cl_check(clGetPlatformIDs(np, pls, NULL), "clGetPlatformIDs", err)) {
    free(pls);
    return -1;
  }
  int total = 0, cap = 0;
  sc_device_info *devs = NULL;
  for (cl_uint p = 0; p < np; p++) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(pls[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
    cl_device_id *ids = sc_calloc(nd, sizeof *ids, "device list", err);
    if (!ids) goto fail;
    if (clGetDeviceIDs(pls[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) != CL_SUCCESS) {
      free(ids);
      continue;
    }
    if (total + (int)nd > cap) {
      int ncap = (total + (int)nd) * 2;
      sc_device_info *nd2 = realloc(devs, (size_t)ncap * sizeof *devs);
      if (!nd2) {
        free(ids);
        sc_fail(err, "out of host memory for the device list");
        goto fail;
      }
      devs = nd2;
      cap = ncap;
    }
    for (cl_uint d = 0; d < nd; d++) {
      if (probe_device(&devs[total], pls[p], ids[d], err)) {
        free(ids);
        goto fail;
      }
      devs[total].index = total;
      total++;
    }
    free(ids);
  }
  free(pls);
  if (total == 0) {
    free(devs);
    return sc_fail(err,
                   "OpenCL platforms exist but expose no device. Install a driver, e.g. on Debian: "
                   "apt-get install pocl-opencl-icd (CPU), and check `clinfo -l`");
  }
  *out = devs;
  *nout = total;
  return 0;
fail:
  free(pls);
  sc_cl_free_devices(devs, total);
  return -1;
}

int sc_cl_select(const sc_device_info *devs, int n, const char *sel, int *index, sc_err *err) {
  if (!sel || !*sel) {
    for (int i = 0; i < n; i++)
      if (devs[i].type & CL_DEVICE_TYPE_GPU) return *index = i, 0;
    for (int i = 0; i < n; i++)
      if (devs[i].type & CL_DEVICE_TYPE_CPU) return *index = i, 0;
    return *index = 0, 0;
  }
  char *end;
  long v = strtol(sel, &end, 10);
  if (*end == '\0' && end != sel) {
    if (v >= 0 && v < n) return *index = (int)v, 0;
  } else {
    for (int i = 0; i < n; i++)
      if (ci_contains(devs[i].platform_name, sel) || ci_contains(devs[i].vendor, sel) ||
          ci_contains(devs[i].name, sel) || ci_contains(devs[i].platform_vendor, sel))
        return *index = i, 0;
  }
  char list[4096];
  size_t off = 0;
  for (int i = 0; i < n && off < sizeof list; i++)
    off += (size_t)snprintf(list + off, sizeof list - off, "\n  %d: %s | %s | %s (%s)", i, devs[i].platform_name,
                            devs[i].vendor, devs[i].name, sc_device_type_name(devs[i].type));
  return sc_fail(err,
                 "no OpenCL device matches '%s' (use an index or a case-insensitive substring of platform, vendor or "
                 "device name); devices are:%s",
                 sel, list);
}

