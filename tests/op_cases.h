/* The op tests run the check table's rows (check/cases.h) through the same runners and comparison as
 * `scalecl check` (check/check.h): a test per op iterates its rows and fails on any failed case. */
#ifndef SCALECL_TEST_OP_CASES_H
#define SCALECL_TEST_OP_CASES_H

#include "check/check.h"
#include "harness.h"

/* Runs every row of the table for `op`, printing one line per case; fails the test on a failed case or an error,
 * and when the table has no rows for op. */
void th_run_op_cases(sc_ctx *ctx, const char *op);

#endif
