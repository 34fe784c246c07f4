#include "media/codec/g711_codec.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::Rms;
using testing::Tone;
using testing::ToneLevel;

constexpr size_t kFrame = 160;

// Decode -> encode through the codec classes (PLC history included) gives back every byte, but
// spandsp's mu-law 0x7F (negative zero decodes to 0, which encodes as 0xFF).
TEST(CodecG711Test, AllCodesRoundTripBitExact) {
  for (CodecId law : {CodecId::kPcmu, CodecId::kPcma}) {
    auto dec = G711Decoder::Create(law);
    auto enc = G711Encoder::Create(law);
    ASSERT_TRUE(dec && enc);
    for (int first : {0, 160}) {  // 320 bytes: every code, some twice, in two frames
      std::vector<uint8_t> in(kFrame), out(kFrame);
      for (size_t i = 0; i < kFrame; ++i) in[i] = static_cast<uint8_t>((first + i) % 256);
      std::vector<int16_t> pcm(kFrame);
      ASSERT_TRUE((*dec)->Decode(in, pcm));
      ASSERT_EQ((*enc)->Encode(pcm, out), kFrame);
      for (size_t i = 0; i < kFrame; ++i) {
        const uint8_t expected = (law == CodecId::kPcmu && in[i] == 0x7F) ? 0xFF : in[i];
        EXPECT_EQ(out[i], expected) << (law == CodecId::kPcmu ? "mu" : "A") << "-law " << +in[i];
      }
    }
  }
}

TEST(CodecG711Test, RejectsOtherCodecs) {
  EXPECT_FALSE(G711Decoder::Create(CodecId::kG722));
  EXPECT_FALSE(G711Encoder::Create(CodecId::kOpus));
}

TEST(CodecG711Test, ShortPayloadIsPaddedAndEmptyIsConcealed) {
  auto dec = G711Decoder::Create(CodecId::kPcmu);
  ASSERT_TRUE(dec);
  std::vector<int16_t> pcm(kFrame, 1234);
  std::vector<uint8_t> half(80, 0x00);  // mu-law 0x00 is the most negative code
  EXPECT_TRUE((*dec)->Decode(half, pcm));
  EXPECT_EQ(pcm[79], -32124);
  EXPECT_EQ(pcm[80], 0);
  EXPECT_EQ(pcm[159], 0);
  EXPECT_FALSE((*dec)->Decode({}, pcm));
  std::vector<uint8_t> fec_packet(kFrame, 0xFF);
  EXPECT_FALSE((*dec)->DecodeFec(fec_packet, pcm));  // G.711 has no FEC: concealment instead
}

// A lost frame of a steady 1 kHz tone is filled with the tone (not silence), and further lost
// frames decay to silence within about 60 ms.
TEST(CodecG711Test, ConcealmentContinuesThenDecays) {
  for (CodecId law : {CodecId::kPcmu, CodecId::kPcma}) {
    auto dec = G711Decoder::Create(law);
    auto enc = G711Encoder::Create(law);
    ASSERT_TRUE(dec && enc);
    std::vector<uint8_t> payload(kFrame);
    std::vector<int16_t> pcm(kFrame);
    constexpr double kAmplitude = 8000;
    for (size_t f = 0; f < 10; ++f) {
      (*enc)->Encode(Tone(1000, 8000, kAmplitude, f * kFrame, kFrame), payload);
      (*dec)->Decode(payload, pcm);
    }
    std::vector<double> levels;
    for (int lost = 0; lost < 5; ++lost) {
      (*dec)->Conceal(pcm);
      levels.push_back(ToneLevel(pcm, 1000, 8000));
    }
    EXPECT_GT(levels[0], 0.7 * kAmplitude);  // a continuation of the tone
    EXPECT_LT(levels[1], levels[0]);         // decaying
    EXPECT_LT(levels[2], levels[1]);
    EXPECT_LT(Rms(pcm), 1.0);  // silent by the fifth lost frame (100 ms)
  }
}

}  // namespace
}  // namespace anchord::media::codec
