#!/usr/bin/env bash
# Builds scalecl twice, with warnings as errors and with ASan+UBSan, and runs the ctest suite on
# each build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$(date +%s)

# Both builds share PoCL's kernel cache, so the second compiles no kernel again.
cache="-DSCALECL_POCL_CACHE_DIR=$PWD/build/pocl-cache"

cmake -S . -B build -DSCALECL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$cache" > /dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

# The OpenCL ICD loader and PoCL keep allocations for the process lifetime: leaks are not checked.
cmake -S . -B build-asan -DSCALECL_WERROR=ON -DSCALECL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "$cache" > /dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "tests/run.sh: both builds passed in $(( $(date +%s) - start )) s"
