// The step drivers: per-call scalars in double, one kernel per variant picked before
// any loop, and one parallel region over all the tensors of the call.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fastrmsprop/fastrmsprop.h"
#include "fastrmsprop/runtime.h"
#include "kernel_table.h"
#include "pieces.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fastrmsprop {
namespace {

const KernelTable& current_kernels() {
  switch (simd_level()) {
#if defined(FASTRMSPROP_HAVE_AVX512)
    case SimdLevel::kAvx512:
      return avx512_kernels();
#endif
#if defined(FASTRMSPROP_HAVE_AVX2)
    case SimdLevel::kAvx2:
      return avx2_kernels();
#endif
    default:
      return scalar_kernels();
  }
}

int threads_for(const TensorRef* tensors, std::int64_t count) {
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < count; ++i) total += tensors[i].size;
  const std::int64_t most = std::max<std::int64_t>(1, total / kMinElementsPerThread);
  return static_cast<int>(std::min<std::int64_t>(num_threads(), most));
}

// Calls make_worker() once per thread and the worker on each of that thread's pieces,
// so a worker can keep per-thread caches without locks.
template <class MakeWorker>
void run(const TensorRef* tensors, std::int64_t count, MakeWorker&& make_worker) {
  auto size_of = [tensors](std::int64_t i) { return tensors[i].size; };
  const int threads = threads_for(tensors, count);
#if defined(_OPENMP)
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      auto worker = make_worker();
      for_each_piece(count, size_of, omp_get_num_threads(), omp_get_thread_num(),
                     [&](std::int64_t i, std::int64_t begin, std::int64_t end) {
                       worker(tensors[i], begin, end);
                     });
    }
    return;
  }
#else
  (void)threads;
#endif
  auto worker = make_worker();
  for (std::int64_t i = 0; i < count; ++i) {
    if (tensors[i].size > 0) worker(tensors[i], 0, tensors[i].size);
  }
}

bool all_finite_with(const KernelTable& kernels, const TensorRef* tensors,
                     std::int64_t count) {
  bool finite = true;
  run(tensors, count, [&] {
    return [&](const TensorRef& t, std::int64_t begin, std::int64_t end) {
      if (!kernels.all_finite[static_cast<int>(t.dtype)](t.grad, begin, end)) {
        // Another thread may write false at the same time; any false wins.
        __atomic_store_n(&finite, false, __ATOMIC_RELAXED);
      }
    };
  });
  return finite;
}

int decay_kind(double weight_decay, bool decoupled) {
  if (weight_decay == 0.0) return kNoDecay;
  return decoupled ? kDecoupled : kCoupled;
}

}  // namespace

bool all_finite(const TensorRef* tensors, std::int64_t count) {
  return all_finite_with(current_kernels(), tensors, count);
}

bool rmsprop_step(const TensorRef* tensors, std::int64_t count,
                  const RmspropOptions& options, bool skip_nonfinite) {
  const KernelTable& kernels = current_kernels();
  if (skip_nonfinite && !all_finite_with(kernels, tensors, count)) return false;

  RmspropScalars s{};
  s.lr = options.lr;
  s.beta = options.beta;
  s.weight_decay = options.weight_decay;
  s.momentum = options.momentum;
  s.sign = options.maximize ? -1.0 : 1.0;
  s.decay = 1.0 - options.lr * options.weight_decay;
  s.eps_inner = options.eps_in_sqrt ? options.eps : 0.0;
  s.eps_outer = options.eps_in_sqrt ? 0.0 : options.eps;
  const int decay = decay_kind(options.weight_decay, options.decoupled_weight_decay);
  const int centered = options.centered ? 1 : 0;
  int momentum = kNoMomentum;
  if (options.momentum > 0.0) {
    momentum = options.lr_in_momentum ? kLrInside : kLrOutside;
    if (options.nesterov) momentum += 1;
  }

  run(tensors, count, [&] {
    return [&](const TensorRef& t, std::int64_t begin, std::int64_t end) {
      const int d = static_cast<int>(t.dtype);
      kernels.rmsprop[d][decay][centered][momentum](t, begin, end, s);
    };
  });
  return true;
}

bool adagrad_step(const TensorRef* tensors, std::int64_t count,
                  const AdagradOptions& options, bool skip_nonfinite) {
  const KernelTable& kernels = current_kernels();
  if (skip_nonfinite && !all_finite_with(kernels, tensors, count)) return false;

  AdagradScalars base{};
  base.weight_decay = options.weight_decay;
  base.sign = options.maximize ? -1.0 : 1.0;
  base.eps_inner = options.eps_in_sqrt ? options.eps : 0.0;
  base.eps_outer = options.eps_in_sqrt ? 0.0 : options.eps;
  const int decay = options.weight_decay == 0.0 ? kNoDecay : kCoupled;

  run(tensors, count, [&] {
    // Most calls give every tensor the same step: reuse the scalars while it holds.
    return [&, s = base, last_step = std::int64_t{-1}](
               const TensorRef& t, std::int64_t begin, std::int64_t end) mutable {
      if (t.step != last_step) {
        last_step = t.step;
        s.lr = options.lr / (1.0 + static_cast<double>(t.step - 1) * options.lr_decay);
      }
      kernels.adagrad[static_cast<int>(t.dtype)][decay](t, begin, end, s);
    };
  });
  return true;
}

bool adam_step(const TensorRef* tensors, std::int64_t count, const AdamOptions& options,
               bool skip_nonfinite) {
  const KernelTable& kernels = current_kernels();
  if (skip_nonfinite && !all_finite_with(kernels, tensors, count)) return false;

  AdamScalars base{};
  base.beta1 = options.beta1;
  base.beta2 = options.beta2;
  base.weight_decay = options.weight_decay;
  base.sign = options.maximize ? -1.0 : 1.0;
  base.eps = options.eps;
  base.decay = 1.0 - options.lr * options.weight_decay;
  const int decay = decay_kind(options.weight_decay, options.decoupled_weight_decay);
  const int amsgrad = options.amsgrad ? 1 : 0;

  run(tensors, count, [&] {
    return [&, s = base, last_step = std::int64_t{-1}](
               const TensorRef& t, std::int64_t begin, std::int64_t end) mutable {
      if (t.step != last_step) {
        last_step = t.step;
        const double t_step = static_cast<double>(t.step);
        const double bias_correction1 = 1.0 - std::pow(options.beta1, t_step);
        const double bias_correction2 = 1.0 - std::pow(options.beta2, t_step);
        s.step_size = options.lr / bias_correction1;
        s.sqrt_bias_correction2 = std::sqrt(bias_correction2);
      }
      kernels.adam[static_cast<int>(t.dtype)][decay][amsgrad](t, begin, end, s);
    };
  });
  return true;
}

}  // namespace fastrmsprop
