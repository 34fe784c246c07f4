// Announcements: the configured WAV clips (queue.announcement, failover.announcement), made
// ready for the media workers once at start: converted to both bridge rates (8 and 16 kHz,
// speexdsp through codec::Resampler, the filter's delay removed and its tail flushed) and
// given a 10 ms fade-in and fade-out, so that the seam into ringback or the hold tone (which
// start at zero phase) has no click whatever the file's first and last samples are.
//
// Sharing: PrepareAnnouncements() runs on the signaling thread (it allocates and resamples);
// the result is immutable and read by any worker through a shared_ptr. MediaService::Create()
// publishes it (PublishAnnouncements); a Bridge takes the published set when it is built. One
// set per process: a second MediaService (tests) replaces it for bridges built afterwards.
//
// Thread: Publish/Published may be called from any thread (a mutex; control plane only, never
// per tick).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace anchord::media::internal {

// One clip at both bridge rates; both empty when none is configured.
struct AnnouncementClip {
  std::vector<int16_t> pcm8k;
  std::vector<int16_t> pcm16k;
  // The clip at the bridge's rate (8000 or 16000).
  std::span<const int16_t> At(int rate_hz) const {
    return rate_hz == 16000 ? std::span<const int16_t>(pcm16k) : std::span<const int16_t>(pcm8k);
  }
  bool empty() const { return pcm8k.empty(); }
};

struct Announcements {
  AnnouncementClip queue;     // before ringback (Tone::kQueueAnnouncement)
  AnnouncementClip failover;  // before the hold tone (Tone::kFailoverAnnouncement)
};

inline constexpr int kAnnouncementFadeMs = 10;

// Converts the configured clips (rate 8000 or 16000, or empty). Fails only on a clip at
// another rate or a resampler that cannot be built.
Result<std::shared_ptr<const Announcements>> PrepareAnnouncements(const core::AudioClip& queue,
                                                                  const core::AudioClip& failover);
// One clip, converted (exposed for tests).
Result<AnnouncementClip> PrepareClip(const core::AudioClip& clip);

void PublishAnnouncements(std::shared_ptr<const Announcements> announcements);
// The published set, or an empty one (never null).
std::shared_ptr<const Announcements> PublishedAnnouncements();

}  // namespace anchord::media::internal
