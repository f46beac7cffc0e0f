/* The tuner (bench/tune.h, `scalecl tune`): `tune --op gemm --variant gpu --quick` with kernels made wrong for
 * TN = 2 rejects exactly those candidates, and the profile it writes is the one sc_variant_pick then reads back
 * (SCALECL_PROFILE_DIR at its directory); candidates that do not fit the device's work-group size are skipped,
 * not run; an unknown family is a usage error. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/tune.h"
#include "harness.h"
#include "ops/gemm.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = '\0';
  fclose(f);
  return s;
}

/* A copy of cl/ whose gpu GEMM adds 1 to every element of C when TN = 2: a mutation only the tuner's check of
 * each candidate's result can catch. */
static void broken_kernels(const char *dir) {
  static const char *const files[] = {"gemm.cl", "common.clh"};
  for (int i = 0; i < 2; i++) {
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/cl/%s", SCALECL_SOURCE_DIR, files[i]);
    snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
    char *text = slurp(src);
    assert_non_null(text);
    const char *needle = "const float r = alpha * acc[i][j];";
    char *at = strstr(text, needle);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    if (i == 0) {
      assert_non_null(at); /* the kernel changed: update the mutation */
      fprintf(f, "%.*sconst float r = alpha * acc[i][j] + (TN == 2 ? 1.0f : 0.0f);%s", (int)(at - text), text,
              at + strlen(needle));
    } else {
      fputs(text, f);
    }
    fclose(f);
    free(text);
  }
}

static void tune_rejects_wrong_and_writes_profile_read_back(void **state) {
  (void)state;
  char dir[512], cl[600], prof[600], path[700], out[65536];
  th_tmpdir("tune", dir, sizeof dir);
  snprintf(cl, sizeof cl, "%s/cl", dir);
  snprintf(prof, sizeof prof, "%s/profiles", dir);
  TH_CHECK(sc_mkdirs(cl, TH_ERR));
  TH_CHECK(sc_mkdirs(prof, TH_ERR));
  broken_kernels(cl);
  snprintf(path, sizeof path, "%s/tune.json", prof);
  const int rc = th_run_capturef(out, sizeof out,
                                 "SCALECL_KERNEL_DIR=%s %s tune --op gemm --variant gpu --quick --samples 1 --out %s "
                                 "--format csv 2>&1",
                                 cl, th_scalecl_bin(), path);
  if (rc) fail_msg("scalecl tune failed:\n%s", out);
  int wrong = 0, right = 0;
  for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "gemm_gpu,", 9)) continue;
    const int tn2 = strstr(line, " TN=2 ") != NULL, rejected = strstr(line, ",wrong,") != NULL;
    if (tn2 != rejected) fail_msg("a candidate %s: %s", tn2 ? "with TN=2 was not rejected" : "was rejected", line);
    wrong += rejected, right += !rejected;
  }
  assert_int_equal(wrong, 4);
  assert_int_equal(right, 4);

  char *text = slurp(path);
  assert_non_null(text);
  cJSON *root = cJSON_Parse(text);
  free(text);
  assert_non_null(root);
  const cJSON *about = cJSON_GetObjectItemCaseSensitive(root, "about");
  assert_true(cJSON_IsString(about) && strstr(about->valuestring, "scalecl tune --op gemm"));
  assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "match")) == 2);
  const cJSON *kv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "kernel_variant"), "gemm");
  assert_true(cJSON_IsString(kv) && !strcmp(kv->valuestring, "gpu"));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "tiles"), "gemm_gpu");
  static const char *const names[] = {"WGM", "WGN", "TM", "TN", "TK", "PAD"};
  char want[256];
  size_t used = 0;
  for (int i = 0; i < 6; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, names[i]);
    assert_true(cJSON_IsNumber(v));
    used += (size_t)snprintf(want + used, sizeof want - used, "%s%s=%d", i ? " " : "", names[i], v->valueint);
  }
  assert_int_equal(cJSON_GetObjectItemCaseSensitive(t, "TN")->valueint, 4);
  cJSON_Delete(root);

  /* The profile as the runtime reads it: the variant and the tiles the tuner chose. */
  th_setenv("SCALECL_PROFILE_DIR", prof);
  sc_ctx c;
  th_ctx_open(&c);
  sc_variant v;
  char defs[256];
  TH_CHECK(sc_variant_pick(&c, "gemm", SC_GEMM_CPU_TILES, SC_GEMM_GPU_TILES, &v, defs, sizeof defs, TH_ERR));
  assert_int_equal(v, SC_VARIANT_GPU);
  assert_string_equal(defs, want);
  sc_ctx_close(&c);
  th_setenv("SCALECL_PROFILE_DIR", NULL);
}

/* With the device's work-group limit lowered to 128, the quick candidates of more work-items do not fit and are
 * skipped; the others run; the best is one of them; the override is cleared afterwards. */
static void candidates_that_do_not_fit_are_skipped(void **state) {
  (void)state;
  sc_ctx c;
  th_ctx_open(&c);
  c.dev.max_wg = 128;
  int n;
  const sc_tune_entry *e = sc_tune_entries(&n);
  while (n && !(strcmp(e->family, "gemm") == 0 && e->variant == SC_VARIANT_GPU)) e++, n--;
  assert_true(n > 0);
  const sc_tune_opts o = {1, 1, 0.0};
  sc_tune_result r;
  TH_CHECK(sc_tune_run(&c, e, &o, NULL, NULL, &r, TH_ERR));
  int skipped = 0;
  for (int i = 0; i < r.n; i++) {
    const int wgm = atoi(strstr(r.cand[i].tiles, "WGM=") + 4), wgn = atoi(strstr(r.cand[i].tiles, "WGN=") + 4);
    const int tm = atoi(strstr(r.cand[i].tiles, "TM=") + 3), tn = atoi(strstr(r.cand[i].tiles, "TN=") + 3);
    const int fits = (wgm / tm) * (wgn / tn) <= 128;
    if (fits && r.cand[i].status != SC_TUNE_OK) fail_msg("%s: %s", r.cand[i].tiles, r.cand[i].note);
    if (!fits) {
      assert_int_equal(r.cand[i].status, SC_TUNE_NO_FIT);
      assert_non_null(strstr(r.cand[i].note, "work-items"));
      skipped++;
    }
  }
  assert_true(skipped > 0 && skipped < r.n);
  assert_true(r.best > 0 && r.cand[r.best].status == SC_TUNE_OK);
  assert_string_equal(c.tile_key, "");
  free(r.cand);
  sc_ctx_close(&c);
}

static void unknown_family_is_a_usage_error(void **state) {
  (void)state;
  char out[4096];
  assert_int_equal(th_run_capturef(out, sizeof out, "%s tune --op gemmm 2>&1", th_scalecl_bin()), 2);
  assert_non_null(strstr(out, "did you mean 'gemm'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tune_rejects_wrong_and_writes_profile_read_back),
      cmocka_unit_test(candidates_that_do_not_fit_are_skipped),
      cmocka_unit_test(unknown_family_is_a_usage_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
