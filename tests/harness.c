#include "harness.h"

#include <ftw.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/settings.h"

void th_setenv(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
  sc_settings_reload();
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

float *th_falloc(size_t n) { return th_calloc(n, sizeof(float)); }

double *th_dalloc(size_t n) { return th_calloc(n, sizeof(double)); }

enum { TH_GUARD_AFTER = 16 }; /* bytes of NaN after each tensor in offset mode */

void th_tensors_init(th_tensors *ts, sc_ctx *c, int offsets) {
  memset(ts, 0, sizeof *ts);
  ts->c = c;
  ts->offsets = offsets;
}

sc_view th_tensor(th_tensors *ts, const void *host, size_t bytes) {
  static sc_err err;
  if (ts->n == TH_MAX_TENSORS) fail_msg("more than %d test tensors", TH_MAX_TENSORS);
  const size_t off = ts->offsets ? (size_t)(2 * ts->n + 3) * sizeof(float) : 0;
  const size_t total = off + bytes + (ts->offsets ? TH_GUARD_AFTER : 0);
  unsigned char *init = th_calloc(total, 1);
  if (ts->offsets) {
    const float nan = NAN;
    for (size_t i = 0; i + 4 <= total; i += 4) memcpy(init + i, &nan, 4);
    memset(init + off, 0, bytes);
  }
  if (host) memcpy(init + off, host, bytes);
  cl_mem m;
  if (sc_buffer_create(ts->c, total, "test tensor", &m, &err) || sc_buffer_write(ts->c, m, 0, total, init, &err))
    fail_msg("%s", err.msg);
  free(init);
  ts->t[ts->n].buf = m, ts->t[ts->n].off = off, ts->t[ts->n].bytes = bytes;
  ts->n++;
  return (sc_view){m, off};
}

void th_tensor_read(th_tensors *ts, sc_view v, void *host, size_t bytes) {
  static sc_err err;
  if (sc_buffer_read(ts->c, v.buf, v.off, bytes, host, &err)) fail_msg("%s", err.msg);
}

void th_tensors_release(th_tensors *ts) {
  static sc_err err;
  for (int j = 0; j < ts->n; j++) {
    if (ts->offsets) {
      const size_t off = ts->t[j].off, total = off + ts->t[j].bytes + TH_GUARD_AFTER;
      unsigned char *all = th_calloc(total, 1);
      if (sc_buffer_read(ts->c, ts->t[j].buf, 0, total, all, &err)) fail_msg("%s", err.msg);
      for (size_t i = 0; i < total; i += 4) {
        float g;
        memcpy(&g, all + i, 4);
        if ((i < off || i >= off + ts->t[j].bytes) && !isnan(g))
          fail_msg("test tensor %d: byte %zu outside its view [%zu, %zu) was overwritten (%g)", j, i, off,
                   off + ts->t[j].bytes, (double)g);
      }
      free(all);
    }
    sc_buffer_release(ts->c, ts->t[j].buf);
  }
  ts->n = 0;
}

void th_rng_seed(th_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull; }

static uint64_t splitmix(th_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double th_uniform(th_rng *r) { return (double)(splitmix(r) >> 11) * (1.0 / 9007199254740992.0); }

double th_normal(th_rng *r) {
  double u1 = th_uniform(r), u2 = th_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void th_fill_normal(th_rng *r, float *x, size_t n, double mean, double std) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(mean + std * th_normal(r));
}

void th_fill_uniform(th_rng *r, float *x, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * th_uniform(r));
}

static th_cmp compare(const float *gf, const double *gd, const double *ref, size_t n, th_tol tol) {
  th_cmp c = {0};
  double se = 0, sr = 0;
  for (size_t i = 0; i < n; i++) {
    const double g = gf ? (double)gf[i] : gd[i], r = ref[i];
    double ratio;
    if (!isfinite(g) || !isfinite(r)) {
      if ((isnan(g) && isnan(r)) || g == r) continue;
      c.nonfinite++;
      ratio = INFINITY;
    } else {
      const double d = fabs(g - r), bound = tol.atol + tol.rtol * fabs(r);
      se += d * d;
      sr += r * r;
      if (d > c.max_abs) c.max_abs = d;
      if (r != 0 && d / fabs(r) > c.max_rel) c.max_rel = d / fabs(r);
      ratio = bound > 0 ? d / bound : d > 0 ? INFINITY : 0;
    }
    if (!(ratio <= 1)) c.fails++;
    if (ratio > c.worst_ratio) c.worst_ratio = ratio, c.worst = i;
  }
  c.nmse = sr > 0 ? se / sr : se;
  return c;
}

th_cmp th_compare(const float *got, const double *ref, size_t n, th_tol tol) {
  return compare(got, NULL, ref, n, tol);
}

th_cmp th_compare_d(const double *got, const double *ref, size_t n, th_tol tol) {
  return compare(NULL, got, ref, n, tol);
}

static void report(const char *label, th_cmp c, double got_worst, double ref_worst, size_t n, th_tol tol) {
  printf("  [%s] n=%zu max_abs=%.3e max_rel=%.3e nmse=%.3e (atol %.1e rtol %.1e nmse %.0e)\n", label, n, c.max_abs,
         c.max_rel, c.nmse, tol.atol, tol.rtol, tol.nmse);
  if (c.fails)
    fail_msg("%s: %d of %zu elements out of tolerance (%d non-finite mismatches); worst at %zu: got %.9g ref %.9g",
             label, c.fails, n, c.nonfinite, c.worst, got_worst, ref_worst);
  if (!(c.nmse <= tol.nmse)) fail_msg("%s: NMSE %.3e above its bound %.0e", label, c.nmse, tol.nmse);
}

void th_assert_close(const char *label, const float *got, const double *ref, size_t n, th_tol tol) {
  th_cmp c = th_compare(got, ref, n, tol);
  report(label, c, n ? got[c.worst] : 0, n ? ref[c.worst] : 0, n, tol);
}

void th_assert_close_d(const char *label, const double *got, const double *ref, size_t n, th_tol tol) {
  th_cmp c = th_compare_d(got, ref, n, tol);
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
  th_rng rng;
  th_rng_seed(&rng, seed);
  /* A sample walks Z/n from a random start by a prime stride that does not divide n, so no element repeats. */
  static const size_t primes[] = {7919, 7927, 7933};
  size_t start = 0, stride = 1;
  if (n > samples) {
    start = (size_t)(th_uniform(&rng) * (double)n);
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
