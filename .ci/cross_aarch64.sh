#!/usr/bin/env bash
# Cross-compiles the extension for aarch64, where only the portable kernels exist, so
# that x86-only code outside the guarded files breaks CI instead of an Arm user's
# install. It builds and links; it cannot run the result on this machine.
#
# Usage: .ci/cross_aarch64.sh   (needs pybind11 in the active Python, and root for
# apt-get when the cross compiler is missing)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$(command -v "${PYTHON:-python}")"
compiler=aarch64-linux-gnu-g++
if ! command -v "$compiler" >/dev/null; then
  apt-get update -qq && apt-get install -y -qq g++-aarch64-linux-gnu >/dev/null
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/toolchain.cmake" <<CMAKE
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER $compiler)
CMAKE
# The host's Python headers serve: both targets are LP64 and little-endian, and an
# extension module does not link against libpython.
include="$("$python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")"
cmake -S "$root" -B "$work/build" -DCMAKE_TOOLCHAIN_FILE="$work/toolchain.cmake" \
  -DPython_EXECUTABLE="$python" -DPython_INCLUDE_DIR="$include" \
  -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)" \
  -DCMAKE_CXX_FLAGS="-Werror" >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
module="$(find "$work/build" -name '_core*.so' -print -quit)"
readelf -h "$module" | grep -q 'AArch64' \
  || { echo "cross_aarch64: the module built is not for aarch64" >&2; exit 1; }
echo "cross_aarch64: the extension builds for aarch64 (portable kernels only)"
