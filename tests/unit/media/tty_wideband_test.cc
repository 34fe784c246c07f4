// TTY from wideband callers (issue 4): a G.722 or Opus caller in a 16 kHz bridge is decoded
// too, its decoded 16 kHz audio decimated to 8 kHz by a half-band low-pass. The decimator by
// what it passes and rejects; then Baudot "HELP 911 FIRE" through a real Bridge.
#include "media/tty/internal/half_band_decimator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "audio_test_util.h"
#include "media/codec/codec_factory.h"
#include "media/codec/resampler.h"
#include "media/internal/bridge.h"
#include "media/internal/port_allocator.h"
#include "tty_test_signal.h"

namespace anchord::media {
namespace {

using tty::internal::HalfBandDecimator;

std::vector<int16_t> Sine(double freq, int rate, size_t n, double amplitude = 10000) {
  std::vector<int16_t> x(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * freq * i / rate)));
  }
  return x;
}

// 16 kHz in, 20 ms frames, 8 kHz out.
std::vector<int16_t> Decimate(const std::vector<int16_t>& in) {
  HalfBandDecimator d;
  std::vector<int16_t> out(in.size() / 2);
  for (size_t at = 0; at + 320 <= in.size(); at += 320) {
    d.Process({&in[at], 320}, {&out[at / 2], 160});
  }
  return out;
}

TEST(HalfBandDecimatorTest, PassesTtyTonesAndRejectsWhatWouldFoldOntoThem) {
  for (double freq : {1400.0, 1800.0, 500.0, 2400.0}) {
    auto out = Decimate(Sine(freq, 16000, 16000));
    const std::vector<int16_t> steady(out.begin() + 800, out.end());
    EXPECT_NEAR(testing::ToneLevel(steady, freq), 10000, 30) << freq << " Hz";
  }
  // 6.4 and 6.6 kHz would land on 1.6 and 1.4 kHz after plain 2:1 sample dropping.
  for (double freq : {6400.0, 6600.0, 5600.0}) {
    auto out = Decimate(Sine(freq, 16000, 16000));
    const std::vector<int16_t> steady(out.begin() + 800, out.end());
    const double alias = 8000 - freq;  // where plain sample dropping would put it
    EXPECT_LT(testing::ToneLevel(steady, alias), 10000 * 1e-3) << freq << " Hz: not 60 dB down";
  }
}

TEST(HalfBandDecimatorTest, FramesJoinAsOneStreamAndSilenceStaysSilent) {
  const auto x = Sine(1400, 16000, 3200);
  HalfBandDecimator whole;
  std::vector<int16_t> a(1600);
  for (size_t at = 0; at < 3200; at += 320) whole.Process({&x[at], 320}, {&a[at / 2], 160});
  HalfBandDecimator odd;  // other block sizes: same samples
  std::vector<int16_t> b(1600);
  for (size_t at = 0, len = 2; at < 3200; at += len, len = len % 100 + 2) {
    const size_t n = std::min(len, 3200 - at);
    odd.Process({&x[at], n}, {&b[at / 2], n / 2});
  }
  EXPECT_EQ(a, b);
  std::vector<int16_t> zeros(320, 0), out(160, 1);
  HalfBandDecimator fresh;
  fresh.Process(zeros, out);
  for (int16_t v : out) ASSERT_EQ(v, 0);
}

// --- Through the bridge ---------------------------------------------------------------------

class TextEvents : public internal::BridgeEvents {
 public:
  void LegSilent(CallId, LegId) override {}
  void GapMeasured(CallId, LegId, uint32_t) override {}
  void Dtmf(CallId, LegId, char, uint32_t) override {}
  void TtyText(CallId, LegId leg, const char* text, size_t n) override {
    if (leg == LegId{1}) caller_text.append(text, n);
  }
  std::string caller_text;
};

class TtyWidebandBridgeTest : public ::testing::TestWithParam<Codec> {};

TEST_P(TtyWidebandBridgeTest, HelpFromAWidebandCallerIsDecoded) {
  const Codec codec = GetParam();
  const uint8_t pt = codec == Codec::kG722 ? 9 : 111;
  internal::PortAllocator ports{"127.0.0.1", 46000, 46999};
  internal::WorkerCounters counters;
  TextEvents events;
  internal::Bridge bridge{CallId{1}, mixer::BestKernels(), counters, events};
  testing::UdpPeer caller_phone(0xCA11), position_phone;
  auto caller_pair = ports.Allocate();
  auto position_pair = ports.Allocate();
  ASSERT_TRUE(caller_pair && position_pair);
  auto& caller = bridge.AddLeg(
      LegId{1},
      std::make_unique<internal::RtpLeg>(caller_pair->rtp_fd, caller_pair->rtcp_fd, counters), 1);
  auto& position = bridge.AddLeg(
      LegId{2},
      std::make_unique<internal::RtpLeg>(position_pair->rtp_fd, position_pair->rtcp_fd, counters),
      2);
  ASSERT_TRUE(bridge.SetRemote(caller, {"127.0.0.1", caller_phone.port(), codec, pt, 0}));
  ASSERT_TRUE(bridge.SetRemote(position, {"127.0.0.1", position_phone.port(), Codec::kPcmu, 0}));
  bridge.Connect(caller, 1);
  bridge.Connect(position, 2);
  ASSERT_EQ(bridge.rate_hz(), 16000);

  // The caller's phone: Baudot at 8 kHz, upsampled to 16 kHz, encoded in its wideband codec.
  const auto tty = testing::MakeTty("HELP 911 FIRE", testing::TtyRate::k45, 200, 600);
  auto up = codec::Resampler::Create(8000, 16000);
  auto encoder = codec::CreateEncoder(codec::SpecFor(codec), 16000);
  ASSERT_TRUE(up && encoder);
  uint16_t seq = 1;
  uint32_t ts = 0;
  const uint32_t step = codec == Codec::kOpus ? 960 : 160;
  for (size_t at = 0, t = 1; at + 160 <= tty.size(); at += 160, ++t) {
    int16_t wide[320];
    (*up)->Process({&tty[at], 160}, wide);
    uint8_t payload[codec::kMaxPayloadBytes + 12];
    const size_t n = (*encoder)->Encode(wide, {payload + 12, codec::kMaxPayloadBytes});
    ASSERT_GT(n, 0u);
    payload[0] = 0x80;
    payload[1] = pt;
    payload[2] = static_cast<uint8_t>(seq >> 8);
    payload[3] = static_cast<uint8_t>(seq++);
    for (int i = 0; i < 4; ++i) {
      payload[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
      payload[8 + i] = static_cast<uint8_t>(0xCA11u >> (24 - 8 * i));
    }
    ts += step;
    caller_phone.SendRaw(caller_pair->rtp_port, payload, n + 12);
    bridge.Tick(t, 1, t * 20'000);
    (void)position_phone.Drain();
  }
  for (uint64_t t = 0; t < 20; ++t) bridge.Tick(10'000 + t, 1, (10'000 + t) * 20'000);
  EXPECT_EQ(events.caller_text, "HELP 911 FIRE");
}

INSTANTIATE_TEST_SUITE_P(WidebandCallers, TtyWidebandBridgeTest,
                         ::testing::Values(Codec::kG722, Codec::kOpus));

}  // namespace
}  // namespace anchord::media
