#!/usr/bin/env bash
# Runs `scalecl check --tiny` under Oclgrind (invalid memory accesses, data races, API misuse) and fails on any
# error it reports, for one kernel variant:
#   cpu (the device's default on PoCL): every op but the standalone xent, mlstm and attention rows, which need
#       minutes per row in the simulator on 2 cores; the whole-model rows (lm) run those families at tiny shapes.
#   gpu (SCALECL_KERNEL_VARIANT=gpu, with the own GEMM so that its gpu kernel runs too): the families with a gpu
#       form, norm, adamw and attention standalone, the rest through the whole-model rows.
#   gpu-direct: the gpu variant with the tiles of the shipped llvmpipe profile (mLSTM and attention read their
#       operands from global memory there, LS=0, with NEXP=1), through a copy of it matching the Oclgrind device:
#       attention standalone, mLSTM through the whole-model rows.
#   gpu-large: the gpu variant with the largest register tiles of the tuner's GPU grids (8 x 8, 64-item groups,
#       mLSTM's float4 reads VL 1, attention's LMAX 1), through the whole-model rows. Oclgrind counts every kernel-scope __local
#       array of a program against each of its kernels (a real device counts a kernel's own), so the flash kernels
#       fitted to all of the 32 KiB (LMAX 1) fail to launch there; the simulated device gets 1 MiB, which leaves
#       these tiles unfitted, i.e. exactly as set.
# Usage: tests/check_oclgrind.sh SCALECL_BINARY [cpu|gpu|gpu-direct|gpu-large]. Exit 77 (ctest: skipped) when oclgrind is not
# installed.
set -uo pipefail
bin=$1 variant=${2:-cpu}
if ! command -v oclgrind > /dev/null; then
  echo "SKIP: oclgrind is not installed (platforms/install-debian.sh installs it)"
  exit 77
fi
err=$(mktemp) prof=$(mktemp -d) sim=()
trap 'rm -rf "$err" "$prof"' EXIT
kv=$variant
case $variant in
  cpu) ops=gemm,rope,embed,norm,swiglu,softcap,ogate,residual,gates,adamw,lm ;;
  gpu) ops=norm,adamw,attention,lm; export SCALECL_GEMM=own ;;
  gpu-direct)
    ops=attention,lm kv=gpu
    shipped=$(dirname "$bin")/profiles/rusticl-llvmpipe.json
    if ! grep -q '"LS": 0' "$shipped"; then
      echo "check_oclgrind: $shipped sets no direct-load tiles (LS 0) to check" >&2
      exit 1
    fi
    sed 's/"match": \["llvmpipe"\]/"match": ["Oclgrind"]/' "$shipped" > "$prof/oclgrind.json" ;;
  gpu-large)
    ops=lm kv=gpu sim=(--local-mem-size 1048576)
    cat > "$prof/oclgrind.json" << 'EOF'
{"match": ["Oclgrind"], "tiles": {"mlstm_gpu": {"TM": 64, "TN": 64, "WM": 8, "WN": 8, "TK": 16, "VL": 1},
 "attention_gpu": {"BR": 64, "BC": 64, "WR": 8, "WC": 8, "LMAX": 1}}}
EOF
    ;;
  *) echo "check_oclgrind: variant '$variant' is not cpu, gpu, gpu-direct or gpu-large" >&2; exit 2 ;;
esac
if [ -s "$prof/oclgrind.json" ]; then
  export SCALECL_PROFILE_DIR=$prof
  if ! oclgrind "$bin" devices 2> /dev/null | grep -q oclgrind.json; then
    echo "check_oclgrind: the $variant profile does not apply to the Oclgrind device" >&2
    exit 1
  fi
fi
SCALECL_KERNEL_VARIANT=$kv SCALECL_CACHE_DIR=off oclgrind ${sim[@]+"${sim[@]}"} --data-races --check-api "$bin" check \
  --tiny --op "$ops" 2> "$err"
rc=$?
cat "$err" >&2
if [ "$rc" -ne 0 ]; then
  echo "check_oclgrind: scalecl check exited $rc under Oclgrind" >&2
  exit 1
fi
if [ -s "$err" ]; then
  echo "check_oclgrind: Oclgrind reported the errors above" >&2
  exit 1
fi
echo "check_oclgrind: no errors from Oclgrind ($variant variant)"
