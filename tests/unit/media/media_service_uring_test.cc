// MediaService end to end on each receive/send path a worker can take: the io_uring (default),
// and the fallback when the kernel refuses io_uring (forced with the test switch) — both must
// give the same call: each phone hears the other, one continuous stream (invariant 2), the
// other party's bytes unchanged (invariant 3), nothing counted as garbage.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "audio_test_util.h"
#include "media/internal/uring_ring.h"
#include "media/media_service.h"

namespace anchord::media {
namespace {

using testing::DecodeUlaw;
using testing::LoopThread;
using testing::Pacer;
using testing::RtpPacket;
using testing::ToneLevel;
using testing::UdpPeer;
using testing::UlawToneFrame;

constexpr CallId kCall{9};
constexpr LegId kA{1};
constexpr LegId kB{2};

class MediaServiceUringTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { internal::UringRing::ForceUnavailableForTesting(!GetParam()); }
  void TearDown() override {
    if (service_) service_->Stop();
    internal::UringRing::ForceUnavailableForTesting(false);
  }

  LoopThread signaling_;
  std::unique_ptr<MediaService> service_;
};

TEST_P(MediaServiceUringTest, TwoPartiesHearEachOtherOnEitherPath) {
  MediaOptions options;
  options.port_min = 48000;
  options.port_max = 48999;
  options.workers = 1;
  auto created = MediaService::Create(options, signaling_.loop(), nullptr);
  ASSERT_TRUE(created) << created.error().message;
  service_ = std::move(*created);
  ASSERT_TRUE(service_->Start());  // the worker creates (or fails to create) its ring here
  UdpPeer peer_a(0xAAAA);
  UdpPeer peer_b(0xBBBB);
  uint16_t port_a = 0;
  uint16_t port_b = 0;
  signaling_.Call([&] {
    auto a = service_->CreateLeg(kCall, kA);
    auto b = service_->CreateLeg(kCall, kB);
    ASSERT_TRUE(a && b);
    port_a = a->rtp_port;
    port_b = b->rtp_port;
    service_->SetRemote(kA, RemoteMedia{"127.0.0.1", peer_a.port(), Codec::kPcmu, 0});
    service_->SetRemote(kB, RemoteMedia{"127.0.0.1", peer_b.port(), Codec::kPcmu, 0});
    service_->Connect(kA);
    service_->Connect(kB);
  });
  std::set<std::vector<uint8_t>> sent_by_a;
  std::vector<RtpPacket> at_a;
  std::vector<RtpPacket> at_b;
  Pacer pacer;
  for (uint32_t frame = 0; frame < 75; ++frame) {
    auto tone = UlawToneFrame(1000, frame);
    sent_by_a.insert(tone);
    peer_a.SendRtp(port_a, tone);
    peer_b.SendRtp(port_b, UlawToneFrame(600, frame));
    pacer.Wait();
    for (auto& p : peer_a.Drain()) at_a.push_back(std::move(p));
    for (auto& p : peer_b.Drain()) at_b.push_back(std::move(p));
  }
  ASSERT_GE(at_a.size(), 60u);
  ASSERT_GE(at_b.size(), 60u);
  for (const auto* got : {&at_a, &at_b}) {
    for (size_t i = 1; i < got->size(); ++i) {
      EXPECT_EQ((*got)[i].ssrc, (*got)[0].ssrc);
      EXPECT_EQ((*got)[i].seq, static_cast<uint16_t>((*got)[i - 1].seq + 1));
    }
  }
  std::vector<uint8_t> tail_b;
  std::vector<uint8_t> tail_a;
  for (size_t i = at_b.size() - 25; i < at_b.size(); ++i) {
    tail_b.insert(tail_b.end(), at_b[i].payload.begin(), at_b[i].payload.end());
  }
  for (size_t i = at_a.size() - 25; i < at_a.size(); ++i) {
    tail_a.insert(tail_a.end(), at_a[i].payload.begin(), at_a[i].payload.end());
  }
  EXPECT_GT(ToneLevel(DecodeUlaw(tail_b), 1000), 4000.0);
  EXPECT_GT(ToneLevel(DecodeUlaw(tail_a), 600), 4000.0);
  const std::vector<uint8_t> silence(160, 0xFF);
  int matched = 0;
  for (const auto& p : at_b) {
    if (p.payload == silence) continue;
    EXPECT_TRUE(sent_by_a.count(p.payload)) << "B heard bytes A never sent (seq " << p.seq << ")";
    ++matched;
  }
  EXPECT_GE(matched, 55);
  const auto counters = service_->Counters();
  EXPECT_GE(counters.rtp_received, 120u);
  EXPECT_GE(counters.rtp_sent, 120u);
  EXPECT_EQ(counters.rtp_garbage, 0u);
  EXPECT_EQ(counters.send_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Paths, MediaServiceUringTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "IoUring" : "ForcedFallback";
                         });

}  // namespace
}  // namespace anchord::media
