// The table of kernel entry points one instruction set provides, and the per-call
// scalars they take. The dispatcher picks a table at run time, then one entry per
// tensor dtype and variant, so no flag is tested inside a loop.
#pragma once

#include <cstdint>

#include "fastrmsprop/fastrmsprop.h"
#include "half.h"

namespace fastrmsprop {

// The type of the state arrays and of the arithmetic for a param storage type:
// low-precision params are computed in float32 and only rounded on store.
template <class P>
struct StateType {
  using type = float;
};
template <>
struct StateType<double> {
  using type = double;
};
template <class P>
using StateOf = typename StateType<P>::type;

// Per-call scalars, computed once in double by the dispatcher.
struct RmspropScalars {
  double lr, beta, weight_decay, momentum;
  double sign;       // -1 when maximizing
  double decay;      // 1 - lr * weight_decay, for decoupled weight decay
  double eps_inner;  // eps under the root, or 0
  double eps_outer;  // eps added to the root, or 0
};

struct AdagradScalars {
  double lr;  // already decayed for this tensor's step
  double weight_decay, sign, eps_inner, eps_outer;
};

struct AdamScalars {
  double beta1, beta2, weight_decay, sign, eps;
  double decay;      // 1 - lr * weight_decay, for AdamW
  double step_size;  // lr / (1 - beta1^t)
  double sqrt_bias_correction2;
};

enum WeightDecay : int { kNoDecay = 0, kCoupled = 1, kDecoupled = 2 };
enum Momentum : int {
  kNoMomentum = 0,
  kLrOutside = 1,
  kLrOutsideNesterov = 2,
  kLrInside = 3,
  kLrInsideNesterov = 4
};

using RmspropFn = void (*)(const TensorRef&, std::int64_t, std::int64_t,
                           const RmspropScalars&);
using AdagradFn = void (*)(const TensorRef&, std::int64_t, std::int64_t,
                           const AdagradScalars&);
using AdamFn = void (*)(const TensorRef&, std::int64_t, std::int64_t,
                        const AdamScalars&);
using FiniteFn = bool (*)(const void* grad, std::int64_t begin, std::int64_t end);

struct KernelTable {
  RmspropFn rmsprop[kNumDTypes][3][2][5];  // dtype, weight decay, centered, momentum
  AdagradFn adagrad[kNumDTypes][2];        // dtype, weight decay
  AdamFn adam[kNumDTypes][3][2];           // dtype, weight decay, amsgrad
  FiniteFn all_finite[kNumDTypes];
};

const KernelTable& scalar_kernels();
#if defined(FASTRMSPROP_HAVE_AVX2)
const KernelTable& avx2_kernels();
#endif
#if defined(FASTRMSPROP_HAVE_AVX512)
const KernelTable& avx512_kernels();
#endif

}  // namespace fastrmsprop
