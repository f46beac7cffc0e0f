#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

#include "base/args.h"

/* One line per subcommand; `scalecl --help` lists them in this order. */
const sc_command sc_commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices with their probed capabilities"},
    {"check", cmd_check, "every kernel family against the float64 references; run it first on a new device"},
    {"peak", cmd_peak, "measure FMA peak, memory bandwidth, launch latency and SGEMM rates"},
    {"tune", cmd_tune, "search the tile parameters of scalecl's own kernels on a device; write a device profile"},
    {"op", cmd_op, "run one op's kernels on tensors from a safetensors file (check against other implementations)"},
    {"bench", cmd_bench, "benchmarks: gemm, mlstm, attention, model, train, infer, loader, fit ('scalecl bench --help')"},
    {"report", cmd_report, "compare devices from their peak and benchmark JSON files: tables, rooflines, charts"},
    {"flops", cmd_flops, "parameters, FLOPs per sequence/token and steps for a budget, as the paper counts them"},
    {"init", cmd_init, "write a freshly initialised, seeded checkpoint that Hugging Face transformers loads"},
    {"eval", cmd_eval, "mean next-token loss, perplexity and bits per byte of a checkpoint on tokens or shards"},
    {"generate", cmd_generate, "stream text from a checkpoint: prefill the prompt, then one decoding step per token"},
    {"train", cmd_train, "AdamW training on token shards into a resumable run directory (checkpoints, metrics)"},
    {"plot", cmd_plot, "charts of training runs: loss curves against tokens or FLOPs"},
    {"sweep", cmd_sweep, "IsoFLOP and token/param sweeps: run with a durable ledger, status, report with fits"},
    {"prepare", cmd_prepare, "tokenize text or JSONL(.zst) into llm.c token shards; --default: the GCIDE corpus"},
    {"env", cmd_env, "the version and every SCALECL_* setting, as benchmark JSON records them"},
    {"fit", cmd_fit, "scaling-law fits of a runs table: IsoFLOP power laws, L(N,D), bootstrap CIs, charts"},
};
const int sc_n_commands = (int)(sizeof sc_commands / sizeof sc_commands[0]);

void sc_report_error(const char *path, int rc, sc_err *err) {
  if (!rc || !err->msg[0]) return;
  fprintf(stderr, "%s: error: %s\n", path, err->msg);
  if (rc == 2) fprintf(stderr, "run '%s --help' for usage\n", path);
  err->msg[0] = '\0';
}

int sc_fail_choice(sc_err *err, const char *what, const char *word, const char *const *names, int n) {
  char list[512];
  size_t at = 0;
  for (int i = 0; i < n && at < sizeof list; i++)
    at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", names[i]);
  const int near = word ? sc_nearest(word, names, n) : -1;
  if (!word) return sc_fail(err, "missing %s (one of %s)", what, list);
  if (near >= 0) return sc_fail(err, "unknown %s '%s'; did you mean '%s'?", what, word, names[near]);
  return sc_fail(err, "unknown %s '%s' (one of %s)", what, word, list);
}
