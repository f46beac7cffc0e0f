#!/usr/bin/env bash
# Installs scalecl's build and run dependencies from Debian 12 packages.
# Idempotent: when every package is present it only runs dpkg-query and exits.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-c-headers ocl-icd-libopencl1 pocl-opencl-icd clinfo
  libclblast-dev
  libopenblas-dev
  oclgrind
  mesa-opencl-icd
  libcmocka-dev
  libcjson-dev
  libxxhash-dev
  libzstd-dev
  libgsl-dev
  libsqlite3-dev
  gnuplot-nox
  dict-gcide
  clang-15
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "platforms/install-debian.sh: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "platforms/install-debian.sh: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
