#include "bench/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/settings.h"
#include "base/version.h"
#include "bench/peak.h"
#include "ops/gemm.h"

int sc_bench_fill_uniform(sc_ctx *c, cl_mem m, size_t n, unsigned seed, float lo, float hi, sc_err *err) {
  float *h = sc_malloc(n * sizeof *h, "benchmark input", err);
  if (!h) return -1;
  for (size_t j = 0; j < n; j++) {
    seed = seed * 1664525u + 1013904223u;
    h[j] = lo + (hi - lo) * (float)(seed >> 8) / 16777216.0f;
  }
  const int rc = sc_buffer_write(c, m, 0, n * sizeof *h, h, err);
  free(h);
  return rc;
}

int sc_bench_compute_units(const sc_ctx *c) {
  return (int)(c->dev.compute_units ? c->dev.compute_units : 1);
}

void sc_loadavg2(double *l1, double *l5) {
  *l1 = *l5 = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf", l1, l5) != 2) *l1 = *l5 = -1;
    fclose(f);
  }
}

double sc_loadavg(void) {
  double l1, l5;
  sc_loadavg2(&l1, &l5);
  return l1;
}

int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, sc_bench_timing *t,
                  sc_err *err) {
  return sc_time_median(c, fn, arg, 1, samples, min_sample_s, &t->wall_s, &t->cpu_s, err);
}

static int read_peak_sgemm(const char *path, double *gflops, sc_err *err) {
  char *text;
  *gflops = 0;
  if (sc_read_file(path, &text, NULL, err)) return -1;
  cJSON *root = cJSON_Parse(text);
  free(text);
  const cJSON *g = root ? cJSON_GetObjectItemCaseSensitive(root, "sgemm") : NULL, *e;
  cJSON_ArrayForEach(e, g) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "clblast_gflops");
    if (cJSON_IsNumber(v) && v->valuedouble > *gflops) *gflops = v->valuedouble;
  }
  cJSON_Delete(root);
  if (*gflops <= 0)
    return sc_fail(err, "%s: no sgemm[].clblast_gflops found; write the file with `scalecl peak --json FILE`", path);
  return 0;
}

int sc_bench_sgemm_ref(sc_ctx *c, const char *peak_path, double *gflops, double *cpu_gflops, sc_err *err) {
  *cpu_gflops = 0;
  if (peak_path) return read_peak_sgemm(peak_path, gflops, err) ? sc_wrap(err, "--peak ") : 0;
  sc_bench_timing t;
  sc_gemm *gemm;
  if (sc_gemm_create(c, &gemm, err)) return -1;
  int rc = sc_sgemm_time(c, gemm, SC_GEMM_CLBLAST, 1024, 1024, 1024, 1, 5, 0.2, &t.wall_s, &t.cpu_s, err);
  sc_gemm_destroy(gemm);
  if (rc) return -1;
  *gflops = 2e-9 * 1024 * 1024 * 1024 / t.wall_s;
  *cpu_gflops = 2e-9 * 1024 * 1024 * 1024 * sc_bench_compute_units(c) / t.cpu_s;
  return 0;
}

double sc_bench_print_device(const sc_ctx *c) {
  const double load = sc_loadavg();
  printf("device: %s (%s, %d CUs); load average %.2f at start\n", c->dev.name, c->dev.platform_name,
         sc_bench_compute_units(c), load);
  fflush(stdout);
  return load;
}

void sc_bench_json_pass(cJSON *root, const char *name, const sc_ctx *c, const sc_bench_timing *t, const char *flops_key,
                        double flops, double tokens, double sgemm, double sgemm_cpu) {
  const double gf = 1e-9 * flops / t->wall_s, gfc = 1e-9 * flops * sc_bench_compute_units(c) / t->cpu_s;
  cJSON *j = cJSON_AddObjectToObject(root, name);
  cJSON_AddNumberToObject(j, "seconds", t->wall_s);
  cJSON_AddNumberToObject(j, "cpu_seconds", t->cpu_s);
  cJSON_AddNumberToObject(j, flops_key, flops);
  cJSON_AddNumberToObject(j, "tokens_per_s", tokens / t->wall_s);
  cJSON_AddNumberToObject(j, "gflops", gf);
  cJSON_AddNumberToObject(j, "fraction_of_sgemm", gf / sgemm);
  if (c->dev.type == CL_DEVICE_TYPE_CPU && sgemm_cpu > 0)
    cJSON_AddNumberToObject(j, "cpu_norm_fraction_of_sgemm", gfc / sgemm_cpu);
}

void sc_bench_json_device(cJSON *root, const sc_ctx *c, const char *peak_path, double gflops, double cpu_gflops) {
  cJSON_AddStringToObject(root, "device", c->dev.name);
  cJSON_AddStringToObject(root, "platform", c->dev.platform_name);
  cJSON_AddNumberToObject(root, "compute_units", sc_bench_compute_units(c));
  cJSON_AddNumberToObject(root, "clblast_sgemm_gflops", gflops);
  if (!peak_path && c->dev.type == CL_DEVICE_TYPE_CPU)
    cJSON_AddNumberToObject(root, "clblast_sgemm_cpu_norm_gflops", cpu_gflops);
  cJSON_AddStringToObject(root, "clblast_sgemm_source", peak_path ? peak_path : "measured 1024x1024x1024");
}

int sc_bench_write_json(cJSON *root, const char *path, sc_err *err) {
  cJSON *version = sc_version_json(), *settings = sc_settings_json();
  if (!version || !settings || !cJSON_AddItemToObject(root, "scalecl", version) ||
      !cJSON_AddItemToObject(root, "settings", settings)) {
    cJSON_Delete(version);
    cJSON_Delete(settings);
    return sc_fail(err, "out of memory formatting JSON");
  }
  char *text = cJSON_Print(root);
  if (!text) return sc_fail(err, "out of memory formatting JSON");
  int rc = 0;
  if (!strcmp(path, "-"))
    printf("%s\n", text);
  else
    rc = sc_write_file_atomic(path, text, strlen(text), err);
  free(text);
  return rc;
}
