// AVX2 mix-minus, bit-exact to mix_scalar.cc. Compiled with -mavx2; called only when
// dispatch.cc has seen AVX2 on this CPU.
//
// Algorithm, per block of 16 samples:
//   1. For each source j: load 16 x int16, sign-extend each 8-sample half to 8 x int32
//      (vpmovsxwd), add into two int32 totals (samples 0..7 and 8..15).
//   2. For each source i: sign-extend in[i] again, subtract from the totals, and narrow with
//      _mm256_packs_epi32, whose signed saturation is exactly sat16(). vpackssdw works within
//      128-bit lanes, giving samples [0..3, 8..11 | 4..7, 12..15]; a 64-bit permute (0,2,1,3)
//      restores 0..15 order.
// After the 16-wide blocks, one 8-wide block uses the same steps on 128-bit registers (so
// 160/320/960-sample frames never reach scalar code), and the last < 8 samples go to the scalar
// reference.
// The checked variant ORs (diff + 32768) of every output lane into one register: a diff fits
// int16 iff that sum has no bit above bit 15 (see mix_scalar.cc), so one test at the end tells
// whether packs saturated anything. Two extra instructions per 8 lanes.
#include <immintrin.h>

#include "mixer/internal/kernels.h"

namespace anchord::mixer::internal {
namespace {

struct Widened {
  __m256i lo;  // samples 0..7 as int32
  __m256i hi;  // samples 8..15 as int32
};

Widened Load16(const int16_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return {_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)),
          _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1))};
}

__m256i Load8(const int16_t* p) {
  return _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Each block returns flags with its (diff + 32768) ORed in when kChecked; inlined so flags
// stays in a register.
template <bool kChecked>
[[gnu::always_inline]] inline __m256i Block16(const int16_t* const* in, int16_t* const* out,
                                              size_t n_sources, size_t s, __m256i flags) {
  __m256i total_lo = _mm256_setzero_si256();
  __m256i total_hi = _mm256_setzero_si256();
  for (size_t j = 0; j < n_sources; ++j) {
    const Widened w = Load16(in[j] + s);
    total_lo = _mm256_add_epi32(total_lo, w.lo);
    total_hi = _mm256_add_epi32(total_hi, w.hi);
  }
  for (size_t i = 0; i < n_sources; ++i) {
    const Widened w = Load16(in[i] + s);
    const __m256i diff_lo = _mm256_sub_epi32(total_lo, w.lo);
    const __m256i diff_hi = _mm256_sub_epi32(total_hi, w.hi);
    if constexpr (kChecked) {
      const __m256i bias = _mm256_set1_epi32(32768);
      flags = _mm256_or_si256(
          flags, _mm256_or_si256(_mm256_add_epi32(diff_lo, bias), _mm256_add_epi32(diff_hi, bias)));
    }
    const __m256i packed = _mm256_packs_epi32(diff_lo, diff_hi);
    const __m256i ordered = _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i] + s), ordered);
  }
  return flags;
}

template <bool kChecked>
[[gnu::always_inline]] inline __m256i Block8(const int16_t* const* in, int16_t* const* out,
                                             size_t n_sources, size_t s, __m256i flags) {
  __m256i total = _mm256_setzero_si256();
  for (size_t j = 0; j < n_sources; ++j) total = _mm256_add_epi32(total, Load8(in[j] + s));
  for (size_t i = 0; i < n_sources; ++i) {
    const __m256i diff = _mm256_sub_epi32(total, Load8(in[i] + s));
    if constexpr (kChecked) {
      flags = _mm256_or_si256(flags, _mm256_add_epi32(diff, _mm256_set1_epi32(32768)));
    }
    const __m128i mixed =
        _mm_packs_epi32(_mm256_castsi256_si128(diff), _mm256_extracti128_si256(diff, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[i] + s), mixed);
  }
  return flags;
}

template <bool kChecked>
bool MixMinus(const int16_t* const* in, int16_t* const* out, size_t n_sources, size_t n_samples) {
  __m256i flags = _mm256_setzero_si256();
  size_t s = 0;
  for (; s + 16 <= n_samples; s += 16) flags = Block16<kChecked>(in, out, n_sources, s, flags);
  if (s + 8 <= n_samples) {
    flags = Block8<kChecked>(in, out, n_sources, s, flags);
    s += 8;
  }
  if constexpr (kChecked) {
    const bool tail = MixMinusScalarRangeChecked(in, out, n_sources, s, n_samples);
    const __m256i high = _mm256_srli_epi32(flags, 16);
    return !_mm256_testz_si256(high, high) || tail;
  } else {
    MixMinusScalarRange(in, out, n_sources, s, n_samples);
    return false;
  }
}

}  // namespace

void MixMinusAvx2(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                  size_t n_samples) {
  MixMinus<false>(in, out, n_sources, n_samples);
}

bool MixMinusAvx2Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t n_samples) {
  return MixMinus<true>(in, out, n_sources, n_samples);
}

}  // namespace anchord::mixer::internal
