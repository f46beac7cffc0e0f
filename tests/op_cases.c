#include "op_cases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

typedef struct {
  int cases;
  char failure[1024]; /* the first failed case */
} tally;

static void print_case(void *user, const sc_check_result *r) {
  tally *t = user;
  printf("  %s %s: worst %s |err| %.2e <= %.2e (%.2g%%); nmse %.1e <= %.0e (%s)\n", r->op, r->label, r->worst_out,
         r->worst_err, r->worst_bound, 100 * r->worst_ratio, r->worst_nmse, r->nmse_bound, r->nmse_out);
  fflush(stdout);
  t->cases++;
  if (!sc_check_result_passed(r) && !*t->failure)
    snprintf(t->failure, sizeof t->failure, "%s %s: %s", r->op, r->label, r->failure);
}

void th_run_op_cases(sc_ctx *ctx, const char *op) {
  static sc_err err;
  int nrows, n = 0;
  const sc_check_row *rows = sc_check_rows(&nrows);
  tally t = {0};
  for (int j = 0; j < nrows; j++)
    if (!strcmp(rows[j].op, op)) {
      if (sc_check_run_row(ctx, &rows[j], print_case, &t, &err)) fail_msg("%s", err.msg);
      n++;
    }
  if (!n) fail_msg("the op-case table has no rows for '%s'", op);
  printf("%s: %d rows, %d cases\n", op, n, t.cases);
  if (*t.failure) fail_msg("%s", t.failure);
}

const char *const th_variants[TH_NVARIANTS] = {"cpu", "gpu"};

void th_variant_set(int v) {
  th_setenv("SCALECL_KERNEL_VARIANT", v >= 0 ? th_variants[v] : NULL);
}

void th_run_op_cases_variants(sc_ctx *ctx, const char *op) {
  for (int v = 0; v < TH_NVARIANTS; v++) {
    printf("%s, %s variant:\n", op, th_variants[v]);
    th_variant_set(v);
    th_run_op_cases(ctx, op);
  }
  th_variant_set(-1);
}

int th_time_model_shapes(void) {
  const char *v = getenv("SCALECL_TEST_TIMES");
  return v && !strcmp(v, "model");
}

double th_time_ms(sc_ctx *c, void (*fn)(void *user), void *user, int samples) {
  enum { MAX_SAMPLES = 64 };
  double t[MAX_SAMPLES];
  if (samples > MAX_SAMPLES) samples = MAX_SAMPLES;
  fn(user);
  TH_CHECK(sc_finish(c, TH_ERR));
  for (int i = 0; i < samples; i++) {
    const double t0 = sc_now();
    fn(user);
    TH_CHECK(sc_finish(c, TH_ERR));
    t[i] = sc_now() - t0;
  }
  return 1e3 * sc_median(t, samples);
}
