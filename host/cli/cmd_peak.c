#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/args.h"
#include "base/output.h"
#include "bench/peak.h"
#include "bench/util.h"
#include "cli/commands.h"
#include "ops/gemm.h"

enum { C_TEST, C_CONFIG, C_BACKEND, C_API, C_MEDIAN, C_MEAN, C_SD, C_UNIT, C_PCT_FMA, C_N };
static const sc_col cols[C_N] = {
    {"test", NULL, SC_COL_STR, NULL, 0},
    {"config", NULL, SC_COL_STR, NULL, 0},
    {"backend", NULL, SC_COL_STR, NULL, 0},
    {"gemm_api", NULL, SC_COL_BOOL, NULL, 0},
    {"median", "unit", SC_COL_NUM, "%.1f", 0},
    {"mean", "unit", SC_COL_NUM, "%.1f", 0},
    {"sd", "unit", SC_COL_NUM, "%.2f", 0},
    {"unit", NULL, SC_COL_STR, NULL, 0},
    {"pct_fma_peak", "% of fma_gflops", SC_COL_NUM, "%.0f", 0},
};

static void row(sc_table *t, const char *test, const char *config, sc_figure f, const char *unit, double fma_peak) {
  sc_table_row(t);
  sc_table_str(t, C_TEST, test);
  sc_table_str(t, C_CONFIG, config);
  sc_bench_cells(t, C_MEDIAN, f);
  sc_table_str(t, C_UNIT, unit);
  if (fma_peak > 0) sc_table_num(t, C_PCT_FMA, 100 * f.median / fma_peak);
}

static void fill(sc_table *t, const sc_peak *pk) {
  static const char *const widths[5] = {"vector width 1", "vector width 2", "vector width 4", "vector width 8",
                                        "vector width 16"};
  for (int w = 0; w < 5; w++) row(t, "fp32_fma", widths[w], pk->fma_by_width[w], "GFLOP/s", pk->fma_gflops);
  row(t, "read_bandwidth", NULL, pk->read_gbs, "GB/s", 0);
  row(t, "launch_latency", "enqueue + clFinish", pk->launch_us, "us", 0);
  for (int i = 0; i < pk->n_gemm; i++) {
    char shape[64];
    snprintf(shape, sizeof shape, "%zux%zux%zu", pk->gemm[i].m, pk->gemm[i].n, pk->gemm[i].k);
    for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT; be++) {
      if (pk->gemm[i].gflops[be].median <= 0) continue;
      row(t, "sgemm", shape, pk->gemm[i].gflops[be], "GFLOP/s", pk->fma_gflops);
      sc_table_str(t, C_BACKEND, sc_gemm_backend_name((sc_gemm_backend)be));
      sc_table_bool(t, C_API, be == pk->api_backend);
    }
  }
}

/* The fields `--peak FILE` and README rely on, besides the table. */
static void add_fields(cJSON *o, const sc_peak *pk, const sc_peak_opts *po) {
  cJSON_AddNumberToObject(o, "fma_gflops", pk->fma_gflops);
  cJSON_AddNumberToObject(o, "fma_best_vector_width", pk->fma_best_width);
  cJSON *byw = cJSON_AddObjectToObject(o, "fma_gflops_by_vector_width");
  static const char *wn[5] = {"1", "2", "4", "8", "16"};
  for (int w = 0; w < 5; w++) cJSON_AddNumberToObject(byw, wn[w], pk->fma_by_width[w].median);
  cJSON_AddNumberToObject(o, "read_bandwidth_gbs", pk->read_gbs.median);
  cJSON_AddNumberToObject(o, "launch_latency_us", pk->launch_us.median);
  if (pk->n_gemm)
    cJSON_AddStringToObject(o, "gemm_api_backend", sc_gemm_backend_name((sc_gemm_backend)pk->api_backend));
  cJSON *g = cJSON_AddArrayToObject(o, "sgemm");
  for (int i = 0; i < pk->n_gemm; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "m", (double)pk->gemm[i].m);
    cJSON_AddNumberToObject(e, "n", (double)pk->gemm[i].n);
    cJSON_AddNumberToObject(e, "k", (double)pk->gemm[i].k);
    for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT; be++) {
      char key[32];
      snprintf(key, sizeof key, "%s_gflops", sc_gemm_backend_name(be));
      if (pk->gemm[i].gflops[be].median > 0) cJSON_AddNumberToObject(e, key, pk->gemm[i].gflops[be].median);
    }
    cJSON_AddItemToArray(g, e);
  }
  cJSON_AddNumberToObject(o, "samples", po->samples);
  cJSON_AddNumberToObject(o, "min_sample_seconds", po->min_sample_s);
  cJSON_AddNumberToObject(o, "seconds", pk->seconds);
}

int cmd_peak(int argc, char **argv, sc_err *err) {
  const char *sel = NULL;
  sc_output out = {0};
  sc_peak_opts po = {.progress = 1};
  long samples = 0; /* 0: not given (the defaults depend on --quick) */
  int quick = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL",
       .help = "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      SC_OUTPUT_OPTIONS(&out),
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples: 5 by default, 3 with --quick", .lo = 1,
       .hi = 1000},
      {"min-time", SC_OPT_DOUBLE, &po.min_sample_s, "SEC",
       .help = "each sample lasts at least SEC seconds: 0.2 by default, 0.05 with --quick", .lo = 0, .hi = 60,
       .flags = SC_OPT_LO_OPEN},
      {"quick", SC_OPT_FLAG, &quick, NULL, .help = "3 samples of 0.05 s each: a fast, noisier measurement"},
      {"no-gemm", SC_OPT_FLAG, &po.skip_gemm, NULL, .help = "skip the SGEMM measurements"},
  };
  const sc_args args = {
      "scalecl peak [--device SEL] [--format table|md|csv|json] [--json FILE|-] [--samples N] [--min-time SEC]\n"
      "             [--quick] [--no-gemm]",
      "Measures the selected device the way clpeak does: fp32 FMA peak (best vector width), global memory\n"
      "read bandwidth, kernel launch latency (enqueue + clFinish), and SGEMM through every GEMM backend the\n"
      "device runs (CLBlast, scalecl's own kernel, on CPU devices the host's BLAS) at 1024x1024x1024 and\n"
      "4096x1536x512. Each figure is the median (with mean and sd) of samples taken after warm-up with a host\n"
      "clock around clFinish. Kernel compile time is not included.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  po.samples = samples ? (int)samples : quick ? 3 : 5;
  if (po.min_sample_s == 0) po.min_sample_s = quick ? 0.05 : 0.2;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_bench_print_device(out.human, &c);
  sc_peak pk;
  cJSON *root = NULL;
  sc_table *t = sc_table_create("results", cols, C_N, err);
  int rc = !t || sc_peak_measure(&c, &po, &pk, err);
  if (rc == 0) {
    fill(t, &pk);
    if ((root = sc_bench_json_root(&c))) add_fields(root, &pk, &po);
    rc = sc_bench_emit(&out, &c, "peak", root, &t, 1, err);
  }
  if (rc == 0) {
    fprintf(out.human, "fp32 FMA peak %.1f GFLOP/s at vector width %d", pk.fma_gflops, pk.fma_best_width);
    if (pk.n_gemm)
      fprintf(out.human, "; GEMM API default backend: %s (SCALECL_GEMM or the device profile's gemm_backend)",
              sc_gemm_backend_name((sc_gemm_backend)pk.api_backend));
    fprintf(out.human, "\n(median, mean and sd of %d samples of >= %.2f s; total %.1f s)\n", po.samples,
            po.min_sample_s, pk.seconds);
  }
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
