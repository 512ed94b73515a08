// Bit-exact conversions of bfloat16 and float16 to and from float, rounding to nearest
// even, for the scalar path and for tails; the vector paths use the same rounding.
#pragma once

#include <cstdint>
#include <cstring>

namespace fastrmsprop {

struct bf16_t {
  std::uint16_t bits;
};
struct f16_t {
  std::uint16_t bits;
};

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float to_float(bf16_t h) { return bits_float(std::uint32_t{h.bits} << 16); }

inline bf16_t to_bf16(float f) {
  std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    // A NaN must stay a NaN: truncation alone could clear every mantissa bit.
    return bf16_t{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
  }
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16_t{static_cast<std::uint16_t>(u >> 16)};
}

inline float to_float(f16_t h) {
  const std::uint32_t sign = std::uint32_t{h.bits & 0x8000u} << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0) {
    // Subnormal or zero: mantissa times 2^-24 is exact in float.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline f16_t to_f16(float f) {
  std::uint32_t u = float_bits(f);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) {
    return f16_t{static_cast<std::uint16_t>(sign | 0x7e00u | ((u >> 13) & 0x3ffu))};
  }
  // 65520 and above round to infinity.
  if (u >= 0x477ff000u) return f16_t{static_cast<std::uint16_t>(sign | 0x7c00u)};
  if (u < 0x38800000u) {
    // Below the smallest normal half: adding 0.5 lines the float's last mantissa bit
    // up with 2^-24, the half subnormal step, so the hardware add rounds for us.
    const float shifted = bits_float(u) + 0.5f;
    return f16_t{
        static_cast<std::uint16_t>(sign | (float_bits(shifted) - 0x3f000000u))};
  }
  const std::uint32_t odd = (u >> 13) & 1u;
  // Rebias the exponent from 127 to 15, then round the 13 dropped bits to even.
  u += 0xc8000fffu + odd;
  return f16_t{static_cast<std::uint16_t>(sign | (u >> 13))};
}

}  // namespace fastrmsprop
