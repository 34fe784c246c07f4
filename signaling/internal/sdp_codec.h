// Which audio codec an SDP format names, for offer/answer: RFC 3551 static types (0 PCMU,
// 8 PCMA, 9 G722) or a dynamic type's a=rtpmap (PCMU/8000, PCMA/8000, G722/8000,
// opus/48000/2), read through media/codec's ParseRtpmap so signaling and media agree on
// names; plus RFC 4733 telephone-event/8000. Comfort noise (CN, static 13 or an rtpmap) is
// never a codec here: anchord neither offers nor accepts it (R6881-ED-73, no VAD).
//
// Control plane, any thread; pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "media/media_plane.h"

namespace anchord::signaling::internal {

// The payload types anchord offers for its dynamic formats. Kept fixed for a leg's whole
// session: a dynamic type never changes its meaning (R3264-8.3.2-a).
inline constexpr uint8_t kOpusPayloadType = 111;
inline constexpr uint8_t kTelephoneEventPayloadType = 101;

struct RtpMap {
  std::string_view payload_type;  // "96"
  std::string_view encoding;      // "PCMU/8000" or "PCMU/8000/1"
};

// Splits an a=rtpmap value ("96 PCMU/8000"); nullopt when it is not of that shape.
std::optional<RtpMap> ParseRtpMap(std::string_view value);

// The codec of m= format `format` whose rtpmap encoding is `encoding` ("" when it has none):
// static 0, 8 and 9 whatever `encoding` says (RFC 3551 fixes them); a dynamic type 96..127 by
// its encoding, case-insensitively; nullopt for everything else (G.729, CN, a dynamic type
// without an rtpmap ...).
std::optional<media::Codec> AudioCodec(std::string_view format, std::string_view encoding);

// The payload type when `format` is a dynamic type (96..127) whose encoding is
// telephone-event/8000 (channels absent or 1, case-insensitive); nullopt otherwise.
std::optional<uint8_t> TelephoneEventType(std::string_view format, std::string_view encoding);

// The a=rtpmap encoding anchord writes for `codec` ("PCMU/8000" ... "opus/48000/2").
std::string_view EncodingName(media::Codec codec);

// The a=fmtp value anchord writes for `codec`, "" for none. Opus: in-band FEC on, and no
// usedtx (DTX stays off: no silence suppression on emergency calls, R6881-ED-73).
std::string_view FmtpOf(media::Codec codec);

}  // namespace anchord::signaling::internal
