// Python bindings of the run-time questions: instruction set, threads, build.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "fastrmsprop/runtime.h"

namespace fastrmsprop {

namespace py = pybind11;

namespace {

std::vector<std::string> level_names() {
  std::vector<std::string> names;
  for (SimdLevel level : available_simd_levels())
    names.emplace_back(simd_level_name(level));
  return names;
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

void register_runtime(py::module_& m) {
  m.def(
      "simd_level", [] { return std::string(simd_level_name(simd_level())); },
      "The instruction set the kernels use now.");
  m.def("available_simd_levels", &level_names,
        "Instruction sets this build has and this CPU runs, lowest first.");
  m.def(
      "set_simd_level",
      [](const std::string& name) {
        for (SimdLevel level :
             {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
          if (name != simd_level_name(level)) continue;
          if (set_simd_level(level)) return;
          std::string have;
          for (const std::string& n : level_names())
            have += (have.empty() ? "" : ", ") + n;
          throw py::value_error("simd level: '" + name +
                                "' is not available on this "
                                "CPU or in this build; available: " +
                                have);
        }
        throw py::value_error("simd level: unknown name '" + name +
                              "'; expected scalar, avx2 or avx512");
      },
      py::arg("name"), "Force the kernels onto one instruction set.");
  m.def("get_num_threads", &num_threads, "Threads one optimizer call may use.");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1)
          throw py::value_error("n: expected a thread count >= 1, got " +
                                std::to_string(n));
        set_num_threads(n);
      },
      py::arg("n"), "Set the threads one optimizer call may use (1 without OpenMP).");
  m.def("has_openmp", &has_openmp);
  m.def("compiler", &compiler);
  m.def("compiled_simd_levels", [] {
    std::vector<std::string> names{"scalar"};
#if defined(FASTRMSPROP_HAVE_AVX2)
    names.emplace_back("avx2");
#endif
#if defined(FASTRMSPROP_HAVE_AVX512)
    names.emplace_back("avx512");
#endif
    return names;
  });
  m.def(
      "_partition",
      [](const std::vector<std::int64_t>& sizes, int threads) {
        if (threads < 1) throw py::value_error("threads: expected >= 1");
        std::vector<std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>>
            out(static_cast<std::size_t>(threads));
        for (int k = 0; k < threads; ++k) {
          for (const Piece& p : partition(
                   sizes.data(), static_cast<std::int64_t>(sizes.size()), threads, k)) {
            out[static_cast<std::size_t>(k)].emplace_back(p.tensor, p.begin, p.end);
          }
        }
        return out;
      },
      py::arg("sizes"), py::arg("threads"),
      "For tests: per thread, the (tensor, begin, end) pieces it would process.");
  m.attr("chunk_elements") = kChunkElements;
  m.attr("min_elements_per_thread") = kMinElementsPerThread;
}

}  // namespace fastrmsprop
