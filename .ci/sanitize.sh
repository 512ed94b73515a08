#!/usr/bin/env bash
# Builds the extension with AddressSanitizer and UndefinedBehaviorSanitizer, then runs
# the hand-computed, kernel, fuzz, non-finite, state and concurrency tests against that
# build; any sanitizer report (or test failure) makes the script exit non-zero.
#
# Usage: .ci/sanitize.sh [extra pytest arguments]
# Environment: PYTHON (default python), FASTRMSPROP_SANITIZE_BUILD (a build directory
# to reuse; default a fresh temporary one), FASTRMSPROP_FUZZ_EXAMPLES (default 40).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$(command -v "${PYTHON:-python}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="${FASTRMSPROP_SANITIZE_BUILD:-$work/build}"

# -fno-sanitize-recover turns every UBSan finding into an abort, as ASan's are.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all"
# -O1 without NDEBUG: quicker to build than -O2, and assertions stay on.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$sanitize -fno-omit-frame-pointer" \
  -DCMAKE_MODULE_LINKER_FLAGS="$sanitize" \
  -DPython_EXECUTABLE="$python" \
  -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)" >"$work/cmake.log" \
  || { cat "$work/cmake.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }

module="$(find "$build" -name '_core*.so' -print -quit)"
[ -n "$module" ] || { echo "sanitize: no _core*.so under $build" >&2; exit 1; }
cp -r "$root/python" "$work/python"
rm -f "$work"/python/fastrmsprop/_core*.so
cp "$module" "$work/python/fastrmsprop/"

# CPython is not instrumented, so the ASan runtime must be loaded before it, and
# libstdc++ with it: otherwise ASan cannot find the real __cxa_throw and aborts on
# the first C++ exception. CPython keeps objects alive at exit by design, hence no
# leak detection.
LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export LD_PRELOAD="$LD_PRELOAD $(gcc -print-file-name=libstdc++.so)"
# Reports go to files: pytest captures stderr, and an abort would swallow them.
reports="$work/reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export PYTHONPATH="$work/python"
export FASTRMSPROP_FUZZ_EXAMPLES="${FASTRMSPROP_FUZZ_EXAMPLES:-40}"
unset FASTRMSPROP_BACKEND FASTRMSPROP_SIMD

"$python" - "$work/python" <<'PY'
import sys
import fastrmsprop
assert fastrmsprop.__file__.startswith(sys.argv[1]), fastrmsprop.__file__
assert fastrmsprop.backend() == "cpp", fastrmsprop.backend()
print("sanitize: testing", fastrmsprop._core.__file__, fastrmsprop.build_info())
PY

tests=()
for name in test_reference test_kernel test_fuzz test_nonfinite test_state \
  test_concurrency; do
  [ -f "$root/tests/$name.py" ] && tests+=("$root/tests/$name.py")
done
status=0
(cd "$root" && "$python" -m pytest -q -p no:cacheprovider -m "not slow" \
  "${tests[@]}" "$@") 2>&1 | tee "$work/pytest.log" || status=$?
if [ -n "$(ls -A "$reports")" ]; then
  cat "$reports"/* >&2
  echo "sanitize: the sanitizers reported the errors above" >&2
  status=1
fi
exit "$status"
