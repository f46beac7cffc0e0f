#!/usr/bin/env bash
# Mutation check of the test suite, run by hand (not in CI): plants one plausible bug at a time in a scratch copy
# of the tree, rebuilds it, runs the tests meant to catch that bug and reports KILLED (a test failed) or SURVIVED
# (a defect of the tests). The unmutated copy runs the same tests first, so that a kill means something.
#   tests/mutate.sh [REGEX]   only the mutations whose name matches REGEX
# Environment: SCALECL_MUTATE_DIR (scratch directory, kept; default a fresh one under $TMPDIR, removed),
# SCALECL_POCL_CACHE_DIR (PoCL kernel cache; default build/pocl-cache, as tests/run.sh).
# Exits 1 if a mutation survived, no longer applies (its text is not found exactly once) or breaks the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only=${1:-}
jobs=$(nproc)
cache=${SCALECL_POCL_CACHE_DIR:-$root/build/pocl-cache}
if [[ -n ${SCALECL_MUTATE_DIR:-} ]]; then
  scratch=$SCALECL_MUTATE_DIR
  mkdir -p "$scratch"
else
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/scalecl-mutate-XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
fi
src=$scratch/src build=$scratch/build

# One mutation: name, file, text found exactly once in it, its replacement, the ctest regex of the tests that must
# catch it. Matching whole statements keeps a mutation valid through small code motion.
names=() files=() olds=() news=() regexes=()
mutation() { names+=("$1") files+=("$2") olds+=("$3") news+=("$4") regexes+=("$5"); }
# The six that first survived (issue "Trust on any device", item 7).
mutation mlstm-eps-dropped cl/mlstm.cl 'VSTORE(acc[r] / (n + eps), 0, h + (xbase + (size_t)(r0 + r) * NHT) * DV + j0);' \
  'VSTORE(acc[r] / n, 0, h + (xbase + (size_t)(r0 + r) * NHT) * DV + j0);' '^test_mlstm$'
mutation tfla-dv-for-dqk host/model/flops.c '(2 * dqk + 2 * L * dqk)' '(2 * dqk + 2 * L * dv)' '^test_flops$'
mutation iso-boot-d-on-n host/fit/isoflop.c 'sc_parabola_fit(xd, ls, fb->n, &b[j].pd);' \
  'sc_parabola_fit(xn, ls, fb->n, &b[j].pd);' '^test_fit_isoflop$'
mutation lnd-boot-never-last host/fit/lnd.c 'w[gsl_rng_uniform_int(r, (unsigned long)n)] += 1;' \
  'w[gsl_rng_uniform_int(r, (unsigned long)n - 1)] += 1;' '^test_fit_lnd$'
mutation ci95-lower-quantile host/fit/report.c 'gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.025)' \
  'gsl_stats_quantile_from_sorted_data(v, 1, (size_t)m, 0.25)' '^test_fit_report$'
mutation vocab-boundary host/data/loader.c 'mx >= (uint32_t)l->cfg.vocab' 'mx > (uint32_t)l->cfg.vocab' \
  '^test_shards$'
# The six that were already killed.
mutation mlstm-mask cl/mlstm.cl 'u <= (int16)(r0 + r)' 'u < (int16)(r0 + r)' '^test_mlstm$'
mutation mlstm-decay-off-by-one cl/mlstm.cl 'const float a = rev + ig[t];' 'const float a = rev + lw[t] + ig[t];' \
  '^test_mlstm$'
mutation mlstm-normalizer-floor cl/mlstm.cl 'const float n = fmax(fabs(den[r]), exp(-mc[t]));' \
  'const float n = fabs(den[r]);' '^test_mlstm$'
mutation attention-pad-rows cl/attention.cl 'r + i < n ? a[i * RS + k] : 0.0f;' 'r + i <= n ? a[i * RS + k] : 0.0f;' \
  '^test_attention$'
mutation attention-decode-chunk-bound cl/attention.cl 'return (int2)(lo, min(lo + CH, pos[b] + 1));' \
  'return (int2)(lo, min(lo + CH, pos[b]));' \
  '^test_attention$'
mutation gemm-batch-stride cl/gemm.cl '__global const float *B = Bbase + offB + batch * strideB;
  Bp[' '__global const float *B = Bbase + offB;
  Bp[' '^test_gemm$'
# The comparison helper the op tests stand on.
mutation harness-nmse-unchecked tests/harness.c 'if (!(c.nmse <= tol.nmse)) fail_msg' 'if (0) fail_msg' \
  '^test_harness$'
mutation harness-nan-reference-matches host/check/compare.c 'if ((isnan(g) && isnan(r)) || g == r) continue;' \
  'if (isnan(r) || g == r) continue;' '^test_harness$'
# The tests of session 18's fixes (issues 16 and 17).
mutation attention-bwd-score-order cl/attention.cl 'const float16 x = vload16(c, qtb) * (float16)(scale);' \
  'const float16 x = vload16(c, qtb) * (float16)(scale * 1.0001f);' '^test_attention$'
mutation attention-gpu-causal cl/attention.cl 'return j <= i && i < S &&' 'return j <= i + 1 && i < S &&' \
  '^test_attention$'
mutation rope-factor-sign cl/rope.cl 'sn = sign * (u.odd * v.even + u.even * v.odd)' \
  'sn = sign * (u.odd * v.even - u.even * v.odd)' '^test_rope$'
mutation prepare-marker-ignored host/data/shards.c \
  'int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;' 'int found = 0;' '^test_prepare$'
mutation duplicate-names-missed host/base/names.c 'if (!strcmp(e[k - 1].name, e[k].name)' 'if (0' \
  '^test_(safetensors|model_config)$'
mutation fit-pools-contexts host/fit/report.c 'if (n > 1 && !a->pool_ctx)' 'if (n > 3 && !a->pool_ctx)' '^test_fit_cli$'
# Training and sweeps (issues 12 and 13).
mutation adamw-no-bias-correction cl/adamw.cl '((mi / bc1) / (sqrt(vi / bc2) + eps)' '((mi) / (sqrt(vi / bc2) + eps)' \
  '^test_adamw$'
mutation sumsq-slice-short cl/adamw.cl '*hi = min(n, *lo + per);' '*hi = min(n, *lo + per - 1);' '^test_adamw$'
mutation decay-everywhere host/train/trainer.c 'decay ? (float)t->tc.weight_decay : 0.0f' \
  '(decay || 1) ? (float)t->tc.weight_decay : 0.0f' \
  '^test_train$'
mutation no-clipping host/train/trainer.c 'norm > t->tc.clip ? t->tc.clip / norm : 1.0' '1.0' '^test_train$'
mutation metrics-not-cut host/train/metrics.c 'if (keep >= 0 && truncate(' 'if (0 && truncate(' '^test_train$'
mutation ledger-dead-worker-ignored host/sweep/ledger.c \
  'if (!strcmp(status, "running") && !worker_gone(w) && now - hb < SC_LEDGER_STALE_S) continue;' \
  'if (!strcmp(status, "running") && (!worker_gone(w) || 1) && now - hb < SC_LEDGER_STALE_S) continue;' '^test_sweep$'
mutation budget-tolerance-loose host/sweep/spec.c 'fabs(r->flops - r->budget) > s->budget_tolerance * r->budget' \
  'fabs(r->flops - r->budget) > 3 * s->budget_tolerance * r->budget' '^test_sweep$'
# Inference (issue 14).
# The gpu variants (issue 15): the store interleave of the tiled GEMM, the causal triangle of the mLSTM chunk tiles,
# and the __local tree of the row reductions stopping one level short.
mutation gemm-gpu-store-columns cl/gemm.cl 'const int n = n0 + tx + j * NDIM;' 'const int n = n0 + tx * TN + j;' \
  '^test_gemm$'
mutation mlstm-gpu-triangle cl/mlstm.cl '(tri == 1 ? gk <= gx : gk >= gx)' '(tri == 1 ? gk < gx : gk >= gx)' \
  '^test_mlstm$'
mutation mlstm-direct-triangle cl/mlstm.cl '(tri == 1 ? k <= r : k >= r)' '(tri == 1 ? k < r : k >= r)' \
  '^test_mlstm$'
mutation mlstm-direct-clamp cl/mlstm.cl 'bo[j] = min(c0 + tx + j * GN, N - 1) * bcs;' \
  'bo[j] = min(c0 + tx + j * GN, N - 1) * brs;' '^test_mlstm$'
mutation attention-direct-rows cl/attention.cl 'for (int e = 0; e < 4; e++) xr[e] = min(r0 + c + e, S - 1) * RS;' \
  'for (int e = 0; e < 4; e++) xr[e] = min(r0 + c, S - 1) * RS;' '^test_attention$'
mutation norm-row-tail cl/norm.cl 'for (int j = NV * 8; j < G; j++) y[j] = (x[j] - mu) * rstd * w[j];' \
  'for (int j = NV * 8; j < G - 1; j++) y[j] = (x[j] - mu) * rstd * w[j];' '^test_norm$'
mutation norm-row-dx-tail cl/norm.cl 'const float sg = CENTER ? (hsum8(g8) + g1) / G : 0.0f' \
  'const float sg = CENTER ? hsum8(g8) / G : 0.0f' '^test_norm$'
mutation norm-dw-vector-head cl/norm.cl 'g = kv * DWV / G;' 'g = kv / G;' '^test_norm$'
mutation sigmoid-other-side cl/elementwise.cl '*neg = VSEL(x >= 0, ep, p);' '*neg = VSEL(x >= 0, p, ep);' \
  '^test_elementwise$'
mutation sumsq-lane-tail cl/adamw.cl 'for (; i < hi; i++) kahan_add(&s, &comp, g[i] * g[i]);' \
  'for (; i + 1 < hi; i++) kahan_add(&s, &comp, g[i] * g[i]);' '^test_adamw$'
mutation sumsq-lanes cl/adamw.cl 'for (int j = 0; j < 16; j++) kahan_add(&s, &comp, lane[j] - lane_comp[j]);' \
  'for (int j = 0; j < 15; j++) kahan_add(&s, &comp, lane[j] - lane_comp[j]);' '^test_adamw$'
mutation rope-interleave-4 cl/rope.cl '#define INTERLEAVE(e, o) shuffle2(e, o, (uint4)(0, 2, 1, 3))' \
  '#define INTERLEAVE(e, o) shuffle2(e, o, (uint4)(0, 1, 2, 3))' '^test_rope$'
mutation rope-step-odd host/ops/rope.c 'while (head_dim % rv) rv /= 2;' 'while (head_dim % (2 * rv)) rv /= 2;' \
  '^test_rope$'
mutation tile-swizzle cl/common.clh 'const float16 mt = m.s048c159d26ae37bf;' \
  'const float16 mt = m.s048c159d26ae3b7f;' '^test_(attention|mlstm)$'
mutation mlstm-transpose-pad cl/mlstm.cl 'dst[(size_t)d * L + t + i] = t + i < len ? a[i * rs + d] : 0.0f;' \
  'dst[(size_t)d * L + t + i] = t + i < len - 1 ? a[i * rs + d] : 0.0f;' '^test_mlstm$'
# Token-major rows (the models' layout): a row stride or head offset that only head-major data would hide.
mutation mlstm-xrow-head cl/mlstm.cl '#define XROW(bh, t) (((size_t)((bh) / NHT) * S + (size_t)(t)) * NHT + (size_t)((bh) % NHT))' \
  '#define XROW(bh, t) (((size_t)((bh) / NHT) * S + (size_t)(t)) * NHT)' '^test_mlstm$'
mutation mlstm-delta-stride cl/mlstm.cl 'const float8 xv = wt * vload8(0, x + (xb + (size_t)t * NHT) * DQK + a0);' \
  'const float8 xv = wt * vload8(0, x + (xb + (size_t)t) * DQK + a0);' '^test_mlstm$'
mutation attention-token-stride cl/attention.cl '#define RS (NHT * DH) /* floats from one token' \
  '#define RS (DH) /* floats from one token' '^test_attention$'
mutation rope-token-row cl/rope.cl 'const size_t hs = tokens ? (size_t)DH : (size_t)S * DH;' \
  'const size_t hs = (size_t)S * DH;' '^test_rope$'
mutation mlstm-gates-upto cl/mlstm.cl 'for (int j = 0; j < n; j++) p[j] = a[j];' 'for (int j = 0; j + 1 < n; j++) p[j] = a[j];' \
  '^test_mlstm$'
mutation mlstm-gates-rev-order cl/mlstm.cl '      rev += abar[r0 + t];
      abar[r0 + t] = a;' '      abar[r0 + t] = a;
      rev += abar[r0 + t];' '^test_mlstm$'
mutation elementwise-load-tail cl/elementwise.cl 'a[j] = i + j < n ? p[i + j] : 0.0f;' \
  'a[j] = i + j < n - 1 ? p[i + j] : 0.0f;' '^test_elementwise$'
mutation elementwise-store-tail cl/elementwise.cl 'for (int j = 0; j < n - i; j++) p[i + j] = a[j];' \
  'for (int j = 0; j < n - i - 1; j++) p[i + j] = a[j];' '^test_elementwise$'
mutation elementwise-vw-launch host/ops/elementwise.c '((size_t)n + (size_t)e->vw - 1) / (size_t)e->vw' \
  '(size_t)n / (size_t)e->vw' '^test_elementwise$'
mutation local-tree-short cl/common.clh 'for (int s_ = (n) / 2; s_ > 0; s_ >>= 1) {' \
  'for (int s_ = (n) / 4; s_ > 0; s_ >>= 1) {' '^test_(norm|adamw|xent)$'
mutation gemm-rows-ragged-edge cl/gemm.cl 'const int nc = N - n0 < RC ? N - n0 : RC;' 'const int nc = RC;' \
  '^test_gemm$'
mutation infer-step-position host/model/infer.c 'inf->pos_host[b] = inf->pos;' 'inf->pos_host[b] = inf->pos + 1;' \
  '^test_infer$'
mutation sample-top-p-ignored host/model/sample.c 'kept < s->cfg.top_p * sum' 'kept < sum' '^test_sample$'
# The gpu mLSTM sequence scans in groups (stop 27): the stabilizer map dropping a range's gate sum, the forget-gate
# suffix sums made inclusive, the tiled chunk transpose storing untransposed; attention's LMAX ignored; the sweep
# seed range unchecked.
mutation mlstm-gates-map-drops-g cl/mlstm.cl 'm = fmax(m + g, a);' 'm = fmax(m, a);' '^test_mlstm$'
mutation mlstm-fscan-inclusive cl/mlstm.cl '      R[i] = acc;
      acc += v;' '      acc += v;
      R[i] = acc;' '^test_mlstm$'
mutation mlstm-transpose-tile cl/mlstm.cl 'xt[((size_t)gc * D + d) * L + u] = T[lx][ly];' \
  'xt[((size_t)gc * D + d) * L + u] = T[ly][lx];' '^test_mlstm$'
mutation attention-lmax-ignored host/ops/attention.c '(size_t)d->local_mem / (lmax ? 1 : 2)' \
  '(size_t)d->local_mem / 2' '^test_attention$'
mutation sweep-seed-unbounded host/sweep/spec.c 'if (seeds[i] > 2147483647.0 || seeds[i] != floor(seeds[i]))' \
  'if (seeds[i] != floor(seeds[i]))' '^test_sweep$'
# Per-shape tiles, the tuner's budget and the launch profiler (stop 28).
mutation variant-shape-entry-ignored host/runtime/variant.c '  if (!rc && root && shape && *shape) {' \
  '  if (0) {' '^test_(variant|tune)$'
mutation tune-shape-margin-ignored host/bench/tune.c 'SHAPE_GAIN * r->cand[r->best].shape_rate[s].median' \
  '0 * r->cand[r->best].shape_rate[s].median' '^test_tune$'
mutation tune-budget-ignored host/bench/tune.c 'if (o->budget_s > 0 && i > 0 && sc_now() - t0 > o->budget_s)' \
  'if (o->budget_s > 0 && i > 0 && sc_now() - t0 > 1e30)' '^test_tune$'
mutation kprof-first-launch-untimed host/runtime/context.c 'r->wall += sc_now() - w0, r->cpu += sc_cpu_seconds() - c0, r->calls++;' \
  'r->wall += r->calls ? sc_now() - w0 : 0, r->cpu += sc_cpu_seconds() - c0, r->calls++;' '^test_output$'
mutation mlstm-vl-column-swap cl/mlstm.cl 'vstore4(vload4(0, Bs + kk * TNP + tx * WN + j), 0, bv + j);' \
  'vstore4(vload4(0, Bs + kk * TNP + tx * WN + (j ^ 4)), 0, bv + j);' '^test_mlstm$'
mutation mlstm-stage-unpadded cl/mlstm.cl '    T[kk * XP + x] = val;' '    T[kk * X + x] = val;' '^test_mlstm$'
mutation attention-dqp-skips-blocks cl/attention.cl '  const int stride = DQP ? NG : nkb;' \
  '  const int stride = DQP ? NG + 1 : nkb;' '^test_attention$'
mutation attention-dqp-sum-unscaled cl/attention.cl '  vstore16(acc * scale, e % NC, dq + XBASE(bh) + (size_t)(e / NC) * RS);' \
  '  vstore16(acc, e % NC, dq + XBASE(bh) + (size_t)(e / NC) * RS);' '^test_attention$'
mutation attention-staged-no-barrier cl/attention.cl '    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TK; k += 4) {' '    for (int k = 0; k < TK; k += 4) {' '^check_oclgrind_gpu-large$'
# The fp16 KV cache and the staged gpu decode (stop 29).
mutation half-ties-up host/base/half.c 'if (rem > tie || (rem == tie && (h & 1))) h++;' 'if (rem >= tie) h++;' \
  '^test_half$'
mutation kv-half-unsaturated cl/attention.cl '  vstore_half16_rte(select(x, copysign(big, x), isfinite(x) & (fabs(x) > big)), c, p);' \
  '  vstore_half16_rte(x, c, p);' '^test_attention$'
mutation cache-fill-head-major cl/attention.cl '  const size_t src = XBASE(bh) + (size_t)r * RS, dst = ((size_t)bh * CAP + r) * DH;' \
  '  const size_t src = XBASE(bh) + (size_t)r * DH, dst = ((size_t)bh * CAP + r) * DH;' '^test_attention$'
mutation kv-view-in-floats host/runtime/kargs.c '  sc_karg_u64(a, v.off / elem);' '  sc_karg_u64(a, v.off / 4);' \
  '^test_attention$'
mutation decode-tile-unpadded cl/attention.cl '        kt[r * (DSL + 1) + e % DSL] =' '        kt[r * DSL + e % DSL] =' \
  '^test_attention$'
mutation infer-plan-kv-f32 host/model/infer.c 'sc_attention_kv_bytes(kv_half) * BH * (size_t)max_len * dqk' \
  'sc_attention_kv_bytes(kv_half * 0) * BH * (size_t)max_len * dqk' '^test_infer$'
mutation decode-start-unwatched host/ops/attention.c '    changed = changed || a->pos_start[b] != pos[b] || a->pos_start[B + b] != s;' \
  '    changed = changed || a->pos_start[b] != pos[b];' '^test_attention$'
mutation decode-positions-stale host/ops/attention.c '    changed = changed || a->pos_start[b] != pos[b] || a->pos_start[B + b] != s;' \
  '    changed = changed || a->pos_start[B + b] != s;' '^test_attention$'

# Replaces the one occurrence of old by new in file (literal text); fails if old is not there exactly once.
apply() {
  local file=$1 old=$2 new=$3 text
  text=$(<"$file")
  local rest=${text#*"$old"}
  [[ $rest != "$text" && $rest != *"$old"* ]] || return 1
  printf '%s\n' "${text/"$old"/"$new"}" > "$file"
}

# Runs the tests of a regex; prints the failed ones (none: empty). The log keeps ctest's output.
failed_tests() {
  local regex=$1 log=$2
  (cd "$build" && ctest -R "$regex" --output-on-failure > "$log" 2>&1) || true
  sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (\(Failed\|Timeout\|Subprocess aborted\|SEGFAULT\|Exception\).*/\1/p' \
    "$log" | paste -sd' ' -
}

echo "mutate.sh: scratch copy in $scratch"
rm -rf "$src"
mkdir -p "$src" "$cache"
git -C "$root" ls-files -co --exclude-standard -z | tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
# The scratch copy has no ../shared: its tests read the data next to the real tree.
if [[ -z ${SCALECL_SHARED_DATA:-} && -d $root/../shared/data ]]; then export SCALECL_SHARED_DATA=$root/../shared/data; fi
cmake -S "$src" -B "$build" -DSCALECL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCALECL_POCL_CACHE_DIR="$cache" \
  > /dev/null
cmake --build "$build" -j"$jobs" > "$scratch/build.log" 2>&1 || { echo "the unmutated copy does not build"; exit 1; }

selected=()
for i in "${!names[@]}"; do
  [[ -z $only || ${names[$i]} =~ $only ]] && selected+=("$i")
done
[[ ${#selected[@]} -gt 0 ]] || { echo "no mutation matches '$only'"; exit 1; }
baseline=$(for i in "${selected[@]}"; do echo "${regexes[$i]}"; done | sort -u | paste -sd'|' -)
bad=$(failed_tests "$baseline" "$scratch/baseline.log")
if [[ -n $bad ]]; then
  echo "the unmutated copy fails $bad (log: $scratch/baseline.log)"
  exit 1
fi

status=0
for i in "${selected[@]}"; do
  name=${names[$i]} file=${files[$i]}
  if ! apply "$src/$file" "${olds[$i]}" "${news[$i]}"; then
    printf '%-32s NOT APPLIED (%s no longer holds its text once)\n' "$name" "$file"
    status=1
    continue
  fi
  if ! cmake --build "$build" -j"$jobs" > "$scratch/$name.build.log" 2>&1; then
    printf '%-32s BUILD FAILED (%s)\n' "$name" "$scratch/$name.build.log"
    status=1
  else
    killers=$(failed_tests "${regexes[$i]}" "$scratch/$name.log")
    if [[ -n $killers ]]; then
      printf '%-32s KILLED by %s\n' "$name" "$killers"
    else
      printf '%-32s SURVIVED (%s)\n' "$name" "${regexes[$i]}"
      status=1
    fi
  fi
  cp "$root/$file" "$src/$file"
done
# Leaves the build unmutated for a later run in the same SCALECL_MUTATE_DIR.
cmake --build "$build" -j"$jobs" > /dev/null 2>&1 || true
exit "$status"
