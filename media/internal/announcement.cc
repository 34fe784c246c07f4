// Algorithm: the clip is cut into 20 ms frames (zero-padded) and run through codec::Resampler
// (speexdsp, quality 5) to the other rate; the resampler's fixed delay (input_latency_samples,
// in input samples) is dropped from the front and recovered at the back by flushing silence
// through it, so the converted clip lines up with the original and loses no tail. Then a
// linear fade over kAnnouncementFadeMs at each end.
#include "media/internal/announcement.h"

#include <algorithm>
#include <mutex>

#include "media/codec/codec.h"
#include "media/codec/resampler.h"

namespace anchord::media::internal {
namespace {

std::mutex published_mutex;
std::shared_ptr<const Announcements> published;

Result<std::vector<int16_t>> Convert(std::span<const int16_t> in, int from_hz, int to_hz) {
  if (from_hz == to_hz) return std::vector<int16_t>(in.begin(), in.end());
  auto resampler = codec::Resampler::Create(from_hz, to_hz);
  if (!resampler) return tl::unexpected(resampler.error());
  const size_t in_frame = codec::FrameSamples(from_hz);
  const size_t out_frame = codec::FrameSamples(to_hz);
  const size_t delay_out = static_cast<size_t>((*resampler)->input_latency_samples()) *
                           static_cast<size_t>(to_hz) / static_cast<size_t>(from_hz);
  const size_t want = in.size() * static_cast<size_t>(to_hz) / static_cast<size_t>(from_hz);
  std::vector<int16_t> out;
  out.reserve(want + delay_out + 2 * out_frame);
  std::vector<int16_t> frame_in(in_frame), frame_out(out_frame);
  for (size_t at = 0; out.size() < want + delay_out; at += in_frame) {
    std::fill(frame_in.begin(), frame_in.end(), int16_t{0});
    if (at < in.size()) {
      const size_t n = std::min(in_frame, in.size() - at);
      std::copy_n(in.begin() + static_cast<ptrdiff_t>(at), n, frame_in.begin());
    }
    (*resampler)->Process(frame_in, frame_out);
    out.insert(out.end(), frame_out.begin(), frame_out.end());
  }
  out.erase(out.begin(), out.begin() + static_cast<ptrdiff_t>(delay_out));
  out.resize(want);
  return out;
}

void Fade(std::vector<int16_t>& pcm, int rate_hz) {
  const size_t n =
      std::min(pcm.size() / 2, static_cast<size_t>(rate_hz / 1000 * kAnnouncementFadeMs));
  for (size_t i = 0; i < n; ++i) {
    const int32_t gain = static_cast<int32_t>(i * 32768 / n);  // Q15, 0 .. just under 1
    pcm[i] = static_cast<int16_t>(pcm[i] * gain / 32768);
    int16_t& tail = pcm[pcm.size() - 1 - i];
    tail = static_cast<int16_t>(tail * gain / 32768);
  }
}

}  // namespace

Result<AnnouncementClip> PrepareClip(const core::AudioClip& clip) {
  AnnouncementClip out;
  if (clip.empty()) return out;
  const int rate = static_cast<int>(clip.rate_hz);
  if (rate != 8000 && rate != 16000) {
    return Fail("announcement " + clip.path + ": " + std::to_string(rate) +
                " Hz (8000 or 16000 expected)");
  }
  auto narrow = Convert(*clip.samples, rate, 8000);
  auto wide = Convert(*clip.samples, rate, 16000);
  if (!narrow) return tl::unexpected(narrow.error());
  if (!wide) return tl::unexpected(wide.error());
  out.pcm8k = std::move(*narrow);
  out.pcm16k = std::move(*wide);
  Fade(out.pcm8k, 8000);
  Fade(out.pcm16k, 16000);
  return out;
}

Result<std::shared_ptr<const Announcements>> PrepareAnnouncements(const core::AudioClip& queue,
                                                                  const core::AudioClip& failover) {
  auto set = std::make_shared<Announcements>();
  auto q = PrepareClip(queue);
  if (!q) return tl::unexpected(q.error());
  auto f = PrepareClip(failover);
  if (!f) return tl::unexpected(f.error());
  set->queue = std::move(*q);
  set->failover = std::move(*f);
  return std::shared_ptr<const Announcements>(std::move(set));
}

void PublishAnnouncements(std::shared_ptr<const Announcements> announcements) {
  std::lock_guard lock(published_mutex);
  published = std::move(announcements);
}

std::shared_ptr<const Announcements> PublishedAnnouncements() {
  std::lock_guard lock(published_mutex);
  if (published == nullptr) published = std::make_shared<const Announcements>();
  return published;
}

}  // namespace anchord::media::internal
