/* OpenCL runtime: device selection, build errors, the on-disk program cache, CLI errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "runtime/kargs.h"
#include "runtime/program.h"

static sc_err err;

static void test_select(void **state) {
  (void)state;
  sc_device_info *devs;
  int n, idx = -1;
  assert_int_equal(sc_cl_enumerate(&devs, &n, &err), 0);
  assert_true(n >= 1);
  assert_int_equal(sc_cl_select(devs, n, NULL, &idx, &err), 0);
  for (int i = 0; i < idx; i++) assert_false(devs[i].type & CL_DEVICE_TYPE_GPU);
  assert_int_equal(sc_cl_select(devs, n, "0", &idx, &err), 0);
  assert_int_equal(idx, 0);
  /* A case-changed substring of the first device's platform name selects a device of that platform. */
  char sub[8];
  snprintf(sub, sizeof sub, "%.4s", devs[0].platform_name);
  for (char *p = sub; *p; p++)
    *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
  assert_int_equal(sc_cl_select(devs, n, sub, &idx, &err), 0);
  assert_string_equal(devs[idx].platform_name, devs[0].platform_name);
  /* No match: the error lists the devices that exist. */
  assert_int_equal(sc_cl_select(devs, n, "no-such-device-xyz", &idx, &err), -1);
  assert_non_null(strstr(err.msg, "no-such-device-xyz"));
  assert_non_null(strstr(err.msg, devs[0].name));
  char big[16];
  snprintf(big, sizeof big, "%d", n + 5);
  assert_int_equal(sc_cl_select(devs, n, big, &idx, &err), -1);
  for (int i = 0; i < n; i++) {
    assert_true(devs[i].compute_units >= 1);
    assert_true(devs[i].max_alloc > 0 && devs[i].global_mem >= devs[i].max_alloc);
    assert_true(devs[i].max_wg >= 1);
    assert_true(devs[i].cl_c_major >= 1);
  }
  sc_cl_free_devices(devs, n);
}

static void test_build_error(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  cl_program p = NULL;
  const char *bad = "__kernel void broken(__global float *x) { x[0] = undefined_symbol + ; }";
  assert_int_equal(sc_program_build_source(&c, "broken.cl", bad, "ALPHA=2", "-DBETA=3", &p, NULL, &err), -1);
  assert_null(p);
  printf("  build error message:\n%.600s\n", err.msg);
  assert_non_null(strstr(err.msg, "broken.cl"));
  assert_non_null(strstr(err.msg, "CL_BUILD_PROGRAM_FAILURE"));
  assert_non_null(strstr(err.msg, "-cl-std=CL1.2"));
  assert_non_null(strstr(err.msg, "-DBETA=3"));
  assert_non_null(strstr(err.msg, "ALPHA=2"));
  assert_non_null(strstr(err.msg, "undefined_symbol")); /* from the compiler's log */
  /* Many one-letter defines: the injected source grows most relative to the define string. */
  const char *ok = "__kernel void k(__global float *x) { x[0] = A + B + C + D + E + F + G + H + I + J + K + L; }";
  char defs[256] = "";
  for (char ch = 'A'; ch <= 'L'; ch++) snprintf(defs + strlen(defs), sizeof defs - strlen(defs), "%c=1 ", ch);
  strcat(defs, "M N O P Q R S T U V W X Y Z");
  assert_int_equal(sc_program_build_source(&c, "many.cl", ok, defs, NULL, &p, NULL, &err), 0);
  clReleaseProgram(p);
  p = NULL;
  /* A missing kernel file names the file and the fix. */
  assert_int_equal(sc_program_build(&c, "does_not_exist.cl", NULL, NULL, &p, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "does_not_exist.cl"));
  assert_non_null(strstr(err.msg, "SCALECL_KERNEL_DIR"));
  sc_ctx_close(&c);
}

static const char *scale_src = "__kernel void scale(__global float *x) { x[get_global_id(0)] *= FACTOR; }";

/* Builds scale_src, runs it on {1,2,3,4} and checks the result, returning the build info. */
static sc_build_info build_and_run(sc_ctx *c, const char *defines, const char *opts, float factor) {
  sc_build_info info;
  cl_program p;
  cl_kernel k;
  if (sc_program_build_source(c, "scale.cl", scale_src, defines, opts, &p, &info, &err)) fail_msg("%s", err.msg);
  assert_int_equal(sc_kernel_create(p, "scale", &k, &err), 0);
  float x[4] = {1, 2, 3, 4};
  cl_mem m;
  assert_int_equal(sc_buffer_create(c, sizeof x, "x", &m, &err), 0);
  assert_int_equal(sc_buffer_write(c, m, 0, sizeof x, x, &err), 0);
  sc_kargs ka;
  sc_kargs_begin(&ka, k, "scale");
  sc_karg_mem(&ka, m);
  assert_int_equal(sc_kargs_end(&ka, &err), 0);
  size_t g = 4;
  assert_int_equal(sc_launch(c, k, 1, &g, NULL, "scale", &err), 0);
  assert_int_equal(sc_buffer_read(c, m, 0, sizeof x, x, &err), 0);
  for (int i = 0; i < 4; i++) assert_float_equal(x[i], (i + 1) * factor, 0);
  sc_buffer_release(c, m);
  clReleaseKernel(k);
  clReleaseProgram(p);
  return info;
}

static int count_entries(const char *dir, char *last, size_t lastlen) {
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "ls %s/*.clbin 2>/dev/null", dir);
  FILE *f = popen(cmd, "r");
  int n = 0;
  char line[4400];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    snprintf(last, lastlen, "%s", line);
    n++;
  }
  if (f) pclose(f);
  return n;
}

static void test_cache(void **state) {
  (void)state;
  char dir[512];
  th_tmpdir("cache", dir, sizeof dir);
  th_setenv("SCALECL_CACHE_DIR", dir);
  sc_ctx c;
  th_ctx_open(&c);
  th_setenv("SCALECL_CACHE_DIR", NULL);
  assert_true(c.cache.enabled);
  char entry[4400] = "";

  sc_build_info i1 = build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f);
  assert_false(i1.cache_hit);
  assert_true(i1.cache_saved);
  assert_int_equal(count_entries(dir, entry, sizeof entry), 1);

  sc_build_info i2 = build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f);
  assert_true(i2.cache_hit);
  printf("  cold build %.3f s, cache hit %.3f s\n", i1.seconds, i2.seconds);

  /* A changed option string or define is a different key. */
  sc_build_info i3 = build_and_run(&c, "FACTOR=2.0f", "-cl-mad-enable", 2.0f);
  assert_false(i3.cache_hit);
  sc_build_info i4 = build_and_run(&c, "FACTOR=3.0f", NULL, 3.0f);
  assert_false(i4.cache_hit);
  assert_int_equal(count_entries(dir, entry, sizeof entry), 3);

  /* Corrupt every entry's payload: each falls back to a source build and is rewritten. */
  char cmd[4600];
  snprintf(cmd, sizeof cmd,
           "for f in %s/*.clbin; do printf 'garbage-garbage-garbage-garbage' | dd of=$f bs=1 seek=60 conv=notrunc "
           "status=none; done",
           dir);
  assert_int_equal(system(cmd), 0);
  sc_build_info i5 = build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f);
  assert_false(i5.cache_hit);
  sc_build_info i6 = build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f);
  assert_true(i6.cache_hit);

  /* Truncated entry. */
  snprintf(cmd, sizeof cmd, "for f in %s/*.clbin; do truncate -s 40 $f; done", dir);
  assert_int_equal(system(cmd), 0);
  sc_build_info i7 = build_and_run(&c, "FACTOR=3.0f", NULL, 3.0f);
  assert_false(i7.cache_hit);
  assert_true(i7.cache_corrupt);
  assert_true(i7.cache_saved);

  /* An entry copied under another key's name is rejected by the stored key. */
  snprintf(cmd, sizeof cmd,
           "cd %s && set -- *.clbin && for f in \"$@\"; do [ \"$f\" = \"$1\" ] || cp \"$1\" \"$f\"; done", dir);
  assert_int_equal(system(cmd), 0);
  int hits = 0;
  hits += build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f).cache_hit;
  hits += build_and_run(&c, "FACTOR=3.0f", NULL, 3.0f).cache_hit;
  hits += build_and_run(&c, "FACTOR=2.0f", "-cl-mad-enable", 2.0f).cache_hit;
  assert_true(hits <= 1); /* only the entry whose own bytes were copied can still match */
  sc_ctx_close(&c);

  /* A new context (as a new process would) hits the cache. */
  th_setenv("SCALECL_CACHE_DIR", dir);
  th_ctx_open(&c);
  th_setenv("SCALECL_CACHE_DIR", NULL);
  assert_true(build_and_run(&c, "FACTOR=2.0f", NULL, 2.0f).cache_hit);
  sc_ctx_close(&c);

  /* "off" disables; PoCL defaults to off. */
  th_setenv("SCALECL_CACHE_DIR", "off");
  th_ctx_open(&c);
  th_setenv("SCALECL_CACHE_DIR", NULL);
  assert_false(c.cache.enabled);
  sc_ctx_close(&c);
  sc_cache_cfg cfg;
  th_ctx_open(&c);
  sc_cache_configure(&cfg, &c.dev);
  if (sc_device_is_pocl(&c.dev)) assert_false(cfg.enabled);
  sc_ctx_close(&c);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* `#include "name"` in a kernel file is inlined from the kernel directory: the header's text is part of the cache
 * key, a compile error inside it names the kernel file, and a missing header is named with the fix. */
static void test_include(void **state) {
  (void)state;
  char dir[512], cache[512];
  th_tmpdir("kernels", dir, sizeof dir);
  th_tmpdir("cache", cache, sizeof cache);
  th_setenv("SCALECL_CACHE_DIR", cache);
  sc_ctx c;
  th_ctx_open(&c);
  th_setenv("SCALECL_CACHE_DIR", NULL);
  snprintf(c.kernel_dir, sizeof c.kernel_dir, "%s", dir);
  write_text(dir, "k.cl", "#include \"h.clh\"\n__kernel void scale(__global float *x) { x[0] *= FACTOR; }\n");
  write_text(dir, "h.clh", "#define FACTOR 2.0f\n");
  cl_program p;
  sc_build_info info;
  if (sc_program_build(&c, "k.cl", NULL, NULL, &p, &info, &err)) fail_msg("%s", err.msg);
  clReleaseProgram(p);
  assert_true(info.cache_saved);
  if (sc_program_build(&c, "k.cl", NULL, NULL, &p, &info, &err)) fail_msg("%s", err.msg);
  clReleaseProgram(p);
  assert_true(info.cache_hit);
  write_text(dir, "h.clh", "#define FACTOR 3.0f\n"); /* a changed header is a new program */
  if (sc_program_build(&c, "k.cl", NULL, NULL, &p, &info, &err)) fail_msg("%s", err.msg);
  clReleaseProgram(p);
  assert_false(info.cache_hit);
  write_text(dir, "h.clh", "#define FACTOR (2.0f +)\n");
  assert_int_equal(sc_program_build(&c, "k.cl", NULL, NULL, &p, &info, &err), -1);
  assert_non_null(strstr(err.msg, "building k.cl"));
  assert_non_null(strstr(err.msg, "h.clh:1")); /* the compiler's log points into the header */
  remove(strcat(dir, "/h.clh"));
  assert_int_equal(sc_program_build(&c, "k.cl", NULL, NULL, &p, &info, &err), -1);
  printf("  missing header: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "k.cl line 1 includes \"h.clh\""));
  assert_non_null(strstr(err.msg, "SCALECL_KERNEL_DIR"));
  sc_ctx_close(&c);
}

static void test_cli(void **state) {
  (void)state;
  char cmd[2048], out[16384];
  const char *bin = th_scalecl_bin();
  snprintf(cmd, sizeof cmd, "%s devics 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 2);
  assert_non_null(strstr(out, "did you mean 'devices'"));
  snprintf(cmd, sizeof cmd, "%s peak --samles 3 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 2);
  assert_non_null(strstr(out, "did you mean '--samples'"));
  snprintf(cmd, sizeof cmd, "%s devices --help 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "usage: scalecl devices"));
  snprintf(cmd, sizeof cmd, "%s peak --device no-such-device-xyz --no-gemm 2>&1", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 1);
  assert_non_null(strstr(out, "devices are:"));
  /* No OpenCL platform at all: the ICD loader finds no vendor files. */
  char empty[512];
  th_tmpdir("icd", empty, sizeof empty);
  snprintf(cmd, sizeof cmd, "OCL_ICD_VENDORS=%s OPENCL_VENDOR_PATH=%s %s devices 2>&1", empty, empty, bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 1);
  assert_non_null(strstr(out, "no OpenCL platform"));
  assert_non_null(strstr(out, "pocl-opencl-icd"));
  snprintf(cmd, sizeof cmd, "%s devices --json", bin);
  assert_int_equal(th_run_capture(cmd, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"compute_units\""));
  assert_non_null(strstr(out, "\"opencl_c_version\""));
}

static void test_peak_json(void **state) {
  (void)state;
  char dir[512], cmd[2048], path[600], *text;
  th_tmpdir("peak", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/peak.json", dir);
  snprintf(cmd, sizeof cmd, "%s peak --quick --no-gemm --json %s > /dev/null", th_scalecl_bin(), path);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(sc_read_file(path, &text, NULL, &err), 0);
  double fma = 0, bw = 0, lat = 0;
  const char *p;
  assert_non_null(p = strstr(text, "\"fma_gflops\":"));
  fma = atof(p + 13);
  assert_non_null(p = strstr(text, "\"read_bandwidth_gbs\":"));
  bw = atof(p + 21);
  assert_non_null(p = strstr(text, "\"launch_latency_us\":"));
  lat = atof(p + 20);
  printf("  peak: %.1f GFLOP/s, %.1f GB/s, %.1f us\n", fma, bw, lat);
  assert_true(fma > 0.1 && bw > 0.01 && lat > 0);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select),  cmocka_unit_test(test_build_error), cmocka_unit_test(test_cache),
      cmocka_unit_test(test_include), cmocka_unit_test(test_cli),         cmocka_unit_test(test_peak_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
