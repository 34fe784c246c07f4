#include "media/codec/opus_codec.h"

#include <opus.h>

#include <algorithm>
#include <string>

namespace anchord::media::codec {
namespace {

bool SupportedRate(int rate_hz) { return rate_hz == 8000 || rate_hz == 16000; }

// Wideband 24 kbit/s; narrowband 20 kbit/s because libopus 1.3.1 produces no LBRR (FEC) for
// narrowband below about 20 kbit/s (measured: none at 16 kbit/s, on at 20).
int DefaultBitrate(int rate_hz) { return rate_hz == 16000 ? 24000 : 20000; }

}  // namespace

Result<std::unique_ptr<OpusVoiceDecoder>> OpusVoiceDecoder::Create(int rate_hz) {
  if (!SupportedRate(rate_hz)) return Fail("opus: unsupported rate " + std::to_string(rate_hz));
  int err = OPUS_OK;
  ::OpusDecoder* dec = opus_decoder_create(rate_hz, 1, &err);
  if (dec == nullptr || err != OPUS_OK) {
    return Fail(std::string("opus: opus_decoder_create: ") + opus_strerror(err));
  }
  return std::unique_ptr<OpusVoiceDecoder>(new OpusVoiceDecoder(dec, rate_hz));
}

OpusVoiceDecoder::~OpusVoiceDecoder() { opus_decoder_destroy(dec_); }

bool OpusVoiceDecoder::IsFrame(std::span<const uint8_t> payload) const {
  if (payload.empty() || payload.size() > kMaxPayloadBytes) return false;
  const int n =
      opus_packet_get_nb_samples(payload.data(), static_cast<opus_int32>(payload.size()), rate_hz_);
  return n == static_cast<int>(frame_samples());
}

bool OpusVoiceDecoder::DecodeInto(std::span<const uint8_t> payload, std::span<int16_t> pcm,
                                  int fec) {
  const int frame = static_cast<int>(frame_samples());
  if (IsFrame(payload)) {
    const int n = opus_decode(dec_, payload.data(), static_cast<opus_int32>(payload.size()),
                              pcm.data(), frame, fec);
    if (n == frame) return true;
  }
  Conceal(pcm);
  return false;
}

bool OpusVoiceDecoder::Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) {
  return DecodeInto(payload, pcm, 0);
}

bool OpusVoiceDecoder::DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) {
  return DecodeInto(next_payload, pcm, 1);
}

void OpusVoiceDecoder::Conceal(std::span<int16_t> pcm) {
  const int frame = static_cast<int>(frame_samples());
  if (opus_decode(dec_, nullptr, 0, pcm.data(), frame, 0) != frame) {
    std::fill_n(pcm.begin(), frame_samples(), int16_t{0});  // not reached with a valid frame size
  }
}

Result<std::unique_ptr<OpusVoiceEncoder>> OpusVoiceEncoder::Create(int rate_hz) {
  if (!SupportedRate(rate_hz)) return Fail("opus: unsupported rate " + std::to_string(rate_hz));
  int err = OPUS_OK;
  ::OpusEncoder* enc = opus_encoder_create(rate_hz, 1, OPUS_APPLICATION_VOIP, &err);
  if (enc == nullptr || err != OPUS_OK) {
    return Fail(std::string("opus: opus_encoder_create: ") + opus_strerror(err));
  }
  std::unique_ptr<OpusVoiceEncoder> encoder(new OpusVoiceEncoder(enc, rate_hz));
  const int results[] = {
      opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(kOpusComplexity)),
      opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)),
      opus_encoder_ctl(enc, OPUS_SET_BITRATE(DefaultBitrate(rate_hz))),
      opus_encoder_ctl(enc, OPUS_SET_DTX(0)),
      opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(0)),
      opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(0)),
  };
  for (int r : results) {
    if (r != OPUS_OK) return Fail(std::string("opus: opus_encoder_ctl: ") + opus_strerror(r));
  }
  return encoder;
}

OpusVoiceEncoder::~OpusVoiceEncoder() { opus_encoder_destroy(enc_); }

size_t OpusVoiceEncoder::Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) {
  const auto max_bytes = static_cast<opus_int32>(std::min(payload.size(), kMaxPayloadBytes));
  const opus_int32 n =
      opus_encode(enc_, pcm.data(), static_cast<int>(frame_samples()), payload.data(), max_bytes);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

void OpusVoiceEncoder::SetPacketLossPercent(int percent) {
  percent = std::clamp(percent, 0, 100);
  // Cannot fail with these arguments on a valid encoder.
  (void)opus_encoder_ctl(enc_, OPUS_SET_INBAND_FEC(percent > 0 ? 1 : 0));
  (void)opus_encoder_ctl(enc_, OPUS_SET_PACKET_LOSS_PERC(percent));
}

}  // namespace anchord::media::codec
