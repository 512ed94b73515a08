// AVX2 + FMA + F16C lanes: 8 floats or 4 doubles per vector. Included only by the
// translation unit compiled with those instruction sets enabled.
#pragma once

#include <immintrin.h>

#include "half.h"

namespace fastrmsprop::avx2 {

template <class T>
struct Ops;

template <>
struct Ops<float> {
  using Scalar = float;
  using V = __m256;
  static constexpr int kLanes = 8;

  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V mul_add(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V neg_mul_add(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  // maxps returns its second operand when either is NaN: same as the scalar a > b.
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static bool all_zero(V a) {
    const __m256 ne = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    return _mm256_movemask_ps(ne) == 0;
  }

  static V load_param(const float* p) { return _mm256_loadu_ps(p); }
  static void store_param(float* p, V v) { _mm256_storeu_ps(p, v); }

  static V load_param(const bf16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static void store_param(bf16_t* p, V v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i high = _mm256_srli_epi32(u, 16);
    const __m256i odd = _mm256_and_si256(high, _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd);
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    // A NaN keeps its sign and top bits and is made quiet, as in to_bf16.
    const __m256i quiet = _mm256_or_si256(high, _mm256_set1_epi32(0x40));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    rounded = _mm256_blendv_epi8(rounded, quiet, nan);
    // Every lane holds at most 0xffff, so unsigned saturation only narrows.
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(rounded),
                                            _mm256_extracti128_si256(rounded, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }

  static V load_param(const f16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store_param(f16_t* p, V v) {
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
  }
};

template <>
struct Ops<double> {
  using Scalar = double;
  using V = __m256d;
  static constexpr int kLanes = 4;

  static V set1(double x) { return _mm256_set1_pd(x); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_pd(a); }
  static V mul_add(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V neg_mul_add(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
  static V max(V a, V b) { return _mm256_max_pd(a, b); }
  static bool all_zero(V a) {
    const __m256d ne = _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_NEQ_UQ);
    return _mm256_movemask_pd(ne) == 0;
  }

  static V load_param(const double* p) { return _mm256_loadu_pd(p); }
  static void store_param(double* p, V v) { _mm256_storeu_pd(p, v); }
};

}  // namespace fastrmsprop::avx2
