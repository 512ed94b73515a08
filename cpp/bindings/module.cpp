// The extension module fastrmsprop._core: it only wires the register_* functions.
#include <pybind11/pybind11.h>

namespace fastrmsprop {
void register_optim(pybind11::module_& m);
void register_runtime(pybind11::module_& m);
void register_bench(pybind11::module_& m);
}  // namespace fastrmsprop

PYBIND11_MODULE(_core, m) {
  m.doc() = "Fused optimizer kernels of fastrmsprop; use the fastrmsprop package.";
  fastrmsprop::register_runtime(m);
  fastrmsprop::register_optim(m);
  fastrmsprop::register_bench(m);
}
