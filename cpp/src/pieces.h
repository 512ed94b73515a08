// How one call's tensors are cut among threads. The tensors are laid end to end, each
// padded to a whole number of chunks, and the line is cut into equal runs of whole
// chunks, one per thread: every cut inside a tensor falls on a chunk boundary, so
// threads never share a cache line and each element sees the same vector code.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastrmsprop/runtime.h"

namespace fastrmsprop {

inline std::int64_t round_up_to_chunk(std::int64_t n) {
  return (n + kChunkElements - 1) / kChunkElements * kChunkElements;
}

// Calls fn(tensor, begin, end) for each piece of thread `thread` of `threads`;
// size_of(i) gives the element count of tensor i. No allocation.
template <class SizeOf, class Fn>
void for_each_piece(std::int64_t count, SizeOf&& size_of, int threads, int thread,
                    Fn&& fn) {
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < count; ++i) total += round_up_to_chunk(size_of(i));
  const std::int64_t share = round_up_to_chunk((total + threads - 1) / threads);
  const std::int64_t lo = share * thread;
  const std::int64_t hi = std::min(total, lo + share);
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < count && offset < hi; ++i) {
    const std::int64_t size = size_of(i);
    const std::int64_t begin = std::max<std::int64_t>(lo - offset, 0);
    const std::int64_t end = std::min(hi - offset, size);
    if (begin < end) fn(i, begin, end);
    offset += round_up_to_chunk(size);
  }
}

}  // namespace fastrmsprop
