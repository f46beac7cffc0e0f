/* scalecl check: every kernel family against the float64 references on one device (check/check.h), one line per
 * case with its worst error and tolerance, then a verdict; the exit status is 0 only when every case passed. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/output.h"
#include "base/progress.h"
#include "check/check.h"
#include "cli/commands.h"
#include "runtime/variant.h"

enum { C_OP, C_CASE, C_OUTPUT, C_ERR, C_BOUND, C_RATIO, C_NMSE, C_NMSE_BOUND, C_PASS, C_FAILURE, C_N };
static const sc_col cols[C_N] = {
    {"op", NULL, SC_COL_STR, NULL, 0},           {"case", NULL, SC_COL_STR, NULL, 0},
    {"worst_output", NULL, SC_COL_STR, NULL, 0}, {"worst_error", NULL, SC_COL_NUM, "%.2e", 0},
    {"tolerance", NULL, SC_COL_NUM, "%.2e", 0},  {"error_of_tolerance", "%", SC_COL_NUM, "%.3g", 0},
    {"nmse", NULL, SC_COL_NUM, "%.1e", 0},       {"nmse_bound", NULL, SC_COL_NUM, "%.0e", 0},
    {"pass", NULL, SC_COL_BOOL, NULL, 0},        {"failure", NULL, SC_COL_STR, NULL, 1},
};

/* The results so far; a case that could not run is a failed result carrying the error. */
typedef struct {
  sc_check_result *r;
  int n, cap, oom;
} results;

static void collect(void *user, const sc_check_result *r) {
  results *rs = user;
  if (rs->n == rs->cap) {
    const int cap = rs->cap ? 2 * rs->cap : 256;
    sc_check_result *p = realloc(rs->r, (size_t)cap * sizeof *p);
    if (!p) {
      rs->oom = 1;
      return;
    }
    rs->r = p, rs->cap = cap;
  }
  rs->r[rs->n++] = *r;
}

/* --op values, each a name or a comma list: the chosen ops in want[]; an unknown name is a usage error. */
static int pick_ops(const sc_strs *names, int *want, sc_err *err) {
  int nops;
  const char *const *ops = sc_check_ops(&nops);
  for (int i = 0; i < nops; i++) want[i] = names->n == 0;
  for (int k = 0; k < names->n; k++) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names->v[k]);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
      int i = 0;
      while (i < nops && strcmp(ops[i], w)) i++;
      if (i == nops) return sc_fail_choice(err, "op", w, ops, nops);
      want[i] = 1;
    }
  }
  return 0;
}

/* Whether table row j runs: its op chosen, and small enough under --tiny. */
static int row_wanted(const sc_check_row *row, const int *want, int tiny) {
  int nops, i = 0;
  const char *const *ops = sc_check_ops(&nops);
  while (i < nops && strcmp(ops[i], row->op)) i++;
  return i < nops && want[i] && (!tiny || sc_check_row_tiny(row));
}

/* A progress line (on a terminal) names the op being checked: a new device compiles every kernel first, which took
 * over a minute on an NVIDIA H200 with nothing printed. */
static int run_rows(sc_ctx *c, const int *want, int tiny, FILE *human, results *rs, sc_err *err) {
  int nrows, total = 0;
  const sc_check_row *rows = sc_check_rows(&nrows);
  for (int j = 0; j < nrows; j++) total += row_wanted(&rows[j], want, tiny);
  sc_progress prog;
  sc_progress_begin(&prog, "check rows", total);
  int rc = 0;
  for (int j = 0; j < nrows && !rc; j++) {
    if (!row_wanted(&rows[j], want, tiny)) continue;
    sc_progress_note(&prog, rows[j].op);
    sc_err row_err;
    if (sc_check_run_row(c, &rows[j], collect, rs, &row_err)) {
      sc_check_result r;
      sc_check_result_begin(&r, rows[j].op, rows[j].tag);
      sc_check_result_fail(&r, "error: %s", row_err.msg);
      fprintf(human, "%s\n", r.failure);
      collect(rs, &r);
    }
    if (rs->oom) rc = sc_fail(err, "out of host memory for the check results");
    sc_progress_add(&prog, 1);
  }
  sc_progress_end(&prog);
  return rc;
}

static void fill(sc_table *t, const results *rs) {
  for (int i = 0; i < rs->n; i++) {
    const sc_check_result *r = &rs->r[i];
    sc_table_row(t);
    sc_table_str(t, C_OP, r->op);
    sc_table_str(t, C_CASE, r->label);
    if (r->worst_out[0]) {
      sc_table_str(t, C_OUTPUT, r->worst_out);
      sc_table_num(t, C_ERR, r->worst_err);
      sc_table_num(t, C_BOUND, r->worst_bound);
      sc_table_num(t, C_RATIO, 100 * r->worst_ratio);
      sc_table_num(t, C_NMSE, r->worst_nmse);
      sc_table_num(t, C_NMSE_BOUND, r->nmse_bound);
    }
    sc_table_bool(t, C_PASS, sc_check_result_passed(r));
    sc_table_str(t, C_FAILURE, *r->failure ? r->failure : NULL);
  }
}

/* Which form of each kernel family ran, so a verdict on a new device says what it covered. */
static void print_variants(FILE *f, const sc_ctx *c) {
  fprintf(f, "kernel variants:");
  for (int i = 0; i < c->n_picks; i++)
    fprintf(f, "%s %s %s", i ? "," : "", c->picks[i].family, sc_variant_name((sc_variant)c->picks[i].variant));
  fprintf(f, "%s (SCALECL_KERNEL_VARIANT=cpu|gpu forces one)\n", c->n_picks ? "" : " none picked");
}

int cmd_check(int argc, char **argv, sc_err *err) {
  const char *dev = NULL;
  int tiny = 0;
  sc_output out = {0};
  sc_strs names = {calloc((size_t)argc + 1, sizeof(const char *)), 0};
  if (!names.v) return sc_fail(err, "out of host memory for the arguments"), 1;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &dev, "SEL", .help = "OpenCL device (see 'scalecl devices')"},
      {"tiny", SC_OPT_FLAG, &tiny, NULL, .help = "only the small cases (still every op and edge): seconds on a CPU"},
      {"op", SC_OPT_STRINGS, &names, "NAME[,NAME...]", .help = "only these ops (repeatable); default: all"},
      SC_OUTPUT_OPTIONS(&out),
  };
  const sc_args args = {
      "scalecl check [--device SEL] [--tiny] [--op NAME[,NAME...]]... [--format table|md|csv|json] [--json FILE|-]",
      "Runs every kernel family on the device against the float64 references: every op of the case table forward\n"
      "and backward, GEMM in every transpose form on every backend, and one whole-model forward and backward per\n"
      "architecture on a tiny config, at shapes chosen for edge cases (sizes of 1, lengths that are not multiples\n"
      "of the tile and chunk sizes, extreme values, views at odd offsets). Prints one line per case with its worst\n"
      "error against its tolerance, then a verdict; exits 0 only when every case passed, 1 otherwise. Run it first\n"
      "on a new device. Ops: gemm, mlstm, attention, rope, embed, norm, swiglu, softcap, ogate, residual, gates,\n"
      "heads, xent, lm.",
      opts, SC_NOPTS(opts), NULL};
  int rc = sc_args_parse(&args, argc, argv, err);
  int nops;
  sc_check_ops(&nops);
  int *want = calloc((size_t)nops, sizeof *want);
  if (rc == SC_ARGS_RUN && !want) rc = (sc_fail(err, "out of host memory"), 1);
  if (rc == SC_ARGS_RUN && (pick_ops(&names, want, err) || sc_output_begin(&out, err))) rc = 2;
  free(names.v);
  if (rc != SC_ARGS_RUN) {
    free(want);
    return rc;
  }
  sc_ctx c;
  if (sc_ctx_open(&c, dev, err)) {
    free(want);
    return 1;
  }
  fprintf(out.human, "device: %s (%s, driver %s)%s\n", c.dev.name, c.dev.platform_name, c.dev.driver_version,
          tiny ? "; tiny cases" : "");
  fflush(out.human);
  results rs = {0};
  cJSON *root = NULL;
  sc_table *t = sc_table_create("cases", cols, C_N, err);
  rc = !t || run_rows(&c, want, tiny, out.human, &rs, err) ? -1 : 0;
  sc_check_verdict v = sc_check_verdict_of(rs.r, rs.n);
  if (!rc) {
    fill(t, &rs);
    char line[512];
    sc_check_verdict_line(&v, line, sizeof line);
    if ((root = cJSON_CreateObject())) {
      cJSON_AddStringToObject(root, "device", c.dev.name);
      cJSON_AddStringToObject(root, "platform", c.dev.platform_name);
      cJSON_AddStringToObject(root, "driver_version", c.dev.driver_version);
      cJSON_AddBoolToObject(root, "tiny", tiny);
      cJSON_AddBoolToObject(root, "passed", sc_check_verdict_passed(&v));
      cJSON_AddNumberToObject(root, "failed", v.failed);
      cJSON_AddStringToObject(root, "verdict", line);
      cJSON_AddItemToObject(root, "kernel_variants", sc_variants_json(&c));
    }
    rc = sc_output_emit(&out, root, &t, 1, err);
    print_variants(out.human, &c);
    fprintf(out.human, "%s\n", line);
  }
  cJSON_Delete(root);
  sc_table_destroy(t);
  free(rs.r);
  free(want);
  sc_ctx_close(&c);
  return rc ? 1 : sc_check_verdict_passed(&v) ? 0 : 1;
}
