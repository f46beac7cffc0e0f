/* The subcommands of `scalecl`. Each takes argv with argv[0] = the command name, prints its
 * own output, writes errors into err, and returns the process exit code (0 = success). */
#ifndef SCALECL_COMMANDS_H
#define SCALECL_COMMANDS_H

#include "base/err.h"

typedef int (*sc_command_fn)(int argc, char **argv, sc_err *err);

typedef struct {
  const char *name;
  sc_command_fn fn;
  const char *summary;
} sc_command;

extern const sc_command sc_commands[];
extern const int sc_n_commands;

int cmd_devices(int argc, char **argv, sc_err *err);
int cmd_peak(int argc, char **argv, sc_err *err);
int cmd_bench(int argc, char **argv, sc_err *err);
int cmd_op(int argc, char **argv, sc_err *err);
int cmd_flops(int argc, char **argv, sc_err *err);
int cmd_prepare(int argc, char **argv, sc_err *err);
int cmd_fit(int argc, char **argv, sc_err *err);
int cmd_env(int argc, char **argv, sc_err *err);

#endif
