/* Host clocks for timing: monotonic wall time, process CPU time, and the median of samples. */
#ifndef SCALECL_BASE_CLOCK_H
#define SCALECL_BASE_CLOCK_H

double sc_now(void); /* monotonic seconds */

/* Process CPU time in seconds, all threads. On a CPU OpenCL device, CPU time per call divided by the compute
 * units gives the time the call would take with the machine to itself. */
double sc_cpu_seconds(void);

double sc_median(double *v, int n); /* sorts v in place */

#endif
