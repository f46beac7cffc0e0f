#include "harness.h"

#include <ftw.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/settings.h"
#include "runtime/variant.h"

void th_setenv(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
  sc_settings_reload();
}

void th_override_tiles(sc_ctx *c, const char *key, const char *tiles) {
  snprintf(c->tile_key, sizeof c->tile_key, "%s", key ? key : "");
  snprintf(c->tile_override, sizeof c->tile_override, "%s", key && tiles ? tiles : "");
}

void th_assert_pick(const sc_ctx *c, const char *family, const char *want) {
  for (int i = 0; i < c->n_picks; i++) {
    if (strcmp(c->picks[i].family, family)) continue;
    assert_string_equal(sc_variant_name((sc_variant)c->picks[i].variant), want);
    char o[sizeof c->tile_override], *save = NULL;
    snprintf(o, sizeof o, "%s", c->tile_override);
    for (char *w = strtok_r(o, " ", &save); w; w = strtok_r(NULL, " ", &save))
      if (!strstr(c->picks[i].tiles, w))
        fail_msg("%s: tile %s of the override is not in force: %s", family, w, c->picks[i].tiles);
    return;
  }
  fail_msg("no %s kernel variant was recorded on the context", family);
}

sc_ctx th_ctx;

int th_ctx_setup(void **state) {
  (void)state;
  th_ctx_open(&th_ctx);
  return 0;
}

int th_ctx_teardown(void **state) {
  (void)state;
  sc_ctx_close(&th_ctx);
  return 0;
}

void th_ctx_open(sc_ctx *c) {
  static sc_err err;
  if (sc_ctx_open(c, NULL, &err) != 0) fail_msg("cannot open OpenCL device: %s", err.msg);
}

void *th_calloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) fail_msg("out of host memory (%zu x %zu bytes)", n, size);
  return p;
}

float *th_falloc(size_t n) {
  return th_calloc(n, sizeof(float));
}

double *th_dalloc(size_t n) {
  return th_calloc(n, sizeof(double));
}

void th_tensors_init(th_tensors *ts, sc_ctx *c, int offsets) {
  sc_tensors_init(ts, c, offsets);
}

sc_view th_tensor(th_tensors *ts, const void *host, size_t bytes) {
  static sc_err err;
  sc_view v;
  if (sc_tensor_new(ts, host, bytes, &v, &err)) fail_msg("%s", err.msg);
  return v;
}

void th_tensor_read(th_tensors *ts, sc_view v, void *host, size_t bytes) {
  static sc_err err;
  if (sc_tensor_read(ts, v, host, bytes, &err)) fail_msg("%s", err.msg);
}

void th_tensors_release(th_tensors *ts) {
  static sc_err err;
  char guard[300];
  const int rc = sc_tensors_release(ts, guard, sizeof guard, &err);
  if (rc < 0) fail_msg("%s", err.msg);
  if (rc > 0) fail_msg("test %s", guard);
}

static void report(const char *label, sc_cmp c, double got_worst, double ref_worst, size_t n, sc_tol tol) {
  printf("  [%s] n=%zu max_abs=%.3e max_rel=%.3e nmse=%.3e (atol %.1e rtol %.1e nmse %.0e)\n", label, n, c.max_abs,
         c.max_rel, c.nmse, tol.atol, tol.rtol, tol.nmse);
  if (c.fails)
    fail_msg("%s: %d of %zu elements out of tolerance (%d non-finite mismatches); worst at %zu: got %.9g ref %.9g",
             label, c.fails, n, c.nonfinite, c.worst, got_worst, ref_worst);
  if (!(c.nmse <= tol.nmse)) fail_msg("%s: NMSE %.3e above its bound %.0e", label, c.nmse, tol.nmse);
}

void th_assert_close(const char *label, const float *got, const double *ref, size_t n, sc_tol tol) {
  sc_cmp c = sc_compare(got, ref, n, tol);
  report(label, c, n ? got[c.worst] : 0, n ? ref[c.worst] : 0, n, tol);
}

void th_assert_close_d(const char *label, const double *got, const double *ref, size_t n, sc_tol tol) {
  sc_cmp c = sc_compare_d(got, ref, n, tol);
  report(label, c, n ? got[c.worst] : 0, n ? ref[c.worst] : 0, n, tol);
}

const char *th_shared_data_dir(void) {
  static char buf[4096];
  const char *env = getenv("SCALECL_SHARED_DATA");
  snprintf(buf, sizeof buf, "%s", env && *env ? env : SCALECL_SHARED_DIR "/data");
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return buf;
}

const char *th_need_shared_data(void) {
  const char *dir = th_shared_data_dir();
  if (!dir) TH_SKIP("../shared/data (or $SCALECL_SHARED_DATA) is absent");
  return dir;
}

static size_t th_skipped;

void th_note_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("  SKIP: ");
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  th_skipped++;
}

int th_exit_status(int failed, size_t n) {
  if (failed == 0 && n > 0 && th_skipped == n) {
    printf("every test skipped: exit status 77 (ctest: Skipped)\n");
    return 77;
  }
  return failed;
}

int th_count_glob(const char *pattern) {
  glob_t g;
  int n = glob(pattern, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
  globfree(&g);
  return n;
}

const char *th_scalecl_bin(void) {
  const char *b = getenv("SCALECL_BIN");
  return b && *b ? b : "./scalecl";
}

int th_run_capture(const char *cmd, char *out, size_t cap) {
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = '\0';
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int th_run_capturef(char *out, size_t cap, const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  assert_true(n > 0 && (size_t)n < sizeof cmd);
  return th_run_capture(cmd, out, cap);
}

/* Scratch directories are removed when the test process exits, unless SCALECL_KEEP_TMP is set. */
enum { TH_MAX_TMPDIRS = 64 };
static char th_tmpdirs[TH_MAX_TMPDIRS][512];
static int th_n_tmpdirs;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tmpdirs(void) {
  if (getenv("SCALECL_KEEP_TMP")) return;
  for (int i = 0; i < th_n_tmpdirs; i++) nftw(th_tmpdirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *th_tmpdir(const char *tag, char *buf, size_t buflen) {
  const char *t = getenv("TMPDIR");
  snprintf(buf, buflen, "%s/scalecl-%s-XXXXXX", t && *t ? t : "/tmp", tag);
  if (!mkdtemp(buf)) fail_msg("mkdtemp %s failed", buf);
  if (th_n_tmpdirs == 0) atexit(remove_tmpdirs);
  if (th_n_tmpdirs < TH_MAX_TMPDIRS) snprintf(th_tmpdirs[th_n_tmpdirs++], sizeof th_tmpdirs[0], "%s", buf);
  return buf;
}

th_fd th_fd_check(double (*loss)(void *ctx), void *ctx, double *x, const double *grad, size_t n, size_t samples,
                  uint64_t seed, double h) {
  th_fd r = {0};
  sc_rng rng;
  sc_rng_seed(&rng, seed);
  /* A sample walks Z/n from a random start by a prime stride that does not divide n, so no element repeats. */
  static const size_t primes[] = {7919, 7927, 7933};
  size_t start = 0, stride = 1;
  if (n > samples) {
    start = (size_t)(sc_rng_uniform(&rng) * (double)n);
    for (size_t p = 3; p-- > 0;)
      if (n % primes[p] != 0) stride = primes[p];
  }
  for (size_t s = 0; s < n && s < samples; s++) {
    const size_t i = (start + s * stride) % n;
    const double x0 = x[i], step = h * fmax(1, fabs(x0));
    double l[4];
    for (int k = 0; k < 4; k++) {
      x[i] = x0 + (k < 2 ? k - 2 : k - 1) * step;
      l[k] = loss(ctx);
    }
    x[i] = x0;
    const double fd = (l[0] - 8 * l[1] + 8 * l[2] - l[3]) / (12 * step), a = grad[i];
    double err = fabs(a - fd) / fmax(fmax(fabs(a), fabs(fd)), 1e-3);
    if (!isfinite(err)) err = INFINITY;
    if (r.checked == 0 || err > r.worst) r.worst = err, r.index = i, r.analytic = a, r.numeric = fd;
    r.checked++;
  }
  return r;
}

void th_assert_fd(const char *label, th_fd r, double tol) {
  printf("  %-52s fd err %.2e (element %zu of %zu checked: analytic %.6e, numeric %.6e)\n", label, r.worst, r.index,
         r.checked, r.analytic, r.numeric);
  if (!(r.worst <= tol)) fail_msg("%s: finite-difference error %.3e > %.1e", label, r.worst, tol);
}
