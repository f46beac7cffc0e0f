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
  const char *sel = NULL, *json = NULL;
  sc_peak_opts po = {.progress = 1};
  long samples = 0; /* 0: not given (the defaults depend on --quick) */
  int quick = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      {"json", SC_OPT_OUTFILE, &json, "FILE", .help = "also write the results as JSON to FILE ('-' for stdout)"},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples: 5 by default, 3 with --quick", .lo = 1,
       .hi = 1000},
      {"min-time", SC_OPT_DOUBLE, &po.min_sample_s, "SEC",
       .help = "each sample lasts at least SEC seconds: 0.2 by default, 0.05 with --quick", .lo = 0, .hi = 60,
       .flags = SC_OPT_LO_OPEN},
      {"quick", SC_OPT_FLAG, &quick, NULL, .help = "3 samples of 0.05 s each: a fast, noisier measurement"},
      {"no-gemm", SC_OPT_FLAG, &po.skip_gemm, NULL, .help = "skip the SGEMM measurements"},
  };
  const sc_args args = {
      "scalecl peak [--device SEL] [--json FILE] [--samples N] [--min-time SEC] [--quick] [--no-gemm]",
      "Measures the selected device the way clpeak does: fp32 FMA peak (best vector width), global memory\n"
      "read bandwidth, kernel launch latency (enqueue + clFinish), and SGEMM through CLBlast and through\n"
      "scalecl's own kernel at 1024x1024x1024 and 4096x1536x512. Each figure is the median of samples\n"
      "taken after warm-up with a host clock around clFinish. Kernel compile time is not included.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  po.samples = samples ? (int)samples : quick ? 3 : 5;
  if (po.min_sample_s == 0) po.min_sample_s = quick ? 0.05 : 0.2;
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
