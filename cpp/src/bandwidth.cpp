// Memory-bandwidth probe: one streaming loop per traffic pattern, threaded like the
// kernels (see fastrmsprop/bandwidth.h for the contract).
//
// The loop adds raw 32-bit (or 16-bit) words: integer adds cannot raise, cannot slow
// down on denormals and take one cycle, so beyond the last-level cache the loop is
// bound by memory alone. Inside the caches the vector width matters too, so the loop
// is compiled for baseline x86-64 and again for AVX2 and AVX-512, and the widest the
// CPU runs is used: the ceiling is the best this machine does, whatever level the
// kernels were told to use.
#include "fastrmsprop/bandwidth.h"

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastrmsprop/runtime.h"
#include "pieces.h"

namespace fastrmsprop {
namespace {

using RangeFn = void (*)(void* const*, const void* const*, std::int64_t, std::int64_t);

// P is the word of the param and grad streams; state streams hold 32-bit words.
// U and R are compile-time so that the stream loops unroll and the pointers stay in
// registers. Inlined into one wrapper per instruction set below.
template <typename P, int U, int R>
[[gnu::always_inline]] inline void stream_loop(void* const* updated,
                                               const void* const* read_only,
                                               std::int64_t begin, std::int64_t end) {
  P* param = static_cast<P*>(updated[0]);
  std::uint32_t* state[U];
  for (int k = 1; k < U; ++k) state[k - 1] = static_cast<std::uint32_t*>(updated[k]);
  const P* grad = R > 0 ? static_cast<const P*>(read_only[0]) : nullptr;
  const std::uint32_t* other[R + 1];
  for (int k = 1; k < R; ++k) {
    other[k - 1] = static_cast<const std::uint32_t*>(read_only[k]);
  }

  // The arrays never overlap (the bindings check it), so the loop carries no
  // dependence; ivdep spares the run-time alias checks between up to seven streams.
#pragma GCC ivdep
  for (std::int64_t i = begin; i < end; ++i) {
    std::uint32_t sum = param[i];
    if constexpr (R > 0) sum += grad[i];
    for (int k = 0; k + 1 < R; ++k) sum += other[k][i];
    for (int k = 0; k + 1 < U; ++k) sum += state[k][i];
    param[i] = static_cast<P>(param[i] + sum);
    for (int k = 0; k + 1 < U; ++k) state[k][i] += sum;
  }
}

enum Isa { kBaseline, kIsaAvx2, kIsaAvx512, kNumIsas };

template <typename P, int U, int R>
void stream_baseline(void* const* updated, const void* const* read_only,
                     std::int64_t begin, std::int64_t end) {
  stream_loop<P, U, R>(updated, read_only, begin, end);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FASTRMSPROP_PROBE_X86 1
template <typename P, int U, int R>
[[gnu::target("avx2")]] void stream_avx2(void* const* updated,
                                         const void* const* read_only,
                                         std::int64_t begin, std::int64_t end) {
  stream_loop<P, U, R>(updated, read_only, begin, end);
}

template <typename P, int U, int R>
[[gnu::target("avx512f,avx512bw")]] void stream_avx512(void* const* updated,
                                                       const void* const* read_only,
                                                       std::int64_t begin,
                                                       std::int64_t end) {
  stream_loop<P, U, R>(updated, read_only, begin, end);
}
#endif

Isa widest_isa() {
#ifdef FASTRMSPROP_PROBE_X86
  // Checks the OS saves the wider registers too, not only the CPU flags.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    return kIsaAvx512;
  }
  if (__builtin_cpu_supports("avx2")) return kIsaAvx2;
#endif
  return kBaseline;
}

template <typename P, int U, int R>
constexpr RangeFn for_isa(Isa isa) {
#ifdef FASTRMSPROP_PROBE_X86
  if (isa == kIsaAvx512) return &stream_avx512<P, U, R>;
  if (isa == kIsaAvx2) return &stream_avx2<P, U, R>;
#endif
  (void)isa;
  return &stream_baseline<P, U, R>;
}

template <typename P, int U>
RangeFn pick_read_only(Isa isa, int n_read_only) {
  static_assert(kMaxProbeReadOnly == 2, "extend the table below");
  return n_read_only == 0   ? for_isa<P, U, 0>(isa)
         : n_read_only == 1 ? for_isa<P, U, 1>(isa)
                            : for_isa<P, U, 2>(isa);
}

template <typename P>
RangeFn pick(Isa isa, int n_updated, int n_read_only) {
  static_assert(kMaxProbeUpdated == 5, "extend the table below");
  switch (n_updated) {
    case 1: return pick_read_only<P, 1>(isa, n_read_only);
    case 2: return pick_read_only<P, 2>(isa, n_read_only);
    case 3: return pick_read_only<P, 3>(isa, n_read_only);
    case 4: return pick_read_only<P, 4>(isa, n_read_only);
    default: return pick_read_only<P, 5>(isa, n_read_only);
  }
}

}  // namespace

void bandwidth_probe(void* const* updated, int n_updated, const void* const* read_only,
                     int n_read_only, int param_bytes, std::int64_t size, int repeats) {
  if (size <= 0) return;
  static const Isa isa = widest_isa();
  const RangeFn range = param_bytes == 2
                            ? pick<std::uint16_t>(isa, n_updated, n_read_only)
                            : pick<std::uint32_t>(isa, n_updated, n_read_only);

  // Same rule as the kernels: one thread below kMinElementsPerThread elements each,
  // and the kernels' cut into whole chunks so that no cache line is shared.
  const std::int64_t by_size = std::max<std::int64_t>(1, size / kMinElementsPerThread);
  const int threads = static_cast<int>(std::min<std::int64_t>(num_threads(), by_size));
  auto size_of = [size](std::int64_t) { return size; };

  for (int r = 0; r < repeats; ++r) {
#ifdef _OPENMP
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
      for_each_piece(1, size_of, omp_get_num_threads(), omp_get_thread_num(),
                     [&](std::int64_t, std::int64_t begin, std::int64_t end) {
                       range(updated, read_only, begin, end);
                     });
      continue;
    }
#endif
    range(updated, read_only, 0, size);
  }
}

}  // namespace fastrmsprop
