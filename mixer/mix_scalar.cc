// Scalar mix-minus: the specification every ISA kernel is tested against.
//
// Algorithm, per sample index s:
//   total = in[0][s] + in[1][s] + ... + in[n-1][s]   accumulated in int32_t: at most
//           16 * 32768 = 2^19 in magnitude, so the sum is exact and never overflows;
//   out[i][s] = sat16(total - in[i][s])             clamp to [-32768, 32767].
// Subtracting one's own sample from the exact total (rather than summing the others) makes the
// cost O(n) per sample instead of O(n^2), and keeps the result exact: with two sources,
// total - in[0] == in[1], which fits int16 and passes through unchanged (DESIGN invariant 3).
//
// The checked variant also reports whether any clamp changed a value. A value v fits int16 iff
// v + 32768 lies in [0, 65535], i.e. iff (v + 32768) has no bit set above bit 15; OR-ing those
// sums over the frame and testing the high bits once is how every ISA kernel detects it.
#include <algorithm>
#include <cstdint>

#include "mixer/internal/kernels.h"
#include "mixer/mix.h"

namespace anchord::mixer::internal {
namespace {

int16_t Sat16(int32_t v) {
  return static_cast<int16_t>(std::clamp<int32_t>(v, INT16_MIN, INT16_MAX));
}

template <bool kChecked>
uint32_t Range(const int16_t* const* in, int16_t* const* out, size_t n_sources, size_t begin,
               size_t end) {
  uint32_t high_bits = 0;
  for (size_t s = begin; s < end; ++s) {
    int32_t total = 0;
    for (size_t j = 0; j < n_sources; ++j) total += in[j][s];
    for (size_t i = 0; i < n_sources; ++i) {
      const int32_t diff = total - in[i][s];
      if constexpr (kChecked) high_bits |= static_cast<uint32_t>(diff + 32768);
      out[i][s] = Sat16(diff);
    }
  }
  return high_bits & ~uint32_t{0xffff};
}

}  // namespace

void MixMinusScalarRange(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t begin, size_t end) {
  Range<false>(in, out, n_sources, begin, end);
}

bool MixMinusScalarRangeChecked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                                size_t begin, size_t end) {
  return Range<true>(in, out, n_sources, begin, end) != 0;
}

void MixMinusScalar(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                    size_t n_samples) {
  Range<false>(in, out, n_sources, 0, n_samples);
}

bool MixMinusScalarChecked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                           size_t n_samples) {
  return Range<true>(in, out, n_sources, 0, n_samples) != 0;
}

}  // namespace anchord::mixer::internal
