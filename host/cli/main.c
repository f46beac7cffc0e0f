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
  /* OpenBLAS read its environment when it loaded, before main: run again with what it lacked (once: the variables
   * are then set). */
  const char *fix[2], *fix_value[2];
  const int nfix = sc_gemm_blas_env(fix, fix_value);
  int exported = 1;
  for (int i = 0; i < nfix; i++) exported &= !setenv(fix[i], fix_value[i], 1);
  if (nfix) {
    if (exported) execv("/proc/self/exe", argv);
    char vars[160] = "";
    for (int i = 0; i < nfix; i++)
      snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "%s%s=%s", i ? " " : "", fix[i], fix_value[i]);
    fprintf(stderr,
            "scalecl: warning: running again with %s failed (%s), so the host GEMM backend is slow: "
            "export it yourself\n",
            vars, strerror(errno));
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
