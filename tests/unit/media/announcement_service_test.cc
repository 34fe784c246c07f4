// Announcements through MediaService and its workers: SetAnnouncements() on the signaling
// thread, then a caller's SetTone(kFailoverAnnouncement) plays the clip, then the hold tone,
// on the real 20 ms tick. Heard by a UDP phone (Goertzel).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "audio_test_util.h"
#include "core/clock.h"
#include "media/media_service.h"

namespace anchord::media {
namespace {

using testing::LoopThread;
using testing::ToneLevel;
using testing::UdpPeer;

class NoEvents : public MediaEvents {
 public:
  void OnLegSilent(CallId, LegId) override {}
  void OnGapMeasured(CallId, LegId, uint32_t) override {}
  void OnDtmf(CallId, LegId, char, uint32_t) override {}
  void OnTtyText(CallId, LegId, const std::string&) override {}
};

TEST(AnnouncementServiceTest, FailoverAnnouncementThenHoldToneFromTheWorker) {
  LoopThread signaling;
  NoEvents events;
  MediaOptions options;
  options.port_min = 48500;
  options.port_max = 48999;
  auto service = MediaService::Create(options, signaling.loop(), &events);
  ASSERT_TRUE(service) << service.error().message;
  // 0.5 s of 1 kHz at 8 kHz.
  auto pcm = std::make_shared<std::vector<int16_t>>(4000);
  for (size_t i = 0; i < pcm->size(); ++i) {
    (*pcm)[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 1000 * i / 8000.0));
  }
  ASSERT_TRUE((*service)->SetAnnouncements({}, core::AudioClip{"/f.wav", 8000, pcm}));
  ASSERT_TRUE((*service)->Start());
  UdpPeer phone;
  signaling.Call([&] {
    ASSERT_TRUE((*service)->CreateLeg(CallId{5}, LegId{50}));
    (*service)->SetRemote(LegId{50}, RemoteMedia{"127.0.0.1", phone.port(), Codec::kPcmu, 0});
    (*service)->SetTone(LegId{50}, Tone::kFailoverAnnouncement);
    (*service)->Connect(LegId{50});
  });
  std::vector<int16_t> heard;
  const uint64_t deadline = core::MonotonicUs() + 5'000'000;
  while (heard.size() < 160u * 60 && core::MonotonicUs() < deadline) {
    for (const auto& p : phone.Drain()) {
      auto frame = testing::DecodeUlaw(p.payload);
      heard.insert(heard.end(), frame.begin(), frame.end());
    }
    usleep(5000);  // polling interval only; the deadline bounds the wait
  }
  (*service)->Stop();
  ASSERT_GE(heard.size(), 160u * 60);
  const std::vector<int16_t> first(heard.begin() + 160 * 2, heard.begin() + 160 * 22);
  const std::vector<int16_t> later(heard.begin() + 160 * 30, heard.begin() + 160 * 60);
  EXPECT_GT(ToneLevel(first, 1000), 5000) << "the clip first";
  EXPECT_LT(ToneLevel(first, 440), 200);
  EXPECT_GT(ToneLevel(later, 440), 3000) << "then the hold tone";
  EXPECT_LT(ToneLevel(later, 1000), 200);
}

}  // namespace
}  // namespace anchord::media
