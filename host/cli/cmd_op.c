#include "cli/subcommand.h"

int cmd_op(int argc, char **argv, sc_err *err) {
  static const sc_topic topics[] = {
      {"mlstm", op_mlstm_main, "run the mLSTM kernels on tensors from a safetensors file"},
      {"attention", op_attention_main, "run RoPE + causal attention (and backward) on tensors from a safetensors file"},
  };
  return sc_dispatch_topic("op", topics, (int)(sizeof topics / sizeof topics[0]), argc, argv, err);
}
