/* The output convention of the table-printing commands: --json - puts only JSON on stdout (human text on stderr),
 * --format csv has the JSON rows' keys as its header, every JSON carries device, settings and version, and the
 * reference GEMM rate is the one of the backend scalecl's GEMM uses, named. Tiny shapes, one sample. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "harness.h"

static char dir[512];

/* Runs `scalecl ARGS` with stdout into out and stderr into errbuf; returns the exit status. */
static int run(const char *args, char *out, size_t cap, char *errbuf, size_t ecap) {
  char cmd[4096], path[700];
  snprintf(path, sizeof path, "%s/stderr.txt", dir);
  snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", th_scalecl_bin(), args, path);
  const int rc = th_run_capture(cmd, out, cap);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  const size_t n = fread(errbuf, 1, ecap - 1, f);
  errbuf[n] = 0;
  fclose(f);
  return rc;
}

static cJSON *parse_whole(const char *out) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithOpts(out, &end, 1); /* the whole of stdout, nothing after the JSON */
  if (!j) fail_msg("stdout is not one JSON document:\n%s", out);
  return j;
}

static const cJSON *get(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) fail_msg("no \"%s\" in the JSON", k);
  return v;
}

static void test_json_dash_is_only_json(void **state) {
  (void)state;
  static char out[1 << 16], err[1 << 14];
  assert_int_equal(run("peak --quick --no-gemm --samples 1 --json -", out, sizeof out, err, sizeof err), 0);
  cJSON *j = parse_whole(out);
  static const char *const keys[] = {"device",   "platform",   "driver_version",     "compute_units",     "scalecl",
                                     "settings", "fma_gflops", "read_bandwidth_gbs", "launch_latency_us", "results",
                                     "units",    "benchmark",  "kernel_variants"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) get(j, keys[i]);
  assert_true(cJSON_GetArraySize(get(j, "results")) >= 7);
  if (!strstr(err, "device: ") || !strstr(err, "fp32 FMA peak")) fail_msg("no human lines on stderr: %s", err);
  cJSON_Delete(j);

  /* CSV: the header row is the JSON rows' keys, in order. */
  static char csv[1 << 16];
  assert_int_equal(run("peak --quick --no-gemm --samples 1 --format csv", csv, sizeof csv, err, sizeof err), 0);
  assert_int_equal(run("peak --quick --no-gemm --samples 1 --format json", out, sizeof out, err, sizeof err), 0);
  j = parse_whole(out);
  char header[1024] = "";
  const cJSON *k;
  cJSON_ArrayForEach(k, cJSON_GetArrayItem(get(j, "results"), 0)) {
    if (header[0]) strcat(header, ",");
    strcat(header, k->string);
  }
  strcat(header, "\n");
  if (strncmp(csv, header, strlen(header))) fail_msg("CSV header is not\n%sbut\n%s", header, csv);
  cJSON_Delete(j);
  /* stdout cannot carry two formats. */
  assert_int_equal(run("peak --quick --no-gemm --format csv --json -", out, sizeof out, err, sizeof err), 2);
  assert_non_null(strstr(err, "--json - writes JSON to stdout"));
}

/* A peak file with different rates per backend: the reference is the best rate of its gemm_api_backend. */
static void expect_ref_from_file(const char *api, double want) {
  char path[700], args[1024];
  static char out[1 << 16], err[1 << 14];
  snprintf(path, sizeof path, "%s/peak-%s.json", dir, api);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "{\"gemm_api_backend\": \"%s\", \"sgemm\": [{\"m\": 1024, \"n\": 1024, \"k\": 1024, \"clblast_gflops\": 10, "
          "\"own_gflops\": 20}, {\"m\": 4096, \"n\": 1536, \"k\": 512, \"clblast_gflops\": 30, \"own_gflops\": 25}]}",
          api);
  fclose(f);
  snprintf(args, sizeof args,
           "bench mlstm --peak '%s' --json - --seq 16 --heads 1 --dims 8:8 --chunks 16 --parallel-seq none "
           "--samples 1 --forward-only",
           path);
  assert_int_equal(run(args, out, sizeof out, err, sizeof err), 0);
  cJSON *j = parse_whole(out);
  assert_string_equal(get(j, "gemm_ref_backend")->valuestring, api);
  assert_true(get(j, "gemm_ref_gflops")->valuedouble == want);
  const cJSON *row = cJSON_GetArrayItem(get(j, "results"), 0);
  const double gf = get(row, "gflops")->valuedouble, pct = get(row, "pct_gemm")->valuedouble;
  assert_true(fabs(pct - 100 * gf / want) <= 1e-9 * pct);
  get(j, "device"), get(j, "scalecl"), get(j, "settings");
  if (!strstr(err, "reference GEMM")) fail_msg("the reference is not named on stderr: %s", err);
  cJSON_Delete(j);
}

static void test_reference_gemm_is_the_api_backend(void **state) {
  (void)state;
  expect_ref_from_file("own", 25);
  expect_ref_from_file("clblast", 30);
  /* Measured: the backend the GEMM API resolves to. */
  static char out[1 << 16], err[1 << 14];
  assert_int_equal(run("bench gemm --shapes 16x16x16 --samples 1 --format csv", out, sizeof out, err, sizeof err), 0);
  assert_non_null(strstr(out, "m,n,k,backend,gemm_api,gflops,gflops_mean,gflops_sd,flops,min_bytes\n"));
  setenv("SCALECL_GEMM", "own", 1);
  const int rc =
      run("bench attention --seq 16 --head-dims 16 --heads 1 --decode-lens none --samples 1 "
          "--forward-only --json -",
          out, sizeof out, err, sizeof err);
  unsetenv("SCALECL_GEMM");
  assert_int_equal(rc, 0);
  cJSON *j = parse_whole(out);
  assert_string_equal(get(j, "gemm_ref_backend")->valuestring, "own");
  assert_true(get(j, "gemm_ref_gflops")->valuedouble > 0);
  cJSON_Delete(j);
}

static void test_flops_and_devices_json(void **state) {
  (void)state;
  static char out[1 << 20], err[1 << 14];
  assert_int_equal(run("flops --table --ctx 2048 --format json", out, sizeof out, err, sizeof err), 0);
  cJSON *j = parse_whole(out);
  const cJSON *p = cJSON_GetArrayItem(get(j, "presets"), 0);
  get(p, "n_params"), get(p, "fw_flops_per_token"), get(j, "scalecl"), get(j, "settings");
  cJSON_Delete(j);
  assert_int_equal(run("devices --json", out, sizeof out, err, sizeof err), 0);
  j = parse_whole(out);
  get(cJSON_GetArrayItem(get(j, "devices"), 0), "compute_units");
  cJSON_Delete(j);
}

/* bench model: both passes, MFU against the FMA peak of a --peak file, the memory plan; JSON only on stdout. */
static void test_bench_model(void **state) {
  (void)state;
  static char out[1 << 16], err[1 << 14];
  char peak[700], args[1024];
  snprintf(peak, sizeof peak, "%s/peak-model.json", dir);
  FILE *f = fopen(peak, "w");
  assert_non_null(f);
  fputs("{\"fma_gflops\": 50}", f);
  fclose(f);
  snprintf(args, sizeof args,
           "bench model --model xlstm-cpu-50k --batch 1 --ctx 32 --samples 1 --peak '%s' --profile --json -", peak);
  assert_int_equal(run(args, out, sizeof out, err, sizeof err), 0);
  cJSON *j = parse_whole(out);
  const cJSON *rows = get(j, "results");
  assert_int_equal(cJSON_GetArraySize(rows), 2);
  for (int i = 0; i < 2; i++) {
    const cJSON *r = cJSON_GetArrayItem(rows, i);
    const double gf = get(r, "model_gflops")->valuedouble;
    assert_true(gf > 0 && get(r, "tokens_per_s")->valuedouble > 0);
    assert_true(fabs(get(r, "mfu_pct")->valuedouble - 100 * gf / 50) < 1e-9 * gf);
  }
  assert_string_equal(get(cJSON_GetArrayItem(rows, 1), "pass")->valuestring, "forward+backward");
  assert_true(get(j, "memory_plan_bytes")->valuedouble > 0 && get(j, "n_params")->valuedouble == 53604);
  assert_non_null(strstr(err, "device memory: plan"));
  /* --profile: the families and the rest of each pass add up to the profiled step. */
  const cJSON *fam = get(j, "families");
  assert_int_equal(cJSON_GetArraySize(fam), 10);
  double pct = 0;
  for (int i = 0; i < 5; i++) pct += get(cJSON_GetArrayItem(fam, i), "pct_of_step")->valuedouble;
  assert_true(fabs(pct - 100) < 1e-6);
  assert_string_equal(get(cJSON_GetArrayItem(fam, 1), "family")->valuestring, "mlstm/attention");
  cJSON_Delete(j);
}

/* --profile of bench attention and bench mlstm: one line per kernel of the profiled call, in order of first
 * launch, with its launches and share; the shares add up to 100%. */
static void test_bench_kernel_profile(void **state) {
  (void)state;
  static char out[1 << 16], err[1 << 14];
  const char *const cmds[2] = {
      "bench attention --seq 64 --heads 1 --head-dims 16 --decode-lens none --samples 1 --profile",
      "bench mlstm --seq 64 --heads 1 --dims 16:16 --chunks 16 --parallel-seq none --samples 1 --profile"};
  const char *const first[2] = {"attn_", "mlstm_gates"}, *const must[2] = {"attn_fwd ", "mlstm_bwd_dq "};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(run(cmds[i], out, sizeof out, err, sizeof err), 0);
    const char *p = strstr(out, "kernel by kernel:\n");
    if (!p) fail_msg("%s printed no kernel profile:\n%s", cmds[i], out);
    p = strchr(p, '\n') + 1;
    double pct = 0;
    int lines = 0;
    char name[64];
    long launches;
    double ms, share;
    for (; sscanf(p, " %63s %ld launches %lf ms %lf%%", name, &launches, &ms, &share) == 4; p = strchr(p, '\n') + 1) {
      if (!lines) assert_int_equal(strncmp(name, first[i], strlen(first[i])), 0);
      assert_true(launches >= 1 && ms > 0); /* a launch and its clFinish take microseconds */
      pct += share, lines++;
    }
    assert_true(lines >= 4);
    assert_non_null(strstr(out, must[i]));
    if (fabs(pct - 100) > 0.5) fail_msg("%s: the shares add up to %.2f%%:\n%s", cmds[i], pct, out);
  }
}

int main(void) {
  th_tmpdir("output", dir, sizeof dir);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_dash_is_only_json), cmocka_unit_test(test_reference_gemm_is_the_api_backend),
      cmocka_unit_test(test_flops_and_devices_json), cmocka_unit_test(test_bench_model),
      cmocka_unit_test(test_bench_kernel_profile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
