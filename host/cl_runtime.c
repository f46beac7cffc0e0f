#include "cl_runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "gemm.h"

/* Bump when the cache file layout or key material changes. */
#define SC_CACHE_FORMAT 1
static const char SC_CACHE_MAGIC[8] = {'S', 'C', 'L', 'B', 'I', 'N', '\0', '\0'};

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

static void exe_dir(char *buf, size_t n) {
  ssize_t len = readlink("/proc/self/exe", buf, n - 1);
  if (len <= 0) {
    snprintf(buf, n, ".");
    return;
  }
  buf[len] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
}

void sc_cache_configure(sc_cache_cfg *cfg, const sc_device_info *dev) {
  memset(cfg, 0, sizeof *cfg);
  const char *dbg = getenv("SCALECL_CACHE_DEBUG");
  cfg->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
  const char *env = getenv("SCALECL_CACHE_DIR");
  if (env && *env) {
    if (!strcasecmp(env, "off") || !strcmp(env, "0") || !strcasecmp(env, "none")) return;
    snprintf(cfg->dir, sizeof cfg->dir, "%s", env);
    cfg->enabled = 1;
    return;
  }
  /* PoCL keeps its own kernel cache, and reading CL_PROGRAM_BINARIES makes it compile again. */
  if (dev && sc_device_is_pocl(dev)) return;
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (xdg && *xdg)
    snprintf(cfg->dir, sizeof cfg->dir, "%s/scalecl/kernels", xdg);
  else if (home && *home)
    snprintf(cfg->dir, sizeof cfg->dir, "%s/.cache/scalecl/kernels", home);
  else
    return;
  cfg->enabled = 1;
}

int sc_ctx_open(sc_ctx *c, const char *sel, sc_err *err) {
  memset(c, 0, sizeof *c);
  sc_device_info *devs;
  int n, idx;
  if (sc_cl_enumerate(&devs, &n, err)) return -1;
  if (!sel || !*sel) sel = getenv("SCALECL_DEVICE");
  if (sc_cl_select(devs, n, sel, &idx, err)) {
    sc_cl_free_devices(devs, n);
    return -1;
  }
  c->dev = devs[idx];
  devs[idx].extensions = NULL; /* ownership moves to the context */
  sc_cl_free_devices(devs, n);

  cl_int rc;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->dev.platform, 0};
  c->context = clCreateContext(props, 1, &c->dev.id, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    sc_fail(err, "clCreateContext on '%s' failed: %s", c->dev.name, sc_cl_errname(rc));
    free(c->dev.extensions);
    return -1;
  }
  c->queue = clCreateCommandQueue(c->context, c->dev.id, 0, &rc);
  if (rc != CL_SUCCESS) {
    sc_fail(err, "clCreateCommandQueue on '%s' failed: %s", c->dev.name, sc_cl_errname(rc));
    clReleaseContext(c->context);
    free(c->dev.extensions);
    return -1;
  }
  const char *kd = getenv("SCALECL_KERNEL_DIR");
  char ed[4096];
  exe_dir(ed, sizeof ed);
  if (kd && *kd)
    snprintf(c->kernel_dir, sizeof c->kernel_dir, "%s", kd);
  else
    snprintf(c->kernel_dir, sizeof c->kernel_dir, "%.4000s/cl", ed);
  const char *pd = getenv("SCALECL_PROFILE_DIR");
  if (pd && *pd)
    snprintf(c->profile_dir, sizeof c->profile_dir, "%s", pd);
  else
    snprintf(c->profile_dir, sizeof c->profile_dir, "%.4000s/profiles", ed);
  sc_cache_configure(&c->cache, &c->dev);
  sc_probe_wg_multiple(c->context, &c->dev);
  return 0;
}

void sc_ctx_close(sc_ctx *c) {
  if (!c || !c->context) return;
  sc_gemm_release(c);
  if (c->queue) {
    clFinish(c->queue);
    clReleaseCommandQueue(c->queue);
  }
  clReleaseContext(c->context);
  free(c->dev.extensions);
  memset(c, 0, sizeof *c);
}

/* Turns "A=1 B=2 FLAG" into "#define A 1\n#define B 2\n#define FLAG\n" in front of the source. */
static char *inject_defines(const char *defines, const char *source, sc_err *err) {
  size_t dl = defines ? strlen(defines) : 0, sl = strlen(source);
  /* Each define grows by "#define " and a newline (9 bytes); there is at most one per two bytes. */
  char *out = sc_malloc(dl + 9 * (dl / 2 + 1) + sizeof "#line 1\n" + sl + 1, "kernel source", err);
  if (!out) return NULL;
  size_t o = 0;
  const char *p = defines;
  while (p && *p) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ' ') e++;
    const char *eq = memchr(p, '=', (size_t)(e - p));
    o += (size_t)sprintf(out + o, "#define ");
    if (eq) {
      memcpy(out + o, p, (size_t)(eq - p));
      o += (size_t)(eq - p);
      out[o++] = ' ';
      memcpy(out + o, eq + 1, (size_t)(e - eq - 1));
      o += (size_t)(e - eq - 1);
    } else {
      memcpy(out + o, p, (size_t)(e - p));
      o += (size_t)(e - p);
    }
    out[o++] = '\n';
    p = e;
  }
  o += (size_t)sprintf(out + o, "#line 1\n");
  memcpy(out + o, source, sl + 1);
  return out;
}

static void cache_key(const sc_ctx *c, const char *src, const char *opts, char hex[33]) {
  XXH3_state_t *st = XXH3_createState();
  XXH3_128bits_reset(st);
  const char *parts[] = {src,
                         opts,
                         c->dev.platform_name,
                         c->dev.platform_version,
                         c->dev.name,
                         c->dev.device_version,
                         c->dev.driver_version};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) XXH3_128bits_update(st, parts[i], strlen(parts[i]) + 1);
  uint32_t fmt = SC_CACHE_FORMAT;
  XXH3_128bits_update(st, &fmt, sizeof fmt);
  XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

/* Entry layout: magic[8], u32 format, u32 reserved, char key[32], u64 size, binary[size]. */
enum { SC_CACHE_HDR = 8 + 4 + 4 + 32 + 8 };

static int cache_load(sc_ctx *c, const char *path, const char *key, cl_program *out, int *corrupt) {
  *corrupt = 0;
  char *buf;
  size_t len;
  sc_err tmp;
  if (sc_read_file(path, &buf, &len, &tmp)) return -1;
  uint32_t fmt;
  uint64_t size;
  int ok = len >= SC_CACHE_HDR && memcmp(buf, SC_CACHE_MAGIC, 8) == 0;
  if (ok) {
    memcpy(&fmt, buf + 8, 4);
    memcpy(&size, buf + 48, 8);
    ok = fmt == SC_CACHE_FORMAT && memcmp(buf + 16, key, 32) == 0 && size == len - SC_CACHE_HDR && size > 0;
  }
  if (!ok) {
    free(buf);
    *corrupt = 1;
    return -1;
  }
  const unsigned char *bin = (const unsigned char *)buf + SC_CACHE_HDR;
  size_t bsz = (size_t)size;
  cl_int st, rc;
  cl_program p = clCreateProgramWithBinary(c->context, 1, &c->dev.id, &bsz, &bin, &st, &rc);
  free(buf);
  if (rc != CL_SUCCESS || st != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    *corrupt = 1;
    return -1;
  }
  if (clBuildProgram(p, 1, &c->dev.id, NULL, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(p);
    *corrupt = 1;
    return -1;
  }
  *out = p;
  return 0;
}

static int cache_save(sc_ctx *c, const char *path, const char *key, cl_program p) {
  size_t bsz = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bsz, &bsz, NULL) != CL_SUCCESS || bsz == 0) return -1;
  unsigned char *buf = malloc(SC_CACHE_HDR + bsz);
  if (!buf) return -1;
  unsigned char *bin = buf + SC_CACHE_HDR;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
    free(buf);
    return -1;
  }
  uint32_t fmt = SC_CACHE_FORMAT, res = 0;
  uint64_t size = bsz;
  memcpy(buf, SC_CACHE_MAGIC, 8);
  memcpy(buf + 8, &fmt, 4);
  memcpy(buf + 12, &res, 4);
  memcpy(buf + 16, key, 32);
  memcpy(buf + 48, &size, 8);
  sc_err tmp;
  int rc = sc_mkdirs(c->cache.dir, &tmp) || sc_write_file_atomic(path, buf, SC_CACHE_HDR + bsz, &tmp) ? -1 : 0;
  free(buf);
  return rc;
}

int sc_program_build_source(sc_ctx *c, const char *name, const char *source, const char *defines,
                            const char *extra_options, cl_program *out, sc_build_info *info, sc_err *err) {
  sc_build_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  double t0 = sc_now();
  char opts[2048];
  const char *env_opts = getenv("SCALECL_BUILD_OPTIONS");
  snprintf(opts, sizeof opts, "-cl-std=CL1.2%s%s%s%s", env_opts && *env_opts ? " " : "", env_opts ? env_opts : "",
           extra_options && *extra_options ? " " : "", extra_options ? extra_options : "");
  char *src = inject_defines(defines, source, err);
  if (!src) return -1;

  char key[33], path[4200];
  if (c->cache.enabled) {
    cache_key(c, src, opts, key);
    snprintf(path, sizeof path, "%s/%s.clbin", c->cache.dir, key);
    if (cache_load(c, path, key, out, &info->cache_corrupt) == 0) {
      info->cache_hit = 1;
      info->seconds = sc_now() - t0;
      if (c->cache.debug) fprintf(stderr, "scalecl cache: HIT %s (%s) %s\n", name, opts, path);
      free(src);
      return 0;
    }
    if (c->cache.debug)
      fprintf(stderr, "scalecl cache: %s %s (%s)\n", info->cache_corrupt ? "CORRUPT" : "MISS", name, opts);
  }

  cl_int rc;
  const char *srcs[] = {src};
  cl_program p = clCreateProgramWithSource(c->context, 1, srcs, NULL, &rc);
  if (rc != CL_SUCCESS) {
    free(src);
    return sc_fail(err, "clCreateProgramWithSource(%s) failed: %s", name, sc_cl_errname(rc));
  }
  rc = clBuildProgram(p, 1, &c->dev.id, opts, NULL, NULL);
  if (rc != CL_SUCCESS) {
    size_t loglen = 0;
    clGetProgramBuildInfo(p, c->dev.id, CL_PROGRAM_BUILD_LOG, 0, NULL, &loglen);
    char *log = malloc(loglen + 1);
    if (log) {
      log[0] = '\0';
      clGetProgramBuildInfo(p, c->dev.id, CL_PROGRAM_BUILD_LOG, loglen, log, NULL);
      log[loglen] = '\0';
    }
    sc_fail(err, "building %s for '%s' failed: %s\n  defines: %s\n  options: %s\n  build log:\n%s", name,
            c->dev.name, sc_cl_errname(rc), defines && *defines ? defines : "(none)", opts,
            log ? log : "(no memory for the log)");
    free(log);
    free(src);
    clReleaseProgram(p);
    return -1;
  }
  if (c->cache.enabled) {
    info->cache_saved = cache_save(c, path, key, p) == 0;
    if (c->cache.debug && info->cache_saved) fprintf(stderr, "scalecl cache: SAVE %s %s\n", name, path);
  }
  free(src);
  *out = p;
  info->seconds = sc_now() - t0;
  return 0;
}

int sc_program_build(sc_ctx *c, const char *file, const char *defines, const char *extra_options, cl_program *out,
                     sc_build_info *info, sc_err *err) {
  char path[8300];
  snprintf(path, sizeof path, "%s/%s", c->kernel_dir, file);
  char *source;
  if (sc_read_file(path, &source, NULL, err))
    return sc_wrap(err, "kernel source %s not found (set SCALECL_KERNEL_DIR to the cl/ directory): ", file);
  int rc = sc_program_build_source(c, file, source, defines, extra_options, out, info, err);
  free(source);
  return rc;
}

int sc_kernel_create(cl_program p, const char *name, cl_kernel *out, sc_err *err) {
  cl_int rc;
  *out = clCreateKernel(p, name, &rc);
  if (rc != CL_SUCCESS) return sc_fail(err, "clCreateKernel(%s) failed: %s", name, sc_cl_errname(rc));
  return 0;
}

int sc_buffer_create(sc_ctx *c, size_t bytes, const char *what, cl_mem *out, sc_err *err) {
  if (bytes == 0) bytes = 4;
  if (bytes > c->dev.max_alloc)
    return sc_fail(err, "tensor %s needs %zu bytes, above the device's max allocation %llu on '%s'", what, bytes,
                   (unsigned long long)c->dev.max_alloc, c->dev.name);
  cl_int rc;
  *out = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
  if (rc != CL_SUCCESS)
    return sc_fail(err, "allocating %zu bytes for %s on '%s' failed: %s", bytes, what, c->dev.name,
                   sc_cl_errname(rc));
  c->bytes_allocated += bytes;
  if (c->bytes_allocated > c->bytes_peak) c->bytes_peak = c->bytes_allocated;
  return 0;
}

void sc_buffer_release(sc_ctx *c, cl_mem m) {
  if (!m) return;
  size_t sz = 0;
  if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS && sz <= c->bytes_allocated)
    c->bytes_allocated -= sz;
  clReleaseMemObject(m);
}

int sc_buffer_write(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, const void *src, sc_err *err) {
  return sc_cl_check(clEnqueueWriteBuffer(c->queue, m, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
                     "clEnqueueWriteBuffer", err);
}

int sc_buffer_read(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, void *dst, sc_err *err) {
  return sc_cl_check(clEnqueueReadBuffer(c->queue, m, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
                     "clEnqueueReadBuffer", err);
}

int sc_buffer_fill_zero(sc_ctx *c, cl_mem m, size_t offset, size_t bytes, sc_err *err) {
  float zero = 0.0f;
  if (bytes % 4 == 0 && offset % 4 == 0)
    return sc_cl_check(clEnqueueFillBuffer(c->queue, m, &zero, sizeof zero, offset, bytes, 0, NULL, NULL),
                       "clEnqueueFillBuffer", err);
  unsigned char z = 0;
  return sc_cl_check(clEnqueueFillBuffer(c->queue, m, &z, 1, offset, bytes, 0, NULL, NULL), "clEnqueueFillBuffer",
                     err);
}

int sc_launch(sc_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what,
              sc_err *err) {
  size_t g[3];
  for (cl_uint i = 0; i < dims; i++) {
    g[i] = global[i] ? global[i] : 1;
    if (local && local[i]) g[i] = (g[i] + local[i] - 1) / local[i] * local[i];
  }
  cl_int rc = clEnqueueNDRangeKernel(c->queue, k, dims, NULL, g, local, 0, NULL, NULL);
  if (rc != CL_SUCCESS) return sc_fail(err, "launching kernel %s failed: %s", what, sc_cl_errname(rc));
  return 0;
}

int sc_finish(sc_ctx *c, sc_err *err) { return sc_cl_check(clFinish(c->queue), "clFinish", err); }

int sc_set_arg(cl_kernel k, cl_uint i, size_t size, const void *v, const char *kname, sc_err *err) {
  cl_int rc = clSetKernelArg(k, i, size, v);
  if (rc != CL_SUCCESS) return sc_fail(err, "clSetKernelArg(%s, arg %u) failed: %s", kname, i, sc_cl_errname(rc));
  return 0;
}

int sc_set_args(cl_kernel k, const char *kname, int n, const size_t *sizes, const void *const *vals, sc_err *err) {
  for (int i = 0; i < n; i++)
    if (sc_set_arg(k, (cl_uint)i, sizes[i], vals[i], kname, err)) return -1;
  return 0;
}

double sc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
