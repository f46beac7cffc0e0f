#!/usr/bin/env bash
# Runs `scalecl check --tiny` under Oclgrind (invalid memory accesses, data races, API misuse) and fails on any
# error it reports. The whole-model rows (lm) run every kernel family at tiny shapes; the standalone xent, mlstm
# and attention rows are left out because the simulator needs minutes per row on 2 cores.
# Usage: tests/check_oclgrind.sh SCALECL_BINARY. Exit 77 (ctest: skipped) when oclgrind is not installed.
set -uo pipefail
bin=$1
if ! command -v oclgrind > /dev/null; then
  echo "SKIP: oclgrind is not installed (platforms/install-debian.sh installs it)"
  exit 77
fi
ops=gemm,rope,embed,norm,swiglu,softcap,ogate,residual,gates,heads,adamw,lm
err=$(mktemp)
trap 'rm -f "$err"' EXIT
SCALECL_CACHE_DIR=off oclgrind --data-races --check-api "$bin" check --tiny --op "$ops" 2> "$err"
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
echo "check_oclgrind: no errors from Oclgrind"
