// Algorithm: spandsp's tone generator (DDS oscillators). Hold: one 440 Hz component at -13 dBm0;
// spandsp tones are cadenced, and a cadence of 1 s on / 0 s off, repeating, is a continuous
// tone whose oscillator phase runs on across the segment boundary (the unit test checks every
// frame for 3 s). Ringback: 440 + 480 Hz, 2 s on, 4 s off, repeating.
#include "media/internal/tone_generator.h"

#include <algorithm>
#include <cstdlib>

#include <spandsp.h>

namespace anchord::media::internal {
namespace {
constexpr int kSegmentMs = 1000;
constexpr size_t kChunk = 160;
}  // namespace

ToneGenerator::ToneGenerator(Tone tone, int rate_hz) : tone_(tone), rate_hz_(rate_hz) {
  if (rate_hz_ != 8000) {
    auto up = codec::Resampler::Create(8000, rate_hz_);
    if (!up) std::abort();  // only 8000/16000 reach here (the bridge's rates)
    upsampler_ = std::move(*up);
  }
  descriptor_ =
      tone == Tone::kRingback
          ? tone_gen_descriptor_init(nullptr, kRingbackLowHz, kRingbackDbm0, kRingbackHighHz,
                                     kRingbackDbm0, 2000, 4000, 0, 0, true)
          : tone_gen_descriptor_init(nullptr, kHoldToneHz, kHoldToneDbm0, 0, 0, kSegmentMs, 0, 0, 0,
                                     true);
  if (descriptor_ == nullptr) std::abort();  // allocation failure only
  state_ = tone_gen_init(nullptr, descriptor_);
  if (state_ == nullptr) std::abort();
}

ToneGenerator::~ToneGenerator() {
  tone_gen_free(state_);
  tone_gen_descriptor_free(descriptor_);
}

void ToneGenerator::Generate(int16_t* pcm, size_t n) {
  if (upsampler_ == nullptr) {
    Generate8k(pcm, n);
    return;
  }
  int16_t narrow[kChunk];
  const size_t wide = kChunk * static_cast<size_t>(rate_hz_ / 8000);
  for (size_t done = 0; done + wide <= n; done += wide) {
    Generate8k(narrow, kChunk);
    upsampler_->Process({narrow, kChunk}, {pcm + done, wide});
  }
}

void ToneGenerator::Generate8k(int16_t* pcm, size_t n) {
  size_t done = 0;
  // tone_gen() stops early at a segment boundary; loop until the frame is full.
  while (done < n) {
    int got = tone_gen(state_, pcm + done, static_cast<int>(n - done));
    if (got <= 0) {
      std::fill(pcm + done, pcm + n, int16_t{0});
      return;
    }
    done += static_cast<size_t>(got);
  }
}

void ToneGenerator::AddTo(int16_t* pcm, size_t n) {
  int16_t tone[2 * kChunk];
  const size_t chunk = upsampler_ == nullptr ? kChunk : 2 * kChunk;
  while (n > 0) {
    size_t m = std::min(n, chunk);
    Generate(tone, m);
    for (size_t i = 0; i < m; ++i) {
      int32_t s = int32_t{pcm[i]} + tone[i];
      pcm[i] = static_cast<int16_t>(std::clamp<int32_t>(s, INT16_MIN, INT16_MAX));
    }
    pcm += m;
    n -= m;
  }
}

}  // namespace anchord::media::internal
