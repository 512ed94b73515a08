// Argument checks shared by the optimizer bindings: every array of a call is checked,
// and its memory range recorded, before anything is written.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fastrmsprop/fastrmsprop.h"

namespace fastrmsprop {

namespace py = pybind11;

// One argument that is either a single array or a sequence of them.
class ArrayList {
 public:
  ArrayList(const char* name, py::handle object);
  const char* name() const { return name_; }
  std::int64_t size() const { return size_; }
  bool present() const { return present_; }
  // True for one array, false for a sequence (even a sequence of one).
  bool single() const { return single_; }
  const char* type_name() const;
  py::handle at(std::int64_t i) const;
  // "square_avgs[3]" for a sequence, "square_avgs" for a single array.
  std::string label(std::int64_t i) const;

 private:
  const char* name_;
  py::object items_;  // a list or tuple, or the single array
  bool single_ = false;
  bool present_ = false;
  std::int64_t size_ = 0;
};

// Checks one call's arrays and builds its TensorRefs. Holds the GIL throughout.
class CallBuilder {
 public:
  // Reuses per-thread buffers, so a steady training loop allocates nothing here.
  explicit CallBuilder(const ArrayList& params);
  ~CallBuilder();

  // Checks params and grads and fills param, grad, size and dtype of every tensor.
  void add_params_and_grads(const ArrayList& params, const ArrayList& grads);
  // Checks a state list against the params and stores it in state slot `slot`.
  void add_state(const ArrayList& states, int slot);
  // Per-tensor 1-based step numbers: an int for all, or a sequence of ints.
  void set_steps(const char* name, py::handle steps);
  // Raises if any written array overlaps any other argument.
  void check_overlaps();

  const TensorRef* data() const;
  std::int64_t count() const { return count_; }

 private:
  std::int64_t count_;
  const ArrayList* params_;
  std::vector<py::array> grad_copies_;
};

[[noreturn]] void raise_value(const std::string& message);
[[noreturn]] void raise_type(const std::string& message);

// Hyperparameter checks: the message names the argument and quotes the value.
void check_finite_at_least(const char* name, double value, double low);
void check_unit_interval(const char* name, double value);

}  // namespace fastrmsprop
