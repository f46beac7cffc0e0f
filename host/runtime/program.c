#include "runtime/program.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/clock.h"
#include "base/settings.h"

/* Bump when the cache file layout or key material changes. */
#define SC_CACHE_FORMAT 1
static const char SC_CACHE_MAGIC[8] = {'S', 'C', 'L', 'B', 'I', 'N', '\0', '\0'};

void sc_cache_configure(sc_cache_cfg *cfg, const sc_device_info *dev) {
  memset(cfg, 0, sizeof *cfg);
  const sc_settings *s = sc_settings_get();
  cfg->debug = s->cache_debug;
  const char *env = s->cache_dir;
  if (*env) {
    if (!strcasecmp(env, "off") || !strcmp(env, "0") || !strcasecmp(env, "none")) return;
    snprintf(cfg->dir, sizeof cfg->dir, "%s", env);
    cfg->enabled = 1;
    return;
  }
  /* PoCL keeps its own kernel cache, and reading CL_PROGRAM_BINARIES makes it compile again. */
  if (dev && sc_device_is_pocl(dev)) return;
  if (!*s->user_cache) return;
  snprintf(cfg->dir, sizeof cfg->dir, "%.4000s/scalecl/kernels", s->user_cache);
  cfg->enabled = 1;
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
  const char *env_opts = sc_settings_get()->build_options;
  /* SC_HW_FMA picks fma() or mad() for the kernels' multiply-adds (cl/common.clh). */
  snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DSC_HW_FMA=%d%s%.1000s%s%.900s", c->dev.hw_fma, *env_opts ? " " : "",
           env_opts, extra_options && *extra_options ? " " : "", extra_options ? extra_options : "");
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
    sc_fail(err, "building %s for '%s' failed: %s\n  defines: %s\n  options: %s\n  build log:\n%s", name, c->dev.name,
            sc_cl_errname(rc), defines && *defines ? defines : "(none)", opts, log ? log : "(no memory for the log)");
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

/* A growing string. */
typedef struct {
  char *p;
  size_t len, cap;
} text;

static int append(text *t, const char *s, size_t n, sc_err *err) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (t->len + n + 1 > cap) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) return sc_fail(err, "out of host memory for a kernel source of %zu bytes", t->len + n);
    t->p = p, t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
  return 0;
}

/* The name in a line `#include "name"` (spaces allowed around '#'), or 0 when the line is something else. */
static size_t include_name(const char *line, const char **name) {
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (*p++ != '#') return 0;
  while (*p == ' ' || *p == '\t') p++;
  if (strncmp(p, "include", 7)) return 0;
  p += 7;
  while (*p == ' ' || *p == '\t') p++;
  if (*p++ != '"') return 0;
  const char *e = p;
  while (*e && *e != '"' && *e != '\n') e++;
  if (*e != '"' || e == p) return 0;
  *name = p;
  return (size_t)(e - p);
}

/* Appends the source of `file` with every `#include "name"` replaced by the text of kernel_dir/name (recursively),
 * between #line markers so that build logs name the right file and line. Inlining here rather than passing -I
 * makes the cache key, a hash of the expanded text, cover the headers, and needs no include path support from
 * the OpenCL implementation. */
static int expand(const sc_ctx *c, const char *file, const char *src, int depth, text *out, sc_err *err) {
  char mark[600];
  int n = snprintf(mark, sizeof mark, "#line 1 \"%.500s\"\n", file);
  if (append(out, mark, (size_t)n, err)) return -1;
  int line = 1;
  for (const char *p = src; *p; line++) {
    const char *eol = strchr(p, '\n');
    const size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
    const char *name;
    const size_t nl = include_name(p, &name);
    if (!nl) {
      if (append(out, p, len, err)) return -1;
    } else {
      char inc[512], path[8300];
      snprintf(inc, sizeof inc, "%.*s", (int)(nl < 500 ? nl : 500), name);
      if (depth >= 8)
        return sc_fail(err, "kernel source %s line %d: includes nested deeper than 8 at \"%s\" (a cycle?)", file, line,
                       inc);
      snprintf(path, sizeof path, "%s/%s", c->kernel_dir, inc);
      char *hsrc;
      if (sc_read_file(path, &hsrc, NULL, err))
        return sc_wrap(err,
                       "kernel source %s line %d includes \"%s\", which cannot be read (set SCALECL_KERNEL_DIR "
                       "to the cl/ directory): ",
                       file, line, inc);
      int rc = expand(c, inc, hsrc, depth + 1, out, err);
      free(hsrc);
      if (rc) return -1;
      n = snprintf(mark, sizeof mark, "#line %d \"%.500s\"\n", line + 1, file);
      if (append(out, mark, (size_t)n, err)) return -1;
    }
    p += len;
  }
  return 0;
}

int sc_program_build(sc_ctx *c, const char *file, const char *defines, const char *extra_options, cl_program *out,
                     sc_build_info *info, sc_err *err) {
  char path[8300];
  snprintf(path, sizeof path, "%s/%s", c->kernel_dir, file);
  char *source;
  if (sc_read_file(path, &source, NULL, err))
    return sc_wrap(err, "kernel source %s not found (set SCALECL_KERNEL_DIR to the cl/ directory): ", file);
  text full = {0};
  int rc = expand(c, file, source, 0, &full, err);
  free(source);
  if (!rc) rc = sc_program_build_source(c, file, full.p, defines, extra_options, out, info, err);
  free(full.p);
  return rc;
}

int sc_kernel_create(cl_program p, const char *name, cl_kernel *out, sc_err *err) {
  cl_int rc;
  *out = clCreateKernel(p, name, &rc);
  if (rc != CL_SUCCESS) return sc_fail(err, "clCreateKernel(%s) failed: %s", name, sc_cl_errname(rc));
  return 0;
}

int sc_kernels_build(sc_ctx *c, const char *file, const char *defines, const char *const *names, int n, sc_kernels *ks,
                     sc_err *err) {
  memset(ks, 0, sizeof *ks);
  if (n < 1 || n > SC_MAX_KERNELS)
    return sc_fail(err, "%s: %d kernels requested, 1..%d supported", file, n, SC_MAX_KERNELS);
  if (sc_program_build(c, file, defines, NULL, &ks->prog, NULL, err)) return -1;
  for (ks->n = 0; ks->n < n; ks->n++)
    if (sc_kernel_create(ks->prog, names[ks->n], &ks->k[ks->n], err)) {
      sc_kernels_release(ks);
      return -1;
    }
  return 0;
}

void sc_kernels_release(sc_kernels *ks) {
  for (int i = 0; i < ks->n; i++)
    if (ks->k[i]) clReleaseKernel(ks->k[i]);
  if (ks->prog) clReleaseProgram(ks->prog);
  memset(ks, 0, sizeof *ks);
}
