// ToneGenerator: the tones and announcements the server plays into a leg.
//   hold:     continuous 440 Hz at -13 dBm0, heard while a failed position is replaced. DESIGN
//             (failover gap): no silent cadence while it plays, so the gap a caller hears is
//             bounded by detection time plus one tick. Integration tests detect it by frequency.
//   ringback: 440 + 480 Hz at -19 dBm0 each, 2 s on / 4 s off (North American ringback), the
//             early media of a queued caller.
//   queue / failover announcement: the configured clip (internal/announcement.h) once, then
//             ringback / hold from the very next sample (mid-frame if the clip ends there): no
//             silent frame at the seam, and the clip's fade-out meets the tone's zero phase.
//             Without a configured clip, the tone at once.
//
// Owning thread: the media worker of the leg. Allocates only in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "media/codec/resampler.h"
#include "media/internal/announcement.h"
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
  // Any Tone but kNone, at `rate_hz` (8000, or 16000: tones are generated at 8 kHz and
  // resampled, the resampler's state carrying across frames so the seams stay continuous;
  // clips are played at the rate they were prepared for). `announcements` holds the clips of
  // the announcement tones (kept alive by this generator); null = none configured.
  explicit ToneGenerator(Tone tone, int rate_hz = 8000,
                         std::shared_ptr<const Announcements> announcements = nullptr);
  ~ToneGenerator();
  ToneGenerator(const ToneGenerator&) = delete;
  ToneGenerator& operator=(const ToneGenerator&) = delete;

  // The tone asked for (kQueueAnnouncement stays that, also once the clip has ended).
  Tone tone() const { return tone_; }
  // True while the clip is still playing.
  bool in_announcement() const { return clip_pos_ < clip_.size(); }

  // The same tone at another rate (the bridge changed rate): an announcement continues where
  // it is, the tone restarts its cadence. Control plane (allocates).
  std::unique_ptr<ToneGenerator> AtRate(int rate_hz) const;

  // Adds the next `n` samples of the tone into `pcm`, saturating at 16 bits. The phase carries
  // over between calls, so successive frames join without a click.
  void AddTo(int16_t* pcm, size_t n);
  // Writes the next `n` samples (any n).
  void Generate(int16_t* pcm, size_t n);
  int rate_hz() const { return rate_hz_; }

 private:
  static constexpr size_t kChunk = 160;  // 8 kHz samples generated at a time at 16 kHz

  void GenerateTone(int16_t* pcm, size_t n);
  void Generate8k(int16_t* pcm, size_t n);

  Tone tone_;
  int rate_hz_;
  std::shared_ptr<const Announcements> announcements_;
  std::span<const int16_t> clip_;  // in announcements_, at rate_hz_
  size_t clip_pos_ = 0;
  std::unique_ptr<codec::Resampler> upsampler_;  // 16 kHz only
  // 16 kHz: upsampled samples generated but not yet played (a clip ended mid-chunk).
  int16_t pending_[2 * kChunk];
  size_t pending_at_ = 0, pending_n_ = 0;
  tone_gen_descriptor_s* descriptor_ = nullptr;
  tone_gen_state_s* state_ = nullptr;
};

}  // namespace anchord::media::internal
