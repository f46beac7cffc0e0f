/* `scalecl op mlstm` end to end: inputs written with sc_st_write, the binary run as a subprocess, outputs
 * compared with the float64 references; malformed inputs give a clear error and a failing exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "model/safetensors.h"
#include "ref/mlstm.h"

static char dir[4096];

/* dir/name into buf (8192 bytes). */
static char *path_in(char *buf, const char *name) {
  snprintf(buf, 8192, "%s/%s", dir, name);
  return buf;
}

/* Runs `scalecl op mlstm ARGS`, returns the exit status and leaves stderr in *msg (static buffer). */
static int run_op(const char *args, const char **msg) {
  static char text[16384];
  char cmd[24576];
  snprintf(cmd, sizeof cmd, "%s op mlstm %s > %s/stdout.txt 2> %s/stderr.txt", th_scalecl_bin(), args, dir, dir);
  const int st = system(cmd);
  char ep[8192];
  FILE *f = fopen(path_in(ep, "stderr.txt"), "r");
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
  *msg = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct {
  size_t B, NH, S, dqk, dv;
  double *x[9]; /* q k v i f c0 n0 m0 dh */
  size_t n[9];
} problem;
static const char *const in_names[9] = {"q", "k", "v", "i", "f", "c0", "n0", "m0", "dh"};

static problem make(size_t B, size_t NH, size_t S, size_t dqk, size_t dv, uint64_t seed) {
  const size_t BH = B * NH;
  problem p = {B,
               NH,
               S,
               dqk,
               dv,
               {0},
               {BH * S * dqk, BH * S * dqk, BH * S * dv, BH * S, BH * S, BH * dqk * dv, BH * dqk, BH, BH * S * dv}};
  sc_rng r;
  sc_rng_seed(&r, seed);
  for (int t = 0; t < 9; t++) {
    p.x[t] = calloc(p.n[t], sizeof(double));
    assert_non_null(p.x[t]);
    for (size_t j = 0; j < p.n[t]; j++) p.x[t][j] = (t == 4 ? 2 : 0) + sc_rng_normal(&r);
  }
  return p;
}

/* Writes the problem: q, v, f, c0 as F64 (the command converts), the rest as F32 rounded from the same values. */
static void write_problem(const problem *p, const char *file, int with_state, int with_dh) {
  sc_st_entry e[9];
  float *f32[9] = {0};
  int n = 0;
  for (int t = 0; t < 9; t++) {
    if ((t >= 5 && t <= 7 && !with_state) || (t == 8 && !with_dh)) continue;
    const int as64 = t == 0 || t == 2 || t == 4 || t == 5;
    sc_st_entry x = {in_names[t], as64 ? SC_ST_F64 : SC_ST_F32, 0, {0}, p->x[t]};
    const int64_t B = (int64_t)p->B, NH = (int64_t)p->NH, S = (int64_t)p->S, dqk = (int64_t)p->dqk, dv = (int64_t)p->dv;
    const int64_t shapes[9][4] = {{B, NH, S, dqk},  {B, NH, S, dqk}, {B, NH, S, dv}, {B, NH, S},    {B, NH, S},
                                  {B, NH, dqk, dv}, {B, NH, dqk},    {B, NH, 1},     {B, NH, S, dv}};
    x.ndim = t == 0 || t == 1 || t == 2 || t == 5 || t == 8 ? 4 : 3;
    memcpy(x.shape, shapes[t], sizeof shapes[t]);
    if (!as64) {
      f32[t] = malloc(p->n[t] * sizeof(float));
      assert_non_null(f32[t]);
      for (size_t j = 0; j < p->n[t]; j++) f32[t][j] = (float)p->x[t][j];
      x.data = f32[t];
    }
    e[n++] = x;
  }
  sc_err err;
  if (sc_st_write(file, e, n, NULL, 0, &err)) fail_msg("%s", err.msg);
  for (int t = 0; t < 9; t++) free(f32[t]);
}

static void release(problem *p) {
  for (int t = 0; t < 9; t++) free(p->x[t]);
}

static void expect_tensor(const sc_st_file *f, const char *name, const double *ref, size_t n, double atol,
                          double rtol) {
  const sc_st_tensor *t = sc_st_find(f, name);
  if (!t) fail_msg("output tensor '%s' missing", name);
  assert_int_equal(t->dtype, SC_ST_F32);
  float *x;
  sc_err err;
  if (sc_st_get_f32(f, name, t->ndim, NULL, &x, &err)) fail_msg("%s", err.msg);
  size_t cnt = 1;
  for (int d = 0; d < t->ndim; d++) cnt *= (size_t)t->shape[d];
  assert_int_equal(cnt, n);
  char label[64];
  snprintf(label, sizeof label, "op output %s", name);
  th_assert_close(label, x, ref, n, (sc_tol){atol, rtol, 1e-8, 0});
  free(x);
}

static void test_forward_backward_end_to_end(void **state) {
  (void)state;
  /* S = 70 is not a multiple of the chunk 32; a random initial state is given. */
  problem p = make(2, 2, 70, 16, 24, 1);
  char inb[8192], outb[8192];
  const char *in = path_in(inb, "in.safetensors"), *out = path_in(outb, "out.safetensors");
  write_problem(&p, in, 1, 1);
  char args[20000];
  snprintf(args, sizeof args, "--in %s --out %s --chunk 32 --backward", in, out);
  const char *msg;
  const int rc = run_op(args, &msg);
  if (rc != 0) fail_msg("scalecl op mlstm exited %d: %s", rc, msg);

  /* The references see the values the device sees: float32-rounded inputs. */
  for (int t = 0; t < 9; t++)
    for (size_t j = 0; j < p.n[t]; j++) p.x[t][j] = (float)p.x[t][j];
  const size_t BH = p.B * p.NH, S = p.S, dqk = p.dqk, dv = p.dv;
  const sc_ref_mlstm_dims d = {BH, S, dqk, dv, 1e-6};
  double *r[12];
  const size_t rn[12] = {BH * S * dv,  BH * S,       BH * S,      BH * dqk * dv, BH * dqk, BH,
                         BH * S * dqk, BH * S * dqk, BH * S * dv, BH * S,        BH * S,   BH * dqk * dv};
  for (int j = 0; j < 12; j++) r[j] = calloc(rn[j], sizeof(double));
  sc_err err;
  if (sc_ref_mlstm_chunkwise(&d, 32, p.x[0], p.x[1], p.x[2], p.x[3], p.x[4], p.x[5], p.x[6], p.x[7], r[0], r[1], r[2],
                             r[3], r[4], r[5], &err) ||
      sc_ref_mlstm_chunkwise_bwd(&d, 32, p.x[0], p.x[1], p.x[2], p.x[3], p.x[4], p.x[5], p.x[6], p.x[7], r[1], p.x[8],
                                 r[6], r[7], r[8], r[9], r[10], r[11], &err))
    fail_msg("%s", err.msg);
  sc_st_file f;
  if (sc_st_open(&f, out, &err)) fail_msg("%s", err.msg);
  const char *names[12] = {"h", "n_out", "m_out", "c_last", "n_last", "m_last", "dq", "dk", "dv", "di", "df", "dc0"};
  for (int j = 0; j < 12; j++) expect_tensor(&f, names[j], r[j], rn[j], j < 6 ? 1e-4 : 1e-3, j < 6 ? 1e-3 : 1e-2);
  /* Shapes follow the upstream conventions. */
  const sc_st_tensor *ml = sc_st_find(&f, "m_last"), *dc0 = sc_st_find(&f, "dc0");
  assert_int_equal(ml->ndim, 3);
  assert_int_equal(ml->shape[2], 1);
  assert_int_equal(dc0->ndim, 4);
  assert_int_equal(dc0->shape[3], (int64_t)dv);
  assert_non_null(f.metadata_json);
  assert_non_null(strstr(f.metadata_json, "\"chunk\":\"32\""));
  sc_st_close(&f);
  for (int j = 0; j < 12; j++) free(r[j]);

  /* Forward only, no initial state, default chunk: h matches the parallel reference. */
  write_problem(&p, in, 0, 0);
  snprintf(args, sizeof args, "--in %s --out %s", in, out);
  if (run_op(args, &msg) != 0) fail_msg("forward-only run failed: %s", msg);
  double *h = calloc(BH * S * dv, sizeof(double));
  if (sc_ref_mlstm_parallel(&d, p.x[0], p.x[1], p.x[2], p.x[3], p.x[4], h, NULL, NULL, &err)) fail_msg("%s", err.msg);
  if (sc_st_open(&f, out, &err)) fail_msg("%s", err.msg);
  expect_tensor(&f, "h", h, BH * S * dv, 1e-4, 1e-3);
  assert_null(sc_st_find(&f, "dq"));
  sc_st_close(&f);
  free(h);
  release(&p);
}

/* Writes a file from q k v i f with one tensor replaced (or dropped when data is NULL). */
static void write_variant(const char *file, const char *name, sc_st_dtype dtype, int ndim, const int64_t *shape,
                          const void *data) {
  static float buf[2 * 4 * 32 * 8];
  const int64_t qs[4] = {1, 2, 32, 8}, gs[3] = {1, 2, 32};
  sc_st_entry e[5] = {{"q", SC_ST_F32, 4, {0}, buf},
                      {"k", SC_ST_F32, 4, {0}, buf},
                      {"v", SC_ST_F32, 4, {0}, buf},
                      {"i", SC_ST_F32, 3, {0}, buf},
                      {"f", SC_ST_F32, 3, {0}, buf}};
  int n = 0;
  for (int j = 0; j < 5; j++) {
    memcpy(e[j].shape, j < 3 ? qs : gs, sizeof(int64_t) * (size_t)e[j].ndim);
    if (name && strcmp(e[j].name, name) == 0) {
      if (!data) continue;
      e[j].dtype = dtype, e[j].ndim = ndim, e[j].data = data;
      memcpy(e[j].shape, shape, sizeof(int64_t) * (size_t)ndim);
    }
    e[n++] = e[j];
  }
  sc_err err;
  if (sc_st_write(file, e, n, NULL, 0, &err)) fail_msg("%s", err.msg);
}

static void expect_failure(const char *args, int want_rc, const char *const *needles) {
  const char *msg;
  const int rc = run_op(args, &msg);
  printf("  expected failure (exit %d): %s", rc, msg);
  assert_int_equal(rc, want_rc);
  for (int j = 0; needles[j]; j++)
    if (!strstr(msg, needles[j])) fail_msg("stderr '%s' lacks '%s'", msg, needles[j]);
}

static void test_errors(void **state) {
  (void)state;
  char inb[8192], outb[8192];
  const char *in = path_in(inb, "bad.safetensors"), *out = path_in(outb, "bad_out.safetensors");
  char args[20000];
  snprintf(args, sizeof args, "--in %s --out %s", in, out);
  static int32_t ints[64];
  static float fl[4096];

  write_variant(in, "f", SC_ST_F32, 0, NULL, NULL);
  expect_failure(args, 1, (const char *const[]){"'f'", "missing", "bad.safetensors", NULL});

  const int64_t kbad[4] = {1, 2, 31, 8};
  write_variant(in, "k", SC_ST_F32, 4, kbad, fl);
  expect_failure(args, 1, (const char *const[]){"'k'", "(1, 2, 31, 8)", "expected (1, 2, 32, 8)", NULL});

  const int64_t ishape[3] = {1, 2, 32};
  write_variant(in, "i", SC_ST_I32, 3, ishape, ints);
  expect_failure(args, 1, (const char *const[]){"'i'", "I32", "F32 or F64", NULL});

  const int64_t vbad[4] = {1, 2, 32, 12};
  write_variant(in, "v", SC_ST_F32, 4, vbad, fl);
  expect_failure(args, 1, (const char *const[]){"'v'", "head dim 12", "multiple of 8", NULL});

  /* Truncated file: cut the valid file short. */
  write_variant(in, NULL, SC_ST_F32, 0, NULL, NULL);
  char *text;
  size_t len;
  sc_err err;
  if (sc_read_file(in, &text, &len, &err)) fail_msg("%s", err.msg);
  FILE *f = fopen(in, "wb");
  assert_int_equal(fwrite(text, 1, len - 100, f), len - 100);
  fclose(f);
  free(text);
  expect_failure(args, 1, (const char *const[]){"truncated", "'f'", "bad.safetensors", NULL});

  write_variant(in, NULL, SC_ST_F32, 0, NULL, NULL);
  snprintf(args, sizeof args, "--in %s --out %s --backward", in, out);
  expect_failure(args, 1, (const char *const[]){"--backward", "'dh'", "missing", NULL});
  snprintf(args, sizeof args, "--in %s --out %s --chunk 48", in, out);
  expect_failure(args, 2, (const char *const[]){"--chunk 48", NULL});
  snprintf(args, sizeof args, "--in %s", in);
  expect_failure(args, 2, (const char *const[]){"--out", NULL});
  expect_failure("--chunks 64", 2, (const char *const[]){"--chunk", NULL});
  /* No output file appears after a failure. */
  FILE *o = fopen(out, "rb");
  assert_null(o);
}

int main(void) {
  th_tmpdir("opmlstm", dir, sizeof dir);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_backward_end_to_end),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
