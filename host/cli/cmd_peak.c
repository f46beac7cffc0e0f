#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/args.h"
#include "bench/peak.h"
#include "bench/util.h"
#include "cli/commands.h"
#include "ops/gemm.h"

static int write_json(const char *path, const sc_ctx *c, const sc_peak *pk, sc_err *err) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "device", c->dev.name);
  cJSON_AddStringToObject(o, "platform", c->dev.platform_name);
  cJSON_AddStringToObject(o, "driver_version", c->dev.driver_version);
  cJSON_AddNumberToObject(o, "compute_units", c->dev.compute_units);
  cJSON_AddNumberToObject(o, "fma_gflops", pk->fma_gflops);
  cJSON_AddNumberToObject(o, "fma_best_vector_width", pk->fma_best_width);
  cJSON *byw = cJSON_AddObjectToObject(o, "fma_gflops_by_vector_width");
  static const char *wn[5] = {"1", "2", "4", "8", "16"};
  for (int w = 0; w < 5; w++) cJSON_AddNumberToObject(byw, wn[w], pk->fma_by_width[w]);
  cJSON_AddNumberToObject(o, "read_bandwidth_gbs", pk->read_gbs);
  cJSON_AddNumberToObject(o, "launch_latency_us", pk->launch_us);
  if (pk->n_gemm)
    cJSON_AddStringToObject(o, "gemm_api_backend", sc_gemm_backend_name((sc_gemm_backend)pk->api_backend));
  cJSON *g = cJSON_AddArrayToObject(o, "sgemm");
  for (int i = 0; i < pk->n_gemm; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "m", (double)pk->gemm[i].m);
    cJSON_AddNumberToObject(e, "n", (double)pk->gemm[i].n);
    cJSON_AddNumberToObject(e, "k", (double)pk->gemm[i].k);
    cJSON_AddNumberToObject(e, "clblast_gflops", pk->gemm[i].clblast_gflops);
    cJSON_AddNumberToObject(e, "own_gflops", pk->gemm[i].own_gflops);
    cJSON_AddItemToArray(g, e);
  }
  cJSON_AddNumberToObject(o, "seconds", pk->seconds);
  const int rc = sc_bench_write_json(o, path, err);
  cJSON_Delete(o);
  return rc;
}

int cmd_peak(int argc, char **argv, sc_err *err) {
  static const sc_opt opts[] = {
      {"device", "SEL", "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      {"json", "FILE", "also write the results as JSON to FILE ('-' for stdout)"},
      {"samples", "N", "median over N samples (default 5)"},
      {"min-time", "SEC", "each sample lasts at least SEC seconds (default 0.2)"},
      {"quick", NULL, "3 samples of 0.05 s each: a fast, noisier measurement"},
      {"no-gemm", NULL, "skip the SGEMM measurements"},
  };
  const int nopts = (int)(sizeof opts / sizeof opts[0]);
  const char *sel = NULL, *json = NULL;
  sc_peak_opts po = {5, 0.2, 0};
  sc_argp p;
  sc_argp_init(&p, argc, argv);
  for (int r; (r = sc_arg_next(&p, opts, nopts, err)) != SC_ARG_END;) {
    long v;
    switch (r) {
      case SC_ARG_ERROR: return 2;
      case SC_ARG_HELP:
        sc_usage(stdout, "scalecl peak [--device SEL] [--json FILE] [--samples N] [--min-time SEC] [--quick]",
                 "Measures the selected device the way clpeak does: fp32 FMA peak (best vector width), global memory\n"
                 "read bandwidth, kernel launch latency (enqueue + clFinish), and SGEMM through CLBlast and through\n"
                 "scalecl's own kernel at 1024x1024x1024 and 4096x1536x512. Each figure is the median of samples\n"
                 "taken after warm-up with a host clock around clFinish. Kernel compile time is not included.",
                 opts, nopts);
        return 0;
      case SC_ARG_POSITIONAL: return sc_fail(err, "unexpected argument '%s'", p.value), 2;
      case 0: sel = p.value; break;
      case 1: json = p.value; break;
      case 2:
        if (sc_parse_long(p.value, "--samples", 1, 1000, &v, err)) return 2;
        po.samples = (int)v;
        break;
      case 3:
        if (sc_parse_double(p.value, "--min-time", &po.min_sample_s, err)) return 2;
        break;
      case 4:
        po.samples = 3;
        po.min_sample_s = 0.05;
        break;
      case 5: po.skip_gemm = 1; break;
    }
  }
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  printf("device: %s (%s, %u CUs, driver %s)\n", c.dev.name, c.dev.platform_name, c.dev.compute_units,
         c.dev.driver_version);
  fflush(stdout);
  sc_peak pk;
  int rc = sc_peak_measure(&c, &po, &pk, err);
  if (rc == 0) {
    printf("%-34s %10.1f GFLOP/s (vector width %d; by width 1/2/4/8/16: %.0f/%.0f/%.0f/%.0f/%.0f)\n", "fp32 FMA peak",
           pk.fma_gflops, pk.fma_best_width, pk.fma_by_width[0], pk.fma_by_width[1], pk.fma_by_width[2],
           pk.fma_by_width[3], pk.fma_by_width[4]);
    printf("%-34s %10.1f GB/s\n", "global memory read bandwidth", pk.read_gbs);
    printf("%-34s %10.1f us\n", "kernel launch latency", pk.launch_us);
    for (int i = 0; i < pk.n_gemm; i++) {
      char label[64];
      snprintf(label, sizeof label, "SGEMM %zux%zux%zu", pk.gemm[i].m, pk.gemm[i].n, pk.gemm[i].k);
      printf("%-34s %10.1f GFLOP/s CLBlast (%.0f%% of FMA peak), %.1f GFLOP/s own kernel (%.0f%%)\n", label,
             pk.gemm[i].clblast_gflops, 100 * pk.gemm[i].clblast_gflops / pk.fma_gflops, pk.gemm[i].own_gflops,
             100 * pk.gemm[i].own_gflops / pk.fma_gflops);
    }
    if (pk.n_gemm)
      printf("%-34s %s (SCALECL_GEMM or the device profile's gemm_backend)\n", "GEMM API default backend",
             sc_gemm_backend_name((sc_gemm_backend)pk.api_backend));
    printf("(median of %d samples of >= %.2f s; total %.1f s)\n", po.samples, po.min_sample_s, pk.seconds);
    if (json) rc = write_json(json, &c, &pk, err);
  }
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
