// The transcoding chains of issue 4, checked by what is heard at the end.
#include <gtest/gtest.h>

#include <spandsp.h>

#include <cstdio>
#include <vector>

#include "media/codec/codec_factory.h"
#include "media/codec/g711_codec.h"
#include "media/codec/g722_codec.h"
#include "media/codec/resampler.h"
#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::FitTone;
using testing::Tone;

constexpr double kAmplitude = 10000;
constexpr int kFrames = 40;
constexpr int kSettle = 5;

// PCMU -> PCM 8 kHz -> resample 16 kHz -> G.722 -> decode -> resample 8 kHz -> PCMU, built
// from the parts, as a gateway between a narrowband caller and a wideband position would.
TEST(CodecChainTest, PcmuThroughG722KeepsTheTone) {
  for (double freq : {600.0, 1000.0}) {
    auto pcmu_dec = G711Decoder::Create(CodecId::kPcmu);
    auto pcmu_enc = G711Encoder::Create(CodecId::kPcmu);
    auto up = Resampler::Create(8000, 16000);
    auto down = Resampler::Create(16000, 8000);
    auto g722_enc = G722Encoder::Create();
    auto g722_dec = G722Decoder::Create();
    ASSERT_TRUE(pcmu_dec && pcmu_enc && up && down && g722_enc && g722_dec);
    std::vector<uint8_t> ulaw(160), g722(160), out_ulaw(160);
    std::vector<int16_t> pcm8(160), pcm16(320), heard(160);
    double min_snr = 1e9;
    for (int f = 0; f < kFrames; ++f) {
      const auto tone = Tone(freq, 8000, kAmplitude, f * 160, 160);
      for (size_t i = 0; i < 160; ++i) ulaw[i] = linear_to_ulaw(tone[i]);
      ASSERT_TRUE((*pcmu_dec)->Decode(ulaw, pcm8));
      ASSERT_TRUE((*up)->Process(pcm8, pcm16));
      ASSERT_EQ((*g722_enc)->Encode(pcm16, g722), 160u);
      ASSERT_TRUE((*g722_dec)->Decode(g722, pcm16));
      ASSERT_TRUE((*down)->Process(pcm16, pcm8));
      (*pcmu_enc)->Encode(pcm8, out_ulaw);
      for (size_t i = 0; i < 160; ++i) heard[i] = ulaw_to_linear(out_ulaw[i]);
      if (f < kSettle) continue;
      const auto fit = FitTone(heard, freq, 8000);
      EXPECT_NEAR(fit.amplitude, kAmplitude, 0.1 * kAmplitude) << freq << " frame " << f;
      min_snr = std::min(min_snr, fit.snr_db);
    }
    std::printf("PCMU->G.722->PCMU %4.0f Hz: min SNR %.1f dB\n", freq, min_snr);
    EXPECT_GT(min_snr, 30) << freq;  // G.711 twice and G.722 once: 36.4 dB measured
  }
}

// PCMU -> G.722 -> Opus -> PCMU through factory objects in a 16 kHz bridge: each hop decodes to
// bridge-rate PCM and the next encodes from it, as the media worker will.
TEST(CodecChainTest, PcmuG722OpusPcmuInAWidebandBridge) {
  constexpr int kBridge = 16000;
  for (double freq : {600.0, 1000.0}) {
    const CodecSpec pcmu = *ParseRtpmap("PCMU/8000");
    const CodecSpec g722 = *ParseRtpmap("G722/8000");
    const CodecSpec opus = *ParseRtpmap("opus/48000/2");
    auto pcmu_in = CreateDecoder(pcmu, kBridge);
    auto g722_out = CreateEncoder(g722, kBridge);
    auto g722_in = CreateDecoder(g722, kBridge);
    auto opus_out = CreateEncoder(opus, kBridge);
    auto opus_in = CreateDecoder(opus, kBridge);
    auto pcmu_out = CreateEncoder(pcmu, kBridge);
    ASSERT_TRUE(pcmu_in && g722_out && g722_in && opus_out && opus_in && pcmu_out);
    std::vector<uint8_t> ulaw(160), payload(kMaxPayloadBytes);
    std::vector<int16_t> bridge(320), heard(160);
    double min_snr = 1e9;
    for (int f = 0; f < kFrames; ++f) {
      const auto tone = Tone(freq, 8000, kAmplitude, f * 160, 160);
      for (size_t i = 0; i < 160; ++i) ulaw[i] = linear_to_ulaw(tone[i]);
      ASSERT_TRUE((*pcmu_in)->Decode(ulaw, bridge));
      size_t n = (*g722_out)->Encode(bridge, payload);
      ASSERT_TRUE((*g722_in)->Decode(std::span(payload).first(n), bridge));
      n = (*opus_out)->Encode(bridge, payload);
      ASSERT_TRUE((*opus_in)->Decode(std::span(payload).first(n), bridge));
      ASSERT_EQ((*pcmu_out)->Encode(bridge, ulaw), 160u);
      for (size_t i = 0; i < 160; ++i) heard[i] = ulaw_to_linear(ulaw[i]);
      if (f < kSettle) continue;
      const auto fit = FitTone(heard, freq, 8000);
      EXPECT_NEAR(fit.amplitude, kAmplitude, 0.2 * kAmplitude) << freq << " frame " << f;
      min_snr = std::min(min_snr, fit.snr_db);
    }
    std::printf("PCMU->G.722->Opus->PCMU %4.0f Hz: min SNR %.1f dB\n", freq, min_snr);
    EXPECT_GT(min_snr, 25) << freq;  // 32.2 dB measured
  }
}

}  // namespace
}  // namespace anchord::media::codec
