/* scalecl tune: the tile parameters of scalecl's own kernels searched on one device (bench/tune.h); a table of
 * every candidate, then a device profile with the best. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/err.h"
#include "base/output.h"
#include "base/progress.h"
#include "bench/tune.h"
#include "bench/util.h"
#include "cli/commands.h"

enum { C_KEY, C_TILES, C_STATUS, C_MEDIAN, C_MEAN, C_SD, C_UNIT, C_SHAPES, C_NOTE, C_N };
static const sc_col cols[C_N] = {
    {"key", NULL, SC_COL_STR, NULL, 0},      {"tiles", NULL, SC_COL_STR, NULL, 0},
    {"status", NULL, SC_COL_STR, NULL, 0},   {"median", "unit", SC_COL_NUM, "%.1f", 0},
    {"mean", "unit", SC_COL_NUM, "%.1f", 0}, {"sd", "unit", SC_COL_NUM, "%.2f", 0},
    {"unit", NULL, SC_COL_STR, NULL, 0},     {"by_shape", NULL, SC_COL_STR, NULL, 0},
    {"note", NULL, SC_COL_STR, NULL, 1},
};

/* "dh64 123.4*, dh128 56.7": each timed shape's median rate, '*' where the candidate is that shape's best. */
static void by_shape(const sc_tune_result *r, int k, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int s = 0; s < r->n_shapes && used < cap; s++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s %.1f%s", s ? ", " : "", r->shape[s],
                             r->cand[k].shape_rate[s].median, r->shape_best[s] == k ? "*" : "");
}

static void tick(void *p, int done, int total) {
  (void)done, (void)total;
  sc_progress_add(p, 1);
}

/* tune-<device>.json with the device name in lower case, other characters as '-'. */
static void default_out(const sc_ctx *c, char *buf, size_t cap) {
  char name[128];
  size_t n = 0;
  for (const char *p = c->dev.name; *p && n + 1 < sizeof name; p++) {
    const char ch = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
    if (ch != '-' || (n && name[n - 1] != '-')) name[n++] = ch;
  }
  while (n && name[n - 1] == '-') n--;
  name[n] = '\0';
  snprintf(buf, cap, "tune-%s.json", n ? name : "device");
}

enum { ALL = 2, AUTO = 3 };                   /* --variant beyond cpu and gpu */
enum { SHAPES_CPU, SHAPES_GPU, SHAPES_AUTO }; /* --shapes */

/* Whether family is one of the comma-separated names in list. */
static int listed(const char *list, const char *family) {
  const size_t n = strlen(family);
  for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (!strncmp(p, family, n) && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

/* Whether entries[i] runs: --op and --variant select. auto: with --op every variant of that family; without,
 * both variants of a family tuned in both (the profile then takes the faster), and a family tuned in one variant
 * only where c runs that variant (sc_variant_choice: the device's profile or type; c NULL: not known yet, so
 * yes). */
static int selected(const sc_tune_entry *entries, int n, int i, const char *op, int variant, const sc_ctx *c,
                    sc_err *err) {
  const sc_tune_entry *e = &entries[i];
  if (op && !listed(op, e->family)) return 0;
  if (variant != AUTO) return variant == ALL || (int)e->variant == variant;
  if (op || !c) return 1;
  for (int j = 0; j < n; j++)
    if (j != i && !strcmp(entries[j].family, e->family)) return 1;
  sc_variant v;
  if (sc_variant_choice(c, e->family, &v, err)) return -1;
  return v == e->variant;
}

int cmd_tune(int argc, char **argv, sc_err *err) {
  static const char *const variants[] = {"cpu", "gpu", "all", "auto", NULL};
  static const char *const shape_kinds[] = {"cpu", "gpu", "auto", NULL};
  const char *sel = NULL, *op = NULL, *outpath = NULL;
  sc_output out = {0};
  int quick = 0, variant = AUTO, shapes = SHAPES_AUTO;
  long samples = 3;
  double budget = 0;
  const sc_option opts[] = {
      {"device", SC_OPT_STRING, &sel, "SEL", .help = "device index or name substring (default: $SCALECL_DEVICE)"},
      {"op", SC_OPT_STRING, &op, "LIST",
       .help = "the kernel families to tune, comma-separated (default: every family the tuner knows)"},
      {"variant", SC_OPT_ENUM, &variant, "NAME",
       .help = "the kernel variants to tune (auto: those the device runs, and both where a family has both)",
       .choices = variants},
      {"out", SC_OPT_OUTFILE, &outpath, "FILE", .help = "the profile to write (default: tune-<device>.json)"},
      {"quick", SC_OPT_FLAG, &quick, NULL, .help = "a small grid at a small shape, short samples: a smoke test"},
      {"shapes", SC_OPT_ENUM, &shapes, "KIND",
       .help = "the grids and timed shapes: cpu (S 2048, 2 heads), gpu (the GPU study's: S 8192, 8 heads, head dims "
               "64-256, GPU grids) or auto (gpu on GPU and accelerator devices)",
       .choices = shape_kinds},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples per candidate", .lo = 1, .hi = 100},
      {"budget", SC_OPT_DOUBLE, &budget, "SECONDS",
       .help = "per family and variant: no candidate starts after this long (the rest are listed as not tried); "
               "0: none",
       .lo = 0, .hi = 1e6},
      SC_OUTPUT_OPTIONS(&out),
  };
  const sc_args args = {
      "scalecl tune [--device SEL] [--op LIST] [--variant cpu|gpu|all|auto] [--out FILE] [--quick]\n"
      "             [--shapes cpu|gpu|auto] [--samples N] [--budget SECONDS] [--format table|md|csv|json]\n"
      "             [--json FILE|-]",
      "Searches the tile parameters (-D defines) of scalecl's own kernels on the device over a small grid per\n"
      "family and variant, the op's defaults first. A candidate that does not fit the device (work-group size,\n"
      "local memory) is skipped; one that fails to build or run is reported; each other one is checked against\n"
      "the float64 reference at a small shape (a wrong one is rejected) and timed after warm-up, host clock\n"
      "around clFinish, median of samples. mlstm and attention are timed at several head dims apart. Prints every\n"
      "candidate, then writes a device profile: \"match\" (the platform and device names), \"kernel_variant\" (per\n"
      "family the faster variant), \"tiles\" (the best of each variant over all shapes, and as\n"
      "\"<family>_<variant>@dh<N>\" the best at a head dim where another candidate wins there) and \"about\" (how\n"
      "and when). On a GPU the grids favour large register tiles and the shapes are the GPU study's (--shapes).\n"
      "Copy it into platforms/profiles/, or run with SCALECL_PROFILE_DIR\n"
      "set to its directory. Families: gemm (cpu: RM RN; gpu: WGM WGN TM TN TK PAD), mlstm (gpu: TM TN TK WM WN\n"
      "LS), attention (gpu: BR BC WR WC LS NEXP), norm (gpu: WG), xent (gpu: WG), adamw (gpu: SUMSQ_PARTS WG).\n"
      "By default a family tuned in one variant runs only where the device runs that variant (its profile's\n"
      "kernel_variant, else gpu on GPUs); --op or --variant selects it anyway.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  int n_entries, chosen = 0;
  const sc_tune_entry *entries = sc_tune_entries(&n_entries);
  const char *families[16];
  int n_families = 0;
  for (int i = 0; i < n_entries; i++) {
    int seen = 0;
    for (int j = 0; j < n_families; j++) seen |= !strcmp(families[j], entries[i].family);
    if (!seen && n_families < 16) families[n_families++] = entries[i].family;
    chosen += selected(entries, n_entries, i, op, variant, NULL, err);
  }
  for (const char *p = op; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
    const size_t len = strcspn(p, ",");
    int known = 0;
    for (int j = 0; j < n_families; j++) known |= strlen(families[j]) == len && !strncmp(families[j], p, len);
    if (!known || !chosen) {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
      sc_fail_choice(err, "--op family", name, families, n_families);
      return 2;
    }
  }
  if (sc_output_begin(&out, err)) return 2;
  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  sc_bench_print_device(out.human, &c);
  const int gpu_shapes = shapes == SHAPES_AUTO ? (c.dev.type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) != 0
                                               : shapes == SHAPES_GPU;
  const sc_tune_opts to = {quick, gpu_shapes, (int)samples, quick ? 0.02 : 0.1, budget};
  sc_tune_result *res = sc_calloc((size_t)n_entries, sizeof *res, "tuner results", err);
  sc_table *t = sc_table_create("candidates", cols, C_N, err);
  cJSON *profile = NULL, *root = NULL;
  int rc = !res || !t, n = 0;
  for (int i = 0; i < n_entries && !rc; i++) {
    const sc_tune_entry *e = &entries[i];
    const int sel_rc = selected(entries, n_entries, i, op, variant, &c, err);
    if (sel_rc < 0) rc = 1;
    if (sel_rc <= 0) continue;
    char what[64];
    snprintf(what, sizeof what, "tune %s_%s", e->family, sc_variant_name(e->variant));
    sc_progress prog;
    sc_progress_begin(&prog, what, 0);
    rc = sc_tune_run(&c, e, &to, tick, &prog, &res[n], err);
    sc_progress_end(&prog);
    if (rc) break;
    n++;
    for (int k = 0; k < res[n - 1].n; k++) {
      const sc_tune_candidate *cand = &res[n - 1].cand[k];
      sc_table_row(t);
      sc_table_str(t, C_KEY, what + 5);
      sc_table_str(t, C_TILES, cand->tiles);
      sc_table_str(t, C_STATUS,
                   k == res[n - 1].best      ? "best"
                   : k == 0 && !cand->status ? "default"
                                             : sc_tune_status_name(cand->status));
      if (cand->status == SC_TUNE_OK) {
        sc_bench_cells(t, C_MEDIAN, cand->rate);
        sc_table_str(t, C_UNIT, e->unit);
        if (res[n - 1].n_shapes > 1) {
          char buf[200];
          by_shape(&res[n - 1], k, buf, sizeof buf);
          sc_table_str(t, C_SHAPES, buf);
        }
      }
      if (*cand->note) sc_table_str(t, C_NOTE, cand->note);
    }
  }
  char cmdline[512], path[4200];
  size_t used = (size_t)snprintf(cmdline, sizeof cmdline, "scalecl tune");
  for (int i = 1; i < argc && used < sizeof cmdline; i++)
    used += (size_t)snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
  if (!rc) {
    profile = sc_tune_profile(&c, res, n, &to, cmdline, err);
    rc = !profile;
  }
  if (!rc && (root = sc_bench_json_root(&c))) cJSON_AddItemReferenceToObject(root, "tuned_profile", profile);
  if (!rc) rc = sc_output_emit(&out, root, &t, 1, err);
  if (!rc) {
    if (outpath)
      snprintf(path, sizeof path, "%s", outpath);
    else
      default_out(&c, path, sizeof path);
    char *text = cJSON_Print(profile);
    rc = !text || sc_write_file_atomic(path, text, strlen(text), err);
    if (!text) sc_fail(err, "out of memory writing the profile");
    free(text);
  }
  if (!rc) {
    /* The reasons stay out of the aligned table (too long); a candidate that failed or was wrong needs one. */
    for (int i = 0; i < n; i++)
      for (int k = 0; k < res[i].n; k++) {
        const sc_tune_candidate *cand = &res[i].cand[k];
        if ((cand->status == SC_TUNE_FAILED || cand->status == SC_TUNE_WRONG) && *cand->note)
          fprintf(out.human, "%s %s: %s\n", sc_tune_status_name(cand->status), cand->tiles, cand->note);
      }
    fprintf(out.human,
            "%s\nwrote %s: copy it into platforms/profiles/, or run with SCALECL_PROFILE_DIR set to its "
            "directory\n",
            cJSON_GetObjectItemCaseSensitive(profile, "about")->valuestring, path);
  }
  for (int i = 0; res && i < n_entries; i++) free(res[i].cand);
  free(res);
  cJSON_Delete(root);
  cJSON_Delete(profile);
  sc_table_destroy(t);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
