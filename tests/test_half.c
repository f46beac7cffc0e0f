/* Host half conversions (base/half.h), the reference for the fp16 KV cache: every half survives a round trip, known
 * values and ties, saturation, and random floats against an oracle that only compares distances to the neighbours. */
#include <math.h>
#include <stdint.h>

#include "base/half.h"
#include "check/cases.h"
#include "harness.h"

static void test_round_trip_every_half(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000; h++) {
    const float f = sc_half_to_float((uint16_t)h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
      assert_true(isnan(f));
      assert_int_equal(sc_half_from_float(f) & 0x7e00, 0x7e00);
      continue;
    }
    if (sc_half_from_float(f) != h) fail_msg("half 0x%04x = %.9g comes back as 0x%04x", h, f, sc_half_from_float(f));
  }
}

static void test_known_values(void **state) {
  (void)state;
  static const struct {
    float x;
    uint16_t h;
  } cases[] = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3c00},
      {-2.0f, 0xc000},
      {1.0f + 0x1p-11f, 0x3c00},            /* tie between 1 and 1 + 2^-10: to the even 1 */
      {1.0f + 3 * 0x1p-11f, 0x3c02},        /* tie between 1 + 2^-10 and 1 + 2^-9: to the even second */
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just past the tie */
      {0x1p-24f, 0x0001},
      {0x1p-25f, 0x0000},   /* smallest subnormal; half of it ties to 0 */
      {0x1.8p-24f, 0x0002}, /* 1.5 units: tie to the even 2 */
      {0x1p-14f, 0x0400},
      {0x1.ff8p-15f, 0x03ff}, /* smallest normal, largest subnormal */
      {0x1.ffcp-15f, 0x0400}, /* the tie between them: to the even smallest normal */
      {65504.0f, 0x7bff},
      {65519.0f, 0x7bff},
      {65520.0f, 0x7bff},
      {-1e6f, 0xfbff}, /* beyond the range: saturated, not infinite */
      {INFINITY, 0x7c00},
      {-INFINITY, 0xfc00},
      {1e-30f, 0x0000},
      {-1e-30f, 0x8000},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (sc_half_from_float(cases[i].x) != cases[i].h)
      fail_msg("%.9g: 0x%04x, expected 0x%04x", cases[i].x, sc_half_from_float(cases[i].x), cases[i].h);
  assert_true(isnan(sc_half_to_float(sc_half_from_float(NAN))));
}

/* The nearest half by distance alone (ties to the even code), among h and its neighbours of the same sign. */
static void test_random_against_nearest(void **state) {
  (void)state;
  sc_rng r;
  sc_rng_seed(&r, 16);
  for (int i = 0; i < 200000; i++) {
    const float x = (float)ldexp(2 * sc_rng_uniform(&r) - 1, (int)(sc_rng_uniform(&r) * 44) - 27);
    const uint16_t h = sc_half_from_float(x);
    const double d = fabs((double)sc_half_to_float(h) - x);
    for (int step = -1; step <= 1; step += 2) {
      const int n = (int)(h & 0x7fff) + step;
      if (n < 0 || n > 0x7bff) continue;
      const double dn = fabs((double)sc_half_to_float((uint16_t)((h & 0x8000) | n)) - x);
      if (dn < d || (dn == d && (h & 1)))
        fail_msg("%.9g: 0x%04x is %.3g away, neighbour 0x%04x only %.3g", x, h, d, (h & 0x8000) | n, dn);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_every_half),
      cmocka_unit_test(test_known_values),
      cmocka_unit_test(test_random_against_nearest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
