// Run-time choices: which instruction set the kernels use, how many threads, and how
// a list of tensors is cut into per-thread pieces.
#include "fastrmsprop/runtime.h"

#include <algorithm>
#include <atomic>

#include "pieces.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace fastrmsprop {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
// Bits of the extended control register the OS sets when it saves the vector state
// on a context switch: without them the instructions exist but must not be used.
std::uint64_t os_saved_state() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t{hi} << 32) | lo;
}

bool cpu_supports(SimdLevel level) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12);
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  const bool f16c = c & (1u << 29);
  if (!(osxsave && avx)) return false;
  const std::uint64_t xcr0 = os_saved_state();
  if ((xcr0 & 0x6) != 0x6) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16);
  if (level == SimdLevel::kAvx2) return avx2 && fma && f16c;
  if (level == SimdLevel::kAvx512) return avx512f && (xcr0 & 0xe0) == 0xe0;
  return false;
}
#endif

bool compiled_in(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2:
#if defined(FASTRMSPROP_HAVE_AVX2)
      return true;
#else
      return false;
#endif
    case SimdLevel::kAvx512:
#if defined(FASTRMSPROP_HAVE_AVX512)
      return true;
#else
      return false;
#endif
  }
  return false;
}

bool usable(SimdLevel level) {
  if (!compiled_in(level)) return false;
  if (level == SimdLevel::kScalar) return true;
#if defined(__x86_64__) || defined(_M_X64)
  return cpu_supports(level);
#else
  return false;
#endif
}

SimdLevel best_level() {
  SimdLevel best = SimdLevel::kScalar;
  for (SimdLevel level : available_simd_levels()) best = level;
  return best;
}

int default_threads() {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

std::atomic<int> g_level{static_cast<int>(best_level())};
std::atomic<int> g_threads{default_threads()};

}  // namespace

std::vector<SimdLevel> available_simd_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (usable(level)) levels.push_back(level);
  }
  return levels;
}

SimdLevel simd_level() { return static_cast<SimdLevel>(g_level.load()); }

bool set_simd_level(SimdLevel level) {
  if (!usable(level)) return false;
  g_level.store(static_cast<int>(level));
  return true;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

int num_threads() { return g_threads.load(); }

void set_num_threads(int n) {
#if defined(_OPENMP)
  g_threads.store(std::max(1, n));
#else
  (void)n;
#endif
}

bool has_openmp() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

std::vector<Piece> partition(const std::int64_t* sizes, std::int64_t count, int threads,
                             int thread) {
  std::vector<Piece> pieces;
  for_each_piece(
      count, [&](std::int64_t i) { return sizes[i]; }, threads, thread,
      [&](std::int64_t i, std::int64_t begin, std::int64_t end) {
        pieces.push_back(Piece{i, begin, end});
      });
  return pieces;
}

}  // namespace fastrmsprop
