#include "bench_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double sc_loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

double sc_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  sc_timed_fn fn;
  void *arg;
  long calls;
} counted;

static int counted_call(void *p, sc_err *err) {
  counted *c = p;
  c->calls++;
  return c->fn(c->arg, err);
}

int sc_bench_time(sc_ctx *c, sc_timed_fn fn, void *arg, int samples, double min_sample_s, double *wall_s, double *cpu_s,
                  sc_err *err) {
  if (fn(arg, err) || sc_finish(c, err)) return -1;
  counted cc = {fn, arg, 0};
  const double cpu0 = sc_cpu_seconds();
  if (sc_time_median(c, counted_call, &cc, 0, samples, min_sample_s, wall_s, err)) return -1;
  *cpu_s = (sc_cpu_seconds() - cpu0) / (double)cc.calls;
  return 0;
}

int sc_read_peak_sgemm(const char *path, double *gflops, sc_err *err) {
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
