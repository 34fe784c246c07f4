#include "media/tty/internal/tone_gate.h"

#include <cmath>
#include <numbers>

namespace anchord::media::tty::internal {
namespace {

// 2 cos(2 pi k / 40) for k = 7 (1400 Hz) and k = 9 (1800 Hz) at 8 kHz.
const float kCoeffMark = static_cast<float>(2.0 * std::cos(2.0 * std::numbers::pi * 7.0 / 40.0));
const float kCoeffSpace = static_cast<float>(2.0 * std::cos(2.0 * std::numbers::pi * 9.0 / 40.0));

// Energy of a Goertzel bin, scaled by 2/N so that a full-length sine scores sum(x^2).
float BinEnergy(float s1, float s2, float coeff) {
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) * (2.0f / TtyToneGate::kSubBlock);
}

}  // namespace

void TtyToneGate::Process(const int16_t* pcm, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float x = pcm[i];
    const float mark = x + kCoeffMark * s1_mark_ - s2_mark_;
    s2_mark_ = s1_mark_;
    s1_mark_ = mark;
    const float space = x + kCoeffSpace * s1_space_ - s2_space_;
    s2_space_ = s1_space_;
    s1_space_ = space;
    energy_ += x * x;
    if (++fill_ == kSubBlock) CloseSubBlock();
  }
}

size_t TtyToneGate::ProcessFrame(const int16_t* pcm) {
  // One lane per sub-block: the same recurrences as Process, in independent chains the
  // compiler can keep in one vector register each.
  float s1m[kFrameBlocks] = {}, s2m[kFrameBlocks] = {}, s1s[kFrameBlocks] = {},
        s2s[kFrameBlocks] = {}, e[kFrameBlocks] = {};
  for (size_t i = 0; i < kSubBlock; ++i) {
    for (size_t l = 0; l < kFrameBlocks; ++l) {
      const float x = pcm[l * kSubBlock + i];
      const float mark = x + kCoeffMark * s1m[l] - s2m[l];
      s2m[l] = s1m[l];
      s1m[l] = mark;
      const float space = x + kCoeffSpace * s1s[l] - s2s[l];
      s2s[l] = s1s[l];
      s1s[l] = space;
      e[l] += x * x;
    }
  }
  for (size_t l = 0; l < kFrameBlocks; ++l) {
    const bool was = carrier_;
    Close(BinEnergy(s1m[l], s2m[l], kCoeffMark) + BinEnergy(s1s[l], s2s[l], kCoeffSpace), e[l]);
    if (carrier_ != was) return l + 1;
  }
  return kFrameBlocks;
}

void TtyToneGate::CloseSubBlock() {
  Close(BinEnergy(s1_mark_, s2_mark_, kCoeffMark) + BinEnergy(s1_space_, s2_space_, kCoeffSpace),
        energy_);
  s1_mark_ = s2_mark_ = s1_space_ = s2_space_ = energy_ = 0;
  fill_ = 0;
}

void TtyToneGate::Close(float band_energy, float total_energy) {
  band_[next_] = band_energy;
  total_[next_] = total_energy;
  next_ = (next_ + 1) % kWindow;

  // Summed afresh each time (32 adds): a running sum in float would drift over a long call.
  float band = 0, total = 0;
  for (size_t k = 0; k < kWindow; ++k) {
    band += band_[k];
    total += total_[k];
  }
  power_ = total / static_cast<float>(kWindow * kSubBlock);
  // The Goertzel bins can exceed the total by rounding; the ratio is a fraction by contract.
  ratio_ = total > 0 ? std::fmin(band / total, 1.0f) : 0.0f;
  if (carrier_) {
    carrier_ = ratio_ >= kOffRatio && power_ >= kMinPower;
  } else {
    carrier_ = ratio_ > kOnRatio && power_ >= kMinPower;
  }
}

}  // namespace anchord::media::tty::internal
