// SSE2 mix-minus, bit-exact to mix_scalar.cc. Compiled with -msse2 (the x86-64 baseline).
//
// Algorithm, per block of 8 samples:
//   1. For each source j: load 8 x int16, sign-extend to two 4 x int32 halves
//      (unpack each int16 into the high half of an int32, then arithmetic shift right by 16;
//      SSE2 has no pmovsxwd), and add into the two int32 totals.
//   2. For each source i: sign-extend in[i] again, subtract from the totals, and pack the two
//      int32 halves back to int16 with _mm_packs_epi32, whose signed saturation is exactly
//      sat16(). So each output equals the scalar reference's.
// Reloading in[i] in step 2 (instead of keeping 16 sources in registers) costs one L1 hit per
// source and keeps register pressure flat for any n_sources. Samples past the last full block
// go to the scalar reference.
// The checked variant ORs (diff + 32768) of every output lane into one register: a diff fits
// int16 iff that sum has no bit above bit 15 (see mix_scalar.cc), so one test at the end tells
// whether packs saturated anything. Two extra instructions per 4 lanes.
#include <emmintrin.h>

#include "mixer/internal/kernels.h"

namespace anchord::mixer::internal {
namespace {

constexpr size_t kWidth = 8;

struct Widened {
  __m128i lo;  // samples 0..3 as int32
  __m128i hi;  // samples 4..7 as int32
};

Widened Load8(const int16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return {_mm_srai_epi32(_mm_unpacklo_epi16(v, v), 16),
          _mm_srai_epi32(_mm_unpackhi_epi16(v, v), 16)};
}

// True if any 32-bit lane of `acc` has a bit set above bit 15.
bool HighBitsSet(__m128i acc) {
  const __m128i high = _mm_srli_epi32(acc, 16);
  return _mm_movemask_epi8(_mm_cmpeq_epi32(high, _mm_setzero_si128())) != 0xffff;
}

template <bool kChecked>
bool MixMinus(const int16_t* const* in, int16_t* const* out, size_t n_sources, size_t n_samples) {
  const __m128i bias = _mm_set1_epi32(32768);
  __m128i flags = _mm_setzero_si128();
  const size_t n_vector = n_samples - n_samples % kWidth;
  for (size_t s = 0; s < n_vector; s += kWidth) {
    __m128i total_lo = _mm_setzero_si128();
    __m128i total_hi = _mm_setzero_si128();
    for (size_t j = 0; j < n_sources; ++j) {
      const Widened w = Load8(in[j] + s);
      total_lo = _mm_add_epi32(total_lo, w.lo);
      total_hi = _mm_add_epi32(total_hi, w.hi);
    }
    for (size_t i = 0; i < n_sources; ++i) {
      const Widened w = Load8(in[i] + s);
      const __m128i diff_lo = _mm_sub_epi32(total_lo, w.lo);
      const __m128i diff_hi = _mm_sub_epi32(total_hi, w.hi);
      if constexpr (kChecked) {
        flags = _mm_or_si128(
            flags, _mm_or_si128(_mm_add_epi32(diff_lo, bias), _mm_add_epi32(diff_hi, bias)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out[i] + s), _mm_packs_epi32(diff_lo, diff_hi));
    }
  }
  if constexpr (kChecked) {
    const bool tail = MixMinusScalarRangeChecked(in, out, n_sources, n_vector, n_samples);
    return HighBitsSet(flags) || tail;
  } else {
    MixMinusScalarRange(in, out, n_sources, n_vector, n_samples);
    return false;
  }
}

}  // namespace

void MixMinusSse2(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                  size_t n_samples) {
  MixMinus<false>(in, out, n_sources, n_samples);
}

bool MixMinusSse2Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t n_samples) {
  return MixMinus<true>(in, out, n_sources, n_samples);
}

}  // namespace anchord::mixer::internal
