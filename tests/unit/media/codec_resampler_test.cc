#include "media/codec/resampler.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::FitTone;
using testing::Tone;
using testing::ToneLevel;

TEST(CodecResamplerTest, OnlyTelephoneRates) {
  EXPECT_FALSE(Resampler::Create(44100, 8000));
  EXPECT_FALSE(Resampler::Create(8000, 48000));
  EXPECT_TRUE(Resampler::Create(8000, 8000));
}

TEST(CodecResamplerTest, EqualRatesCopy) {
  auto r = Resampler::Create(16000, 16000);
  ASSERT_TRUE(r);
  const auto in = Tone(1000, 16000, 5000, 0, 320);
  std::vector<int16_t> out(320);
  EXPECT_TRUE((*r)->Process(in, out));
  EXPECT_EQ(in, out);
  EXPECT_EQ((*r)->input_latency_samples(), 0);
}

// Every frame converts whole (no sample short, none carried over) and the filter history joins
// frames: a continuous tone stays one clean sine in every output frame, frame boundaries included.
TEST(CodecResamplerTest, TonesCrossFrameByFrame) {
  for (auto [in_rate, out_rate] : {std::pair{8000, 16000}, std::pair{16000, 8000}}) {
    for (double freq : {600.0, 1000.0, 3000.0}) {
      auto r = Resampler::Create(in_rate, out_rate);
      ASSERT_TRUE(r);
      const size_t in_n = FrameSamples(in_rate), out_n = FrameSamples(out_rate);
      std::vector<int16_t> out(out_n);
      double min_snr = 1e9;
      for (size_t f = 0; f < 25; ++f) {
        ASSERT_TRUE((*r)->Process(Tone(freq, in_rate, 10000, f * in_n, in_n), out));
        if (f < 2) continue;  // the filter fills from zeros
        const auto fit = FitTone(out, freq, out_rate);
        EXPECT_NEAR(fit.amplitude, 10000, 300) << in_rate << "->" << out_rate << " " << freq;
        min_snr = std::min(min_snr, fit.snr_db);
      }
      std::printf("resample %5d -> %5d Hz, %4.0f Hz tone: min SNR %.1f dB\n", in_rate, out_rate,
                  freq, min_snr);
      EXPECT_GT(min_snr, 50) << in_rate << "->" << out_rate << " " << freq;
    }
  }
}

// Downsampling removes what 8 kHz cannot carry instead of folding it back: a 6 kHz tone would
// alias to 2 kHz.
TEST(CodecResamplerTest, DownsamplingFiltersAliases) {
  auto r = Resampler::Create(16000, 8000);
  ASSERT_TRUE(r);
  std::vector<int16_t> out(160);
  for (size_t f = 0; f < 10; ++f) (*r)->Process(Tone(6000, 16000, 10000, f * 320, 320), out);
  EXPECT_LT(ToneLevel(out, 2000, 8000), 10000 * 0.01);  // below -40 dB
  EXPECT_GT((*r)->input_latency_samples(), 0);
}

TEST(CodecResamplerTest, ResetForgetsHistory) {
  auto r = Resampler::Create(8000, 16000);
  ASSERT_TRUE(r);
  std::vector<int16_t> out(320);
  (*r)->Process(Tone(1000, 8000, 10000, 0, 160), out);
  (*r)->Reset();
  std::vector<int16_t> silence(160, 0);
  (*r)->Process(silence, out);
  for (int16_t v : out) ASSERT_EQ(v, 0);
}

}  // namespace
}  // namespace anchord::media::codec
