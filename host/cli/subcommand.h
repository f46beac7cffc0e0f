/* Two-level commands (`scalecl op mlstm ...`, `scalecl bench attention ...`): a table of
 * topics, each with its own main. */
#ifndef SCALECL_SUBCOMMAND_H
#define SCALECL_SUBCOMMAND_H

#include "cli/commands.h"

typedef struct {
  const char *name;
  sc_command_fn fn;
  const char *summary;
} sc_topic;

/* Dispatches argv[1] among topics; argv[0] is the parent command name. */
int sc_dispatch_topic(const char *parent, const sc_topic *topics, int n, int argc, char **argv, sc_err *err);

/* Topics of `scalecl op` (cli/cmd_op.c); those of `scalecl bench` are in bench/bench.h. */
int op_mlstm_main(int argc, char **argv, sc_err *err);
int op_attention_main(int argc, char **argv, sc_err *err);

#endif
