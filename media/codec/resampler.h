// Resampler: converts one 20 ms frame of 16-bit mono PCM between 8 kHz and 16 kHz, keeping the
// filter state across frames so that consecutive frames join without clicks.
//
// Algorithm: speexdsp's windowed-sinc polyphase resampler (speex_resampler_*, Debian's
// libspeexdsp), quality 5 (its VoIP default: about 80 dB stopband, small CPU cost). The ratio
// is an integer, so each call consumes the whole input frame and produces exactly the output
// frame; the filter delays the signal by a fixed few samples (input_latency_samples()).
//
// Threading: create anywhere (allocates the filter once), then use from one thread at a time.
// Process() does not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/result.h"

struct SpeexResamplerState_;

namespace anchord::media::codec {

class Resampler {
 public:
  static constexpr int kQuality = 5;

  // in_rate_hz, out_rate_hz: 8000 or 16000 (equal rates are allowed and copy).
  static Result<std::unique_ptr<Resampler>> Create(int in_rate_hz, int out_rate_hz);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  int in_rate_hz() const { return in_rate_hz_; }
  int out_rate_hz() const { return out_rate_hz_; }
  // Filter delay, in input samples.
  int input_latency_samples() const;

  // Resamples one 20 ms frame: `in` holds FrameSamples(in_rate_hz()) samples, `out` receives
  // FrameSamples(out_rate_hz()). Returns false (and writes silence for what the filter did not
  // produce) only if speexdsp falls short, which an integer ratio does not do.
  bool Process(std::span<const int16_t> in, std::span<int16_t> out);

  // Forgets the filter history (a new stream starts).
  void Reset();

 private:
  Resampler(SpeexResamplerState_* state, int in_rate_hz, int out_rate_hz)
      : state_(state), in_rate_hz_(in_rate_hz), out_rate_hz_(out_rate_hz) {}

  SpeexResamplerState_* state_;  // owned; null when the rates are equal
  int in_rate_hz_;
  int out_rate_hz_;
};

}  // namespace anchord::media::codec
