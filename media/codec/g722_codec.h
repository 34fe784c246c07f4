// G.722 (ITU-T G.722, sub-band ADPCM) at 64 kbit/s: 320 samples at 16 kHz <-> 160 bytes per
// 20 ms. The RTP clock is 8000 Hz although the audio is sampled at 16 kHz (RFC 3551 4.5.2), so
// the RTP timestamp advances by 160 per frame, not 320.
//
// Algorithm: spandsp's G.722 (a QMF splits 0-8 kHz into two 4 kHz bands, each coded by
// backward-adaptive ADPCM: 6 bits per low-band sample, 2 per high-band sample). Its codec delay
// is 22 samples. Loss: spandsp's PLC (internal/plc.h) on the decoded 16 kHz signal; the ADPCM
// decoder itself does not see the lost frame and re-converges on the next packets.
#pragma once

#include <memory>

#include "core/result.h"
#include "media/codec/codec.h"
#include "media/codec/internal/plc.h"

struct g722_encode_state_s;
struct g722_decode_state_s;

namespace anchord::media::codec {

inline constexpr int kG722RateHz = 16000;     // PCM rate
inline constexpr int kG722RtpClockHz = 8000;  // RTP timestamp rate (RFC 3551)

class G722Decoder final : public Decoder {
 public:
  static Result<std::unique_ptr<G722Decoder>> Create();
  ~G722Decoder() override;

  int sample_rate_hz() const override { return kG722RateHz; }
  bool Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) override;
  void Conceal(std::span<int16_t> pcm) override;
  bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) override;

 private:
  explicit G722Decoder(g722_decode_state_s* state) : state_(state) {}

  g722_decode_state_s* state_;  // owned
  internal::Plc plc_;
};

class G722Encoder final : public Encoder {
 public:
  static Result<std::unique_ptr<G722Encoder>> Create();
  ~G722Encoder() override;

  int sample_rate_hz() const override { return kG722RateHz; }
  size_t Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) override;

 private:
  explicit G722Encoder(g722_encode_state_s* state) : state_(state) {}

  g722_encode_state_s* state_;  // owned
};

}  // namespace anchord::media::codec
