#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "bench/bench.h"
#include "bench/peak.h"
#include "ops/gemm.h"

int bench_gemm_main(int argc, char **argv, sc_err *err) {
  static const char *const backends[] = {"clblast", "own", "both", NULL};
  const char *sel = NULL;
  sc_shapes shapes = {{{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {4096, 1536, 512}}, 4};
  long samples = 5;
  int backend = 2;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "device index or name substring"},
      {"shapes", SC_OPT_SHAPES, &shapes, "MxNxK,...", .help = "SGEMM shapes", .lo = 1, .hi = 1 << 16, .rank = 3,
       .sep = 'x'},
      {"backend", SC_OPT_ENUM, &backend, "NAME", .help = "GEMM implementation", .choices = backends},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples", .lo = 1, .hi = 1000},
  };
  const sc_args args = {
      "scalecl bench gemm [--shapes MxNxK,...] [--backend clblast|own|both] [--samples N] [--device SEL]",
      "Row-major SGEMM (no transposes, alpha 1, beta 0) on resident buffers; GFLOP/s = 2MNK / median time.", opts,
      SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  const int do_cb = backend != 1, do_own = backend != 0;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_gemm *gemm;
  if (sc_gemm_create(&c, &gemm, err)) {
    sc_ctx_close(&c);
    return 1;
  }
  printf("device: %s\n%-20s %14s %14s\n", c.dev.name, "M x N x K", "CLBlast GF/s", "own GF/s");
  int rc = 0;
  for (int i = 0; i < shapes.n && !rc; i++) {
    const size_t m = (size_t)shapes.v[i][0], n = (size_t)shapes.v[i][1], k = (size_t)shapes.v[i][2];
    double cb = 0, own = 0;
    if (do_cb) rc = sc_peak_sgemm(&c, gemm, SC_GEMM_CLBLAST, m, n, k, (int)samples, 0.2, &cb, err);
    if (!rc && do_own) rc = sc_peak_sgemm(&c, gemm, SC_GEMM_OWN, m, n, k, (int)samples, 0.2, &own, err);
    if (!rc) printf("%6zux%6zux%6zu %14.1f %14.1f\n", m, n, k, cb, own);
    fflush(stdout);
  }
  sc_gemm_destroy(gemm);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
