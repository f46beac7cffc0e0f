#include "bench/bench.h"
#include "cli/subcommand.h"

int cmd_bench(int argc, char **argv, sc_err *err) {
  static const sc_topic topics[] = {
      {"gemm", bench_gemm_main, "SGEMM through CLBlast and the own kernel over a list of shapes"},
      {"attention", bench_attention_main, "causal attention fwd, fwd+bwd, decode and memory vs sequence length"},
      {"loader", bench_loader_main, "token-shard sampling cost in ns per token"},
      {"mlstm", bench_mlstm_main, "chunkwise mLSTM fwd and fwd+bwd vs chunk size, and the quadratic form"},
      {"model", bench_model_main, "whole-model forward and forward+backward steps: tokens/s, MFU, memory"},
      {"train", bench_train_main, "whole AdamW training steps (data, optimizer) next to forward+backward alone"},
      {"infer", bench_infer_main, "inference: TTFT and step time vs prefill length and batch, both architectures"},
      {"fit", bench_fit_main, "the paper's main L(N,D) fit with its start grid, and bootstrap resamples (host CPU)"},
  };
  return sc_dispatch_topic("bench", topics, (int)(sizeof topics / sizeof topics[0]), argc, argv, err);
}
