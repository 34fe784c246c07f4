// Parsers for the address strings of the configuration: "udp:IPv4:PORT" listen entries and
// "sip:user@IPv4[:port]" position URIs. Header-only: used by config.cc alone.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"

namespace anchord::core::internal {

// A decimal port of 1 to 5 digits, no sign, no spaces; 0..65535.
inline std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

inline bool IsNumericIpv4(std::string_view text) {
  in_addr parsed{};
  return inet_pton(AF_INET, std::string(text).c_str(), &parsed) == 1;
}

// "udp:IPv4:PORT" or "tcp:IPv4:PORT", lower-case transport. Port 0 (ephemeral) is allowed
// so tests can bind without colliding.
inline std::optional<ListenAddress> ParseListenAddress(std::string_view text) {
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  std::string_view transport = text.substr(0, first);
  std::string_view host = text.substr(first + 1, last - first - 1);
  ListenAddress out;
  if (transport == "udp") {
    out.transport = Transport::kUdp;
  } else if (transport == "tcp") {
    out.transport = Transport::kTcp;
  } else {
    return std::nullopt;
  }
  auto port = ParsePort(text.substr(last + 1));
  if (!port || !IsNumericIpv4(host)) return std::nullopt;
  out.host = std::string(host);
  out.port = *port;
  return out;
}

// RFC 3261 user part characters (unreserved, user-unreserved, escapes) minus ';' and '?',
// which would start URI parameters or headers that the position URI does not take.
inline bool IsUserChar(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-_.!~*'()&=+$,/%").find(static_cast<char>(c)) != std::string_view::npos;
}

// Validates "sip:user@IPv4[:port]" and returns it normalized with an explicit port (5060 when
// omitted), so consumers never re-apply the default. On failure `reason` says why.
inline std::optional<std::string> ParsePositionUri(std::string_view uri, std::string& reason) {
  constexpr std::string_view kScheme = "sip:";
  if (!uri.starts_with(kScheme)) {
    reason = "scheme must be sip:";
    return std::nullopt;
  }
  std::string_view rest = uri.substr(kScheme.size());
  size_t at = rest.find('@');
  if (at == std::string_view::npos || at == 0) {
    reason = "missing user part";
    return std::nullopt;
  }
  std::string_view user = rest.substr(0, at);
  if (!std::all_of(user.begin(), user.end(), [](char c) { return IsUserChar(c); })) {
    reason = "invalid character in user part";
    return std::nullopt;
  }
  std::string_view hostport = rest.substr(at + 1);
  size_t colon = hostport.find(':');
  std::string_view host = hostport.substr(0, colon);
  uint16_t port = 5060;
  if (colon != std::string_view::npos) {
    auto parsed = ParsePort(hostport.substr(colon + 1));
    if (!parsed || *parsed == 0) {
      reason = "port must be 1..65535";
      return std::nullopt;
    }
    port = *parsed;
  }
  if (!IsNumericIpv4(host) || host == "0.0.0.0") {
    reason = "host must be a numeric IPv4 address";
    return std::nullopt;
  }
  return std::string(kScheme) + std::string(user) + "@" + std::string(host) + ":" +
         std::to_string(port);
}

}  // namespace anchord::core::internal
