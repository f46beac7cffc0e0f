#include "cli/commands.h"

/* One line per subcommand; `scalecl --help` lists them in this order. */
const sc_command sc_commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices with their probed capabilities"},
    {"peak", cmd_peak, "measure FMA peak, memory bandwidth, launch latency and SGEMM rates"},
    {"op", cmd_op, "run one op's kernels on tensors from a safetensors file (check against other implementations)"},
    {"bench", cmd_bench, "benchmarks: gemm, mlstm, attention, loader, fit ('scalecl bench --help')"},
    {"flops", cmd_flops, "parameters, FLOPs per sequence/token and steps for a budget, as the paper counts them"},
    {"prepare", cmd_prepare, "tokenize text or JSONL(.zst) into llm.c token shards; --default: the GCIDE corpus"},
    {"env", cmd_env, "the version and every SCALECL_* setting, as benchmark JSON records them"},
    {"fit", cmd_fit, "scaling-law fits of a runs table: IsoFLOP power laws, L(N,D), bootstrap CIs, charts"},
};
const int sc_n_commands = (int)(sizeof sc_commands / sizeof sc_commands[0]);
