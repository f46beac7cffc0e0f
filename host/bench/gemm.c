#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "bench/bench.h"
#include "bench/peak.h"
#include "bench/util.h"

enum { C_M, C_N, C_K, C_BACKEND, C_API, C_GFLOPS, C_FLOPS = C_GFLOPS + 3, C_BYTES, C_COUNT };
static const sc_col cols[C_COUNT] = {
    {"m", NULL, SC_COL_NUM, NULL, 0},
    {"n", NULL, SC_COL_NUM, NULL, 0},
    {"k", NULL, SC_COL_NUM, NULL, 0},
    {"backend", NULL, SC_COL_STR, NULL, 0},
    {"gemm_api", NULL, SC_COL_BOOL, NULL, 0},
    {"gflops", "GFLOP/s", SC_COL_NUM, "%.1f", 0},
    {"gflops_mean", "GFLOP/s", SC_COL_NUM, "%.1f", 0},
    {"gflops_sd", "GFLOP/s", SC_COL_NUM, "%.2f", 0},
    SC_BENCH_ROOFLINE_COLUMNS,
};

int bench_gemm_main(int argc, char **argv, sc_err *err) {
  /* The backends in sc_gemm_backend order from SC_GEMM_CLBLAST, then every one the device runs. */
  static const char *const backends[] = {"clblast", "own", "host", "all", NULL};
  enum { ALL = 3 };
  const char *sel = NULL;
  sc_output out = {0};
  sc_shapes shapes = {{{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {4096, 1536, 512}}, 4};
  long samples = 5;
  int backend = ALL;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "device index or name substring"},
      SC_OUTPUT_OPTIONS(&out),
      {"shapes", SC_OPT_SHAPES, &shapes, "MxNxK,...", .help = "SGEMM shapes", .lo = 1, .hi = 1 << 16, .rank = 3,
       .sep = 'x'},
      {"backend", SC_OPT_ENUM, &backend, "NAME", .help = "GEMM implementation", .choices = backends},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples", .lo = 1, .hi = 1000},
  };
  const sc_args args = {
      "scalecl bench gemm [--format table|md|csv|json] [--json FILE|-] [--shapes MxNxK,...]\n"
      "                   [--backend clblast|own|host|all] [--samples N] [--device SEL]",
      "Row-major SGEMM (no transposes, alpha 1, beta 0) on resident buffers; GFLOP/s = 2MNK / time per call,\n"
      "the median (with mean and sd) of samples of at least 0.2 s. gemm_api marks the backend scalecl's GEMM\n"
      "uses on the device. host (the host's BLAS on mapped buffers) runs on CPU devices only; all skips it\n"
      "elsewhere.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_bench_print_device(out.human, &c);
  char blas[160] = "";
  if (sc_gemm_host_capable(&c.dev)) {
    sc_gemm_host_describe(blas, sizeof blas);
    fprintf(out.human, "host backend: %s\n", blas);
  }
  sc_gemm *gemm = NULL;
  cJSON *root = NULL;
  sc_table *t = sc_table_create("results", cols, C_COUNT, err);
  int rc = !t || sc_gemm_create(&c, &gemm, err);
  for (int i = 0; i < shapes.n && !rc; i++)
    for (int be = SC_GEMM_CLBLAST; be < SC_GEMM_COUNT && !rc; be++) {
      if (backend == ALL ? !sc_gemm_available(gemm, be) : backend != be - SC_GEMM_CLBLAST) continue;
      const size_t m = (size_t)shapes.v[i][0], n = (size_t)shapes.v[i][1], k = (size_t)shapes.v[i][2];
      sc_figure gf;
      if ((rc = sc_peak_sgemm(&c, gemm, be, m, n, k, (int)samples, 0.2, &gf, err))) break;
      sc_table_row(t);
      sc_table_num(t, C_M, (double)m);
      sc_table_num(t, C_N, (double)n);
      sc_table_num(t, C_K, (double)k);
      sc_table_str(t, C_BACKEND, sc_gemm_backend_name((sc_gemm_backend)be));
      sc_table_bool(t, C_API, be == (int)sc_gemm_default(gemm));
      sc_bench_cells(t, C_GFLOPS, gf);
      /* 2MNK; A and B read, C written (beta 0). */
      sc_table_num(t, C_FLOPS, 2.0 * (double)m * n * k);
      sc_table_num(t, C_BYTES, 4.0 * ((double)m * k + (double)k * n + (double)m * n));
    }
  if (!rc) {
    if ((root = sc_bench_json_root(&c))) {
      cJSON_AddStringToObject(root, "gemm_api_backend", sc_gemm_backend_name(sc_gemm_default(gemm)));
      cJSON_AddNumberToObject(root, "samples", (double)samples);
      cJSON_AddStringToObject(root, "flop_count", "2MNK");
      if (*blas) cJSON_AddStringToObject(root, "host_blas", blas);
    }
    rc = sc_bench_emit(&out, &c, "gemm", root, &t, 1, err);
  }
  cJSON_Delete(root);
  sc_table_destroy(t);
  sc_gemm_destroy(gemm);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
