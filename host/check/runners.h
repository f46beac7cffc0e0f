/* One runner per op of the case table (check/cases.h): it builds the row's inputs with the row's seed, runs the
 * device op, runs the float64 reference (host/ref) and judges every output in its scope (check/scope.h), one
 * result per variant of the row. */
#ifndef SCALECL_CHECK_RUNNERS_H
#define SCALECL_CHECK_RUNNERS_H

#include "check/scope.h"

void ck_run_gemm(ck_scope *s, const sc_check_row *row);
void ck_run_mlstm(ck_scope *s, const sc_check_row *row);
void ck_run_attention(ck_scope *s, const sc_check_row *row);
void ck_run_rope(ck_scope *s, const sc_check_row *row);
void ck_run_embed(ck_scope *s, const sc_check_row *row);
void ck_run_norm(ck_scope *s, const sc_check_row *row);
void ck_run_swiglu(ck_scope *s, const sc_check_row *row);
void ck_run_softcap(ck_scope *s, const sc_check_row *row);
void ck_run_ogate(ck_scope *s, const sc_check_row *row);
void ck_run_residual(ck_scope *s, const sc_check_row *row);
void ck_run_gates(ck_scope *s, const sc_check_row *row);
void ck_run_xent(ck_scope *s, const sc_check_row *row);
void ck_run_adamw(ck_scope *s, const sc_check_row *row);
void ck_run_lm(ck_scope *s, const sc_check_row *row);

#endif
