// Algorithm: spandsp's tone generator (DDS oscillators). Hold: one 440 Hz component at -13 dBm0;
// spandsp tones are cadenced, and a cadence of 1 s on / 0 s off, repeating, is a continuous
// tone whose oscillator phase runs on across the segment boundary (the unit test checks every
// frame for 3 s). Ringback: 440 + 480 Hz, 2 s on, 4 s off, repeating. An announcement is
// copied sample by sample from its prepared clip, then the tone takes over at the next sample.
// At 16 kHz the tone is made 160 samples (8 kHz) at a time and upsampled; what a frame does
// not take waits in pending_, so the resampler never sees a gap.
#include "media/internal/tone_generator.h"

#include <algorithm>
#include <cstdlib>

#include <spandsp.h>

namespace anchord::media::internal {
namespace {

constexpr int kSegmentMs = 1000;

// The tone that follows an announcement (or is the tone itself).
Tone BaseTone(Tone tone) {
  switch (tone) {
    case Tone::kQueueAnnouncement:
    case Tone::kRingback:
      return Tone::kRingback;
    default:
      return Tone::kHold;
  }
}

}  // namespace

ToneGenerator::ToneGenerator(Tone tone, int rate_hz,
                             std::shared_ptr<const Announcements> announcements)
    : tone_(tone), rate_hz_(rate_hz), announcements_(std::move(announcements)) {
  if (rate_hz_ != 8000) {
    auto up = codec::Resampler::Create(8000, rate_hz_);
    if (!up) std::abort();  // only 8000/16000 reach here (the bridge's rates)
    upsampler_ = std::move(*up);
  }
  if (announcements_ != nullptr && tone == Tone::kQueueAnnouncement) {
    clip_ = announcements_->queue.At(rate_hz_);
  } else if (announcements_ != nullptr && tone == Tone::kFailoverAnnouncement) {
    clip_ = announcements_->failover.At(rate_hz_);
  }
  descriptor_ =
      BaseTone(tone) == Tone::kRingback
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

std::unique_ptr<ToneGenerator> ToneGenerator::AtRate(int rate_hz) const {
  auto next = std::make_unique<ToneGenerator>(tone_, rate_hz, announcements_);
  // The same point in time of the clip at the new rate.
  next->clip_pos_ = std::min(
      next->clip_.size(), clip_pos_ * static_cast<size_t>(rate_hz) / static_cast<size_t>(rate_hz_));
  return next;
}

void ToneGenerator::Generate(int16_t* pcm, size_t n) {
  const size_t from_clip = std::min(n, clip_.size() - clip_pos_);
  std::copy_n(clip_.begin() + static_cast<ptrdiff_t>(clip_pos_), from_clip, pcm);
  clip_pos_ += from_clip;
  if (from_clip < n) GenerateTone(pcm + from_clip, n - from_clip);
}

void ToneGenerator::GenerateTone(int16_t* pcm, size_t n) {
  if (upsampler_ == nullptr) {
    Generate8k(pcm, n);
    return;
  }
  const size_t wide = 2 * kChunk;
  while (n > 0) {
    if (pending_at_ == pending_n_) {
      int16_t narrow[kChunk];
      Generate8k(narrow, kChunk);
      if (n >= wide) {  // a whole chunk: straight into the output
        upsampler_->Process({narrow, kChunk}, {pcm, wide});
        pcm += wide;
        n -= wide;
        continue;
      }
      upsampler_->Process({narrow, kChunk}, {pending_, wide});
      pending_at_ = 0;
      pending_n_ = wide;
    }
    const size_t m = std::min(n, pending_n_ - pending_at_);
    std::copy_n(pending_ + pending_at_, m, pcm);
    pending_at_ += m;
    pcm += m;
    n -= m;
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
  while (n > 0) {
    size_t m = std::min(n, std::size(tone));
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
