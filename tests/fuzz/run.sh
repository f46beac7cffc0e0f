#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz, clang) and runs each over its seed corpus tests/fuzz/corpus/<target>:
# first every corpus file once (the regression inputs), then SECONDS of fuzzing from there (default 5; 0 runs
# the corpus only). New inputs go to build-fuzz/fuzz/found/<target>, never into the source tree; a crash or leak
# fails the script and leaves its input as build-fuzz/fuzz/crashes/<target>-*.
# Usage: tests/fuzz/run.sh [SECONDS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
shift $(($# > 0 ? 1 : 0))
cc=$(command -v clang-15 || command -v clang || true)
if [ -z "$cc" ]; then
  echo "tests/fuzz/run.sh: clang not found; platforms/install-debian.sh installs clang-15" >&2
  exit 1
fi
CC=$cc cmake -S . -B build-fuzz -DSCALECL_FUZZ=ON -DSCALECL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls tests/fuzz/corpus)
out=build-fuzz/fuzz
mkdir -p "$out/crashes"
sym=$(command -v llvm-symbolizer-15 || command -v llvm-symbolizer || true)
[ -z "$sym" ] || export ASAN_SYMBOLIZER_PATH=$sym
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t corpus=tests/fuzz/corpus/$t log=$out/$t.log dict=()
  [ ! -f "$bin.dict" ] || dict=(-dict="$bin.dict")
  mkdir -p "$out/found/$t"
  if ! "$bin" -runs=0 "$corpus" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "tests/fuzz/run.sh: fuzz_$t fails on a file of $corpus (log: $log)" >&2
    exit 1
  fi
  [ "$secs" -gt 0 ] || continue
  if ! "$bin" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" "$out/found/$t" \
    "$corpus" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "tests/fuzz/run.sh: fuzz_$t found a crash or leak; input in $out/crashes/ (log: $log)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz_$t: $runs executions in ${secs} s, no crash; corpus $(ls "$corpus" | wc -l) seed + $(ls "$out/found/$t" | wc -l) found"
done
