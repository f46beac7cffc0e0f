/* The op tests run the check table's rows (check/cases.h) through the same runners and comparison as
 * `scalecl check` (check/check.h): a test per op iterates its rows and fails on any failed case. */
#ifndef SCALECL_TEST_OP_CASES_H
#define SCALECL_TEST_OP_CASES_H

#include "check/check.h"
#include "harness.h"

/* Runs every row of the table for `op`, printing one line per case; fails the test on a failed case or an error,
 * and when the table has no rows for op. */
void th_run_op_cases(sc_ctx *ctx, const char *op);

/* The kernel variants (runtime/variant.h) a family's tests run under: th_variant_set(v) forces th_variants[v]
 * through SCALECL_KERNEL_VARIANT for the ops created next; th_variant_set(-1) lets the device decide again. */
#define TH_NVARIANTS 2
extern const char *const th_variants[TH_NVARIANTS];
void th_variant_set(int v);

/* th_run_op_cases under each variant in turn. */
void th_run_op_cases_variants(sc_ctx *ctx, const char *op);

/* The families' variant timings print times and never fail on them: tiny shapes by default (the code runs),
 * model-like shapes when SCALECL_TEST_TIMES=model. th_time_ms: the median milliseconds of fn(user) over `samples`
 * calls, each waited for with sc_finish, after one warm-up call. */
int th_time_model_shapes(void);
double th_time_ms(sc_ctx *c, void (*fn)(void *user), void *user, int samples);

#endif
