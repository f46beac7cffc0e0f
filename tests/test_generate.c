/* scalecl generate and scalecl bench infer as a user runs them: greedy text is the same on every run and a
 * sampling seed repeats its text; the byte tokenizer echoes the prompt; a model without one takes and prints ids;
 * the rates go to stderr; bench infer gives a results row per point and the goals ratios, and a row saying so for a
 * point too large; --kv-cache f16 runs, is recorded and an unknown element is refused. Small CPU presets and the tiny
 * check configs (check/cases.h) keep it to seconds. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static char dir[512];

/* Runs `scalecl ARGS` (with the redirections it names); returns the exit status. */
static int run(const char *args, char *out, size_t cap) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s %s", th_scalecl_bin(), args);
  return th_run_capture(cmd, out, cap);
}

static void write_file(const char *name, const char *text, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void greedy_and_seeded_text_repeat(void **state) {
  (void)state;
  char a[8192], b[8192], c[8192];
  const char *greedy = "generate --model xlstm-cpu-50k --prompt 'The ' --max-tokens 12 --temperature 0 2>/dev/null";
  assert_int_equal(run(greedy, a, sizeof a), 0);
  assert_int_equal(run(greedy, b, sizeof b), 0);
  assert_string_equal(a, b);
  assert_memory_equal(a, "The ", 4);
  const char *seeded =
      "generate --model llama-cpu-50k --prompt 'x' --max-tokens 12 --temperature 1 --seed %d "
      "2>/dev/null";
  char args[512];
  snprintf(args, sizeof args, seeded, 5);
  assert_int_equal(run(args, a, sizeof a), 0);
  assert_int_equal(run(args, b, sizeof b), 0);
  assert_string_equal(a, b);
  assert_int_equal(run("generate --model llama-cpu-50k --prompt x --max-tokens 3 --temperature 0 2>&1", c, sizeof c),
                   0);
  assert_non_null(strstr(c, "tokens/s"));
}

static void ids_without_a_tokenizer(void **state) {
  (void)state;
  char path[1024], args[2048], out[8192];
  write_file("tiny.json", sc_check_xlstm_tiny, path, sizeof path);
  snprintf(args, sizeof args, "generate --model %s --prompt '3 14 15' --max-tokens 4 --temperature 0 2>/dev/null",
           path);
  assert_int_equal(run(args, out, sizeof out), 0);
  int ids[7], n = 0;
  for (char *p = out; n < 7 && sscanf(p, "%d", &ids[n]) == 1; n++) p = strchr(p + 1, ' ') ? strchr(p + 1, ' ') : "";
  assert_int_equal(n, 7);
  assert_int_equal(ids[0], 3);
  assert_int_equal(ids[2], 15);
  snprintf(args, sizeof args, "generate --model %s --prompt 'hello' --max-tokens 4 2>&1", path);
  assert_int_equal(run(args, out, sizeof out), 1);
  assert_non_null(strstr(out, "token ids"));
}

static void bench_infer_rows_and_goals(void **state) {
  (void)state;
  char x[1024], l[1024], args[4096], out[16384];
  write_file("x.json", sc_check_xlstm_tiny, x, sizeof x);
  write_file("l.json", sc_check_llama_tiny, l, sizeof l);
  snprintf(args, sizeof args,
           "bench infer --model %s,%s --prefill 0,16,40 --batch 1,2 --gen 3 --reps 2 --format csv "
           "2>/dev/null",
           x, l);
  assert_int_equal(run(args, out, sizeof out), 0);
  int ok = 0;
  for (const char *p = out; (p = strstr(p, ",ok")); p++) ok++;
  assert_int_equal(ok, 12);
  assert_non_null(strstr(out, "xlstm_step_ratio"));
  assert_non_null(strstr(out, "\n1,x,l,16,40,"));
  /* a KV cache of terabytes: the point is a row saying so, nothing is allocated */
  snprintf(args, sizeof args, "bench infer --model %s --prefill 1048576 --batch 4096 --gen 2 --format csv 2>&1", l);
  assert_int_equal(run(args, out, sizeof out), 0);
  assert_non_null(strstr(out, "does not fit: needs"));
}

/* --kv-cache f16 generates (the greedy text may differ from f32's: the cache rounds), bench infer records it, and an
 * unknown element is a usage error naming the choices. */
static void kv_cache_option(void **state) {
  (void)state;
  char out[8192];
  assert_int_equal(
      run("generate --model llama-cpu-50k --prompt 'The ' --max-tokens 8 --temperature 0 --kv-cache f16 2>/dev/null",
          out, sizeof out),
      0);
  assert_memory_equal(out, "The ", 4);
  assert_int_equal(run("bench infer --model llama-cpu-50k --prefill 8 --gen 2 --reps 1 --kv-cache f16 --json - "
                       "2>/dev/null",
                       out, sizeof out),
                   0);
  const char *kv = strstr(out, "\"kv_cache\":");
  assert_non_null(kv);
  kv += strlen("\"kv_cache\":");
  assert_memory_equal(kv + strspn(kv, " \t"), "\"f16\"", 5);
  assert_int_equal(run("generate --model llama-cpu-50k --kv-cache f8 2>&1", out, sizeof out), 2);
  if (!strstr(out, "f8") || !strstr(out, "f16")) fail_msg("unexpected: %s", out);
}

static int setup(void **state) {
  (void)state;
  th_tmpdir("generate", dir, sizeof dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(greedy_and_seeded_text_repeat),
      cmocka_unit_test(ids_without_a_tokenizer),
      cmocka_unit_test(bench_infer_rows_and_goals),
      cmocka_unit_test(kv_cache_option),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
