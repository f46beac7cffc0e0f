#include "cli/long_run.h"

#include <stdio.h>
#include <string.h>

#include "bench/util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  stop_requested = 1;
  signal(sig, SIG_DFL); /* the next one is not caught */
}

volatile sig_atomic_t *sc_stop_signals_catch(void) {
  stop_requested = 0;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  return &stop_requested;
}

void sc_stop_signals_release(void) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

double sc_mfu_peak(const char *who, const char *peak, const char *device, sc_err *err) {
  if (peak && !strcmp(peak, "none")) return 0;
  sc_ctx c;
  if (sc_ctx_open(&c, device, err)) return -1;
  double gf = 0;
  const char *src = NULL;
  const int rc = sc_bench_fma_peak(&c, peak, &gf, &src, err);
  sc_ctx_close(&c);
  if (rc) return -1;
  fprintf(stderr, "%s: FMA peak %.1f GFLOP/s (%s) for MFU\n", who, gf, src);
  return gf;
}
