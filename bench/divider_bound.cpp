// What bounds the AVX2 kernels inside L1: times them against loops that keep only the
// square root and the division, or only the rest of the arithmetic.
//
// Build from the repository root (x86-64 with AVX2, gcc or clang) and run:
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -ffp-contract=off -DFASTRMSPROP_HAVE_AVX2 \
//       -Icpp/include -Icpp/src bench/divider_bound.cpp cpp/src/kernels_avx2.cpp \
//       -o /tmp/divider_bound && /tmp/divider_bound 2048
// Each figure is the best of 300 runs of about 2 ms, in ns per element, so a busy
// machine shows in the spread between runs and not in the figure.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "kernel_table.h"

namespace {

using fastrmsprop::TensorRef;

double seconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

template <class F>
double ns_per_element(F&& f, long n) {
  const long reps = std::max(1L, 2'000'000 / n);
  double best = 1e30;
  for (int run = 0; run < 300; ++run) {
    const double start = seconds();
    for (long r = 0; r < reps; ++r) f();
    best = std::min(best, (seconds() - start) / static_cast<double>(reps * n) * 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) / 8 * 8 : 2048;
  // One block, arrays 64 bytes apart beyond their length: no two share a 4 KiB
  // offset, which would add false store-to-load dependencies.
  const long stride = n + 16;
  auto* block = static_cast<float*>(std::aligned_alloc(64, stride * 5 * 4 + 64));
  float* param = block;
  float* grad = param + stride;
  float* s0 = grad + stride;
  float* s1 = s0 + stride;
  float* s2 = s1 + stride;
  for (long i = 0; i < n; ++i) {
    param[i] = 1.0f;
    grad[i] = 0.01f * static_cast<float>(i % 7 + 1);
    s0[i] = s1[i] = s2[i] = 0.0f;
  }
  TensorRef t{param, grad, {s0, s1, s2}, n, 1, fastrmsprop::DType::kFloat32};
  const fastrmsprop::KernelTable& k = fastrmsprop::avx2_kernels();
  const fastrmsprop::RmspropScalars rmsprop{1e-2, 0.99, 0, 0, 1, 1, 0, 1e-8};
  const fastrmsprop::AdagradScalars adagrad{1e-2, 0, 1, 0, 1e-10};
  const fastrmsprop::AdamScalars adam{0.9, 0.999, 0, 1, 1e-8, 1, 1e-3, 0.5};

  std::printf("%ld float32 elements, ns per element (best of 300 runs)\n", n);
  std::printf("rmsprop kernel             %.3f\n",
              ns_per_element([&] { k.rmsprop[0][0][0][0](t, 0, n, rmsprop); }, n));
  std::printf("adagrad kernel             %.3f\n",
              ns_per_element([&] { k.adagrad[0][0](t, 0, n, adagrad); }, n));
  std::printf("adam kernel                %.3f\n",
              ns_per_element([&] { k.adam[0][0][0](t, 0, n, adam); }, n));

  // RMSProp's loads, stores, multiplies and FMAs with the root and the division
  // replaced by a multiply: what the kernel would cost without the divider.
  auto no_divider = [&] {
    const __m256 beta = _mm256_set1_ps(0.99f), rest = _mm256_set1_ps(0.01f);
    const __m256 lr = _mm256_set1_ps(0.01f);
    for (long i = 0; i < n; i += 8) {
      const __m256 g = _mm256_load_ps(grad + i);
      const __m256 v = _mm256_fmadd_ps(beta, _mm256_load_ps(s0 + i),
                                       _mm256_mul_ps(rest, _mm256_mul_ps(g, g)));
      _mm256_store_ps(s0 + i, v);
      const __m256 p = _mm256_load_ps(param + i);
      _mm256_store_ps(param + i, _mm256_fnmadd_ps(lr, _mm256_mul_ps(g, v), p));
    }
  };
  std::printf("rmsprop without sqrt, div  %.3f\n", ns_per_element(no_divider, n));

  for (long i = 0; i < n; ++i) s0[i] = 1.0f;
  auto sqrt_div = [&] {
    const __m256 eps = _mm256_set1_ps(1e-8f);
    for (long i = 0; i < n; i += 8) {
      const __m256 v = _mm256_load_ps(s0 + i);
      const __m256 root = _mm256_add_ps(_mm256_sqrt_ps(v), eps);
      _mm256_store_ps(s1 + i, _mm256_div_ps(_mm256_load_ps(grad + i), root));
    }
  };
  std::printf("sqrt and div alone         %.3f\n", ns_per_element(sqrt_div, n));
  auto sqrt_only = [&] {
    for (long i = 0; i < n; i += 8) {
      _mm256_store_ps(s1 + i, _mm256_sqrt_ps(_mm256_load_ps(s0 + i)));
    }
  };
  std::printf("sqrt alone                 %.3f\n", ns_per_element(sqrt_only, n));
  auto div_only = [&] {
    for (long i = 0; i < n; i += 8) {
      _mm256_store_ps(s1 + i,
                      _mm256_div_ps(_mm256_load_ps(grad + i), _mm256_load_ps(s0 + i)));
    }
  };
  std::printf("div alone                  %.3f\n", ns_per_element(div_only, n));
  std::free(block);
  return 0;
}
