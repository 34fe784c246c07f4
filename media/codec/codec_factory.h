// Codec negotiation helpers and the factory that builds a leg's Decoder and Encoder for its
// bridge: from the SDP rtpmap encoding ("PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2")
// to codec objects that read and write PCM at the bridge rate (8000 or 16000 Hz), with a
// speexdsp resampler in front of a codec whose native rate differs (G.711 in a 16 kHz bridge,
// G.722 in an 8 kHz bridge). Opus runs at the bridge rate itself and is never resampled.
//
// Control plane (any thread): these functions allocate. The objects they return are then used
// by one thread at a time (the leg's media worker) without allocating.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "core/result.h"
#include "media/codec/codec.h"
#include "media/media_plane.h"

namespace anchord::media::codec {

struct CodecSpec {
  CodecId id = CodecId::kPcmu;
  int rtp_clock_hz = 8000;  // the rtpmap clock rate: 8000, or 48000 for opus
  int channels = 1;         // as written in SDP: opus says 2 (RFC 7587) and is decoded as mono
};

// Parses the encoding of an a=rtpmap line, "<name>/<clock>[/<channels>]". Names match
// case-insensitively (RFC 4855 3). Accepted: PCMU/8000, PCMA/8000, G722/8000 (channels absent
// or 1) and opus/48000/2 (also /1 or absent, leniently). Anything else is an error naming it.
Result<CodecSpec> ParseRtpmap(std::string_view encoding);
// The spec of a codec negotiated on a leg (media_plane.h): its id, RTP clock and channels.
CodecSpec SpecFor(Codec codec);

// The codec of a static payload type used without an rtpmap (RFC 3551 table 4): 0 PCMU,
// 8 PCMA, 9 G722. nullopt for any other type.
std::optional<CodecSpec> StaticPayloadType(uint8_t payload_type);

// The rtpmap encoding to write in SDP: "PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2".
std::string_view RtpmapEncoding(CodecId id);

// RTP timestamp increment per 20 ms frame: 160 for PCMU, PCMA and G722 (RFC 3551 clocks the
// 16 kHz G.722 at 8000), 960 for opus.
uint32_t RtpTimestampStep(CodecId id);

// The rate the codec's library runs at inside a bridge of `bridge_rate_hz`.
int NativeRateHz(CodecId id, int bridge_rate_hz);

// True for codecs that carry 16 kHz audio (G722, opus): a bridge with such a leg runs at 16 kHz.
bool IsWideband(CodecId id);

// A decoder/encoder whose sample_rate_hz() is bridge_rate_hz (8000 or 16000).
Result<std::unique_ptr<Decoder>> CreateDecoder(const CodecSpec& spec, int bridge_rate_hz);
Result<std::unique_ptr<Encoder>> CreateEncoder(const CodecSpec& spec, int bridge_rate_hz);

}  // namespace anchord::media::codec
