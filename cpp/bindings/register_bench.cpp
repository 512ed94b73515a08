// Python bindings of the benchmark helpers: argument checks and GIL release around the
// memory-bandwidth probe.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fastrmsprop/bandwidth.h"

namespace py = pybind11;

namespace fastrmsprop {
namespace {

struct Stream {
  std::string name;
  py::array array;
};

std::vector<Stream> collect(const py::sequence& arrays, const char* list_name,
                            std::size_t max_count) {
  if (arrays.size() > max_count) {
    throw py::value_error(std::string(list_name) + ": at most " +
                          std::to_string(max_count) + " arrays, got " +
                          std::to_string(arrays.size()));
  }
  std::vector<Stream> streams;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    std::string name = std::string(list_name) + "[" + std::to_string(i) + "]";
    py::object item = arrays[i];
    // No conversion: a converted copy would be probed instead of the caller's array.
    if (!py::isinstance<py::array>(item)) {
      throw py::type_error(name + ": expected a numpy.ndarray");
    }
    auto array = py::reinterpret_borrow<py::array>(item);
    if (!(array.flags() & py::array::c_style)) {
      throw py::value_error(name + ": must be C-contiguous");
    }
    streams.push_back({std::move(name), std::move(array)});
  }
  return streams;
}

void check_streams(const std::vector<Stream>& updated,
                   const std::vector<Stream>& read_only) {
  if (updated.empty()) throw py::value_error("updated: needs at least the param array");
  const py::ssize_t size = updated[0].array.size();
  const py::ssize_t param_bytes = updated[0].array.itemsize();
  if (param_bytes != 2 && param_bytes != 4) {
    throw py::type_error(updated[0].name + ": expected 2- or 4-byte elements, got " +
                         std::to_string(param_bytes));
  }
  std::vector<const Stream*> all;
  for (const Stream& s : updated) all.push_back(&s);
  for (const Stream& s : read_only) all.push_back(&s);
  for (const Stream* s : all) {
    const bool is_param =
        s == &updated[0] || (!read_only.empty() && s == &read_only[0]);
    const py::ssize_t expected = is_param ? param_bytes : 4;
    if (s->array.itemsize() != expected) {
      throw py::type_error(s->name + ": expected " + std::to_string(expected) +
                           "-byte elements, got " +
                           std::to_string(s->array.itemsize()));
    }
    if (s->array.size() != size) {
      throw py::value_error(s->name + ": expected " + std::to_string(size) +
                            " elements, got " + std::to_string(s->array.size()));
    }
  }
  for (const Stream& s : updated) {
    if (!s.array.writeable()) throw py::value_error(s.name + ": must be writable");
  }
  // Overlapping streams would share cache lines and the probe would move less than
  // the traffic it stands for.
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto* a = static_cast<const char*>(all[i]->array.data());
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      const auto* b = static_cast<const char*>(all[j]->array.data());
      if (a < b + all[j]->array.nbytes() && b < a + all[i]->array.nbytes()) {
        throw py::value_error(all[j]->name + ": overlaps " + all[i]->name);
      }
    }
  }
}

void probe(const py::sequence& updated_arrays, const py::sequence& read_only_arrays,
           int repeats) {
  if (repeats < 0) throw py::value_error("repeats: must be >= 0");
  std::vector<Stream> updated = collect(updated_arrays, "updated", kMaxProbeUpdated);
  const std::vector<Stream> read_only =
      collect(read_only_arrays, "read_only", kMaxProbeReadOnly);
  check_streams(updated, read_only);

  std::vector<void*> updated_data;
  for (Stream& s : updated) updated_data.push_back(s.array.mutable_data());
  std::vector<const void*> read_only_data;
  for (const Stream& s : read_only) read_only_data.push_back(s.array.data());
  const auto param_bytes = static_cast<int>(updated[0].array.itemsize());
  const auto size = static_cast<std::int64_t>(updated[0].array.size());

  // The arrays stay referenced by `updated` and `read_only` while the GIL is released.
  py::gil_scoped_release release;
  bandwidth_probe(updated_data.data(), static_cast<int>(updated_data.size()),
                  read_only_data.data(), static_cast<int>(read_only_data.size()),
                  param_bytes, size, repeats);
}

}  // namespace

void register_bench(py::module_& m) {
  m.def("bandwidth_probe", &probe, py::arg("updated"), py::arg("read_only"),
        py::kw_only(), py::arg("repeats") = 1,
        R"doc(Stream the traffic of one optimizer step, `repeats` times.

Every array in `updated` is read and written back in place (param and state arrays),
every array in `read_only` is only read (the grad). The first array of each list has
the param's element width (2 or 4 bytes), all others 4 bytes; all hold the same number
of elements n and none overlap. One repeat moves

    n * (2 * sum(a.itemsize for a in updated) + sum(a.itemsize for a in read_only))

bytes, with the thread count and chunking of the kernels. The words written are
meaningless: pass scratch arrays. Releases the GIL; returns None.)doc");
}

}  // namespace fastrmsprop
