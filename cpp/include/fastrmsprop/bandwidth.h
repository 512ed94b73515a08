// Memory-bandwidth probe: how fast a loop can move the traffic of one optimizer step.
//
// An optimizer step streams every array once: the param and the state arrays are read
// and written back in place, the grad is only read. The probe runs a loop with exactly
// that traffic and almost no arithmetic (integer adds on the raw words), threaded and
// chunked like the kernels, so the time it takes is the ceiling a kernel is measured
// against in the same run, at the same size and thread count.
#pragma once

#include <cstdint>

namespace fastrmsprop {

// Streams `repeats` times over `size` elements of every array. Each of the `n_updated`
// arrays in `updated` is read and written back in place; each of the `n_read_only`
// arrays in `read_only` is only read. The first array of each list stands for the
// param and the grad: its elements are `param_bytes` wide (2 or 4). Every other array
// holds 4-byte elements. The words written depend on every word read, so the compiler
// cannot drop a stream; their values are meaningless.
//
// Preconditions, checked by the bindings: 1 <= n_updated <= kMaxProbeUpdated,
// 0 <= n_read_only <= kMaxProbeReadOnly, no two arrays overlap.
void bandwidth_probe(void* const* updated, int n_updated, const void* const* read_only,
                     int n_read_only, int param_bytes, std::int64_t size, int repeats);

inline constexpr int kMaxProbeUpdated = 5;
inline constexpr int kMaxProbeReadOnly = 2;

}  // namespace fastrmsprop
