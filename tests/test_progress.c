/* Progress lines: counts from many threads add up, and nothing is drawn when stderr is not a terminal (logs
 * and pipes stay clean). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/parallel.h"
#include "base/progress.h"
#include "harness.h"

static void tick(void *ctx, int i, int thread) {
  (void)i;
  (void)thread;
  sc_progress_add(ctx, 1);
}

static void test_threads_and_no_terminal(void **state) {
  (void)state;
  char dir[512], path[600];
  th_tmpdir("progress", dir, sizeof dir);
  snprintf(path, sizeof path, "%s/stderr.txt", dir);
  fflush(stderr);
  FILE *f = freopen(path, "w", stderr);
  assert_non_null(f);
  sc_progress p;
  sc_progress_begin(&p, "test", 4000);
  p.next_draw = 0; /* due at once: only the missing terminal keeps it quiet */
  static sc_err err;
  assert_true(sc_parallel_for(4000, 4, tick, &p, &err) >= 1);
  sc_progress_note(&p, "detail");
  assert_int_equal(atomic_load(&p.done), 4000);
  sc_progress_end(&p);
  fflush(stderr);
  FILE *r = fopen(path, "r");
  assert_non_null(r);
  fseek(r, 0, SEEK_END);
  assert_int_equal(ftell(r), 0);
  fclose(r);
  /* A NULL progress is accepted everywhere (callers without a line). */
  sc_progress_add(NULL, 1);
  sc_progress_note(NULL, "x");
  sc_progress_end(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads_and_no_terminal)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
