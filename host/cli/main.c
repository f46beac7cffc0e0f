/* scalecl: git-style front end. Only this file exits the process. */
#include <stdio.h>
#include <string.h>

#include "base/args.h"
#include "base/version.h"
#include "cli/commands.h"

static void usage(FILE *f) {
  fprintf(f, "usage: scalecl <command> [options]\n\ncommands:\n");
  for (int i = 0; i < sc_n_commands; i++) fprintf(f, "  %-10s %s\n", sc_commands[i].name, sc_commands[i].summary);
  fprintf(f,
          "\n'scalecl <command> --help' describes a command's options.\n"
          "environment: SCALECL_DEVICE, SCALECL_KERNEL_DIR, SCALECL_CACHE_DIR, SCALECL_GEMM, SCALECL_PROFILE_DIR,\n"
          "SCALECL_MODELS_DIR, SCALECL_DATA_DIR (see README.md)\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("%s\n", sc_version_line());
    return 0;
  }
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < sc_n_commands; i++) {
    if (strcmp(name, sc_commands[i].name) != 0) continue;
    static sc_err err;
    err.msg[0] = '\0';
    int rc = sc_commands[i].fn(argc - 1, argv + 1, &err);
    if (rc != 0 && err.msg[0]) fprintf(stderr, "scalecl %s: error: %s\n", name, err.msg);
    return rc;
  }
  const char *names[64];
  int n = sc_n_commands < 64 ? sc_n_commands : 64;
  for (int i = 0; i < n; i++) names[i] = sc_commands[i].name;
  int near = sc_nearest(name, names, n);
  if (near >= 0)
    fprintf(stderr, "scalecl: error: unknown command '%s'; did you mean '%s'?\n\n", name, names[near]);
  else
    fprintf(stderr, "scalecl: error: unknown command '%s'\n\n", name);
  usage(stderr);
  return 2;
}
