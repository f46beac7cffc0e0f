/* scalecl: git-style front end. Only this file exits the process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/args.h"
#include "base/version.h"
#include "cli/commands.h"
#include "ops/gemm.h"

static void usage(FILE *f) {
  fprintf(f, "usage: scalecl <command> [options]\n\ncommands:\n");
  for (int i = 0; i < sc_n_commands; i++) fprintf(f, "  %-10s %s\n", sc_commands[i].name, sc_commands[i].summary);
  fprintf(f,
          "\n'scalecl <command> --help' describes a command's options.\n"
          "'scalecl --version' prints the version; 'scalecl env' every SCALECL_* setting (see README.md).\n");
}

int main(int argc, char **argv) {
  static sc_err err;
  /* OpenBLAS read OPENBLAS_CORETYPE when it loaded, before main; when it fell back to slow kernels, run again with
   * the core type that fits (once: the variable is then set). */
  const char *core = sc_gemm_blas_core_fix();
  if (core && !setenv("OPENBLAS_CORETYPE", core, 1)) {
    execv("/proc/self/exe", argv);
    fprintf(stderr,
            "scalecl: warning: OpenBLAS fell back to its Prescott (SSE3) kernels on this CPU, so the host GEMM "
            "backend is slow; running again with OPENBLAS_CORETYPE=%s failed (%s): export it yourself\n",
            core, strerror(errno));
  }
  const char *names[64];
  const int n = sc_n_commands < 64 ? sc_n_commands : 64;
  for (int i = 0; i < n; i++) names[i] = sc_commands[i].name;
  const char *name = argc < 2 ? NULL : argv[1];
  if (name && (!strcmp(name, "--version") || !strcmp(name, "version"))) {
    printf("%s\n", sc_version_line());
    return 0;
  }
  if (name && (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help"))) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; name && i < n; i++) {
    if (strcmp(name, names[i]) != 0) continue;
    char path[64];
    snprintf(path, sizeof path, "scalecl %s", name);
    const int rc = sc_commands[i].fn(argc - 1, argv + 1, &err);
    sc_report_error(path, rc, &err);
    return rc;
  }
  sc_fail_choice(&err, "command", name, names, n);
  sc_report_error("scalecl", 2, &err);
  return 2;
}
