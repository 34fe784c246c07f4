// AVX-512BW mix-minus, bit-exact to mix_scalar.cc. Compiled with -mavx512f -mavx512bw; called
// only when dispatch.cc has seen AVX512F and AVX512BW on this CPU (and the OS saving ZMM state).
//
// Algorithm, per block of 32 samples:
//   1. For each source j: load 32 x int16, sign-extend each 16-sample half to 16 x int32
//      (vpmovsxwd), add into two int32 totals (samples 0..15 and 16..31).
//   2. For each source i: sign-extend in[i] again, subtract from the totals, and narrow with
//      _mm512_packs_epi32 (vpackssdw), whose signed saturation is exactly sat16(). It packs
//      within 128-bit lanes, giving 64-bit chunks [lo0-3, hi0-3, lo4-7, hi4-7, ...]; one
//      vpermq with (0,2,4,6,1,3,5,7) restores sample order.
// The last n % 32 samples take the same steps with masked loads and stores (masked-out lanes
// read as zero and are never written), so there is no scalar tail and the tail is bit-exact by
// the same argument as the body.
// The checked variant ORs (diff + 32768) of every output lane into one register: a diff fits
// int16 iff that sum has no bit above bit 15 (see mix_scalar.cc). Masked-out lanes give 32768,
// which has none.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() (a self-initialized variable) as the
// merge source of their unmasked forms, which -Wmaybe-uninitialized reports at every inlining
// site (GCC PR 105593). The warning is false here; it is silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "mixer/internal/kernels.h"

namespace anchord::mixer::internal {
namespace {

constexpr size_t kWidth = 32;

struct Widened {
  __m512i lo;  // samples 0..15 as int32
  __m512i hi;  // samples 16..31 as int32
};

Widened Widen(__m512i v) {
  return {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(v)),
          _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(v, 1))};
}

// mask selects the samples of this block that exist (all 32 except in the tail). Returns flags
// with this block's (diff + 32768) ORed in when kChecked. Inlined so flags stays in a register.
template <bool kChecked>
[[gnu::always_inline]] inline __m512i Block(const int16_t* const* in, int16_t* const* out,
                                            size_t n_sources, size_t s, __mmask32 mask,
                                            __m512i flags) {
  __m512i total_lo = _mm512_setzero_si512();
  __m512i total_hi = _mm512_setzero_si512();
  for (size_t j = 0; j < n_sources; ++j) {
    const Widened w = Widen(_mm512_maskz_loadu_epi16(mask, in[j] + s));
    total_lo = _mm512_add_epi32(total_lo, w.lo);
    total_hi = _mm512_add_epi32(total_hi, w.hi);
  }
  const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
  for (size_t i = 0; i < n_sources; ++i) {
    const Widened w = Widen(_mm512_maskz_loadu_epi16(mask, in[i] + s));
    const __m512i diff_lo = _mm512_sub_epi32(total_lo, w.lo);
    const __m512i diff_hi = _mm512_sub_epi32(total_hi, w.hi);
    if constexpr (kChecked) {
      const __m512i bias = _mm512_set1_epi32(32768);
      flags = _mm512_or_si512(
          flags, _mm512_or_si512(_mm512_add_epi32(diff_lo, bias), _mm512_add_epi32(diff_hi, bias)));
    }
    const __m512i packed = _mm512_permutexvar_epi64(order, _mm512_packs_epi32(diff_lo, diff_hi));
    _mm512_mask_storeu_epi16(out[i] + s, mask, packed);
  }
  return flags;
}

template <bool kChecked>
bool MixMinus(const int16_t* const* in, int16_t* const* out, size_t n_sources, size_t n_samples) {
  __m512i flags = _mm512_setzero_si512();
  size_t s = 0;
  for (; s + kWidth <= n_samples; s += kWidth) {
    flags = Block<kChecked>(in, out, n_sources, s, ~__mmask32{0}, flags);
  }
  if (s < n_samples) {
    const __mmask32 tail = _cvtu32_mask32((uint32_t{1} << (n_samples - s)) - 1u);
    flags = Block<kChecked>(in, out, n_sources, s, tail, flags);
  }
  return _mm512_test_epi32_mask(flags, _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u))) != 0;
}

}  // namespace

void MixMinusAvx512(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                    size_t n_samples) {
  MixMinus<false>(in, out, n_sources, n_samples);
}

bool MixMinusAvx512Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                           size_t n_samples) {
  return MixMinus<true>(in, out, n_sources, n_samples);
}

}  // namespace anchord::mixer::internal
