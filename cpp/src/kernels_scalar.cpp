// Kernels for every CPU: one element per lane.
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernel_table.h"
#include "ops_scalar.h"

namespace fastrmsprop {
namespace scalar {
#include "kernels-inl.h"
}  // namespace scalar

const KernelTable& scalar_kernels() {
  static const KernelTable table = scalar::make_table();
  return table;
}

}  // namespace fastrmsprop
