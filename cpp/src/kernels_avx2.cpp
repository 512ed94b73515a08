// Kernels for x86-64 CPUs with AVX2, FMA and F16C.
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernel_table.h"
#include "ops_avx2.h"

namespace fastrmsprop {
namespace avx2 {
#include "kernels-inl.h"
}  // namespace avx2

const KernelTable& avx2_kernels() {
  static const KernelTable table = avx2::make_table();
  return table;
}

}  // namespace fastrmsprop
