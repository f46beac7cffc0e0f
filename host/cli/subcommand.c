#include "cli/subcommand.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f, const char *parent, const sc_topic *t, int n) {
  fprintf(f, "usage: scalecl %s <topic> [options]\n\ntopics:\n", parent);
  for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", t[i].name, t[i].summary);
  fprintf(f, "\n'scalecl %s <topic> --help' describes a topic's options.\n", parent);
}

int sc_dispatch_topic(const char *parent, const sc_topic *topics, int n, int argc, char **argv, sc_err *err) {
  const char *names[64];
  const int m = n < 64 ? n : 64;
  for (int i = 0; i < m; i++) names[i] = topics[i].name;
  const char *name = argc < 2 ? NULL : argv[1];
  if (name && (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help"))) {
    usage(stdout, parent, topics, n);
    return 0;
  }
  for (int i = 0; name && i < m; i++) {
    if (strcmp(name, names[i]) != 0) continue;
    /* The topic's errors name it: "scalecl op mlstm: error: ...". */
    char path[96];
    snprintf(path, sizeof path, "scalecl %s %s", parent, name);
    const int rc = topics[i].fn(argc - 1, argv + 1, err);
    sc_report_error(path, rc, err);
    return rc;
  }
  return sc_fail_choice(err, "topic", name, names, m), 2;
}
