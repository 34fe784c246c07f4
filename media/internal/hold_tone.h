// HoldTone: the continuous 440 Hz tone a leg hears while its party is being replaced.
//
// DESIGN (failover gap): the hold tone has no silent cadence while it plays, so the gap a caller
// hears is bounded by detection time plus one tick. Integration tests detect it by frequency.
//
// Owning thread: the media worker of the leg. Allocates only in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>

struct tone_gen_descriptor_s;
struct tone_gen_state_s;

namespace anchord::media::internal {

inline constexpr int kHoldToneHz = 440;
inline constexpr int kHoldToneDbm0 = -13;

class HoldTone {
 public:
  HoldTone();
  ~HoldTone();
  HoldTone(const HoldTone&) = delete;
  HoldTone& operator=(const HoldTone&) = delete;

  // Adds the next `n` samples of the tone into `pcm`, saturating at 16 bits. The phase carries
  // over between calls, so successive frames join without a click.
  void AddTo(int16_t* pcm, size_t n);
  // Writes the next `n` samples (for tests).
  void Generate(int16_t* pcm, size_t n);

 private:
  tone_gen_descriptor_s* descriptor_ = nullptr;
  tone_gen_state_s* state_ = nullptr;
};

}  // namespace anchord::media::internal
