#!/usr/bin/env bash
# Packs a built scalecl into one relocatable folder for a machine without its Debian packages (a GPU box, a
# vendor's container): the binary, its kernels, profiles and model presets, every shared library it loads except
# the C and C++ runtimes, and a `scalecl` wrapper that finds the vendor's OpenCL driver when no ICD file names it.
#   platforms/bundle.sh [BUILD_DIR] OUT_DIR      (BUILD_DIR defaults to build)
# Then, on the other machine: OUT_DIR/scalecl devices; OUT_DIR/scalecl check; platforms/device-suite.sh.
set -euo pipefail
if [ $# -eq 1 ]; then build=build out=$1; elif [ $# -eq 2 ]; then build=$1 out=$2; else
  echo "usage: platforms/bundle.sh [BUILD_DIR] OUT_DIR" >&2
  exit 2
fi
bin=$build/scalecl
[ -x "$bin" ] || { echo "bundle.sh: no scalecl in $build; build first (cmake --build $build)" >&2; exit 1; }
for d in cl profiles models; do
  [ -d "$build/$d" ] || { echo "bundle.sh: $build/$d is missing; build the scalecl target first" >&2; exit 1; }
done
mkdir -p "$out/bin" "$out/lib"
cp "$bin" "$out/bin/scalecl"
rm -rf "$out/bin/cl" "$out/bin/profiles" "$out/bin/models"
cp -r "$build/cl" "$build/profiles" "$build/models" "$out/bin/"
# The C, C++ and loader runtimes stay the target's: newer ones there are compatible, older ones are not fixable here.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
  case $name in
    libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | ld-linux* | libstdc++.so* | libgcc_s.so*) ;;
    *) cp -L "$path" "$out/lib/$name" ;;
  esac
done
cat >"$out/scalecl" <<'EOF'
#!/bin/sh
# scalecl from a bundle (platforms/bundle.sh): its own libraries first. Where no ICD file is installed and
# OCL_ICD_VENDORS is unset, the vendor drivers found on the library path are named in a private ICD folder.
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export LD_LIBRARY_PATH
if [ -z "${OCL_ICD_VENDORS:-}" ] && ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
  icd=${TMPDIR:-/tmp}/scalecl-icd-$(id -u)
  mkdir -p "$icd"
  for lib in libnvidia-opencl.so.1 libamdocl64.so libigdrcl.so; do
    p=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}')
    for d in $(echo "$LD_LIBRARY_PATH" | tr ':' ' '); do
      [ -z "$p" ] && [ -e "$d/$lib" ] && p=$d/$lib
    done
    [ -n "$p" ] && echo "$p" >"$icd/$lib.icd"
  done
  export OCL_ICD_VENDORS=$icd
fi
exec "$here/bin/scalecl" "$@"
EOF
chmod +x "$out/scalecl"
echo "bundle.sh: $out ($(du -sh "$out" | cut -f1)): run $out/scalecl devices"
