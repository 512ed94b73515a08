// Plain C++ API of the fused optimizer kernels: pointers, counts and options by value.
//
// One call updates a list of tensors in one parallel region. Each tensor carries its
// own dtype and its own step number; the options are shared by the call. Nothing here
// knows about Python, and nothing here checks its arguments: the bindings do, before
// any call, so that a failed check leaves every array untouched.
#pragma once

#include <cstdint>

namespace fastrmsprop {

// Storage type of a param and its grad. State is float32 for every param dtype but
// float64, whose state is float64.
enum class DType : std::uint8_t {
  kFloat32 = 0,
  kFloat64 = 1,
  kBFloat16 = 2,
  kFloat16 = 3
};
inline constexpr int kNumDTypes = 4;

enum class SimdLevel : std::uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
inline constexpr int kNumSimdLevels = 3;

// One parameter with its gradient and up to three state arrays. The meaning of the
// state slots depends on the optimizer:
//   rmsprop: square_avg, grad_avg (centered), momentum_buffer
//   adagrad: sum
//   adam:    exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
struct TensorRef {
  void* param;
  const void* grad;
  void* state[3];
  std::int64_t size;
  std::int64_t step;  // 1-based step number of this update; Adagrad and Adam only
  DType dtype;
};

struct RmspropOptions {
  double lr = 1e-2;
  double beta = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
  bool eps_in_sqrt = false;
  bool lr_in_momentum = false;
  bool decoupled_weight_decay = false;
  bool nesterov = false;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double eps = 1e-10;
  bool maximize = false;
  bool eps_in_sqrt = false;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  bool amsgrad = false;
  bool maximize = false;
};

// Each step function updates every tensor in place and returns true. With
// skip_nonfinite it first reads every grad and, if one holds a NaN or an infinity,
// returns false having written nothing.
bool rmsprop_step(const TensorRef* tensors, std::int64_t count,
                  const RmspropOptions& options, bool skip_nonfinite);
bool adagrad_step(const TensorRef* tensors, std::int64_t count,
                  const AdagradOptions& options, bool skip_nonfinite);
bool adam_step(const TensorRef* tensors, std::int64_t count, const AdamOptions& options,
               bool skip_nonfinite);

// True when every grad of the list is finite.
bool all_finite(const TensorRef* tensors, std::int64_t count);

}  // namespace fastrmsprop
