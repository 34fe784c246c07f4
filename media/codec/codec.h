// Codec interfaces of the media plane: one Decoder and one Encoder per leg direction, each
// working on 20 ms frames of 16-bit mono linear PCM.
//
// Rates. A codec has a *native* PCM rate (what its library consumes and produces) and an RTP
// clock rate (what the RTP timestamp counts); they differ for two codecs:
//   PCMU, PCMA  native  8000 Hz (160 samples per frame), RTP clock  8000, 160 bytes per frame
//   G722        native 16000 Hz (320 samples per frame), RTP clock  8000 (RFC 3551 4.5.2: an
//               error in RFC 1890 kept for compatibility), 160 bytes per frame at 64 kbit/s
//   opus        native = the bridge rate (8000 or 16000; libopus encodes and decodes at either),
//               RTP clock 48000 (RFC 7587) whatever the audio bandwidth, variable bytes per frame
// The factory (codec_factory.h) wraps a codec whose native rate differs from the bridge rate
// with a resampler, so the media worker only sees bridge-rate PCM: sample_rate_hz() is then the
// bridge rate.
//
// Threading and allocation: objects are created on the control plane (any thread; creation
// allocates the library state once) and then used by one thread at a time, normally the media
// worker that owns the leg. Decode, Conceal, DecodeFec and Encode never allocate, lock, log or
// throw; bad input is reported through the return value so that the caller can count it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace anchord::media::codec {

inline constexpr int kFrameMs = 20;
inline constexpr int kFramesPerSecond = 1000 / kFrameMs;
// The largest frame any Decoder/Encoder here produces or consumes: 20 ms at 16 kHz.
inline constexpr size_t kMaxFrameSamples = 320;
// Room for any payload an Encoder here writes (an Opus packet of one frame is at most 1276
// bytes, RFC 6716 3.2.1; G.711 and G.722 write 160).
inline constexpr size_t kMaxPayloadBytes = 1276;

// Samples in one 20 ms frame at `rate_hz`.
constexpr size_t FrameSamples(int rate_hz) {
  return static_cast<size_t>(rate_hz / kFramesPerSecond);
}

enum class CodecId : uint8_t { kPcmu, kPcma, kG722, kOpus };

class Decoder {
 public:
  virtual ~Decoder() = default;

  // Rate of the PCM written by every method below: 8000 or 16000.
  virtual int sample_rate_hz() const = 0;
  size_t frame_samples() const { return FrameSamples(sample_rate_hz()); }

  // Decodes the payload of one received 20 ms packet into `pcm` (at least frame_samples()
  // long; exactly frame_samples() are written). Returns false when the payload could not be
  // decoded (empty, malformed, not 20 ms); `pcm` then holds concealment, as after Conceal().
  // A short G.711/G.722 payload is decoded and padded with silence; a long one is truncated.
  virtual bool Decode(std::span<const uint8_t> payload, std::span<int16_t> pcm) = 0;

  // Writes a replacement for one lost frame: a continuation of the recent signal that decays
  // to silence over about 60 ms of consecutive loss (spandsp PLC; Opus's own PLC).
  virtual void Conceal(std::span<int16_t> pcm) = 0;

  // Recovers the lost frame that precedes `next_payload` from the forward error correction
  // (Opus LBRR) carried in it; call Decode(next_payload) afterwards as usual. Returns false
  // when the codec has no FEC or the payload is unusable: `pcm` then holds Conceal()'s output.
  // Opus returns true for any valid packet: without LBRR in it libopus conceals instead
  // (1.3.1 cannot tell which).
  virtual bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> pcm) = 0;
};

class Encoder {
 public:
  virtual ~Encoder() = default;

  // Rate of the PCM Encode() reads: 8000 or 16000.
  virtual int sample_rate_hz() const = 0;
  size_t frame_samples() const { return FrameSamples(sample_rate_hz()); }

  // Encodes one 20 ms frame (`pcm` at least frame_samples() long) into `payload` (at least
  // kMaxPayloadBytes long is always enough). Returns the payload size in bytes, 0 on failure.
  virtual size_t Encode(std::span<const int16_t> pcm, std::span<uint8_t> payload) = 0;

  // The loss the peer reports (RTCP), 0..100 %. Opus turns in-band FEC on for n > 0 and off for
  // 0; other codecs ignore it. Control plane or worker; does not allocate.
  virtual void SetPacketLossPercent(int percent) { (void)percent; }
};

}  // namespace anchord::media::codec
