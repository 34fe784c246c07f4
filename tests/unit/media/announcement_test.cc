// Announcements (issue 4 "Tones and announcements"): a configured clip played once, then
// ringback / hold with no gap and no click at the seam, at 8 and 16 kHz; checked by what is
// heard (Goertzel per frame, a sliding 20 ms loudness window across the seam), first on the
// generator, then through a real Bridge (PCMU and G.722 legs on 127.0.0.1).
#include "media/internal/announcement.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "audio_test_util.h"
#include "media/codec/codec_factory.h"
#include "media/internal/bridge.h"
#include "media/internal/port_allocator.h"
#include "media/internal/tone_generator.h"

namespace anchord::media::internal {
namespace {

using testing::UdpPeer;

constexpr double kClipHz = 1000;

// A 1 kHz sine of `samples` samples at `rate` with a full-scale-ish last sample (the fade must
// take care of it).
core::AudioClip SineClip(uint32_t rate, size_t samples) {
  auto pcm = std::make_shared<std::vector<int16_t>>(samples);
  for (size_t i = 0; i < samples; ++i) {
    (*pcm)[i] = static_cast<int16_t>(8000 * std::cos(2 * M_PI * kClipHz * i / rate));
  }
  return core::AudioClip{"/test.wav", rate, pcm};
}

double Level(const int16_t* x, size_t n, double freq, int rate) {
  const double coeff = 2 * std::cos(2 * M_PI * freq / rate);
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 2 * std::sqrt(std::max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)) / static_cast<double>(n);
}

// The quietest 20 ms window (RMS) starting anywhere in [from, to).
double QuietestWindow(const std::vector<int16_t>& x, size_t from, size_t to, int rate) {
  const size_t w = static_cast<size_t>(rate / 50);
  double quietest = 1e9;
  for (size_t s = from; s < to && s + w <= x.size(); ++s) {
    double sum = 0;
    for (size_t i = s; i < s + w; ++i) sum += static_cast<double>(x[i]) * x[i];
    quietest = std::min(quietest, std::sqrt(sum / static_cast<double>(w)));
  }
  return quietest;
}

std::shared_ptr<const Announcements> Prepared(const core::AudioClip& queue,
                                              const core::AudioClip& failover = {}) {
  auto set = PrepareAnnouncements(queue, failover);
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : nullptr;
}

TEST(AnnouncementTest, ClipIsPreparedAtBothRatesAlignedAndFaded) {
  auto set = Prepared(SineClip(8000, 4100));
  const AnnouncementClip& clip = set->queue;
  ASSERT_EQ(clip.pcm8k.size(), 4100u);
  ASSERT_EQ(clip.pcm16k.size(), 8200u);
  EXPECT_EQ(clip.pcm8k.front(), 0);  // faded in from silence
  EXPECT_LT(std::abs(clip.pcm8k.back()), 100);
  EXPECT_LT(std::abs(clip.pcm16k.back()), 100);
  // The 16 kHz version is the same tone at the same time: the middle 20 ms frames match.
  for (size_t f = 5; f < 20; ++f) {
    const double narrow = Level(&clip.pcm8k[f * 160], 160, kClipHz, 8000);
    const double wide = Level(&clip.pcm16k[f * 320], 320, kClipHz, 16000);
    EXPECT_NEAR(wide, narrow, narrow * 0.05) << "frame " << f;
    EXPECT_NEAR(clip.pcm16k[f * 320 + 40], clip.pcm8k[f * 160 + 20], 400) << "aligned " << f;
  }
  EXPECT_TRUE(Prepared({})->queue.empty());
}

TEST(AnnouncementTest, SixteenKilohertzClipIsPreparedForNarrowbandBridges) {
  auto set = Prepared(SineClip(16000, 8000));
  ASSERT_EQ(set->queue.pcm8k.size(), 4000u);
  EXPECT_GT(Level(&set->queue.pcm8k[1600], 1600, kClipHz, 8000), 7000);
}

// The generator: clip, then ringback from the next sample. A clip of 4100 samples ends
// mid-frame, so the seam is inside a frame; no 20 ms window across it is quiet, and no
// sample step there is larger than the tones' own.
void ExpectSeamlessQueueAnnouncement(int rate) {
  const size_t scale = static_cast<size_t>(rate / 8000);
  ToneGenerator gen(Tone::kQueueAnnouncement, rate, Prepared(SineClip(8000, 4100)));
  std::vector<int16_t> out(scale * 160 * 100);  // 2 s
  for (size_t at = 0; at < out.size(); at += scale * 160) gen.Generate(&out[at], scale * 160);
  const size_t seam = 4100 * scale;
  EXPECT_GT(Level(&out[scale * 800], scale * 1600, kClipHz, rate), 6000) << "clip first";
  EXPECT_LT(Level(&out[scale * 800], scale * 1600, 440, rate), 100);
  EXPECT_GT(Level(&out[seam + scale * 160], scale * 1600, 440, rate), 1000) << "then ringback";
  EXPECT_GT(Level(&out[seam + scale * 160], scale * 1600, 480, rate), 1000);
  EXPECT_LT(Level(&out[seam + scale * 160], scale * 1600, kClipHz, rate), 100);
  EXPECT_GT(QuietestWindow(out, seam - scale * 480, seam + scale * 480, rate), 500)
      << "a 20 ms window at the seam is (nearly) silent";
  int steady = 0, at_seam = 0;  // largest sample step: in ringback, and across the seam
  for (size_t i = seam + 40 * scale; i < seam + 1000 * scale; ++i) {
    steady = std::max(steady, std::abs(out[i] - out[i - 1]));
  }
  for (size_t i = seam - 8 * scale; i < seam + 8 * scale; ++i) {
    at_seam = std::max(at_seam, std::abs(out[i] - out[i - 1]));
  }
  EXPECT_LE(at_seam, steady) << "a click at the seam";
  EXPECT_FALSE(gen.in_announcement());
  EXPECT_EQ(gen.tone(), Tone::kQueueAnnouncement);
}

TEST(AnnouncementTest, QueueAnnouncementThenRingbackWithoutGapAt8k) {
  ExpectSeamlessQueueAnnouncement(8000);
}
TEST(AnnouncementTest, QueueAnnouncementThenRingbackWithoutGapAt16k) {
  ExpectSeamlessQueueAnnouncement(16000);
}

TEST(AnnouncementTest, WithoutAClipTheToneStartsAtOnce) {
  ToneGenerator gen(Tone::kFailoverAnnouncement, 8000, Prepared({}));
  std::vector<int16_t> out(160);
  gen.Generate(out.data(), out.size());
  EXPECT_GT(Level(out.data(), 160, 440, 8000), 3000);  // the hold tone, first frame
  ToneGenerator no_set(Tone::kQueueAnnouncement);
  no_set.Generate(out.data(), out.size());
  EXPECT_GT(Level(out.data(), 160, 480, 8000), 1000);  // ringback
}

TEST(AnnouncementTest, RateChangeContinuesTheClipWhereItWas) {
  auto set = Prepared(core::AudioClip{}, SineClip(8000, 8000));
  ToneGenerator gen(Tone::kFailoverAnnouncement, 8000, set);
  std::vector<int16_t> out(320 * 40);
  gen.Generate(out.data(), 160 * 30);  // 0.6 s of the 1 s clip
  auto wide = gen.AtRate(16000);
  wide->Generate(out.data(), 320 * 40);  // 0.4 s of clip, then 0.4 s of hold
  EXPECT_GT(Level(&out[320], 320 * 8, kClipHz, 16000), 6000);
  EXPECT_GT(Level(&out[320 * 22], 320 * 16, kHoldToneHz, 16000), 3000);
  EXPECT_LT(Level(&out[320 * 22], 320 * 16, kClipHz, 16000), 100);
}

// --- Through the bridge: what a caller's phone receives ------------------------------------

class NullEvents : public BridgeEvents {
 public:
  void LegSilent(CallId, LegId) override {}
  void GapMeasured(CallId, LegId, uint32_t) override {}
  void Dtmf(CallId, LegId, char, uint32_t) override {}
  void TtyText(CallId, LegId, const char*, size_t) override {}
};

class AnnouncementBridgeTest : public ::testing::TestWithParam<Codec> {
 protected:
  LegState& Add(LegId id, UdpPeer& peer, Codec codec) {
    auto pair = ports_.Allocate();
    EXPECT_TRUE(pair) << pair.error().message;
    LegState& leg =
        bridge_.AddLeg(id, std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_), 1000);
    const uint8_t pt = codec == Codec::kG722 ? 9 : 0;
    EXPECT_TRUE(bridge_.SetRemote(leg, RemoteMedia{"127.0.0.1", peer.port(), codec, pt}));
    bridge_.Connect(leg, id.value);
    return leg;
  }
  // Ticks `n` times and returns what `peer` heard, decoded at the codec's own rate.
  std::vector<int16_t> Hear(UdpPeer& peer, Codec codec, int n) {
    auto decoder =
        codec::CreateDecoder(codec::SpecFor(codec), codec == Codec::kG722 ? 16000 : 8000);
    std::vector<int16_t> heard;
    for (int i = 0; i < n; ++i) {
      ++tick_;
      bridge_.Tick(tick_, 1, tick_ * 20'000);
      for (const auto& p : peer.Drain()) {
        int16_t pcm[codec::kMaxFrameSamples];
        const size_t samples = codec == Codec::kG722 ? 320 : 160;
        EXPECT_TRUE((*decoder)->Decode(p.payload, {pcm, samples}));
        heard.insert(heard.end(), pcm, pcm + samples);
      }
    }
    return heard;
  }

  PortAllocator ports_{"127.0.0.1", 48000, 48499};
  WorkerCounters counters_;
  NullEvents events_;
  Bridge bridge_{CallId{1}, mixer::BestKernels(), counters_, events_,
                 Prepared(SineClip(8000, 4100), SineClip(16000, 6000))};
  uint64_t tick_ = 0;
};

TEST_P(AnnouncementBridgeTest, CallerHearsTheClipThenRingbackWithNoSilentWindow) {
  const Codec codec = GetParam();
  const int rate = codec == Codec::kG722 ? 16000 : 8000;
  const size_t scale = static_cast<size_t>(rate / 8000);
  UdpPeer phone;
  LegState& caller = Add(LegId{1}, phone, codec);
  bridge_.SetTone(caller, Tone::kQueueAnnouncement);
  std::vector<int16_t> heard = Hear(phone, codec, 100);
  ASSERT_EQ(heard.size(), 100 * 160 * scale) << "one packet per tick";
  const size_t seam = 4100 * scale;
  EXPECT_GT(Level(&heard[scale * 800], scale * 1600, kClipHz, rate), 5000);
  EXPECT_GT(Level(&heard[seam + scale * 400], scale * 1600, 440, rate), 1000);
  EXPECT_GT(Level(&heard[seam + scale * 400], scale * 1600, 480, rate), 1000);
  // G.722's codec delay shifts the seam by 22 samples; the window search covers it.
  EXPECT_GT(QuietestWindow(heard, seam - scale * 480, seam + scale * 480, rate), 500);
}

TEST_P(AnnouncementBridgeTest, AFailoverAnnouncementEndsAtOnceWhenToneIsCleared) {
  const Codec codec = GetParam();
  const int rate = codec == Codec::kG722 ? 16000 : 8000;
  UdpPeer phone;
  LegState& caller = Add(LegId{1}, phone, codec);
  bridge_.SetTone(caller, Tone::kFailoverAnnouncement);
  std::vector<int16_t> heard = Hear(phone, codec, 10);
  EXPECT_GT(Level(&heard[heard.size() / 2], heard.size() / 4, kClipHz, rate), 5000);
  bridge_.SetTone(caller, Tone::kFailoverAnnouncement);  // the same again: not restarted
  EXPECT_TRUE(caller.tone->in_announcement());
  bridge_.SetTone(caller, Tone::kNone);  // a position connected: the controller clears it
  heard = Hear(phone, codec, 3);
  // From the next tick on (G.722's decoder delays its output by 22 samples: skip that frame).
  for (size_t i = heard.size() / 3; i < heard.size(); ++i) {
    ASSERT_LT(std::abs(heard[i]), 50) << "still playing after kNone, sample " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, AnnouncementBridgeTest,
                         ::testing::Values(Codec::kPcmu, Codec::kG722));

}  // namespace
}  // namespace anchord::media::internal
