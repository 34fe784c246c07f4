#include "media/codec/internal/resampling.h"

namespace anchord::media::codec::internal {

bool ResamplingDecoder::Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) {
  const bool ok = inner_->Decode(payload, native_);
  resampler_->Process(native_, pcm);
  return ok;
}

void ResamplingDecoder::Conceal(std::span<int16_t> pcm) {
  inner_->Conceal(native_);
  resampler_->Process(native_, pcm);
}

bool ResamplingDecoder::DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) {
  const bool ok = inner_->DecodeFec(next_payload, native_);
  resampler_->Process(native_, pcm);
  return ok;
}

size_t ResamplingEncoder::Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) {
  resampler_->Process(pcm, native_);
  return inner_->Encode(native_, payload);
}

}  // namespace anchord::media::codec::internal
