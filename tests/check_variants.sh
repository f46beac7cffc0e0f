#!/usr/bin/env bash
# Runs `scalecl check --tiny` with one kernel variant forced on one device, so each variant is checked on each
# device this machine has: PoCL's CPU device, and Mesa rusticl's llvmpipe (a GPU-like SIMD device) when the
# mesa-opencl-icd package is installed.
# Usage: tests/check_variants.sh SCALECL_BINARY pocl|llvmpipe cpu|gpu [--op LIST]. Exit 77 (ctest: skipped) when
# the device is absent.
set -uo pipefail
bin=$1 dev=$2 variant=$3
shift 3
if [ "$dev" = llvmpipe ]; then
  export RUSTICL_ENABLE=llvmpipe
  if ! "$bin" devices 2>/dev/null | grep -q llvmpipe; then
    echo "SKIP: no Mesa rusticl llvmpipe device (install mesa-opencl-icd: platforms/install-debian.sh)"
    exit 77
  fi
fi
SCALECL_KERNEL_VARIANT=$variant SCALECL_CACHE_DIR=off exec "$bin" check --tiny --device "$dev" "$@"
