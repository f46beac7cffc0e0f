#include "cli/subcommand.h"

#include <stdio.h>
#include <string.h>

#include "base/args.h"

static void usage(FILE *f, const char *parent, const sc_topic *t, int n) {
  fprintf(f, "usage: scalecl %s <topic> [options]\n\ntopics:\n", parent);
  for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", t[i].name, t[i].summary);
  fprintf(f, "\n'scalecl %s <topic> --help' describes a topic's options.\n", parent);
}

int sc_dispatch_topic(const char *parent, const sc_topic *topics, int n, int argc, char **argv, sc_err *err) {
  if (argc < 2) {
    usage(stderr, parent, topics, n);
    return sc_fail(err, "missing topic"), 2;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
    usage(stdout, parent, topics, n);
    return 0;
  }
  for (int i = 0; i < n; i++)
    if (!strcmp(topics[i].name, name)) return topics[i].fn(argc - 1, argv + 1, err);
  const char *names[64];
  int m = n < 64 ? n : 64;
  for (int i = 0; i < m; i++) names[i] = topics[i].name;
  int near = sc_nearest(name, names, m);
  usage(stderr, parent, topics, n);
  if (near >= 0) return sc_fail(err, "unknown topic '%s'; did you mean '%s'?", name, names[near]), 2;
  return sc_fail(err, "unknown topic '%s'", name), 2;
}
