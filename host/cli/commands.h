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

/* Prints a failed command's message as "<path>: error: <message>", then for a usage error (rc 2) the line
 * "run '<path> --help' for usage", and clears the message so that it is printed once. */
void sc_report_error(const char *path, int rc, sc_err *err);
/* The usage error for a missing (word NULL) or unknown command or topic, naming the nearest of names. */
int sc_fail_choice(sc_err *err, const char *what, const char *word, const char *const *names, int n);

int cmd_devices(int argc, char **argv, sc_err *err);
int cmd_check(int argc, char **argv, sc_err *err);
int cmd_peak(int argc, char **argv, sc_err *err);
int cmd_tune(int argc, char **argv, sc_err *err);
int cmd_bench(int argc, char **argv, sc_err *err);
int cmd_report(int argc, char **argv, sc_err *err);
int cmd_op(int argc, char **argv, sc_err *err);
int cmd_flops(int argc, char **argv, sc_err *err);
int cmd_init(int argc, char **argv, sc_err *err);
int cmd_eval(int argc, char **argv, sc_err *err);
int cmd_generate(int argc, char **argv, sc_err *err);
int cmd_train(int argc, char **argv, sc_err *err);
int cmd_plot(int argc, char **argv, sc_err *err);
int cmd_sweep(int argc, char **argv, sc_err *err);
int cmd_prepare(int argc, char **argv, sc_err *err);
int cmd_fit(int argc, char **argv, sc_err *err);
int cmd_env(int argc, char **argv, sc_err *err);

#endif
