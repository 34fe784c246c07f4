// Which G.711 codec an SDP format names (RFC 3551 static types, or a=rtpmap for dynamic ones).
#pragma once

#include <optional>
#include <string_view>

#include "media/media_plane.h"

namespace anchord::signaling::internal {

struct RtpMap {
  std::string_view payload_type;  // "96"
  std::string_view encoding;      // "PCMU/8000" or "PCMU/8000/1"
};

// Splits an a=rtpmap value ("96 PCMU/8000"); nullopt when it is not of that shape.
std::optional<RtpMap> ParseRtpMap(std::string_view value);

// The codec of m= format `format`: static 0 (PCMU) and 8 (PCMA) whatever `encoding` says
// (RFC 3551 fixes them); a dynamic type 96..127 by its rtpmap encoding (case-insensitive,
// 8000 Hz, mono); nullopt for everything else.
std::optional<media::Codec> G711Codec(std::string_view format, std::string_view encoding);

}  // namespace anchord::signaling::internal
