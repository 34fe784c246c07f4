#include "signaling/internal/sdp_codec.h"

#include <charconv>
#include <string>

namespace anchord::signaling::internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<int> Number(std::string_view s) {
  int n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return n;
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

std::optional<media::Codec> G711Codec(std::string_view format, std::string_view encoding) {
  auto type = Number(format);
  if (!type) return std::nullopt;
  if (*type == 0) return media::Codec::kPcmu;
  if (*type == 8) return media::Codec::kPcma;
  if (*type < 96 || *type > 127) return std::nullopt;
  std::string name = Lower(encoding);
  if (name == "pcmu/8000" || name == "pcmu/8000/1") return media::Codec::kPcmu;
  if (name == "pcma/8000" || name == "pcma/8000/1") return media::Codec::kPcma;
  return std::nullopt;
}

}  // namespace anchord::signaling::internal
