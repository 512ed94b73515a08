// Scalar lanes with the interface of the vector ops: the path every CPU can run.
#pragma once

#include <cmath>

#include "half.h"

namespace fastrmsprop::scalar {

template <class T>
struct Ops {
  using Scalar = T;
  using V = T;
  static constexpr int kLanes = 1;

  static V set1(T x) { return x; }
  static V load(const T* p) { return *p; }
  static void store(T* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V sqrt(V a) { return std::sqrt(a); }
  // The project builds with -ffp-contract=off, so this rounds twice, like NumPy.
  static V mul_add(V a, V b, V c) { return a * b + c; }
  static V neg_mul_add(V a, V b, V c) { return c - a * b; }
  // a > b ? a : b, so a NaN in b propagates and a NaN in a yields b.
  static V max(V a, V b) { return a > b ? a : b; }
  static bool all_zero(V a) { return a == T(0); }

  static V load_param(const T* p) { return *p; }
  static void store_param(T* p, V v) { *p = v; }
  static V load_param(const bf16_t* p) { return to_float(*p); }
  static void store_param(bf16_t* p, V v) { *p = to_bf16(v); }
  static V load_param(const f16_t* p) { return to_float(*p); }
  static void store_param(f16_t* p, V v) { *p = to_f16(v); }
};

}  // namespace fastrmsprop::scalar
