// Coefficients: h[n] = sinc(n / 2) / 2 * kaiser(23, 6)[n], n = -11..11, in Q15 with the centre
// exactly 1/2 and the odd taps scaled to sum to 1/2 (DC gain exactly 1, so silence stays 0
// and a full-scale DC level survives).
#include "media/tty/internal/half_band_decimator.h"

#include <algorithm>

namespace anchord::media::tty::internal {
namespace {

constexpr int32_t kCentre = 16384;
// Taps at offsets +-1, +-3, ..., +-11 from the centre.
constexpr std::array<int32_t, 6> kOdd = {10193, -2826, 1151, -434, 122, -14};
constexpr size_t kHalf = (HalfBandDecimator::kTaps - 1) / 2;  // 11

}  // namespace

void HalfBandDecimator::Process(std::span<const int16_t> in, std::span<int16_t> out) {
  const size_t n = std::min({in.size() & ~size_t{1}, kMaxInput, out.size() * 2});
  // The delay line: the previous kTaps - 1 samples, then this block.
  std::array<int16_t, kTaps - 1 + kMaxInput> x;
  std::copy(history_.begin(), history_.end(), x.begin());
  std::copy_n(in.begin(), n, x.begin() + history_.size());
  for (size_t m = 0; m < n / 2; ++m) {
    const int16_t* centre = &x[2 * m + 1 + kHalf];  // output m aligns with input 2m+1, delayed
    int32_t acc = kCentre * centre[0];
    for (size_t k = 0; k < kOdd.size(); ++k) {
      const size_t d = 2 * k + 1;
      acc += kOdd[k] * (int32_t{*(centre - d)} + int32_t{*(centre + d)});
    }
    out[m] = static_cast<int16_t>(std::clamp<int32_t>((acc + (1 << 14)) >> 15, -32768, 32767));
  }
  std::copy_n(x.begin() + static_cast<ptrdiff_t>(n), history_.size(), history_.begin());
}

}  // namespace anchord::media::tty::internal
