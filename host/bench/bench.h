/* The `scalecl bench` topics, one file each in bench/. Each takes argv with argv[0] = the topic name, prints
 * its own output, writes errors into err, and returns the process exit code. */
#ifndef SCALECL_BENCH_BENCH_H
#define SCALECL_BENCH_BENCH_H

#include "base/err.h"

int bench_gemm_main(int argc, char **argv, sc_err *err);
int bench_mlstm_main(int argc, char **argv, sc_err *err);
int bench_attention_main(int argc, char **argv, sc_err *err);
int bench_loader_main(int argc, char **argv, sc_err *err);
int bench_fit_main(int argc, char **argv, sc_err *err);
int bench_model_main(int argc, char **argv, sc_err *err);
int bench_train_main(int argc, char **argv, sc_err *err);
int bench_infer_main(int argc, char **argv, sc_err *err);

#endif
