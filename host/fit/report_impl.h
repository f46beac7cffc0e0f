/* Inside sc_fit_report (fit/report.h): the working state of one architecture's fits, shared by the orchestration
 * and table (report.c) and the writers of fit.json and isoflop_minima.csv (report_files.c). Not for other callers. */
#ifndef SCALECL_FIT_REPORT_IMPL_H
#define SCALECL_FIT_REPORT_IMPL_H

#include "fit/report.h"

typedef struct {
  char arch[32];
  /* L(N, D) */
  sc_run_sel lsel;
  char lwhy[512];
  double *ln_n, *ln_d, *ln_l, *l_n, *l_d, *l_c, *l_loss;
  int lnd_done;
  sc_lnd_result lnd;
  double lnd_seconds, boot_seconds;
  double lnd_ci[SC_FIT_LND_NVALUES][2]; /* bootstrap 95% intervals; NAN where there is none */
  /* IsoFLOP */
  sc_run_sel isel;
  char iwhy[512];
  double *i_n, *i_d, *i_c, *i_loss, *i_budget;
  int iso_done;
  sc_iso_result iso;
  double iso_ci[SC_FIT_ISO_NVALUES][2]; /* a, A', b, B' as lnd_ci */
  int iso_boot_failed;
} sc_fit_arch;

extern const char *const sc_fit_lnd_value_names[SC_FIT_LND_NVALUES];
/* The fit.json values of L(N, D) parameters p: p itself, then A, B, E and the allocation exponents. */
void sc_fit_lnd_values(const double *p, double *v);
/* The next line of a newline-separated list: its start (NULL at the end) and length. */
const char *sc_fit_next_line(const char **s, int *len);

/* o->runs names the table (set even when it was passed loaded); plots: the chart names, space separated;
 * plot_note: why there are none, or "". */
int sc_fit_write_json(const sc_fit_report_opts *o, const sc_runs *rs, const sc_fit_arch *fits, int nf,
                      const char *plots, const char *plot_note, sc_err *err);
int sc_fit_write_minima_csv(const sc_fit_report_opts *o, const sc_fit_arch *fits, int nf, sc_err *err);

#endif
