/* The tuner (`scalecl tune`): searches the tile parameters of scalecl's own kernels on one device and writes a
 * device profile (runtime/profile.h, runtime/variant.h) with the best.
 *
 * Table-driven: one entry per (family, variant) holds its parameter grid (a full and a --quick one), its fit check
 * (candidates that do not fit the device are skipped), and how to open the op, check it against its float64
 * reference at a small shape and time it. A family of another op is one more entry. For every candidate the
 * tuner sets the context's tile override (c->tile_key = "<family>_<variant>", c->tile_override), which
 * sc_variant_pick applies and which forces that variant; then it checks the result (a wrong candidate is rejected
 * and reported; one that fails to build or launch is reported, not an error of the tuner), and times the
 * survivors as the benchmarks time (warm-up, host clock around clFinish, median of samples). The op's own defaults
 * are always the first candidate, so the table says what tuning gained. */
#ifndef SCALECL_BENCH_TUNE_H
#define SCALECL_BENCH_TUNE_H

#include <cjson/cJSON.h>

#include "runtime/context.h"
#include "runtime/timing.h"
#include "runtime/variant.h"

enum { SC_TUNE_MAX_VALUES = 8, SC_TUNE_MAX_SHAPES = 4 };

/* One tile parameter and the values the full, the --quick and the GPU grid try (n_gpu 0: the full grid's). */
typedef struct {
  const char *name;
  int n_values;
  int values[SC_TUNE_MAX_VALUES];
  int n_quick;
  int quick[SC_TUNE_MAX_VALUES];
  int n_gpu;
  int gpu[SC_TUNE_MAX_VALUES];
} sc_tune_param;

typedef struct {
  int quick;           /* the --quick grid and shapes (before gpu) */
  int gpu;             /* the GPU grid and GPU-sized shapes (the GPU study's: S 8192, 8 heads, head dims to 256) */
  int samples;         /* median over this many samples */
  double min_sample_s; /* each sample lasts at least this long */
  double budget_s;     /* > 0: no candidate starts after this many seconds of the entry's search (a device lease) */
} sc_tune_opts;

typedef struct {
  const char *family; /* as sc_variant_pick names it (and `--op`): "gemm" */
  sc_variant variant;
  const char *defaults; /* the op's tile defaults for this variant: "NAME=V ..." */
  const sc_tune_param *params;
  int n_params;
  const char *unit; /* of the timed rate: "GFLOP/s" */
  /* What is timed, for the table and the profile's "about": "512x512x512 NN". */
  void (*describe)(const sc_tune_opts *o, char *buf, size_t cap);
  /* How many shapes are timed apart (at most SC_TUNE_MAX_SHAPES), and when i is below that, the name of shape i as
   * the op names it to sc_variant_pick ("dh128"), so the profile can hold the tiles that win at one shape. NULL: one
   * shape, unnamed. */
  int (*shapes)(const sc_tune_opts *o, int i, char *name, size_t cap);
  /* Whether the candidate's tile defines (all of the variant's names) fit the device; err says why not. */
  int (*fits)(const sc_device_info *d, const char *tiles, sc_err *err);
  /* Opens the op on c for the shapes of o (the candidate is in force through c's tile override), then closes it. */
  int (*open)(sc_ctx *c, const sc_tune_opts *o, void **op, sc_err *err);
  void (*close)(void *op);
  /* Runs the op at a small shape against its float64 reference: 0 right, 1 wrong (err says how), -1 it failed
   * (build, launch). */
  int (*verify)(sc_ctx *c, void *op, sc_err *err);
  /* The rate of the op at timed shape i, and the work of one call in the rate's unit. */
  int (*time)(sc_ctx *c, void *op, const sc_tune_opts *o, int shape, sc_figure *rate, double *work, sc_err *err);
} sc_tune_entry;

/* The entries, in the order the tuner runs them. */
const sc_tune_entry *sc_tune_entries(int *n);

typedef enum { SC_TUNE_OK, SC_TUNE_NO_FIT, SC_TUNE_FAILED, SC_TUNE_WRONG, SC_TUNE_NOT_TRIED } sc_tune_status;
/* "ok", "does not fit", "failed", "wrong", "not tried" (the budget ran out first) */
const char *sc_tune_status_name(sc_tune_status s);

typedef struct {
  char tiles[256];
  sc_tune_status status;
  char note[320]; /* why it was skipped, failed or rejected */
  sc_figure rate; /* when ok: over all shapes, their work over the sum of their median times (one shape: its own) */
  sc_figure shape_rate[SC_TUNE_MAX_SHAPES];
} sc_tune_candidate;

/* One entry's search: candidates[0] holds the defaults; best indexes the fastest ok one over all shapes (-1: none),
 * and shape_best[s] the one shape s should run: best, unless another is at least 5% faster there. */
typedef struct {
  const sc_tune_entry *entry;
  sc_tune_candidate *cand;
  int n;
  int best;
  int n_shapes;
  char shape[SC_TUNE_MAX_SHAPES][24];
  int shape_best[SC_TUNE_MAX_SHAPES];
} sc_tune_result;

/* Tunes one entry on c: every candidate of its grid, the defaults first (within o->budget_s, if set). `progress` (may
 * be NULL) is told after each candidate. Errors are those of the tuner itself (memory, the reference); candidates'
 * failures are results. The caller frees r->cand. c's tile override is cleared on return. */
int sc_tune_run(sc_ctx *c, const sc_tune_entry *e, const sc_tune_opts *o, void (*progress)(void *, int, int),
                void *progress_arg, sc_tune_result *r, sc_err *err);

/* Sets r's best and shape_best from its candidates' statuses and rates (sc_tune_run calls it). */
void sc_tune_pick(sc_tune_result *r);

/* The profile for c's device from the results: "about" (how and when it was produced: `command`, the time, the
 * best against the defaults), "match" (the platform and device names), "kernel_variant" (per family, the variant
 * of the fastest best) and "tiles" {"<family>_<variant>": {NAME: value}} of each entry with an ok candidate, plus
 * "<family>_<variant>@<shape>" for each named shape whose fastest candidate is another one; NULL with a message
 * when no entry has one. o: the options the results were tuned under. */
cJSON *sc_tune_profile(const sc_ctx *c, const sc_tune_result *r, int n, const sc_tune_opts *o, const char *command,
                       sc_err *err);

#endif
