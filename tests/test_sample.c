/* Sampling (model/sample.h): greedy is the argmax (lowest id on ties) and top-k 1 is greedy; a seed gives the same
 * tokens in any call order and another seed other tokens; draws follow softmax(logits / T); top-k and top-p keep
 * only the most likely tokens; bad settings name the option. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/sample.h"

enum { V = 8 };
static const float logits[V] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 0.0f, -3.0f, 1.5f};

static void greedy_is_argmax(void **state) {
  (void)state;
  sc_sampler s;
  TH_CHECK(sc_sampler_init(&s, V, &(sc_sample_cfg){.temperature = 0, .top_p = 1}, TH_ERR));
  assert_int_equal(sc_sampler_next(&s, logits, 0, 0), 1);
  sc_sampler_free(&s);
  TH_CHECK(sc_sampler_init(&s, V, &(sc_sample_cfg){.temperature = 1, .top_k = 1, .top_p = 1, .seed = 3}, TH_ERR));
  assert_int_equal(sc_sampler_next(&s, logits, 5, 9), 1);
  sc_sampler_free(&s);
}

/* The frequencies of n draws (steps 0..n-1 of row 0). */
static void draw(const sc_sample_cfg *cfg, int n, double freq[V]) {
  sc_sampler s;
  TH_CHECK(sc_sampler_init(&s, V, cfg, TH_ERR));
  memset(freq, 0, V * sizeof *freq);
  for (int i = 0; i < n; i++) freq[sc_sampler_next(&s, logits, 0, (uint64_t)i)] += 1.0 / n;
  sc_sampler_free(&s);
}

static void reproducible_for_a_seed(void **state) {
  (void)state;
  const sc_sample_cfg cfg = {.temperature = 1, .top_p = 1, .seed = 42};
  sc_sampler a, b;
  TH_CHECK(sc_sampler_init(&a, V, &cfg, TH_ERR));
  TH_CHECK(sc_sampler_init(&b, V, &cfg, TH_ERR));
  int32_t fwd[64], other = 0;
  for (int i = 0; i < 64; i++) fwd[i] = sc_sampler_next(&a, logits, 1, (uint64_t)i);
  for (int i = 63; i >= 0; i--) assert_int_equal(sc_sampler_next(&b, logits, 1, (uint64_t)i), fwd[i]);
  sc_sampler_free(&b);
  TH_CHECK(sc_sampler_init(&b, V, &(sc_sample_cfg){.temperature = 1, .top_p = 1, .seed = 43}, TH_ERR));
  for (int i = 0; i < 64; i++) other += sc_sampler_next(&b, logits, 1, (uint64_t)i) != fwd[i];
  assert_true(other > 10);
  sc_sampler_free(&a), sc_sampler_free(&b);
}

static void follows_softmax(void **state) {
  (void)state;
  enum { N = 40000 };
  const double T = 0.7;
  double freq[V], p[V], sum = 0;
  draw(&(sc_sample_cfg){.temperature = T, .top_p = 1, .seed = 1}, N, freq);
  for (int v = 0; v < V; v++) sum += p[v] = exp(logits[v] / T);
  for (int v = 0; v < V; v++) {
    p[v] /= sum;
    assert_true(fabs(freq[v] - p[v]) < 4 * sqrt(p[v] * (1 - p[v]) / N) + 1e-9);
  }
}

static void top_k_and_top_p_keep_the_likeliest(void **state) {
  (void)state;
  double freq[V];
  draw(&(sc_sample_cfg){.temperature = 1, .top_k = 3, .top_p = 1, .seed = 2}, 3000, freq);
  for (int v = 0; v < V; v++) assert_true((freq[v] > 0) == (v == 1 || v == 3 || v == 7));
  /* softmax at T = 1: ids 1 and 3 hold 0.295 each, so p = 0.5 keeps exactly those two */
  draw(&(sc_sample_cfg){.temperature = 1, .top_p = 0.5, .seed = 2}, 3000, freq);
  for (int v = 0; v < V; v++) assert_true((freq[v] > 0) == (v == 1 || v == 3));
}

static void bad_settings_name_the_option(void **state) {
  (void)state;
  sc_sampler s;
  sc_err err;
  assert_int_equal(sc_sampler_init(&s, V, &(sc_sample_cfg){.temperature = -1, .top_p = 1}, &err), -1);
  assert_non_null(strstr(err.msg, "--temperature"));
  assert_int_equal(sc_sampler_init(&s, V, &(sc_sample_cfg){.temperature = 1, .top_p = 0}, &err), -1);
  assert_non_null(strstr(err.msg, "--top-p"));
  assert_int_equal(sc_sampler_init(&s, V, &(sc_sample_cfg){.temperature = 1, .top_k = -2, .top_p = 1}, &err), -1);
  assert_non_null(strstr(err.msg, "--top-k"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(greedy_is_argmax),
      cmocka_unit_test(reproducible_for_a_seed),
      cmocka_unit_test(follows_softmax),
      cmocka_unit_test(top_k_and_top_p_keep_the_likeliest),
      cmocka_unit_test(bad_settings_name_the_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
