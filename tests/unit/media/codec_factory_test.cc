#include "media/codec/codec_factory.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::ToneRoundTrip;

TEST(CodecFactoryTest, ParsesRtpmapEncodings) {
  auto pcmu = ParseRtpmap("PCMU/8000");
  ASSERT_TRUE(pcmu);
  EXPECT_EQ(pcmu->id, CodecId::kPcmu);
  EXPECT_EQ(pcmu->rtp_clock_hz, 8000);
  EXPECT_EQ(ParseRtpmap("pcma/8000")->id, CodecId::kPcma);
  EXPECT_EQ(ParseRtpmap("G722/8000")->id, CodecId::kG722);
  auto opus = ParseRtpmap("opus/48000/2");
  ASSERT_TRUE(opus);
  EXPECT_EQ(opus->id, CodecId::kOpus);
  EXPECT_EQ(opus->rtp_clock_hz, 48000);
  EXPECT_EQ(opus->channels, 2);
  EXPECT_TRUE(ParseRtpmap("OPUS/48000"));
  EXPECT_TRUE(ParseRtpmap("PCMU/8000/1"));
}

TEST(CodecFactoryTest, RejectsOtherEncodings) {
  for (const char* bad : {"", "PCMU", "PCMU/", "PCMU/16000", "PCMU/8000/2", "G722/16000",
                          "opus/16000", "opus/48000/3", "opus/48000/2/1", "G729/8000", "PCMU/8000x",
                          "telephone-event/8000", "PCMU/-8000"}) {
    auto r = ParseRtpmap(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

TEST(CodecFactoryTest, StaticPayloadTypesAndTimestamps) {
  EXPECT_EQ(StaticPayloadType(0)->id, CodecId::kPcmu);
  EXPECT_EQ(StaticPayloadType(8)->id, CodecId::kPcma);
  EXPECT_EQ(StaticPayloadType(9)->id, CodecId::kG722);
  EXPECT_FALSE(StaticPayloadType(18));
  EXPECT_FALSE(StaticPayloadType(111));
  EXPECT_EQ(RtpTimestampStep(CodecId::kPcmu), 160u);
  EXPECT_EQ(RtpTimestampStep(CodecId::kG722), 160u);  // RFC 3551: 8000 Hz clock, 16 kHz audio
  EXPECT_EQ(RtpTimestampStep(CodecId::kOpus), 960u);
  for (CodecId id : {CodecId::kPcmu, CodecId::kPcma, CodecId::kG722, CodecId::kOpus}) {
    EXPECT_EQ(ParseRtpmap(RtpmapEncoding(id))->id, id);
  }
  EXPECT_FALSE(IsWideband(CodecId::kPcmu));
  EXPECT_TRUE(IsWideband(CodecId::kG722));
  EXPECT_TRUE(IsWideband(CodecId::kOpus));
}

TEST(CodecFactoryTest, ProductsRunAtTheBridgeRate) {
  for (const char* enc : {"PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2"}) {
    for (int rate : {8000, 16000}) {
      auto d = CreateDecoder(*ParseRtpmap(enc), rate);
      auto e = CreateEncoder(*ParseRtpmap(enc), rate);
      ASSERT_TRUE(d && e) << enc;
      EXPECT_EQ((*d)->sample_rate_hz(), rate) << enc;
      EXPECT_EQ((*e)->sample_rate_hz(), rate) << enc;
      EXPECT_EQ((*d)->frame_samples(), static_cast<size_t>(rate / 50));
    }
  }
  EXPECT_FALSE(CreateDecoder(*ParseRtpmap("PCMU/8000"), 48000));
  EXPECT_FALSE(CreateEncoder(*ParseRtpmap("PCMU/8000"), 11025));
}

struct RoundTripCase {
  const char* encoding;
  int bridge_rate_hz;
  double freq;
  double min_snr_db;  // the threshold each case must meet
};

class CodecRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

// Each codec carries a -10 dBFS tone at each bridge rate: the tone is heard at its level (within
// 20 %) and what the codec adds stays below the stated SNR. Measured on the reference machine:
// PCMU 36.5-37.1 dB, PCMA 41.9-56.4, G.722 45.7-51.2, Opus 16 kHz 40.1-41.2, Opus 8 kHz
// (20 kbit/s narrowband) 26.9-31.8; the thresholds leave 3-10 dB of margin.
TEST_P(CodecRoundTripTest, KeepsTheTone) {
  const RoundTripCase& c = GetParam();
  auto spec = ParseRtpmap(c.encoding);
  ASSERT_TRUE(spec);
  auto enc = CreateEncoder(*spec, c.bridge_rate_hz);
  auto dec = CreateDecoder(*spec, c.bridge_rate_hz);
  ASSERT_TRUE(enc && dec);
  constexpr double kAmplitude = 10000;
  const auto r = ToneRoundTrip(**enc, **dec, c.freq, kAmplitude);
  std::printf("%-13s bridge %5d Hz tone %4.0f Hz: min SNR %.1f dB, amplitude %.0f..%.0f\n",
              c.encoding, c.bridge_rate_hz, c.freq, r.min_snr_db, r.min_amplitude, r.max_amplitude);
  EXPECT_GE(r.min_snr_db, c.min_snr_db);
  EXPECT_GT(r.min_amplitude, kAmplitude * 0.8);
  EXPECT_LT(r.max_amplitude, kAmplitude * 1.2);
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecRoundTripTest,
                         ::testing::Values(RoundTripCase{"PCMU/8000", 8000, 1000, 33},
                                           RoundTripCase{"PCMU/8000", 8000, 600, 33},
                                           RoundTripCase{"PCMU/8000", 16000, 1000, 33},
                                           RoundTripCase{"PCMU/8000", 16000, 600, 33},
                                           RoundTripCase{"PCMA/8000", 8000, 1000, 33},
                                           RoundTripCase{"PCMA/8000", 16000, 600, 33},
                                           RoundTripCase{"G722/8000", 16000, 1000, 40},
                                           RoundTripCase{"G722/8000", 16000, 600, 40},
                                           RoundTripCase{"G722/8000", 8000, 1000, 40},
                                           RoundTripCase{"G722/8000", 8000, 600, 40},
                                           RoundTripCase{"opus/48000/2", 16000, 1000, 30},
                                           RoundTripCase{"opus/48000/2", 16000, 600, 30},
                                           RoundTripCase{"opus/48000/2", 8000, 1000, 20},
                                           RoundTripCase{"opus/48000/2", 8000, 600, 20}));

}  // namespace
}  // namespace anchord::media::codec
