#!/usr/bin/env bash
# platforms/bundle.sh and platforms/device-suite.sh end to end: the bundle runs with a bare environment (no
# library path, no scalecl settings), the quick suite passes every step on the test device, and report devices
# compares its folder, listing the check and devices outputs as not compared.
#   tests/device_suite.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scalecl-suite-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash "$src/platforms/bundle.sh" "$build" "$tmp/bundle"
env -i PATH=/usr/bin:/bin HOME="$tmp" TMPDIR="$tmp" POCL_CACHE_DIR="${POCL_CACHE_DIR:-$tmp/pocl}" \
  "$tmp/bundle/scalecl" --version
env -i PATH=/usr/bin:/bin HOME="$tmp" TMPDIR="$tmp" POCL_CACHE_DIR="${POCL_CACHE_DIR:-$tmp/pocl}" \
  bash "$src/platforms/device-suite.sh" --scalecl "$tmp/bundle/scalecl" --quick "$tmp/results"
"$build/scalecl" report devices "$tmp/results" --out "$tmp/report" 2>&1 | tee "$tmp/report.log"
if grep -q "warning: skipped" "$tmp/report.log"; then echo "FAIL: report devices skipped a suite file"; exit 1; fi
md=$tmp/report/report.md
# decode_f16 and infer_f16: rows over caches of halves, named as such.
for want in "### SGEMM" "### mLSTM cell" "### Causal attention" "### Whole model" "### Training step" \
  "### Inference" "Not compared" "decode at cache 256, f16 KV cache" "prefill 64, f16 KV cache"; do
  grep -qF "$want" "$md" || { echo "FAIL: report.md lacks '$want'"; exit 1; }
done
# Both variants of mLSTM and attention: the speedup chart's table.
grep -q "gpu variant's speedup over the cpu variant" "$md" || { echo "FAIL: no variant speedups"; exit 1; }
# --tune with --steps: only the tuner, the check of its tiles and one benchmark run, that one with the tuned profile;
# the tuner's outputs are not compared, without a warning.
TUNE_OPS=attention bash "$src/platforms/device-suite.sh" --scalecl "$build/scalecl" --quick --tune \
  --steps tune,check_tuned,attention_gpu "$tmp/tuned" | tee "$tmp/tuned.log"
grep -q "^peak" "$tmp/tuned.log" && { echo "FAIL: --steps ran a step it does not name"; exit 1; }
grep -q '"attention_gpu"' "$tmp/tuned/tuned/profile.json" || { echo "FAIL: no tuned attention tiles"; exit 1; }
grep -q '"verdict":[[:space:]]*"PASS' "$tmp/tuned/check_tuned.json" || { echo "FAIL: check_tuned"; exit 1; }
grep -q "tiles attention_gpu.* of profile.json" "$tmp/tuned/attention_gpu.json" || {
  echo "FAIL: attention_gpu did not run with the tuned profile"
  exit 1
}
"$build/scalecl" report devices "$tmp/tuned" --out "$tmp/report2" 2>&1 | tee "$tmp/report2.log"
if grep -q "warning: skipped" "$tmp/report2.log"; then echo "FAIL: report devices skipped a tuner file"; exit 1; fi
echo "PASS: bundle, quick suite and report"
