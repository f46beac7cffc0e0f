#include "check/check.h"

#include <stdlib.h>
#include <string.h>

#include "check/runners.h"

typedef void (*runner)(ck_scope *s, const sc_check_row *row);

static const char *const ops[] = {"gemm",  "mlstm",    "attention", "rope", "embed", "norm", "swiglu", "softcap",
                                  "ogate", "residual", "gates",     "xent", "adamw", "lm",   NULL};
static const runner runners[] = {ck_run_gemm,  ck_run_mlstm,  ck_run_attention, ck_run_rope,  ck_run_embed,
                                 ck_run_norm,  ck_run_swiglu, ck_run_softcap,   ck_run_ogate, ck_run_residual,
                                 ck_run_gates, ck_run_xent,   ck_run_adamw,     ck_run_lm};

const char *const *sc_check_ops(int *n) {
  *n = (int)(sizeof runners / sizeof runners[0]);
  return ops;
}

static int op_index(const char *name) {
  for (int i = 0; ops[i]; i++)
    if (!strcmp(ops[i], name)) return i;
  return -1;
}

int sc_check_op_known(const char *name) {
  return op_index(name) >= 0;
}

int sc_check_run_row(sc_ctx *ctx, const sc_check_row *row, sc_check_emit emit, void *user, sc_err *err) {
  const int op = op_index(row->op);
  if (op < 0) return sc_fail(err, "check table row '%s' names no op '%s'", row->tag, row->op);
  /* On the heap: a jmp_buf and the result are large, and nothing the runner changes lives in this frame. */
  ck_scope *s = sc_malloc(sizeof *s, "check case scope", err);
  if (!s) return -1;
  ck_open(s, ctx, row, emit, user, err);
  int rc = 0;
  if (setjmp(s->jmp) == 0)
    runners[op](s, row);
  else
    rc = -1;
  ck_close(s);
  free(s);
  return rc;
}
