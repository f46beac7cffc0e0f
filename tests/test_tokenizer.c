/* Byte tokenizer: every byte value round-trips, specials are never produced by encode and are
 * decoded by mode, and ids outside the vocabulary are rejected with a message. */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer.h"
#include "harness.h"

static void all_bytes_round_trip(void **state) {
  (void)state;
  uint8_t bytes[512];
  for (int i = 0; i < 512; i++) bytes[i] = (uint8_t)(255 - i % 256);
  int32_t ids[512];
  sc_tok_encode(bytes, sizeof bytes, ids);
  for (int i = 0; i < 512; i++) assert_int_equal(ids[i], bytes[i]);
  char out[512];
  size_t len = 0;
  sc_err err = {{0}};
  assert_int_equal(sc_tok_decode(ids, 512, SC_DECODE_NAME_SPECIAL, out, sizeof out, &len, &err), 0);
  assert_int_equal(len, 512);
  assert_memory_equal(out, bytes, 512);
}

static void random_non_utf8_round_trip(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 7);
  enum { N = 100000 };
  uint8_t *b = malloc(N);
  int32_t *ids = malloc(N * sizeof *ids);
  char *out = malloc(N);
  for (int i = 0; i < N; i++) b[i] = (uint8_t)(sc_rng_uniform(&r) * 256);
  b[10] = 0xff, b[11] = 0xc0, b[12] = 0x00; /* never valid UTF-8, and a NUL */
  sc_tok_encode(b, N, ids);
  int32_t mx = 0;
  for (int i = 0; i < N; i++) mx = ids[i] > mx ? ids[i] : mx;
  assert_true(mx < 256);
  size_t len;
  sc_err err = {{0}};
  assert_int_equal(sc_tok_decode(ids, N, SC_DECODE_SKIP_SPECIAL, out, N, &len, &err), 0);
  assert_int_equal(len, N);
  assert_memory_equal(out, b, N);
  free(b);
  free(ids);
  free(out);
}

static void literal_special_text_stays_bytes(void **state) {
  (void)state;
  const char *s = "<|endoftext|>";
  int32_t ids[13];
  sc_tok_encode(s, 13, ids);
  for (int i = 0; i < 13; i++) assert_int_equal(ids[i], (uint8_t)s[i]);
}

static void specials_by_mode(void **state) {
  (void)state;
  assert_int_equal(SC_TOK_VOCAB, 259);
  const int32_t ids[] = {'a', SC_TOK_EOS, 'b', SC_TOK_BOS, SC_TOK_PAD, 'c'};
  char out[128];
  size_t len;
  sc_err err = {{0}};
  assert_true(sc_tok_decode_bound(6) <= sizeof out);
  assert_int_equal(sc_tok_decode(ids, 6, SC_DECODE_SKIP_SPECIAL, out, sizeof out, &len, &err), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(out, "abc", 3);
  assert_int_equal(sc_tok_decode(ids, 6, SC_DECODE_NAME_SPECIAL, out, sizeof out, &len, &err), 0);
  const char *want = "a<|endoftext|>b<|bos|><|pad|>c";
  assert_int_equal(len, strlen(want));
  assert_memory_equal(out, want, len);
  assert_string_equal(sc_tok_special_name(SC_TOK_EOS), "<|endoftext|>");
  assert_null(sc_tok_special_name('x'));
  assert_null(sc_tok_special_name(SC_TOK_VOCAB));
}

static void out_of_range_ids_rejected(void **state) {
  (void)state;
  const int32_t bad[][3] = {{'a', SC_TOK_VOCAB, 'b'}, {'a', -1, 'b'}, {'a', 50256, 'b'}};
  char out[64];
  size_t len;
  for (int k = 0; k < 3; k++) {
    sc_err err = {{0}};
    assert_int_equal(sc_tok_decode(bad[k], 3, SC_DECODE_NAME_SPECIAL, out, sizeof out, &len, &err), -1);
    assert_non_null(strstr(err.msg, "outside the byte vocabulary [0, 259)"));
    assert_non_null(strstr(err.msg, "at position 1"));
  }
  sc_err err = {{0}};
  const int32_t ok[] = {'a', SC_TOK_EOS};
  assert_int_equal(sc_tok_decode(ok, 2, SC_DECODE_NAME_SPECIAL, out, 5, &len, &err), -1);
  assert_non_null(strstr(err.msg, "too small"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(all_bytes_round_trip),
      cmocka_unit_test(random_non_utf8_round_trip),
      cmocka_unit_test(literal_special_text_stays_bytes),
      cmocka_unit_test(specials_by_mode),
      cmocka_unit_test(out_of_range_ids_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
