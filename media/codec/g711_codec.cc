#include "media/codec/g711_codec.h"

#include <spandsp.h>

#include <algorithm>

namespace anchord::media::codec {
namespace {

constexpr size_t kSamples = FrameSamples(kG711RateHz);

bool IsG711(CodecId law) { return law == CodecId::kPcmu || law == CodecId::kPcma; }

}  // namespace

Result<std::unique_ptr<G711Decoder>> G711Decoder::Create(CodecId law) {
  if (!IsG711(law)) return Fail("g711: not a G.711 codec");
  return std::unique_ptr<G711Decoder>(new G711Decoder(law));
}

bool G711Decoder::Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) {
  if (payload.empty()) {
    Conceal(pcm);
    return false;
  }
  const size_t n = std::min(payload.size(), kSamples);
  if (law_ == CodecId::kPcmu) {
    for (size_t i = 0; i < n; ++i) pcm[i] = ulaw_to_linear(payload[i]);
  } else {
    for (size_t i = 0; i < n; ++i) pcm[i] = alaw_to_linear(payload[i]);
  }
  std::fill(pcm.begin() + n, pcm.begin() + kSamples, int16_t{0});
  plc_.Rx(pcm.first(kSamples));
  return true;
}

void G711Decoder::Conceal(std::span<int16_t> pcm) { plc_.Fillin(pcm.first(kSamples)); }

bool G711Decoder::DecodeFec(std::span<const uint8_t>, std::span<int16_t> pcm) {
  Conceal(pcm);
  return false;
}

Result<std::unique_ptr<G711Encoder>> G711Encoder::Create(CodecId law) {
  if (!IsG711(law)) return Fail("g711: not a G.711 codec");
  return std::unique_ptr<G711Encoder>(new G711Encoder(law));
}

size_t G711Encoder::Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) {
  if (law_ == CodecId::kPcmu) {
    for (size_t i = 0; i < kSamples; ++i) payload[i] = linear_to_ulaw(pcm[i]);
  } else {
    for (size_t i = 0; i < kSamples; ++i) payload[i] = linear_to_alaw(pcm[i]);
  }
  return kSamples;
}

}  // namespace anchord::media::codec
