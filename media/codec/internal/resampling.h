// Decoder and Encoder adapters that run a codec at its native rate behind the bridge rate:
// decode at the native rate then resample to the bridge rate; resample the bridge-rate frame to
// the native rate then encode. Built by the factory only (codec_factory.h).
//
// The adapters own the codec and the resampler and a one-frame scratch buffer (no allocation
// per frame). Concealed and FEC-recovered frames go through the same resampler as decoded ones,
// so the filter history stays continuous across losses.
#pragma once

#include <array>
#include <memory>

#include "media/codec/codec.h"
#include "media/codec/resampler.h"

namespace anchord::media::codec::internal {

class ResamplingDecoder final : public Decoder {
 public:
  // `resampler` converts inner->sample_rate_hz() to the bridge rate.
  ResamplingDecoder(std::unique_ptr<Decoder> inner, std::unique_ptr<Resampler> resampler)
      : inner_(std::move(inner)), resampler_(std::move(resampler)) {}

  int sample_rate_hz() const override { return resampler_->out_rate_hz(); }
  bool Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) override;
  void Conceal(std::span<int16_t> pcm) override;
  bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) override;

 private:
  std::unique_ptr<Decoder> inner_;
  std::unique_ptr<Resampler> resampler_;
  std::array<int16_t, kMaxFrameSamples> native_{};
};

class ResamplingEncoder final : public Encoder {
 public:
  // `resampler` converts the bridge rate to inner->sample_rate_hz().
  ResamplingEncoder(std::unique_ptr<Encoder> inner, std::unique_ptr<Resampler> resampler)
      : inner_(std::move(inner)), resampler_(std::move(resampler)) {}

  int sample_rate_hz() const override { return resampler_->in_rate_hz(); }
  size_t Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) override;
  void SetPacketLossPercent(int percent) override { inner_->SetPacketLossPercent(percent); }

 private:
  std::unique_ptr<Encoder> inner_;
  std::unique_ptr<Resampler> resampler_;
  std::array<int16_t, kMaxFrameSamples> native_{};
};

}  // namespace anchord::media::codec::internal
