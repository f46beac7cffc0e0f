/* What the long-running commands (train, sweep run) share: stopping cleanly on a signal, and the device's FMA
 * peak for MFU. */
#ifndef SCALECL_CLI_LONG_RUN_H
#define SCALECL_CLI_LONG_RUN_H

#include <signal.h>

#include "base/err.h"

/* From now on SIGINT and SIGTERM set the returned flag (the work in flight finishes and checkpoints); a second
 * signal acts as usual. sc_stop_signals_release restores the default handlers. */
volatile sig_atomic_t *sc_stop_signals_catch(void);
void sc_stop_signals_release(void);

/* The FMA peak in GFLOP/s for MFU: from a `scalecl peak --json` file, measured on `device` (about a second), or 0
 * for "none"; printed on stderr under `who`. -1 with err on failure. */
double sc_mfu_peak(const char *who, const char *peak, const char *device, sc_err *err);

#endif
