#include "media/codec/g722_codec.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::FitTone;
using testing::Rms;
using testing::Tone;
using testing::ToneLevel;

constexpr size_t kFrame = 320;  // 20 ms at 16 kHz
constexpr size_t kBytes = 160;  // 64 kbit/s

TEST(CodecG722Test, FrameIs320SamplesIn160Bytes) {
  auto enc = G722Encoder::Create();
  auto dec = G722Decoder::Create();
  ASSERT_TRUE(enc && dec);
  EXPECT_EQ((*enc)->sample_rate_hz(), 16000);
  EXPECT_EQ((*dec)->frame_samples(), kFrame);
  std::vector<uint8_t> payload(kMaxPayloadBytes);
  EXPECT_EQ((*enc)->Encode(Tone(1000, 16000, 5000, 0, kFrame), payload), kBytes);
  std::vector<int16_t> pcm(kFrame, 77);
  EXPECT_TRUE((*dec)->Decode(std::span(payload).first(kBytes), pcm));
  EXPECT_FALSE((*dec)->Decode({}, pcm));
  EXPECT_FALSE((*dec)->DecodeFec(std::span(payload).first(kBytes), pcm));
}

// A short payload decodes what it has (2 samples per byte) and pads with silence.
TEST(CodecG722Test, ShortPayloadIsPadded) {
  auto dec = G722Decoder::Create();
  ASSERT_TRUE(dec);
  std::vector<uint8_t> half(80, 0x5A);
  std::vector<int16_t> pcm(kFrame, 1234);
  EXPECT_TRUE((*dec)->Decode(half, pcm));
  for (size_t i = 160; i < kFrame; ++i) ASSERT_EQ(pcm[i], 0) << i;
}

// 3 kHz and 6 kHz tones survive: the codec carries the wideband (the upper sub-band) too.
TEST(CodecG722Test, CarriesTheUpperBand) {
  for (double freq : {3000.0, 6000.0}) {
    auto enc = G722Encoder::Create();
    auto dec = G722Decoder::Create();
    ASSERT_TRUE(enc && dec);
    std::vector<uint8_t> payload(kBytes);
    std::vector<int16_t> pcm(kFrame);
    for (size_t f = 0; f < 20; ++f) {
      (*enc)->Encode(Tone(freq, 16000, 8000, f * kFrame, kFrame), payload);
      (*dec)->Decode(payload, pcm);
    }
    const auto fit = FitTone(pcm, freq, 16000);
    EXPECT_GT(fit.amplitude, 0.8 * 8000) << freq;
    EXPECT_GT(fit.snr_db, 20) << freq;
  }
}

TEST(CodecG722Test, ConcealmentContinuesThenDecays) {
  auto enc = G722Encoder::Create();
  auto dec = G722Decoder::Create();
  ASSERT_TRUE(enc && dec);
  std::vector<uint8_t> payload(kBytes);
  std::vector<int16_t> pcm(kFrame);
  constexpr double kAmplitude = 8000;
  for (size_t f = 0; f < 10; ++f) {
    (*enc)->Encode(Tone(600, 16000, kAmplitude, f * kFrame, kFrame), payload);
    (*dec)->Decode(payload, pcm);
  }
  std::vector<double> levels;
  for (int lost = 0; lost < 4; ++lost) {
    (*dec)->Conceal(pcm);
    levels.push_back(ToneLevel(pcm, 600, 16000));
  }
  EXPECT_GT(levels[0], 0.5 * kAmplitude);
  EXPECT_LT(levels[1], levels[0]);
  EXPECT_LT(Rms(pcm), 1.0);  // silent by the fourth lost frame
  // The stream recovers: after a few good frames the tone is back at its level.
  for (size_t f = 14; f < 20; ++f) {
    (*enc)->Encode(Tone(600, 16000, kAmplitude, f * kFrame, kFrame), payload);
    (*dec)->Decode(payload, pcm);
  }
  EXPECT_GT(FitTone(pcm, 600, 16000).snr_db, 30);
}

}  // namespace
}  // namespace anchord::media::codec
