/* scalecl report devices end to end: results made by the real commands at tiny settings (quick peak, bench gemm
 * with both kernel variants, bench attention and mlstm) on PoCL, and on rusticl's llvmpipe when it is installed;
 * a copy of one file moved to a made-up device without a peak file and with another scalecl version; a broken JSON
 * file. The report must have a section per device, plausible percentages, the charts, the warning naming the broken
 * file, the notes for the device without a peak and the mixed versions; an empty directory is an error. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/gnuplot.h"
#include "harness.h"

static char root[512];
static int have_rusticl;
static char pocl_name[256];

static void must_run(const char *env, const char *args) {
  static char out[1 << 16];
  const int rc = th_run_capturef(out, sizeof out, "%s '%s' %s 2>&1", env, th_scalecl_bin(), args);
  if (rc != 0) fail_msg("scalecl %s failed (%d):\n%s", args, rc, out);
}

static cJSON *load(const char *path) {
  char *text;
  sc_err err;
  if (sc_read_file(path, &text, NULL, &err)) fail_msg("%s", err.msg);
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) fail_msg("%s is not JSON", path);
  return j;
}

static void save(const char *path, const cJSON *j) {
  char *text = cJSON_Print(j);
  sc_err err;
  assert_non_null(text);
  if (sc_write_file_atomic(path, text, strlen(text), &err)) fail_msg("%s", err.msg);
  free(text);
}

/* SGEMM through the own kernel with each variant at toy shapes into dir. */
static void bench_gemm(const char *env, const char *dir) {
  char a[2048], e[512];
  mkdir(dir, 0755);
  for (int v = 0; v < 2; v++) {
    snprintf(e, sizeof e, "%s SCALECL_KERNEL_VARIANT=%s", env, v ? "gpu" : "cpu");
    snprintf(a, sizeof a, "bench gemm --shapes 64x64x64,96x64x128 --backend own --samples 1 --json %s/gemm_%d.json",
             dir, v);
    must_run(e, a);
  }
}

/* PoCL: a quick peak, SGEMM, and attention and mLSTM at toy shapes. */
static void bench_pocl(const char *dir) {
  char a[2048];
  bench_gemm("", dir);
  snprintf(a, sizeof a, "peak --quick --samples 3 --min-time 0.02 --format csv --json %s/peak.json", dir);
  must_run("", a);
  snprintf(a, sizeof a,
           "bench attention --seq 64 --head-dims 16 --heads 2 --decode-lens 32 --samples 1 --peak %s/peak.json "
           "--json %s/attention.json",
           dir, dir);
  must_run("", a);
  snprintf(a, sizeof a,
           "bench mlstm --seq 64 --dims 16:16 --chunks 16 --parallel-seq none --heads 2 --samples 1 --peak "
           "%s/peak.json --json %s/mlstm.json",
           dir, dir);
  must_run("", a);
}

static int setup(void **state) {
  (void)state;
  th_tmpdir("report-devices", root, sizeof root);
  char dir[700], path[800];
  snprintf(dir, sizeof dir, "%s/pocl", root);
  bench_pocl(dir);
  snprintf(path, sizeof path, "%s/pocl/peak.json", root);
  cJSON *j = load(path);
  snprintf(pocl_name, sizeof pocl_name, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "device")));
  cJSON_Delete(j);

  static char out[1 << 14];
  th_run_capturef(out, sizeof out, "RUSTICL_ENABLE=llvmpipe '%s' devices --format csv 2>/dev/null", th_scalecl_bin());
  have_rusticl = strstr(out, "llvmpipe") != NULL;
  if (have_rusticl) {
    snprintf(dir, sizeof dir, "%s/rusticl", root);
    /* SGEMM only and no peak: llvmpipe's FMA peak alone takes minutes on a loaded 2-core machine. */
    bench_gemm("RUSTICL_ENABLE=llvmpipe SCALECL_DEVICE=llvmpipe", dir);
  } else {
    printf("  NOTE: rusticl's llvmpipe is not available (RUSTICL_ENABLE=llvmpipe scalecl devices): PoCL only\n");
  }

  /* A device that ran the attention bench but has no peak file, built by another scalecl. */
  snprintf(dir, sizeof dir, "%s/other", root);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/pocl/attention.json", root);
  j = load(path);
  cJSON_ReplaceItemInObjectCaseSensitive(j, "device", cJSON_CreateString("Made-up GPU 9000"));
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "scalecl"), "version",
                                         cJSON_CreateString("0.0.9"));
  snprintf(path, sizeof path, "%s/fake.json", dir);
  save(path, j);
  cJSON_Delete(j);

  /* What else a device's results folder holds: the outputs of check and devices, not compared and not warned of. */
  if (th_run_capturef(out, sizeof out,
                      "'%s' check --tiny --op gates --json %s/pocl/check.json >/dev/null 2>&1 && "
                      "'%s' devices --format json > %s/pocl/devices.json 2>/dev/null",
                      th_scalecl_bin(), root, th_scalecl_bin(), root))
    fail_msg("check or devices failed");
  snprintf(path, sizeof path, "%s/pocl/check.json", root);
  j = load(path);
  cJSON_ReplaceItemInObjectCaseSensitive(j, "passed", cJSON_CreateFalse());
  cJSON_ReplaceItemInObjectCaseSensitive(j, "failed", cJSON_CreateNumber(2));
  cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "settings"), "SCALECL_KERNEL_VARIANT",
                                         cJSON_CreateString("gpu"));
  snprintf(path, sizeof path, "%s/pocl/check_failed.json", root);
  save(path, j);
  cJSON_Delete(j);

  snprintf(path, sizeof path, "%s/broken.json", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"device\": \"cut off", f);
  fclose(f);

  /* The peer's timings (platforms/peer-torch.py) beside PoCL's results: the two benchmarked shapes, the decode step,
   * one shape scalecl did not run, a decode step over a half cache it did not run and a broken line; a stray peer
   * file where no result says which device it ran on. */
  snprintf(path, sizeof path, "%s/pocl/peer_torch.jsonl", root);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(
      "{\"peer\": \"torch\", \"torch\": \"9.9\", \"op\": \"attention\", \"heads\": 2, \"seq_len\": 64, "
      "\"head_dim\": 16, \"fwd_ms\": 1000, \"fwd_bwd_ms\": 3000}\n"
      "{\"peer\": \"torch\", \"torch\": \"9.9\", \"op\": \"mlstm\", \"heads\": 2, \"seq_len\": 64, \"dqk\": 16, "
      "\"dv\": 16, \"chunk\": 16, \"fwd_ms\": 2000, \"fwd_bwd_ms\": 4000}\n"
      "{\"peer\": \"torch\", \"torch\": \"9.9\", \"op\": \"attention\", \"heads\": 2, \"seq_len\": 64, "
      "\"head_dim\": 32, \"fwd_ms\": 5000, \"fwd_bwd_ms\": 6000}\n"
      "{\"peer\": \"torch\", \"torch\": \"9.9\", \"op\": \"decode\", \"heads\": 2, \"head_dim\": 16, "
      "\"cache_len\": 32, \"kv_cache\": \"f32\", \"step_ms\": 1500}\n"
      "{\"peer\": \"torch\", \"torch\": \"9.9\", \"op\": \"decode\", \"heads\": 2, \"head_dim\": 16, "
      "\"cache_len\": 32, \"kv_cache\": \"f16\", \"step_ms\": 1600}\n"
      "{\"peer\": cut\n",
      f);
  fclose(f);
  snprintf(path, sizeof path, "%s/stray.jsonl", root);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"op\": \"attention\"}\n", f);
  fclose(f);
  return 0;
}

static int file_size(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

/* Splits a markdown table line "| a | b |" into cells (trimmed, in place). */
static int cells(char *line, char **v, int cap) {
  int n = 0;
  char *p = strchr(line, '|');
  while (p && n < cap) {
    char *q = strchr(p + 1, '|');
    if (!q) break;
    *q = 0;
    char *s = p + 1, *e = q;
    while (*s == ' ') s++;
    while (e > s && e[-1] == ' ') *--e = 0;
    v[n++] = s;
    p = q;
  }
  return n;
}

typedef struct {
  int rows, with_pct, no_pct_rows;
} table_check;

/* Checks the table under heading: each row's % FMA peak is in (0, 250] on PoCL (over 100 when the peak was taken
 * under more load than the row), which has a peak file, and "-" on
 * the devices without one (llvmpipe, the made-up one). */
static table_check check_table(const char *md, const char *heading) {
  table_check r = {0, 0, 0};
  const char *h = strstr(md, heading);
  if (!h) fail_msg("report.md has no table \"%s\"", heading);
  char *copy = strdup(h);
  assert_non_null(copy);
  char *save = NULL, *line = strtok_r(copy, "\n", &save);
  int pct_col = -1, dev_col = -1;
  while ((line = strtok_r(NULL, "\n", &save)) && (line[0] == '|' || pct_col < 0)) {
    char *v[16];
    const int n = cells(line, v, 16);
    if (pct_col < 0) {
      for (int i = 0; i < n; i++) {
        if (!strcmp(v[i], "% FMA peak")) pct_col = i;
        if (!strcmp(v[i], "device")) dev_col = i;
      }
      if (pct_col < 0) fail_msg("table \"%s\" has no %% FMA peak column", heading);
      continue;
    }
    if (!strncmp(v[0], "---", 3)) continue;
    assert_true(n > pct_col && dev_col >= 0);
    r.rows++;
    if (strcmp(v[dev_col], pocl_name)) {
      if (strcmp(v[pct_col], "-")) fail_msg("the device without a peak file has a percentage: %s", v[pct_col]);
      r.no_pct_rows++;
      continue;
    }
    const double p = atof(v[pct_col]);
    if (!(p > 0 && p <= 250)) fail_msg("%s: implausible %% FMA peak %s on %s", heading, v[pct_col], v[dev_col]);
    r.with_pct++;
  }
  free(copy);
  return r;
}

static void test_report_of_real_runs(void **state) {
  (void)state;
  char out[700], cmd[4096];
  snprintf(out, sizeof out, "%s/report", root);
  static char text[1 << 16];
  snprintf(cmd, sizeof cmd, "'%s' report devices %s --out %s --title 'Test devices' 2>&1", th_scalecl_bin(), root, out);
  if (th_run_capture(cmd, text, sizeof text) != 0) fail_msg("report devices failed:\n%s", text);
  if (!strstr(text, "warning: skipped") || !strstr(text, "broken.json"))
    fail_msg("no warning naming broken.json:\n%s", text);
  if (strstr(text, "check.json") || strstr(text, "devices.json"))
    fail_msg("a warning about the outputs of check or devices:\n%s", text);

  char path[800], *md;
  sc_err err;
  snprintf(path, sizeof path, "%s/report.md", out);
  if (sc_read_file(path, &md, NULL, &err)) fail_msg("%s", err.msg);
  const int ndev = 2 + have_rusticl;
  char want[800];
  snprintf(want, sizeof want, ". %s\n", pocl_name);
  if (!strstr(md, want)) fail_msg("no section for %s:\n%s", pocl_name, md);
  if (!strstr(md, ". Made-up GPU 9000\n")) fail_msg("no section for the made-up device");
  if (have_rusticl && !strstr(md, ". llvmpipe")) fail_msg("no section for llvmpipe");
  snprintf(want, sizeof want, "### %d. ", ndev);
  assert_non_null(strstr(md, want));
  snprintf(want, sizeof want, "### %d. ", ndev + 1);
  assert_null(strstr(md, want));
  assert_non_null(strstr(md, "# Test devices"));
  /* The made-up device and llvmpipe have no peak file. */
  int notes = 0;
  for (const char *p = md; (p = strstr(p, "No `peak` file for this device")); p++) notes++;
  assert_int_equal(notes, 1 + have_rusticl);
  assert_non_null(strstr(md, "Mixed scalecl versions"));
  assert_non_null(strstr(md, "broken.json"));
  const char *other = strstr(md, "Not compared (outputs of `scalecl check`");
  if (!other || !strstr(other, "pocl/check.json`") || !strstr(other, "pocl/devices.json`"))
    fail_msg("report.md does not list the check and devices outputs as not compared");
  /* The check verdicts in PoCL's device table, the failed one marked. */
  if (!strstr(md, "| `scalecl check` | pass, 4 cases (default variants, tiny, check.json)") ||
      !strstr(md, "**FAIL**, 2 of 4 cases (gpu variants, tiny, check_failed.json)"))
    fail_msg("no check verdicts in the device table:\n%s", md);

  /* gemm: 2 shapes x 2 variants per real device; attention: fwd, fwd+bwd and one decode row on PoCL and the
   * made-up device; mLSTM: fwd and fwd+bwd on PoCL. */
  const table_check g = check_table(md, "### SGEMM");
  assert_int_equal(g.rows, 4 * (1 + have_rusticl));
  assert_int_equal(g.with_pct, 4);
  const table_check a = check_table(md, "### Causal attention");
  assert_int_equal(a.rows, 6);
  assert_int_equal(a.no_pct_rows, 3);
  const table_check m = check_table(md, "### mLSTM");
  assert_int_equal(m.rows, 2);
  assert_int_equal(m.with_pct, 2);
  /* A 64x64x64 SGEMM does 2 * 64^3 FLOPs on 3 * 64^2 floats at least: 10.7 FLOP/byte. */
  const char *gemm_row = strstr(md, "| 64x64x64 own |");
  assert_non_null(gemm_row);
  const char *eol = strchr(gemm_row, '\n'), *ai = strstr(gemm_row, "| 10.7 |");
  if (!ai || ai > eol) fail_msg("64x64x64 SGEMM without 10.7 FLOP/B: %.*s", (int)(eol - gemm_row), gemm_row);
  /* Both variants of SGEMM ran on every real device: the speedup table. */
  assert_non_null(strstr(md, "gpu variant's speedup over the cpu variant"));

  /* The peer: a row per pass of each line (decode: one), the ratio where scalecl ran the shape (attention, mLSTM and
   * decode at the peer's 1000-4000 ms are far slower than scalecl's), none for the head dim and the half cache it
   * did not run. */
  const char *peer = strstr(md, "## Against the peer");
  if (!peer) fail_msg("no peer section:\n%s", md);
  assert_non_null(strstr(text, "stray.jsonl: no scalecl result in its folder"));
  assert_non_null(strstr(text, "peer_torch.jsonl: 1 line(s) are not JSON objects"));
  static const char *const peer_rows[] = {"| torch 9.9 sdpa | dh 16 S64 H2 fwd |",
                                          "| torch 9.9 sdpa | dh 16 S64 H2 fwd+bwd |",
                                          "| torch 9.9 chunkwise | chunkwise 16:16 L16 S64 H2 fwd+bwd |",
                                          "| torch 9.9 sdpa | dh 16 decode at cache 32 |",
                                          "| torch 9.9 sdpa | dh 32 S64 H2 fwd+bwd |",
                                          "| torch 9.9 sdpa | dh 16 decode at cache 32, f16 KV cache |"};
  for (int i = 0; i < 6; i++) {
    const char *row = strstr(peer, peer_rows[i]);
    if (!row) fail_msg("no peer row '%s':\n%s", peer_rows[i], peer);
    char *v[8];
    char line[512];
    while (row > peer && row[-1] != '\n') row--; /* from the device column */
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    assert_int_equal(cells(line, v, 8), 7);
    if (i < 4) {
      const double ms = atof(v[3]), pms = atof(v[5]), ratio = atof(v[6]);
      if (!(ms > 0 && pms >= 1000 && fabs(ratio - pms / ms) <= 0.01 * ratio + 0.01) || strcmp(v[4], "cpu"))
        fail_msg("peer row '%s': scalecl %g ms (%s), peer %g ms, ratio %g", line, ms, v[4], pms, ratio);
    } else if (strcmp(v[3], "-") || strcmp(v[6], "-")) {
      fail_msg("a ratio for a shape scalecl did not run: ms '%s', ratio '%s'", v[3], v[6]);
    }
  }

  /* summary.csv: a header and every row of the tables. */
  char *csv;
  snprintf(path, sizeof path, "%s/summary.csv", out);
  if (sc_read_file(path, &csv, NULL, &err)) fail_msg("%s", err.msg);
  int lines = 0;
  for (const char *p = csv; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 1 + g.rows + a.rows + m.rows);
  assert_non_null(strstr(csv, "pct_fma_peak"));
  free(csv);

  char gp[4096];
  if (!sc_gnuplot_find(gp, sizeof gp, &err)) {
    free(md);
    TH_SKIP("chart checks: %s", err.msg);
  }
  char roof[32];
  snprintf(want, sizeof want, "### 1. %s\n", pocl_name);
  snprintf(roof, sizeof roof, "roofline_%d", strstr(md, want) ? 1 : 2);
  const char *const charts[] = {roof, "pct_fma_peak", "speedup_gpu_cpu"};
  for (size_t i = 0; i < sizeof charts / sizeof *charts; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.png", charts[i]);
    if (file_size(out, name) <= 1000) fail_msg("chart %s missing or empty", name);
    snprintf(name, sizeof name, "%s.svg", charts[i]);
    if (file_size(out, name) <= 1000) fail_msg("chart %s missing or empty", name);
    snprintf(want, sizeof want, "(%s.png)", charts[i]);
    if (!strstr(md, want)) fail_msg("report.md does not show %s.png", charts[i]);
  }
  /* A roofline for PoCL alone, the one device with a peak file. */
  snprintf(want, sizeof want, "%s/roofline_*.png", out);
  assert_int_equal(th_count_glob(want), 1);
  free(md);
}

static void test_empty_directory_is_an_error(void **state) {
  (void)state;
  char dir[512], cmd[2048];
  th_tmpdir("report-devices-empty", dir, sizeof dir);
  static char text[1 << 14];
  snprintf(cmd, sizeof cmd, "'%s' report devices %s --out %s/out 2>&1", th_scalecl_bin(), dir, dir);
  assert_int_equal(th_run_capture(cmd, text, sizeof text), 1);
  if (!strstr(text, "no usable result file")) fail_msg("unexpected message:\n%s", text);
}

static void test_without_gnuplot(void **state) {
  (void)state;
  char out[700], cmd[4096];
  snprintf(out, sizeof out, "%s/report-nognuplot", root);
  static char text[1 << 16];
  snprintf(cmd, sizeof cmd, "SCALECL_GNUPLOT=/nonexistent/gnuplot '%s' report devices %s/pocl --out %s 2>&1",
           th_scalecl_bin(), root, out);
  if (th_run_capture(cmd, text, sizeof text) != 0) fail_msg("report devices failed:\n%s", text);
  assert_non_null(strstr(text, "warning: no charts"));
  assert_true(file_size(out, "report.md") > 0 && file_size(out, "summary.csv") > 0);
  assert_int_equal(file_size(out, "roofline_1.png"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report_of_real_runs),
      cmocka_unit_test(test_empty_directory_is_an_error),
      cmocka_unit_test(test_without_gnuplot),
  };
  return TH_RUN_GROUP(tests, setup, NULL);
}
