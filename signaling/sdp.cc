#include "signaling/sdp.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <string>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "signaling/internal/sdp_codec.h"

namespace anchord::signaling {
namespace {

// sdp_message_parse can read past the terminating NUL (libraries.md §1), so it gets a copy
// followed by this many NULs.
constexpr size_t kParserPadding = 64;

struct SdpFree {
  void operator()(sdp_message_t* sdp) const { sdp_message_free(sdp); }
};
using SdpPtr = std::unique_ptr<sdp_message_t, SdpFree>;

bool IsDirection(std::string_view value) {
  return value == "sendrecv" || value == "sendonly" || value == "recvonly" || value == "inactive";
}

// RFC 3264 §6.1: the answer's direction mirrors the offer's.
std::string_view AnswerDirection(std::string_view offered) {
  if (offered == "sendonly") return "recvonly";
  if (offered == "recvonly") return "sendonly";
  if (offered == "inactive") return "inactive";
  return "sendrecv";
}

bool IsIpv4(const std::string& address) {
  in_addr parsed;
  return inet_pton(AF_INET, address.c_str(), &parsed) == 1;
}

// The a=rtpmap encoding `line` gives `format` ("PCMU/8000"), "" when it gives none.
std::string_view EncodingOf(const SdpMediaLine& line, std::string_view format) {
  for (const auto& value : line.rtpmaps) {
    auto map = internal::ParseRtpMap(value);
    if (map && map->payload_type == format) return map->encoding;
  }
  return {};
}

Result<uint16_t> ParsePort(const char* text, const std::string& media) {
  std::string_view port = text ? text : "";
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return Fail("m=" + media + " has a bad port \"" + std::string(port) + "\"");
  }
  return static_cast<uint16_t>(value);
}

// Reads a=sendrecv|sendonly|recvonly|inactive and a=rtpmap of media `pos` (-1: the session).
void ReadAttributes(sdp_message_t* sdp, int pos, SdpMediaLine& line) {
  for (int i = 0;; ++i) {
    const char* field = sdp_message_a_att_field_get(sdp, pos, i);
    if (!field) break;
    const char* value = sdp_message_a_att_value_get(sdp, pos, i);
    if (IsDirection(field)) {
      line.direction = field;
    } else if (std::string_view(field) == "rtpmap" && value) {
      line.rtpmaps.emplace_back(value);
    }
  }
}

Result<SdpMediaLine> ReadMediaLine(sdp_message_t* sdp, int pos, const char* session_address,
                                   const std::string& session_direction) {
  SdpMediaLine line;
  const char* media = sdp_message_m_media_get(sdp, pos);
  const char* proto = sdp_message_m_proto_get(sdp, pos);
  if (!media || !proto) return Fail("m= line " + std::to_string(pos + 1) + " is incomplete");
  line.media = media;
  line.proto = proto;
  auto port = ParsePort(sdp_message_m_port_get(sdp, pos), line.media);
  if (!port) return Fail(port.error().message);
  line.port = *port;
  for (int i = 0;; ++i) {
    const char* format = sdp_message_m_payload_get(sdp, pos, i);
    if (!format) break;
    line.formats.emplace_back(format);
  }
  if (line.formats.empty()) return Fail("m=" + line.media + " has no formats");
  const char* address = sdp_message_c_addr_get(sdp, pos, 0);
  if (!address) address = session_address;
  // A rejected line (port 0) carries nothing to connect to; RFC 3264 answers often omit c=.
  if (!address && line.port != 0) return Fail("m=" + line.media + " has no connection address");
  line.connection = address ? address : "";
  line.direction = session_direction;
  ReadAttributes(sdp, pos, line);
  return line;
}

Result<SessionDescription> Convert(sdp_message_t* sdp) {
  if (!sdp->v_version || !sdp->o_username) return Fail("SDP has no v= or o= line");
  SdpMediaLine session;
  session.direction = "sendrecv";
  ReadAttributes(sdp, -1, session);
  const char* session_address = sdp_message_c_addr_get(sdp, -1, 0);
  SessionDescription out;
  for (int pos = 0; sdp_message_endof_media(sdp, pos) == 0; ++pos) {
    auto line = ReadMediaLine(sdp, pos, session_address, session.direction);
    if (!line) return Fail(line.error().message);
    out.media.push_back(std::move(*line));
  }
  if (out.media.empty()) return Fail("SDP has no m= line");
  return out;
}

bool HasFormat(const SdpMediaLine& line, uint8_t payload_type) {
  const std::string format = std::to_string(payload_type);
  for (const auto& f : line.formats) {
    if (f == format) return true;
  }
  return false;
}

// The offer's m-line that ChooseAudio took `chosen` from.
int ChosenLine(const SessionDescription& offer, const media::RemoteMedia& chosen) {
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const SdpMediaLine& line = offer.media[i];
    if (line.media != "audio" || line.port != chosen.rtp_port) continue;
    if (HasFormat(line, chosen.payload_type)) return static_cast<int>(i);
  }
  return -1;
}

// The first format of an audio m-line that anchord supports, in the line's (the peer's
// preference) order, with the line's telephone-event/8000 type if it has one.
std::optional<media::RemoteMedia> ChooseOnLine(const SdpMediaLine& line) {
  std::optional<media::RemoteMedia> chosen;
  uint8_t telephone_event = 0;
  for (const std::string& format : line.formats) {
    const std::string_view encoding = EncodingOf(line, format);
    if (!telephone_event) {
      telephone_event = internal::TelephoneEventType(format, encoding).value_or(0);
    }
    if (chosen) continue;
    if (auto codec = internal::AudioCodec(format, encoding)) {
      chosen = media::RemoteMedia{line.connection, line.port, *codec,
                                  static_cast<uint8_t>(std::atoi(format.c_str()))};
    }
  }
  if (chosen) {
    chosen->telephone_event_pt = telephone_event;
    // RFC 3264 §6.1: a peer that only sends (hold) or is inactive is sent no RTP; nor is one
    // holding the RFC 2543 way, with c=0.0.0.0 (RFC 3264 §8.4).
    chosen->send = line.direction != "sendonly" && line.direction != "inactive" &&
                   line.connection != "0.0.0.0";
  }
  return chosen;
}

// "a=rtpmap:PT ENC" and, when the codec has one, "a=fmtp:PT ...".
std::string FormatLines(uint8_t payload_type, media::Codec codec) {
  const std::string pt = std::to_string(payload_type);
  std::string out = "a=rtpmap:" + pt + " " + std::string(internal::EncodingName(codec)) + "\r\n";
  const std::string_view fmtp = internal::FmtpOf(codec);
  if (!fmtp.empty()) out += "a=fmtp:" + pt + " " + std::string(fmtp) + "\r\n";
  return out;
}

// RFC 4733 §7.1.1: the events anchord takes are the DTMF digits 0-9, *, #, A-D (0-15).
std::string TelephoneEventLines(uint8_t payload_type) {
  const std::string pt = std::to_string(payload_type);
  return "a=rtpmap:" + pt + " telephone-event/8000\r\na=fmtp:" + pt + " 0-15\r\n";
}

}  // namespace

Result<SessionDescription> ParseSdp(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return Fail("not SDP: contains a NUL byte");
  if (text.substr(0, 2) != "v=") return Fail("not SDP: does not start with v=");
  std::string padded(text);
  // In a multipart body the CRLF before the boundary belongs to the delimiter (RFC 2046
  // §5.1.1), so the SDP part's last line arrives without one; osip's parser needs it.
  if (padded.back() != '\n') padded += "\r\n";
  padded.append(kParserPadding, '\0');
  sdp_message_t* raw = nullptr;
  if (sdp_message_init(&raw) != 0) return Fail("out of memory parsing SDP");
  SdpPtr sdp(raw);
  if (sdp_message_parse(sdp.get(), padded.c_str()) != 0) return Fail("malformed SDP");
  return Convert(sdp.get());
}

std::optional<media::RemoteMedia> ChooseAudio(const SessionDescription& sdp) {
  for (const SdpMediaLine& line : sdp.media) {
    if (line.media != "audio" || line.port == 0 || line.proto != "RTP/AVP") continue;
    if (!IsIpv4(line.connection)) continue;
    if (auto chosen = ChooseOnLine(line)) return chosen;
  }
  return std::nullopt;
}

LocalSdp::LocalSdp(uint64_t session_id) : session_id_(session_id) {}

namespace {

std::string SessionPart(uint64_t session_id, uint64_t version, const std::string& address) {
  return "v=0\r\no=anchord " + std::to_string(session_id) + " " + std::to_string(version) +
         " IN IP4 " + address + "\r\ns=anchord\r\nc=IN IP4 " + address + "\r\nt=0 0\r\n";
}

}  // namespace

// PCMU and PCMA first: every leg must be able to fall back to G.711 (R6881-ED-72); then the
// wideband codecs. No CN: anchord never suppresses silence (R6881-ED-73).
std::string LocalSdp::Offer(const media::LocalMedia& local) {
  ++version_;
  const std::string opus = std::to_string(internal::kOpusPayloadType);
  const std::string event = std::to_string(internal::kTelephoneEventPayloadType);
  return SessionPart(session_id_, version_, local.address) + "m=audio " +
         std::to_string(local.rtp_port) + " RTP/AVP 0 8 9 " + opus + " " + event + "\r\n" +
         FormatLines(0, media::Codec::kPcmu) + FormatLines(8, media::Codec::kPcma) +
         FormatLines(9, media::Codec::kG722) +
         FormatLines(internal::kOpusPayloadType, media::Codec::kOpus) +
         TelephoneEventLines(internal::kTelephoneEventPayloadType) +
         "a=ptime:20\r\n"
         "a=sendrecv\r\n";
}

std::string LocalSdp::Answer(const media::LocalMedia& local, const SessionDescription& offer,
                             const media::RemoteMedia& chosen) {
  ++version_;
  return AnswerText(local, offer, chosen);
}

// R3264-8-a: an SDP that does not change keeps its version; one that does gets exactly + 1.
std::string LocalSdp::Reanswer(const media::LocalMedia& local, const SessionDescription& offer,
                               const media::RemoteMedia& chosen, const std::string& previous) {
  std::string same_version = AnswerText(local, offer, chosen);
  if (same_version == previous) return same_version;
  return Answer(local, offer, chosen);
}

std::string LocalSdp::AnswerText(const media::LocalMedia& local, const SessionDescription& offer,
                                 const media::RemoteMedia& chosen) const {
  std::string out = SessionPart(session_id_, version_, local.address);
  const int accepted = ChosenLine(offer, chosen);
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const SdpMediaLine& line = offer.media[i];
    if (static_cast<int>(i) != accepted) {
      const std::string& format = line.formats.empty() ? "0" : line.formats.front();
      out += "m=" + line.media + " 0 " + line.proto + " " + format + "\r\n";
      continue;
    }
    // The offer's own payload type numbers: the mapping stays stable (R3264-8.3.2-a).
    const uint8_t event =
        HasFormat(line, chosen.telephone_event_pt) ? chosen.telephone_event_pt : 0;
    std::string formats = std::to_string(chosen.payload_type);
    if (event) formats += " " + std::to_string(event);
    out += "m=audio " + std::to_string(local.rtp_port) + " RTP/AVP " + formats + "\r\n";
    out += FormatLines(chosen.payload_type, chosen.codec);
    if (event) out += TelephoneEventLines(event);
    out += "a=ptime:20\r\n";
    out += "a=" + std::string(AnswerDirection(line.direction)) + "\r\n";
  }
  return out;
}

Result<NegotiatedAudio> NegotiateAudio(const std::optional<std::string>& sdp_text) {
  if (!sdp_text) return Fail("no SDP");
  Result<SessionDescription> sdp = ParseSdp(*sdp_text);
  if (!sdp) return Fail(sdp.error().message);
  std::optional<media::RemoteMedia> audio = ChooseAudio(*sdp);
  if (!audio) return Fail("no supported audio codec");
  return NegotiatedAudio{std::move(*sdp), *audio};
}

}  // namespace anchord::signaling
