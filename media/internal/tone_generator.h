// ToneGenerator: the tones the server plays into a leg.
//   hold:     continuous 440 Hz at -13 dBm0, heard while a failed position is replaced. DESIGN
//             (failover gap): no silent cadence while it plays, so the gap a caller hears is
//             bounded by detection time plus one tick. Integration tests detect it by frequency.
//   ringback: 440 + 480 Hz at -19 dBm0 each, 2 s on / 4 s off (North American ringback), the
//             early media of a queued caller.
//
// Owning thread: the media worker of the leg. Allocates only in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "media/codec/resampler.h"
#include "media/media_plane.h"

struct tone_gen_descriptor_s;
struct tone_gen_state_s;

namespace anchord::media::internal {

inline constexpr int kHoldToneHz = 440;
inline constexpr int kHoldToneDbm0 = -13;
inline constexpr int kRingbackLowHz = 440;
inline constexpr int kRingbackHighHz = 480;
inline constexpr int kRingbackDbm0 = -19;

class ToneGenerator {
 public:
  // kHold or kRingback, at `rate_hz` (8000, or 16000: generated at 8 kHz and resampled, the
  // resampler's state carrying across frames so the seams stay continuous).
  explicit ToneGenerator(Tone tone, int rate_hz = 8000);
  ~ToneGenerator();
  ToneGenerator(const ToneGenerator&) = delete;
  ToneGenerator& operator=(const ToneGenerator&) = delete;

  Tone tone() const { return tone_; }

  // Adds the next `n` samples of the tone into `pcm`, saturating at 16 bits. The phase carries
  // over between calls, so successive frames join without a click.
  void AddTo(int16_t* pcm, size_t n);
  // Writes the next `n` samples (for tests). At 16 kHz `n` is a multiple of 320.
  void Generate(int16_t* pcm, size_t n);
  int rate_hz() const { return rate_hz_; }

 private:
  void Generate8k(int16_t* pcm, size_t n);

  Tone tone_;
  int rate_hz_;
  std::unique_ptr<codec::Resampler> upsampler_;  // 16 kHz only
  tone_gen_descriptor_s* descriptor_ = nullptr;
  tone_gen_state_s* state_ = nullptr;
};

}  // namespace anchord::media::internal
