// In-band DTMF (issue 4; RFC 4733 2.6): a caller's RFC 4733 digit reaches a leg that did not
// negotiate telephone-event as the digit's dual tone in its audio, for the event's duration,
// then the normal audio again; a leg with telephone-event still gets the events. Checked by
// what is heard: spandsp's DTMF receiver over the listener's decoded stream must find exactly
// the digit sent. Real Bridge, real sockets on 127.0.0.1, ticked by hand.
#include <gtest/gtest.h>

#include <spandsp.h>

#include <string>
#include <vector>

#include "audio_test_util.h"
#include "media/codec/codec_factory.h"
#include "media/internal/bridge.h"
#include "media/internal/dtmf_generator.h"
#include "media/internal/port_allocator.h"

namespace anchord::media::internal {
namespace {

using testing::UdpPeer;

constexpr uint8_t kTePt = 101;

class DtmfEvents : public BridgeEvents {
 public:
  void LegSilent(CallId, LegId) override {}
  void GapMeasured(CallId, LegId, uint32_t) override {}
  void Dtmf(CallId, LegId, char digit, uint32_t) override { digits += digit; }
  void TtyText(CallId, LegId, const char*, size_t) override {}
  std::string digits;
};

// spandsp's receiver (Q.24 limits) over 8 kHz audio.
std::string DetectDigits(const std::vector<int16_t>& pcm) {
  dtmf_rx_state_t* rx = dtmf_rx_init(nullptr, nullptr, nullptr);
  std::vector<int16_t> copy = pcm;
  for (size_t at = 0; at + 160 <= copy.size(); at += 160) dtmf_rx(rx, &copy[at], 160);
  char digits[32] = {};
  const int n = dtmf_rx_get(rx, digits, sizeof digits - 1);
  dtmf_rx_free(rx);
  return std::string(digits, static_cast<size_t>(std::max(n, 0)));
}

TEST(DtmfGeneratorTest, EveryDigitIsDetectedAtBothRates) {
  for (int rate : {8000, 16000}) {
    for (char digit : std::string("0123456789*#ABCD")) {
      DtmfGenerator gen(rate);
      gen.Start(digit, LegId{1});
      std::vector<int16_t> pcm(160 * 20);
      std::vector<int16_t> frame(codec::FrameSamples(rate));
      for (size_t f = 0; f < 5; ++f) {  // 100 ms of tone, then silence
        gen.Generate(frame.data(), frame.size());
        for (size_t i = 0; i < 160; ++i) pcm[f * 160 + i] = frame[i * frame.size() / 160];
      }
      EXPECT_EQ(DetectDigits(pcm), std::string(1, digit)) << digit << " at " << rate;
    }
  }
}

TEST(DtmfGeneratorTest, AShortEventStillPlaysTheMinimumDuration) {
  DtmfGenerator gen(8000);
  gen.Start('7', LegId{1});
  gen.Stop();  // the event ended at once
  int frames = 0;
  int16_t pcm[160];
  while (gen.active() && frames < 100) {
    gen.Generate(pcm, 160);
    ++frames;
  }
  EXPECT_EQ(frames, static_cast<int>(DtmfGenerator::kMinTicks));
  gen.Start('x', LegId{1});  // not a digit: ignored
  EXPECT_FALSE(gen.active());
}

class DtmfBridgeTest : public ::testing::TestWithParam<Codec> {
 protected:
  LegState& Add(LegId id, UdpPeer& peer, Codec codec, uint8_t te_pt) {
    auto pair = ports_.Allocate();
    EXPECT_TRUE(pair) << pair.error().message;
    port_ = pair->rtp_port;
    LegState& leg =
        bridge_.AddLeg(id, std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_), 1000);
    const uint8_t pt = codec == Codec::kG722 ? 9 : 0;
    EXPECT_TRUE(bridge_.SetRemote(leg, RemoteMedia{"127.0.0.1", peer.port(), codec, pt, te_pt}));
    bridge_.Connect(leg, id.value);
    return leg;
  }
  void SendPacket(UdpPeer& from, uint16_t to, uint8_t pt, bool marker, uint32_t ts,
                  const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> p(12 + payload.size());
    p[0] = 0x80;
    p[1] = static_cast<uint8_t>(pt | (marker ? 0x80 : 0));
    p[2] = static_cast<uint8_t>(seq_ >> 8);
    p[3] = static_cast<uint8_t>(seq_++);
    for (int i = 0; i < 4; ++i) {
      p[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
      p[8 + i] = static_cast<uint8_t>(0x5EED >> (24 - 8 * i));
    }
    std::copy(payload.begin(), payload.end(), p.begin() + 12);
    from.SendRaw(to, p.data(), p.size());
  }

  PortAllocator ports_{"127.0.0.1", 45000, 45999};
  WorkerCounters counters_;
  DtmfEvents events_;
  Bridge bridge_{CallId{1}, mixer::BestKernels(), counters_, events_};
  uint16_t seq_ = 100;
  uint16_t port_ = 0;  // the last added leg's RTP port
};

// The caller sends 1 kHz audio all along and digit '5' as RFC 4733 for 200 ms in the middle.
TEST_P(DtmfBridgeTest, ListenerWithoutTelephoneEventHearsTheDigit) {
  const Codec codec = GetParam();
  UdpPeer caller_phone, plain_phone, te_phone;
  Add(LegId{1}, caller_phone, Codec::kPcmu, kTePt);
  const uint16_t to = port_;
  Add(LegId{2}, plain_phone, codec, 0);
  Add(LegId{3}, te_phone, Codec::kPcmu, kTePt);
  auto decoder = codec::CreateDecoder(codec::SpecFor(codec), 8000);  // 8 kHz for dtmf_rx
  ASSERT_TRUE(decoder);
  std::vector<int16_t> heard;
  std::vector<bool> is_event_tick;
  size_t te_packets = 0;
  const uint32_t event_ts = 160 * 30;
  for (uint32_t t = 0; t < 80; ++t) {
    SendPacket(caller_phone, to, 0, false, t * 160, testing::UlawToneFrame(1000, t));
    if (t >= 30 && t < 43) {  // 10 packets, then the end packet 3 times
      const bool end = t >= 40;
      const uint16_t duration = static_cast<uint16_t>(160 * (std::min(t, 39u) - 29));
      SendPacket(caller_phone, to, kTePt, t == 30, event_ts,
                 {5, static_cast<uint8_t>(end ? 0x80 | 10 : 10),
                  static_cast<uint8_t>(duration >> 8), static_cast<uint8_t>(duration)});
    }
    bridge_.Tick(t + 1, 1, (t + 1) * 20'000);
    for (const auto& p : plain_phone.Drain()) {
      ASSERT_EQ(p.pt, codec == Codec::kG722 ? 9 : 0) << "no telephone-event to this leg";
      int16_t pcm[160];
      ASSERT_TRUE((*decoder)->Decode(p.payload, {pcm, 160}));
      heard.insert(heard.end(), pcm, pcm + 160);
    }
    for (const auto& p : te_phone.Drain()) te_packets += p.pt == kTePt;
  }
  ASSERT_GE(heard.size(), 160u * 70);
  EXPECT_EQ(DetectDigits(heard), "5");
  EXPECT_EQ(events_.digits, "5");
  EXPECT_GE(te_packets, 10u) << "a leg with telephone-event still gets the events";
  // Before and after the digit: the caller's 1 kHz audio, not the digit's tones.
  const std::vector<int16_t> before(heard.begin() + 160 * 10, heard.begin() + 160 * 25);
  const std::vector<int16_t> after(heard.end() - 160 * 15, heard.end());
  for (const auto* part : {&before, &after}) {
    EXPECT_GT(testing::ToneLevel(*part, 1000), 3000);
    EXPECT_LT(testing::ToneLevel(*part, 770), 100);  // '5' = 770 + 1336 Hz
    EXPECT_LT(testing::ToneLevel(*part, 1336), 100);
  }
}

INSTANTIATE_TEST_SUITE_P(ListenerCodecs, DtmfBridgeTest,
                         ::testing::Values(Codec::kPcmu, Codec::kG722));

}  // namespace
}  // namespace anchord::media::internal
