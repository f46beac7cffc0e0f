/* Host clocks for timing: monotonic wall time, process CPU time, and the median of samples. */
#ifndef SCALECL_BASE_CLOCK_H
#define SCALECL_BASE_CLOCK_H

double sc_now(void); /* monotonic seconds */

/* Process CPU time in seconds, all threads. On a CPU OpenCL device, CPU time per call divided by the compute
 * units gives the time the call would take with the machine to itself. */
double sc_cpu_seconds(void);

double sc_median(double *v, int n); /* sorts v in place */

/* Repeated measurements of a time per call: the median (the headline figure), the mean and the sample standard
 * deviation (NaN with one sample) of the seconds, and the mean and sd of their reciprocals (calls per second), so
 * a rate is reported with its own spread. */
typedef struct {
  int n;
  double median, mean, sd;
  double rate_mean, rate_sd;
} sc_stats;
sc_stats sc_stats_of(double *v, int n); /* sorts v in place */

/* A figure derived from such samples, as the tables report it: the median, mean and sd. */
typedef struct {
  double median, mean, sd;
} sc_figure;
sc_figure sc_figure_time(const sc_stats *s, double scale); /* scale x seconds per call (scale 1e3: ms) */
sc_figure sc_figure_rate(const sc_stats *s, double work);  /* work per second; the median is work / median time */

#endif
