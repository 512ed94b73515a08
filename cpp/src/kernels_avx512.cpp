// Kernels for x86-64 CPUs with AVX-512F.
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernel_table.h"
#include "ops_avx512.h"

namespace fastrmsprop {
namespace avx512 {
#include "kernels-inl.h"
}  // namespace avx512

const KernelTable& avx512_kernels() {
  static const KernelTable table = avx512::make_table();
  return table;
}

}  // namespace fastrmsprop
