#include "signaling/internal/sdp_codec.h"

#include <strings.h>

#include <charconv>

#include "media/codec/codec_factory.h"

namespace anchord::signaling::internal {
namespace {

constexpr int kFirstDynamicType = 96;  // RFC 3551 §3: 96..127 are dynamic
constexpr int kLastDynamicType = 127;

std::optional<int> Number(std::string_view s) {
  int n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return n;
}

bool IsDynamic(int type) { return type >= kFirstDynamicType && type <= kLastDynamicType; }

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

media::Codec FromCodecId(media::codec::CodecId id) {
  switch (id) {
    case media::codec::CodecId::kPcmu:
      return media::Codec::kPcmu;
    case media::codec::CodecId::kPcma:
      return media::Codec::kPcma;
    case media::codec::CodecId::kG722:
      return media::Codec::kG722;
    case media::codec::CodecId::kOpus:
      return media::Codec::kOpus;
  }
  return media::Codec::kPcmu;
}

media::codec::CodecId ToCodecId(media::Codec codec) {
  switch (codec) {
    case media::Codec::kPcmu:
      return media::codec::CodecId::kPcmu;
    case media::Codec::kPcma:
      return media::codec::CodecId::kPcma;
    case media::Codec::kG722:
      return media::codec::CodecId::kG722;
    case media::Codec::kOpus:
      return media::codec::CodecId::kOpus;
  }
  return media::codec::CodecId::kPcmu;
}

}  // namespace

std::optional<RtpMap> ParseRtpMap(std::string_view value) {
  size_t space = value.find_first_of(" \t");
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  std::string_view encoding = value.substr(space);
  while (!encoding.empty() && (encoding.front() == ' ' || encoding.front() == '\t')) {
    encoding.remove_prefix(1);
  }
  while (!encoding.empty() &&
         (encoding.back() == ' ' || encoding.back() == '\t' || encoding.back() == '\r')) {
    encoding.remove_suffix(1);
  }
  if (encoding.empty()) return std::nullopt;
  return RtpMap{value.substr(0, space), encoding};
}

std::optional<media::Codec> AudioCodec(std::string_view format, std::string_view encoding) {
  auto type = Number(format);
  if (!type || *type < 0 || *type > kLastDynamicType) return std::nullopt;
  if (auto spec = media::codec::StaticPayloadType(static_cast<uint8_t>(*type))) {
    return FromCodecId(spec->id);
  }
  if (!IsDynamic(*type)) return std::nullopt;
  auto spec = media::codec::ParseRtpmap(encoding);
  if (!spec) return std::nullopt;
  return FromCodecId(spec->id);
}

std::optional<uint8_t> TelephoneEventType(std::string_view format, std::string_view encoding) {
  auto type = Number(format);
  if (!type || !IsDynamic(*type)) return std::nullopt;
  if (!SameName(encoding, "telephone-event/8000") &&
      !SameName(encoding, "telephone-event/8000/1")) {
    return std::nullopt;
  }
  return static_cast<uint8_t>(*type);
}

std::string_view EncodingName(media::Codec codec) {
  return media::codec::RtpmapEncoding(ToCodecId(codec));
}

std::string_view FmtpOf(media::Codec codec) {
  return codec == media::Codec::kOpus ? "useinbandfec=1" : "";
}

}  // namespace anchord::signaling::internal
