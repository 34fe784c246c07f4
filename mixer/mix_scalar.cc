// Scalar mix-minus: the specification every ISA kernel is tested against.
//
// Algorithm, per sample index s:
//   total = in[0][s] + in[1][s] + ... + in[n-1][s]   accumulated in int32_t: at most
//           16 * 32768 = 2^19 in magnitude, so the sum is exact and never overflows;
//   out[i][s] = sat16(total - in[i][s])             clamp to [-32768, 32767].
// Subtracting one's own sample from the exact total (rather than summing the others) makes the
// cost O(n) per sample instead of O(n^2), and keeps the result exact: with two sources,
// total - in[0] == in[1], which fits int16 and passes through unchanged (DESIGN invariant 3).
#include <algorithm>
#include <cstdint>

#include "mixer/internal/kernels.h"
#include "mixer/mix.h"

namespace anchord::mixer::internal {
namespace {

int16_t Sat16(int32_t v) {
  return static_cast<int16_t>(std::clamp<int32_t>(v, INT16_MIN, INT16_MAX));
}

}  // namespace

void MixMinusScalarRange(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t begin, size_t end) {
  for (size_t s = begin; s < end; ++s) {
    int32_t total = 0;
    for (size_t j = 0; j < n_sources; ++j) total += in[j][s];
    for (size_t i = 0; i < n_sources; ++i) out[i][s] = Sat16(total - in[i][s]);
  }
}

void MixMinusScalar(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                    size_t n_samples) {
  MixMinusScalarRange(in, out, n_sources, 0, n_samples);
}

}  // namespace anchord::mixer::internal
