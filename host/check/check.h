/* scalecl check: every row of the case table (check/cases.h) on a device against the float64 references, one
 * result per case (an op at a shape in one variant: a GEMM backend and transpose pair, ...). */
#ifndef SCALECL_CHECK_CHECK_H
#define SCALECL_CHECK_CHECK_H

#include "check/cases.h"
#include "check/scope.h"

/* The ops of the table, in table order ("gemm", "mlstm", ..., "lm"), NULL-terminated. */
const char *const *sc_check_ops(int *n);
/* 1 when name is an op of the table. */
int sc_check_op_known(const char *name);

/* Runs one row: emit(user, result) for each of its cases. -1 with err when the row could not run (a device or
 * allocation error, not a wrong number); the results emitted before stay valid. */
int sc_check_run_row(sc_ctx *ctx, const sc_check_row *row, sc_check_emit emit, void *user, sc_err *err);

#endif
