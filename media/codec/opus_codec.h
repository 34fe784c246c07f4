// Opus (RFC 6716; RTP payload RFC 7587) for voice: mono, 20 ms frames, encoded and decoded at
// the bridge rate (8000 or 16000 Hz; libopus runs natively at either, and a packet from any
// encoder decodes at any rate). The RTP clock is always 48000 Hz: the timestamp advances by 960
// per frame whatever the audio bandwidth. SDP says "opus/48000/2" even for mono (RFC 7587 7).
//
// Encoder settings: OPUS_APPLICATION_VOIP, OPUS_SIGNAL_VOICE, complexity 5 (about 110 us per
// frame at 16 kHz on the reference machine; 10 doubles it for little gain on voice), VBR at
// 24 kbit/s wideband / 20 kbit/s narrowband (the least at which libopus 1.3.1 adds FEC), DTX off
// (R6881-ED-72/73: no VAD or comfort noise on 9-1-1; the line must carry every sound). In-band FEC
// is off until the peer reports loss: SetPacketLossPercent(n > 0) turns on OPUS_SET_INBAND_FEC and
// OPUS_SET_PACKET_LOSS_PERC(n) (the encoder produces no LBRR without a loss percentage), so that
// frame N's low-bit-rate copy rides in packet N+1.
//
// Decoder: Conceal() is libopus's PLC (opus_decode with no data: pitch-synchronous extension
// of the SILK excitation, fading out); DecodeFec(packet N+1) decodes the LBRR of frame N
// (opus_decode with decode_fec = 1), falling back to PLC inside libopus when there is none.
// Only 20 ms packets are accepted; other durations are rejected (counted by the caller).
#pragma once

#include <memory>

#include "core/result.h"
#include "media/codec/codec.h"

struct OpusEncoder;
struct OpusDecoder;

namespace anchord::media::codec {

inline constexpr int kOpusRtpClockHz = 48000;
inline constexpr int kOpusComplexity = 5;

class OpusVoiceDecoder final : public Decoder {
 public:
  // rate_hz: 8000 or 16000.
  static Result<std::unique_ptr<OpusVoiceDecoder>> Create(int rate_hz);
  ~OpusVoiceDecoder() override;

  int sample_rate_hz() const override { return rate_hz_; }
  bool Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) override;
  void Conceal(std::span<int16_t> pcm) override;
  bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) override;

 private:
  OpusVoiceDecoder(::OpusDecoder* dec, int rate_hz) : dec_(dec), rate_hz_(rate_hz) {}
  // True when `payload` is a valid Opus packet of exactly one 20 ms frame at rate_hz_.
  bool IsFrame(std::span<const uint8_t> payload) const;
  bool DecodeInto(std::span<const uint8_t> payload, std::span<int16_t> pcm, int fec);

  ::OpusDecoder* dec_;  // owned
  int rate_hz_;
};

class OpusVoiceEncoder final : public Encoder {
 public:
  // rate_hz: 8000 or 16000.
  static Result<std::unique_ptr<OpusVoiceEncoder>> Create(int rate_hz);
  ~OpusVoiceEncoder() override;

  int sample_rate_hz() const override { return rate_hz_; }
  size_t Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) override;
  void SetPacketLossPercent(int percent) override;

 private:
  OpusVoiceEncoder(::OpusEncoder* enc, int rate_hz) : enc_(enc), rate_hz_(rate_hz) {}

  ::OpusEncoder* enc_;  // owned
  int rate_hz_;
};

}  // namespace anchord::media::codec
