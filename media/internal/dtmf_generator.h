// DtmfGenerator: in-band DTMF toward a leg that did not negotiate telephone-event. While a
// caller's RFC 4733 event lasts, such a leg hears the digit's dual tone instead of its mix
// (RFC 4733 section 2.6: a gateway regenerates the tones for a path without events).
//
// Tones (ITU-T Q.23): low group 697/770/852/941 Hz, high group 1209/1336/1477/1633 Hz, each at
// -10 dBm0 (Q.24 asks for -10 +- a few dB per tone at the sender), no cadence: the tone plays
// from Start() until Stop(), but at least kMinTicks so that a receiver's 40 ms minimum
// (Q.24) is met even for a very short event.
//
// Owning thread: the media worker of the leg. The constructor allocates (spandsp state,
// resampler); Start(), Stop(), Generate() do not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/ids.h"
#include "media/codec/resampler.h"

struct tone_gen_state_s;

namespace anchord::media::internal {

inline constexpr int kDtmfToneDbm0 = -10;

class DtmfGenerator {
 public:
  static constexpr uint32_t kMinTicks = 3;  // 60 ms

  // `rate_hz`: 8000 or 16000 (generated at 8 kHz and upsampled, filter state kept).
  explicit DtmfGenerator(int rate_hz);
  ~DtmfGenerator();
  DtmfGenerator(const DtmfGenerator&) = delete;
  DtmfGenerator& operator=(const DtmfGenerator&) = delete;

  // Starts `digit` ('0'-'9', '*', '#', 'A'-'D') from `source`; any other char is ignored.
  // Replaces a digit in progress.
  void Start(char digit, LegId source);
  // The source's event ended: the tone stops once it has played kMinTicks frames.
  void Stop();
  bool active() const { return active_; }
  LegId source() const { return source_; }
  char digit() const { return digit_; }

  // Writes one 20 ms frame (FrameSamples(rate_hz) samples) of the tone; call only while
  // active(). Counts the frame toward kMinTicks and ends the tone when it is due.
  void Generate(int16_t* pcm, size_t n);

 private:
  int rate_hz_;
  std::unique_ptr<codec::Resampler> upsampler_;  // 16 kHz only
  tone_gen_state_s* state_ = nullptr;
  bool active_ = false;
  bool stopping_ = false;
  uint32_t ticks_ = 0;
  char digit_ = 0;
  LegId source_{};
};

}  // namespace anchord::media::internal
