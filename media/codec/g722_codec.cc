#include "media/codec/g722_codec.h"

#include <spandsp.h>

#include <algorithm>

namespace anchord::media::codec {
namespace {

constexpr size_t kSamples = FrameSamples(kG722RateHz);
constexpr size_t kBytes = kSamples / 2;  // 4 bits per sample at 64 kbit/s
constexpr int kBitRate = 64000;

}  // namespace

Result<std::unique_ptr<G722Decoder>> G722Decoder::Create() {
  g722_decode_state_t* state = g722_decode_init(nullptr, kBitRate, 0);
  if (state == nullptr) return Fail("g722: g722_decode_init failed");
  return std::unique_ptr<G722Decoder>(new G722Decoder(state));
}

G722Decoder::~G722Decoder() { g722_decode_free(state_); }

bool G722Decoder::Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) {
  if (payload.empty()) {
    Conceal(pcm);
    return false;
  }
  const size_t bytes = std::min(payload.size(), kBytes);
  const int n = g722_decode(state_, pcm.data(), payload.data(), static_cast<int>(bytes));
  const size_t got = n > 0 ? std::min(static_cast<size_t>(n), kSamples) : 0;
  std::fill(pcm.begin() + got, pcm.begin() + kSamples, int16_t{0});
  plc_.Rx(pcm.first(kSamples));
  return true;
}

void G722Decoder::Conceal(std::span<int16_t> pcm) { plc_.Fillin(pcm.first(kSamples)); }

bool G722Decoder::DecodeFec(std::span<const uint8_t>, std::span<int16_t> pcm) {
  Conceal(pcm);
  return false;
}

Result<std::unique_ptr<G722Encoder>> G722Encoder::Create() {
  g722_encode_state_t* state = g722_encode_init(nullptr, kBitRate, 0);
  if (state == nullptr) return Fail("g722: g722_encode_init failed");
  return std::unique_ptr<G722Encoder>(new G722Encoder(state));
}

G722Encoder::~G722Encoder() { g722_encode_free(state_); }

size_t G722Encoder::Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) {
  const int n = g722_encode(state_, payload.data(), pcm.data(), static_cast<int>(kSamples));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace anchord::media::codec
