#!/usr/bin/env bash
# Runs `scalecl check --tiny` under Oclgrind (invalid memory accesses, data races, API misuse) and fails on any
# error it reports, for one kernel variant:
#   cpu (the device's default on PoCL): every op but the standalone xent, mlstm and attention rows, which need
#       minutes per row in the simulator on 2 cores; the whole-model rows (lm) run those families at tiny shapes.
#   gpu (SCALECL_KERNEL_VARIANT=gpu, with the own GEMM so that its gpu kernel runs too): the families with a gpu
#       form, norm, adamw and attention standalone, the rest through the whole-model rows.
# Usage: tests/check_oclgrind.sh SCALECL_BINARY [cpu|gpu]. Exit 77 (ctest: skipped) when oclgrind is not installed.
set -uo pipefail
bin=$1 variant=${2:-cpu}
if ! command -v oclgrind > /dev/null; then
  echo "SKIP: oclgrind is not installed (platforms/install-debian.sh installs it)"
  exit 77
fi
case $variant in
  cpu) ops=gemm,rope,embed,norm,swiglu,softcap,ogate,residual,gates,heads,adamw,lm ;;
  gpu) ops=norm,adamw,attention,lm; export SCALECL_GEMM=own ;;
  *) echo "check_oclgrind: variant '$variant' is not cpu or gpu" >&2; exit 2 ;;
esac
err=$(mktemp)
trap 'rm -f "$err"' EXIT
SCALECL_KERNEL_VARIANT=$variant SCALECL_CACHE_DIR=off oclgrind --data-races --check-api "$bin" check --tiny --op "$ops" 2> "$err"
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
