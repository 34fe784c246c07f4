#include "media/internal/g711.h"

#include <gtest/gtest.h>

namespace anchord::media::internal {
namespace {

// Why the bridge passes payloads through for a single same-codec party (invariant 3).
TEST(G711Test, DecodeEncodeRoundTrip) {
  for (int code = 0; code < 256; ++code) {
    auto byte = static_cast<uint8_t>(code);
    int16_t pcm;
    uint8_t back;
    G711Decode(Codec::kPcma, &byte, 1, &pcm);
    G711Encode(Codec::kPcma, &pcm, 1, &back);
    EXPECT_EQ(back, byte) << "A-law " << code;
    G711Decode(Codec::kPcmu, &byte, 1, &pcm);
    G711Encode(Codec::kPcmu, &pcm, 1, &back);
    if (code == 0x7F) {
      EXPECT_EQ(back, 0xFF);  // mu-law negative zero is the one lossy byte
    } else {
      EXPECT_EQ(back, byte) << "mu-law " << code;
    }
  }
}

TEST(G711Test, SilenceBytesDecodeToZero) {
  for (Codec codec : {Codec::kPcmu, Codec::kPcma}) {
    uint8_t s = G711Silence(codec);
    int16_t pcm = 1;
    G711Decode(codec, &s, 1, &pcm);
    EXPECT_LE(std::abs(pcm), 8);
  }
}

}  // namespace
}  // namespace anchord::media::internal
