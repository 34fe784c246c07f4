// G.711 (PCMU mu-law, PCMA A-law; ITU-T G.711) at 8 kHz: 160 samples <-> 160 bytes per 20 ms.
//
// Algorithm: spandsp's inline segment-law conversions (linear_to_ulaw and friends; no tables)
// and, for loss, spandsp's PLC (after ITU-T G.711 Appendix I's idea: repeat the last pitch
// period found by autocorrelation, overlap-add at the joins, attenuate, silence after ~60 ms).
// plc_rx() sees every good frame (it keeps the history, and blends the first good frame after a
// loss into the concealment); plc_fillin() writes a lost frame.
//
// Round trip decode -> encode is the identity for every A-law byte and every mu-law byte but
// 0x7F (negative zero decodes to 0, which encodes as 0xFF), also through the PLC history.
#pragma once

#include <memory>

#include "core/result.h"
#include "media/codec/codec.h"
#include "media/codec/internal/plc.h"

namespace anchord::media::codec {

inline constexpr int kG711RateHz = 8000;

class G711Decoder final : public Decoder {
 public:
  // law: CodecId::kPcmu or CodecId::kPcma.
  static Result<std::unique_ptr<G711Decoder>> Create(CodecId law);

  int sample_rate_hz() const override { return kG711RateHz; }
  bool Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) override;
  void Conceal(std::span<int16_t> pcm) override;
  bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) override;

 private:
  explicit G711Decoder(CodecId law) : law_(law) {}

  CodecId law_;
  internal::Plc plc_;
};

class G711Encoder final : public Encoder {
 public:
  static Result<std::unique_ptr<G711Encoder>> Create(CodecId law);

  int sample_rate_hz() const override { return kG711RateHz; }
  size_t Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) override;

 private:
  explicit G711Encoder(CodecId law) : law_(law) {}

  CodecId law_;
};

}  // namespace anchord::media::codec
