#!/usr/bin/env bash
# The measurements `scalecl report devices` compares, taken on one device into one folder: devices, peak, check in
# both kernel variants, bench gemm, mlstm and attention (both variants; decode also over caches of halves), model,
# train and infer (Llama also with the KV cache in halves). Each step runs under a time
# limit with its output in OUT_DIR/logs/STEP.log; a step that fails or runs out of time is named at the end and
# the others go on. Exit status: 0 when every step passed, 1 otherwise.
#   platforms/device-suite.sh [--scalecl BIN] [--device SEL] [--quick|--gpu] [--tune] [--steps LIST]
#                             [--limit SECONDS] OUT_DIR
# --scalecl: the binary or a bundle's wrapper (platforms/bundle.sh; default: scalecl next to this script's build,
#   else on PATH). --quick: small shapes, a smoke test in about a minute on a CPU. --gpu: GPU-sized shapes (S
#   8192, 8 heads, head dims 64-256; the cpu variants at S 2048) and the 160M models at B 4 x T 2048.
# --tune: first `scalecl tune --op mlstm,attention` (OUT_DIR/tuned/profile.json), its tiles checked (check_tuned),
#   then the gpu-variant steps run with that profile. --steps: only these steps (comma-separated; shell patterns,
#   e.g. tune,check_tuned,mlstm_gpu,attention_gpu,model_*): a short device lease spent where it matters.
# --limit: per step (default 900). MODELS="..." MODEL_ARGS="..." override the models and their options,
#   TUNE_OPS="..." the families --tune tunes, TUNE_BUDGET the seconds it may spend on each (--gpu: 240),
#   TRAIN_ARGS / INFER_ARGS those of bench train and bench infer, TRAIN_TEXT the text bench train's shards are made
#   from (step prepare; default the checkout's README.md, byte-tokenized: throughput needs tokens, not a corpus).
# The peer: where PEER_PYTHON (default python3) imports torch, step peer_torch times PyTorch's float32 attention and a
#   torch chunkwise mLSTM at the gpu steps' shapes (platforms/peer-torch.py) into OUT_DIR/peer_torch.jsonl, which
#   `report devices` sets beside scalecl's rows.
set -uo pipefail
usage() { sed -n 2,21p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
sc="" dev="" quick=0 gpu=0 tune=0 steps="" limit=900 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --scalecl) sc=$2; shift 2 ;;
    --device) dev=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --gpu) gpu=1; shift ;;
    --tune) tune=1; shift ;;
    --steps) steps=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "device-suite.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1; shift ;;
  esac
done
[ -n "$out" ] || usage
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$sc" ]; then
  if [ -x "$here/../build/scalecl" ]; then sc=$here/../build/scalecl; else sc=$(command -v scalecl || true); fi
fi
[ -n "$sc" ] && [ -x "$sc" ] || { echo "device-suite.sh: no scalecl binary (give --scalecl BIN)" >&2; exit 2; }
mkdir -p "$out/logs" || exit 2
devopt=()
[ -n "$dev" ] && devopt=(--device "$dev")
# Line-buffered output, so that a step stopped at its limit still leaves what it printed.
lb=()
command -v stdbuf >/dev/null && lb=(stdbuf -oL -eL)
failed=()
wanted() { # wanted NAME: whether --steps (if given) names it
  [ -z "$steps" ] && return 0
  local p
  IFS=, read -ra pats <<<"$steps"
  for p in "${pats[@]}"; do
    # shellcheck disable=SC2254 # the patterns are meant to match
    case $1 in $p) return 0 ;; esac
  done
  return 1
}
step() { # step NAME [VAR=VALUE...] -- scalecl ARGS...
  local name=$1 envs=()
  shift
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  wanted "$name" || return 0
  local t0=$SECONDS
  printf '%-22s ' "$name"
  # prog: the program a step runs, scalecl unless the caller sets it for the call
  env ${envs[@]+"${envs[@]}"} timeout -k 10 "$limit" ${lb[@]+"${lb[@]}"} "${prog:-$sc}" "$@" >"$out/logs/$name.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    [ $rc -eq 124 ] && echo "ran out of its ${limit} s" || echo "failed (exit $rc, $out/logs/$name.log)"
    failed+=("$name")
  fi
}
[ $quick = 1 ] && [ $gpu = 1 ] && { echo "device-suite.sh: --quick or --gpu, not both" >&2; exit 2; }
# The cpu variants run one work-item per work-group: on a GPU they get their own, smaller shapes.
mlstm_cpu=() att_cpu=()
if [ $quick = 1 ]; then
  peak=(--quick) check=(--tiny) gemm=(--shapes 256x256x256 --samples 1)
  mlstm=(--seq 256 --heads 2 --dims 64:64 --chunks 64 --parallel-seq none --samples 1)
  att=(--seq 256 --heads 2 --head-dims 64 --decode-lens 0,256 --samples 1)
  : "${MODELS:=xlstm-cpu-50k llama-cpu-50k}" "${MODEL_ARGS:=--batch 1 --ctx 64 --samples 1}"
  : "${TRAIN_ARGS:=--batch 1 --ctx 64 --samples 1}" "${INFER_ARGS:=--prefill 0,64 --batch 1 --gen 4 --reps 1}"
elif [ $gpu = 1 ]; then
  peak=() check=() gemm=()
  mlstm=(--seq 8192 --heads 8 --dims 64:64,128:128,256:256,256:512 --chunks 64,128 --parallel-seq none --profile)
  att=(--seq 2048,8192 --heads 8 --head-dims 64,128,256 --decode-lens 0,16384 --profile)
  mlstm_cpu=(--seq 2048 --heads 8 --dims 64:64,128:128 --chunks 64 --parallel-seq none)
  att_cpu=(--seq 2048 --heads 8 --head-dims 64,128 --decode-lens none)
  : "${MODELS:=xlstm-164m llama-162m}" "${MODEL_ARGS:=--batch 4 --ctx 2048 --profile}"
  : "${TRAIN_ARGS:=--batch 4 --ctx 2048}" "${INFER_ARGS:=--prefill 0,1024,4096,16384 --batch 1,8 --gen 16 --reps 2}"
else
  peak=() check=() gemm=()
  mlstm=(--seq 2048 --heads 2 --dims 64:64,128:128 --chunks 64 --parallel-seq none)
  att=(--seq 2048 --heads 2 --head-dims 64,128 --decode-lens 0,4096)
  : "${MODELS:=xlstm-cpu-5m llama-cpu-5m}" "${MODEL_ARGS:=--batch 8 --ctx 512}"
  : "${TRAIN_ARGS:=--batch 8 --ctx 512}" "${INFER_ARGS:=--prefill 0,256,1024 --batch 1 --gen 16 --reps 2}"
fi
"$sc" --version | tee "$out/logs/version.log"
step devices -- devices "${devopt[@]+"${devopt[@]}"}"
"$sc" devices --format json >"$out/devices.json" 2>/dev/null
step peak -- peak "${devopt[@]+"${devopt[@]}"}" "${peak[@]+"${peak[@]}"}" --json "$out/peak.json"
pk=()
[ -s "$out/peak.json" ] && pk=(--peak "$out/peak.json")
for v in gpu cpu; do
  step "check_$v" SCALECL_KERNEL_VARIANT=$v -- check "${devopt[@]+"${devopt[@]}"}" "${check[@]+"${check[@]}"}" \
    --json "$out/check_$v.json"
done
# The tuned profile replaces the shipped ones for the gpu-variant steps that follow (tuned=(): not tuned).
tuned=()
if [ $tune = 1 ]; then
  mkdir -p "$out/tuned"
  tq=()
  [ $quick = 1 ] && tq=(--quick --samples 1)
  [ $gpu = 1 ] && : "${TUNE_BUDGET:=240}"
  [ -n "${TUNE_BUDGET:-}" ] && tq+=(--budget "$TUNE_BUDGET")
  step tune -- tune "${devopt[@]+"${devopt[@]}"}" --op "${TUNE_OPS:-mlstm,attention}" --variant gpu "${tq[@]+"${tq[@]}"}" \
    --out "$out/tuned/profile.json" --json "$out/tune.json"
  if [ -s "$out/tuned/profile.json" ]; then
    tuned=("SCALECL_PROFILE_DIR=$out/tuned")
    step check_tuned SCALECL_KERNEL_VARIANT=gpu "${tuned[@]}" -- check "${devopt[@]+"${devopt[@]}"}" \
      --op mlstm,attention "${check[@]+"${check[@]}"}" --json "$out/check_tuned.json"
  fi
fi
step gemm -- bench gemm "${devopt[@]+"${devopt[@]}"}" "${gemm[@]+"${gemm[@]}"}" --json "$out/gemm.json"
[ ${#mlstm_cpu[@]} -gt 0 ] || mlstm_cpu=("${mlstm[@]}")
[ ${#att_cpu[@]} -gt 0 ] || att_cpu=("${att[@]}")
step mlstm_gpu SCALECL_KERNEL_VARIANT=gpu "${tuned[@]+"${tuned[@]}"}" -- bench mlstm "${devopt[@]+"${devopt[@]}"}" "${mlstm[@]}" \
  "${pk[@]+"${pk[@]}"}" --json "$out/mlstm_gpu.json"
step attention_gpu SCALECL_KERNEL_VARIANT=gpu "${tuned[@]+"${tuned[@]}"}" -- bench attention "${devopt[@]+"${devopt[@]}"}" "${att[@]}" \
  "${pk[@]+"${pk[@]}"}" --json "$out/attention_gpu.json"
step mlstm_cpu SCALECL_KERNEL_VARIANT=cpu -- bench mlstm "${devopt[@]+"${devopt[@]}"}" "${mlstm_cpu[@]}" \
  "${pk[@]+"${pk[@]}"}" --json "$out/mlstm_cpu.json"
step attention_cpu SCALECL_KERNEL_VARIANT=cpu -- bench attention "${devopt[@]+"${devopt[@]}"}" "${att_cpu[@]}" \
  "${pk[@]+"${pk[@]}"}" --json "$out/attention_cpu.json"
# Decode over KV caches of halves (the device's default variant; a short forward-only sequence comes with it).
step decode_f16 "${tuned[@]+"${tuned[@]}"}" -- bench attention "${devopt[@]+"${devopt[@]}"}" "${att[@]}" --seq 256 \
  --forward-only --kv-cache f16 "${pk[@]+"${pk[@]}"}" --json "$out/decode_f16.json"
# The peer a user would run instead, at the gpu steps' shapes (quick: tiny ones), where torch imports.
py=${PEER_PYTHON:-python3}
if "$py" -c "import torch" >/dev/null 2>&1; then
  if [ $quick = 1 ]; then peer=(--seq 256 --heads 2 --head-dims 64 --mlstm-dims 64:64 --decode-lens 256 --samples 1)
  elif [ $gpu = 1 ]; then
    peer=(--seq 8192 --heads 8 --head-dims 64,128,256 --mlstm-dims 64:64,128:128,256:256 --decode-lens 16384)
  else peer=(--seq 2048 --heads 2 --head-dims 64,128 --mlstm-dims 64:64,128:128 --decode-lens 4096); fi
  prog=$py step peer_torch -- "$here/peer-torch.py" "${peer[@]}" --out "$out/peer_torch.jsonl"
  # decode over a half cache (the peer computes in float16 there): the decode lines of one more file
  prog=$py step peer_torch_f16 -- "$here/peer-torch.py" "${peer[@]}" --seq 0 --kv-cache f16 \
    --out "$out/peer_torch_f16.jsonl"
elif wanted peer_torch && [ -n "$steps" ]; then
  echo "peer_torch             skipped: $py does not import torch (set PEER_PYTHON)"
fi
for m in $MODELS; do
  # shellcheck disable=SC2086 # MODEL_ARGS is a list of options
  step "model_$m" "${tuned[@]+"${tuned[@]}"}" -- bench model --model "$m" "${devopt[@]+"${devopt[@]}"}" $MODEL_ARGS "${pk[@]+"${pk[@]}"}" \
    --json "$out/model_$m.json"
done
# Whole training steps need token shards: made here from a text, byte-tokenized.
text=${TRAIN_TEXT:-}
[ -z "$text" ] && [ -f "$here/../README.md" ] && text=$here/../README.md
if [ -n "$text" ]; then
  # a hidden folder: report devices skips it (the shards are scratch, not results)
  step prepare -- prepare --in "$text" --out "$out/.shards" --name tokens --docs paragraph --quiet --force
  for m in $MODELS; do
    # shellcheck disable=SC2086 # TRAIN_ARGS is a list of options
    step "train_$m" "${tuned[@]+"${tuned[@]}"}" -- bench train --model "$m" "${devopt[@]+"${devopt[@]}"}" $TRAIN_ARGS \
      --data "$out/.shards" "${pk[@]+"${pk[@]}"}" --json "$out/train_$m.json"
  done
elif wanted 'train_*'; then
  echo "train_*                skipped: no text for token shards (set TRAIN_TEXT)"
fi
# shellcheck disable=SC2086 # INFER_ARGS is a list of options
step infer "${tuned[@]+"${tuned[@]}"}" -- bench infer --model "$(echo $MODELS | tr ' ' ,)" "${devopt[@]+"${devopt[@]}"}" \
  $INFER_ARGS --json "$out/infer.json"
# ... and the Llama models again with the KV cache in halves.
llamas=$(for m in $MODELS; do case $m in *llama*) printf '%s,' "$m" ;; esac; done)
if [ -n "$llamas" ]; then
  # shellcheck disable=SC2086 # INFER_ARGS is a list of options
  step infer_f16 "${tuned[@]+"${tuned[@]}"}" -- bench infer --model "${llamas%,}" "${devopt[@]+"${devopt[@]}"}" \
    $INFER_ARGS --kv-cache f16 --json "$out/infer_f16.json"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "device-suite.sh: ${#failed[@]} step(s) did not pass: ${failed[*]} (logs in $out/logs)"
  exit 1
fi
echo "device-suite.sh: every step passed; compare devices with: scalecl report devices $out OTHER... --out REPORT"
