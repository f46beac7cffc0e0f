/* Helpers shared by the libFuzzer targets (tests/fuzz/README.md). Parsers that read only from a path get the
 * fuzz input as a file in a per-process scratch directory on tmpfs, removed at exit. */
#ifndef SCALECL_FUZZ_H
#define SCALECL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch directory (created on first use). */
const char *fuzz_dir(void);
/* Writes data to <fuzz_dir>/<name> and returns its path (static storage, valid until the next call). A
 * failure of the harness itself, not of the code under test, aborts. */
const char *fuzz_file(const char *name, const void *data, size_t size);
/* Removes everything under <fuzz_dir>/<name> (an output directory of the previous input). */
void fuzz_clear(const char *name);
/* A fresh error struct: the messages of rejected inputs are formatted (which is tested) but not printed. */
sc_err *fuzz_err(void);

#endif
