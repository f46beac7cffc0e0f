#include "base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double sc_median(double *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

sc_stats sc_stats_of(double *v, int n) {
  sc_stats s = {n, sc_median(v, n), 0, NAN, 0, NAN};
  double ss = 0, rs = 0;
  for (int i = 0; i < n; i++) s.mean += v[i] / n, s.rate_mean += 1 / v[i] / n;
  for (int i = 0; i < n; i++) ss += (v[i] - s.mean) * (v[i] - s.mean), rs += pow(1 / v[i] - s.rate_mean, 2);
  if (n > 1) s.sd = sqrt(ss / (n - 1)), s.rate_sd = sqrt(rs / (n - 1));
  return s;
}

sc_figure sc_figure_time(const sc_stats *s, double scale) {
  return (sc_figure){scale * s->median, scale * s->mean, scale * s->sd};
}

sc_figure sc_figure_rate(const sc_stats *s, double work) {
  return (sc_figure){work / s->median, work * s->rate_mean, work * s->rate_sd};
}

double sc_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
