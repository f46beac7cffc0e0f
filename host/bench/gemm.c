#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "bench/bench.h"
#include "bench/peak.h"
#include "ops/gemm.h"

int bench_gemm_main(int argc, char **argv, sc_err *err) {
  static const sc_opt opts[] = {
      {"device", "SEL", "device index or name substring"},
      {"shapes", "LIST", "comma-separated MxNxK (default 256x256x256,512x512x512,1024x1024x1024,4096x1536x512)"},
      {"backend", "NAME", "clblast, own or both (default both)"},
      {"samples", "N", "median over N samples (default 5)"},
  };
  const int nopts = (int)(sizeof opts / sizeof opts[0]);
  const char *sel = NULL, *shapes = "256x256x256,512x512x512,1024x1024x1024,4096x1536x512", *backend = "both";
  long samples = 5;
  sc_argp p;
  sc_argp_init(&p, argc, argv);
  for (int r; (r = sc_arg_next(&p, opts, nopts, err)) != SC_ARG_END;) {
    if (r == SC_ARG_ERROR) return 2;
    if (r == SC_ARG_HELP) {
      sc_usage(stdout, "scalecl bench gemm [--shapes LIST] [--backend clblast|own|both] [--device SEL]",
               "Row-major SGEMM (no transposes, alpha 1, beta 0) on resident buffers; GFLOP/s = 2MNK / median time.",
               opts, nopts);
      return 0;
    }
    if (r == SC_ARG_POSITIONAL) return sc_fail(err, "unexpected argument '%s'", p.value), 2;
    if (r == 0) sel = p.value;
    if (r == 1) shapes = p.value;
    if (r == 2) backend = p.value;
    if (r == 3 && sc_parse_long(p.value, "--samples", 1, 1000, &samples, err)) return 2;
  }
  int do_cb = !strcmp(backend, "both") || !strcmp(backend, "clblast");
  int do_own = !strcmp(backend, "both") || !strcmp(backend, "own");
  if (!do_cb && !do_own) return sc_fail(err, "--backend: '%s' is not clblast, own or both", backend), 2;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_gemm *gemm;
  if (sc_gemm_create(&c, &gemm, err)) {
    sc_ctx_close(&c);
    return 1;
  }
  printf("device: %s\n%-20s %14s %14s\n", c.dev.name, "M x N x K", "CLBlast GF/s", "own GF/s");
  int rc = 0;
  for (const char *s = shapes; *s && !rc;) {
    unsigned long m, n, k;
    int used = 0;
    if (sscanf(s, "%lux%lux%lu%n", &m, &n, &k, &used) != 3 || m == 0 || n == 0 || k == 0) {
      rc = sc_fail(err, "--shapes: cannot parse '%s' (expected MxNxK,...)", s);
      break;
    }
    double cb = 0, own = 0;
    if (do_cb) rc = sc_peak_sgemm(&c, gemm, SC_GEMM_CLBLAST, m, n, k, (int)samples, 0.2, &cb, err);
    if (!rc && do_own) rc = sc_peak_sgemm(&c, gemm, SC_GEMM_OWN, m, n, k, (int)samples, 0.2, &own, err);
    if (!rc) printf("%6lux%6lux%6lu %14.1f %14.1f\n", m, n, k, cb, own);
    fflush(stdout);
    s += used;
    if (*s == ',') s++;
  }
  sc_gemm_destroy(gemm);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
