#!/usr/bin/env bash
# Builds scalecl twice, with warnings as errors and with ASan+UBSan, and runs the ctest suite on
# each build; then builds the libFuzzer targets (clang) and runs each over its corpus and for a few seconds.
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

# Every parser of user files: its regression corpus once, then 5 s of fuzzing (tests/fuzz/README.md).
tests/fuzz/run.sh 5

echo "tests/run.sh: both builds and the fuzz smoke run passed in $(( $(date +%s) - start )) s"
