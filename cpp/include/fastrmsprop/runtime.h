// Run-time choices of the kernels: instruction set and thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "fastrmsprop/fastrmsprop.h"

namespace fastrmsprop {

// Levels this build compiled in and this CPU (and its OS) can run, lowest first.
std::vector<SimdLevel> available_simd_levels();
SimdLevel simd_level();
// Returns false, changing nothing, for a level that is not available.
bool set_simd_level(SimdLevel level);
const char* simd_level_name(SimdLevel level);

int num_threads();
// Values below 1 are clamped to 1; without OpenMP the count stays 1.
void set_num_threads(int n);
bool has_openmp();

// Elements per thread below which a call stays on one thread: starting a parallel
// region costs more than the work it would share.
inline constexpr std::int64_t kMinElementsPerThread = 1 << 15;
// Chunk boundaries inside a tensor are multiples of this many elements: 64 elements
// span whole cache lines for every dtype, so two threads never write one line.
inline constexpr std::int64_t kChunkElements = 64;

struct Piece {
  std::int64_t tensor;
  std::int64_t begin;
  std::int64_t end;
};

// The pieces thread `thread` of `threads` processes for tensors of the given sizes.
// Exposed for tests of the 64-bit chunking arithmetic.
std::vector<Piece> partition(const std::int64_t* sizes, std::int64_t count, int threads,
                             int thread);

}  // namespace fastrmsprop
