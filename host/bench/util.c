#include "bench/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/peak.h"
#include "ops/gemm.h"
#include "runtime/profile.h"
#include "runtime/variant.h"

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

int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, sc_timing *t, sc_err *err) {
  return sc_time_calls(c, fn, arg, 1, samples, min_sample_s, t, err);
}

int sc_bench_kernel_profile(sc_ctx *c, sc_timed_fn fn, void *arg, FILE *f, sc_err *err) {
  sc_kprof *p = sc_calloc(1, sizeof *p, "kernel profile", err);
  if (!p) return -1;
  c->kprof = p;
  const int rc = fn(arg, err);
  c->kprof = NULL;
  double total = 0.0;
  for (int i = 0; i < p->n; i++) total += p->row[i].wall;
  const int cus = sc_bench_compute_units(c);
  for (int i = 0; !rc && i < p->n; i++) {
    const sc_kprof_row *r = &p->row[i];
    fprintf(f, "    %-22s %4ld launches %9.3f ms %5.1f%%", r->name, r->calls, 1e3 * r->wall,
            total > 0 ? 100 * r->wall / total : 0.0);
    if (c->dev.type & CL_DEVICE_TYPE_CPU) fprintf(f, " | cpu-norm %9.3f ms", 1e3 * r->cpu / cus);
    fprintf(f, "\n");
  }
  free(p);
  return rc;
}

/* The best sgemm[] rate of the file's gemm_api_backend. */
cJSON *sc_bench_read_peak(const char *path, sc_err *err) {
  char *text;
  if (sc_read_file(path, &text, NULL, err)) return NULL;
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    sc_fail(err, "%s is not the JSON object `scalecl peak --json FILE` writes", path);
    return NULL;
  }
  return root;
}

static int read_peak_gemm(const char *path, sc_gemm_ref *r, sc_err *err) {
  cJSON *root = sc_bench_read_peak(path, err);
  if (!root) return -1;
  const cJSON *api = cJSON_GetObjectItemCaseSensitive(root, "gemm_api_backend");
  const sc_gemm_backend be = cJSON_IsString(api) ? sc_gemm_backend_parse(api->valuestring) : SC_GEMM_AUTO;
  r->backend = sc_gemm_backend_name(be == SC_GEMM_AUTO ? SC_GEMM_CLBLAST : be);
  char key[32];
  snprintf(key, sizeof key, "%s_gflops", r->backend);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "sgemm"), *e;
  cJSON_ArrayForEach(e, g) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    if (cJSON_IsNumber(v) && v->valuedouble > r->gflops) r->gflops = v->valuedouble;
  }
  cJSON_Delete(root);
  if (r->gflops <= 0)
    return sc_fail(err, "%s: no sgemm[].%s found; write the file with `scalecl peak --json FILE` (without --no-gemm)",
                   path, key);
  return 0;
}

int sc_bench_gemm_ref(sc_ctx *c, const char *peak_path, sc_gemm_ref *r, sc_err *err) {
  *r = (sc_gemm_ref){NULL, 0, 0, peak_path ? peak_path : "measured 1024x1024x1024"};
  if (peak_path) return read_peak_gemm(peak_path, r, err) ? sc_wrap(err, "--peak ") : 0;
  sc_timing t;
  sc_gemm *gemm;
  if (sc_gemm_create(c, &gemm, err)) return -1;
  const sc_gemm_backend be = sc_gemm_default(gemm);
  int rc = sc_sgemm_time(c, gemm, be, 1024, 1024, 1024, 1, 5, 0.2, &t, err);
  sc_gemm_destroy(gemm);
  if (rc) return -1;
  r->backend = sc_gemm_backend_name(be);
  r->gflops = 2e-9 * 1024 * 1024 * 1024 / t.wall.median;
  if (c->dev.type == CL_DEVICE_TYPE_CPU)
    r->cpu_gflops = 2e-9 * 1024 * 1024 * 1024 * sc_bench_compute_units(c) / t.cpu_s;
  return 0;
}

void sc_bench_print_gemm_ref(FILE *f, const sc_ctx *c, const sc_gemm_ref *r) {
  fprintf(f, "reference GEMM for pct_gemm: %s (the path scalecl's GEMM uses on this device), %.1f GFLOP/s", r->backend,
          r->gflops);
  if (r->cpu_gflops > 0)
    fprintf(f, " (%.1f GFLOP/s per CPU time x %d CUs, for cpu_norm_pct_gemm)", r->cpu_gflops,
            sc_bench_compute_units(c));
  fprintf(f, "; source: %s\n", r->source);
}

void sc_bench_json_gemm_ref(cJSON *root, const sc_gemm_ref *r) {
  cJSON_AddStringToObject(root, "gemm_ref_backend", r->backend);
  cJSON_AddNumberToObject(root, "gemm_ref_gflops", r->gflops);
  if (r->cpu_gflops > 0) cJSON_AddNumberToObject(root, "gemm_ref_cpu_norm_gflops", r->cpu_gflops);
  cJSON_AddStringToObject(root, "gemm_ref_source", r->source);
}

double sc_bench_print_device(FILE *f, const sc_ctx *c) {
  const double load = sc_loadavg();
  fprintf(f, "device: %s (%s, %d CUs, driver %s); load average %.2f at start\n", c->dev.name, c->dev.platform_name,
          sc_bench_compute_units(c), c->dev.driver_version, load);
  char note[320];
  if (sc_gemm_blas_core_note(&c->dev, note, sizeof note)) fprintf(f, "note: %s\n", note);
  fflush(f);
  return load;
}

cJSON *sc_bench_json_root(const sc_ctx *c) {
  char profile[256];
  sc_profile_name(c->profile_dir, &c->dev, profile, sizeof profile);
  cJSON *root = cJSON_CreateObject();
  if (!root || !cJSON_AddStringToObject(root, "device", c->dev.name) ||
      !cJSON_AddStringToObject(root, "platform", c->dev.platform_name) ||
      !cJSON_AddStringToObject(root, "driver_version", c->dev.driver_version) ||
      !cJSON_AddStringToObject(root, "device_type", sc_device_type_name(c->dev.type)) ||
      !cJSON_AddNumberToObject(root, "compute_units", c->dev.compute_units) ||
      !cJSON_AddStringToObject(root, "profile", profile)) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

int sc_bench_emit(const sc_output *o, const sc_ctx *c, const char *benchmark, cJSON *root, sc_table *const *tables,
                  int n, sc_err *err) {
  if (root) {
    cJSON *v = sc_variants_json(c);
    if (!v || !cJSON_AddStringToObject(root, "benchmark", benchmark) ||
        !cJSON_AddItemToObject(root, "kernel_variants", v)) {
      cJSON_Delete(v);
      return sc_fail(err, "out of host memory formatting JSON");
    }
  }
  return sc_output_emit(o, root, tables, n, err);
}

void sc_bench_cells(sc_table *t, int col, sc_figure f) {
  sc_table_num(t, col, f.median);
  sc_table_num(t, col + 1, f.mean);
  sc_table_num(t, col + 2, f.sd);
}

void sc_bench_pass_cells(sc_table *t, int first, const sc_ctx *c, const char *pass, const sc_timing *tm, double flops,
                         double min_bytes, double tokens, const sc_gemm_ref *ref) {
  const double gf = 1e-9 * flops / tm->wall.median;
  sc_table_str(t, first, pass);
  sc_table_num(t, first + 9, flops);
  sc_table_num(t, first + 10, min_bytes);
  sc_bench_cells(t, first + 1, sc_figure_time(&tm->wall, 1e3));
  sc_table_num(t, first + 4, tokens / tm->wall.median);
  sc_table_num(t, first + 5, gf);
  sc_table_num(t, first + 6, 100 * gf / ref->gflops);
  if (c->dev.type != CL_DEVICE_TYPE_CPU) return;
  const double gfc = 1e-9 * flops * sc_bench_compute_units(c) / tm->cpu_s;
  sc_table_num(t, first + 7, gfc);
  if (ref->cpu_gflops > 0) sc_table_num(t, first + 8, 100 * gfc / ref->cpu_gflops);
}

cJSON *sc_bench_json_run(const sc_ctx *c, const sc_gemm_ref *ref, const char *flop_count, long heads, long samples,
                         double load0, double load1) {
  cJSON *root = sc_bench_json_root(c);
  if (!root) return NULL;
  sc_bench_json_gemm_ref(root, ref);
  cJSON_AddStringToObject(root, "flop_count", flop_count);
  cJSON_AddNumberToObject(root, "batch", 1);
  cJSON_AddNumberToObject(root, "heads", (double)heads);
  cJSON_AddNumberToObject(root, "samples", (double)samples);
  cJSON_AddNumberToObject(root, "load_average_start", load0);
  cJSON_AddNumberToObject(root, "load_average_end", load1);
  return root;
}

/* The FMA peak from a `scalecl peak --json` file, else measured here (quick: 3 samples of 0.05 s). */
int sc_bench_fma_peak(sc_ctx *c, const char *peak_path, double *gflops, const char **source, sc_err *err) {
  if (peak_path) {
    cJSON *root = sc_bench_read_peak(peak_path, err);
    if (!root) return -1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "fma_gflops");
    *gflops = cJSON_IsNumber(f) ? f->valuedouble : 0;
    cJSON_Delete(root);
    *source = peak_path;
    if (!(*gflops > 0))
      return sc_fail(err, "%s has no fma_gflops; write it with `scalecl peak --json FILE`", peak_path);
    return 0;
  }
  const sc_peak_opts o = {.samples = 3, .min_sample_s = 0.05, .skip_gemm = 1};
  sc_peak pk;
  if (sc_peak_measure(c, &o, &pk, err)) return -1;
  *gflops = pk.fma_gflops;
  *source = "measured (peak --quick)";
  return 0;
}
