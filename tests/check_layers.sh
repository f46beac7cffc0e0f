#!/usr/bin/env bash
# The layer rules of ../shared/spec/architecture.md, checked on every quoted #include under host/: a folder
# includes only the folders below it, and every include names its folder ("ops/mlstm.h", never "mlstm.h").
#   tests/check_layers.sh [HOST_DIR]   check a tree (default: host/ next to this script); exit 1 on a violation
#   tests/check_layers.sh --self-test  plant one wrong include of each kind in a scratch tree and expect failures
set -euo pipefail

# layer: the layers it may include besides itself. bench may include anything but cli; cli anything.
allowed() {
  case "$1" in
    base) echo "" ;;
    runtime) echo "base" ;;
    ops) echo "runtime base" ;;
    ref) echo "base" ;;
    model) echo "ops runtime base" ;;
    data) echo "base" ;;
    fit) echo "base" ;;
    report) echo "base" ;;
    train) echo "model data ops runtime base" ;;
    sweep) echo "train fit model data base" ;;
    check) echo "model ops ref runtime base" ;;
    bench) echo "sweep train check model data fit ops ref runtime base" ;;
    cli) echo "report bench sweep train check model data fit ops ref runtime base" ;;
    *) return 1 ;;
  esac
}

check_tree() {
  local root=$1 bad=0 f layer line inc target
  [[ -d $root ]] || { echo "check_layers: no directory $root" >&2; return 2; }
  while IFS= read -r f; do
    local rel=${f#"$root"/}
    if [[ $rel != */* ]]; then
      echo "$rel: file at the top of host/; every file belongs to a layer folder"
      bad=1
      continue
    fi
    layer=${rel%%/*}
    local ok
    if ! ok=$(allowed "$layer"); then
      echo "$rel: '$layer' is not a layer of architecture.md"
      bad=1
      continue
    fi
    while IFS= read -r line; do
      inc=$(sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$line")
      local n=${line%%:*}
      if [[ $inc != */* ]]; then
        echo "$rel:$n: #include \"$inc\" does not name its folder"
        bad=1
        continue
      fi
      target=${inc%%/*}
      if [[ ! -f $root/$inc ]]; then
        echo "$rel:$n: #include \"$inc\": no such header in host/"
        bad=1
      elif [[ $target != "$layer" && " $ok " != *" $target "* ]]; then
        echo "$rel:$n: $layer includes $target (\"$inc\"); $layer may include only: ${ok:-nothing else}"
        bad=1
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f" || true)
  done < <(find "$root" -type f \( -name '*.c' -o -name '*.h' \) | sort)
  return $bad
}

self_test() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp"/{base,runtime,ops,model,data,bench,cli}
  printf '#include "base/err.h"\n' > "$tmp/base/err.h"
  printf '#include "runtime/context.h"\n#include "base/err.h"\n' > "$tmp/ops/x.c"
  printf '#include "base/err.h"\n' > "$tmp/runtime/context.h"
  printf '#include "ops/x.h"\n' > "$tmp/model/m.c"
  printf '\n' > "$tmp/ops/x.h"
  printf '#include "model/m.h"\n' > "$tmp/bench/b.c"
  printf '\n' > "$tmp/cli/c.h"
  printf '\n' > "$tmp/model/m.h"
  if ! check_tree "$tmp" > /dev/null; then echo "self-test: a clean tree was refused"; return 1; fi
  local -a plants=(
    'ops/y.c|#include "model/m.h"|ops includes model'
    'data/d.c|#include "runtime/context.h"|data includes runtime'
    'base/b.c|#include "ops/x.h"|base includes ops'
    'bench/c.c|#include "cli/c.h"|bench includes cli'
    'model/n.c|#include "x.h"|does not name its folder'
    'model/o.c|#include "ops/nothere.h"|no such header'
  )
  local p file body want out
  for p in "${plants[@]}"; do
    IFS='|' read -r file body want <<<"$p"
    printf '%s\n' "$body" > "$tmp/$file"
    if out=$(check_tree "$tmp"); then
      echo "self-test: planted $file ($body) was not reported"
      return 1
    fi
    if [[ $out != *"$want"* ]]; then
      echo "self-test: planted $file: expected a line with '$want', got: $out"
      return 1
    fi
    rm "$tmp/$file"
  done
  echo "check_layers self-test: ${#plants[@]} planted violations reported, clean tree accepted"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
else
  root=${1:-"$(cd "$(dirname "$0")/.." && pwd)/host"}
  if check_tree "$root"; then echo "check_layers: every include in $root follows the layer rules"; else exit 1; fi
fi
