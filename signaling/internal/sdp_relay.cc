#include "signaling/internal/sdp_relay.h"

#include <strings.h>

#include <charconv>
#include <sstream>

#include "signaling/sip_message.h"

namespace anchord::signaling::internal {
namespace {

std::vector<std::string> Split(std::string_view text, char by) {
  std::vector<std::string> out;
  std::string token;
  std::istringstream in{std::string(text)};
  while (std::getline(in, token, by)) {
    if (!token.empty()) out.push_back(token);
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Result<RelayMedia> ParseMLine(const std::string& line) {
  std::vector<std::string> fields = Split(std::string_view(line).substr(2), ' ');
  if (fields.size() < 4) return Fail("incomplete m= line \"" + line + "\"");
  RelayMedia m;
  m.media = fields[0];
  std::string_view port = fields[1];
  if (size_t slash = port.find('/'); slash != std::string_view::npos) {
    m.port_suffix = std::string(port.substr(slash));
    port = port.substr(0, slash);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return Fail("bad port in \"" + line + "\"");
  }
  m.port = static_cast<uint16_t>(value);
  m.proto = fields[2];
  m.formats.assign(fields.begin() + 3, fields.end());
  return m;
}

// The section's a=rtpmap encoding of `format` ("PCMU/8000"), or empty.
std::string EncodingOf(const RelayMedia& m, const std::string& format) {
  const std::string prefix = "a=rtpmap:" + format + " ";
  for (const std::string& line : m.lines) {
    if (StartsWith(line, prefix)) return line.substr(prefix.size());
  }
  return {};
}

bool SameFormat(const RelayMedia& x, const std::string& fx, const RelayMedia& y,
                const std::string& fy) {
  int px = -1, py = -1;
  std::from_chars(fx.data(), fx.data() + fx.size(), px);
  std::from_chars(fy.data(), fy.data() + fy.size(), py);
  if (px >= 0 && px < 96 && py >= 0 && py < 96) return px == py;  // static (RFC 3551)
  if (px < 0 || py < 0) return fx == fy;                          // non-RTP formats
  std::string ex = EncodingOf(x, fx), ey = EncodingOf(y, fy);
  return !ex.empty() && strcasecmp(ex.c_str(), ey.c_str()) == 0;
}

bool LinesShare(const RelayMedia& x, const RelayMedia& y) {
  if (x.port == 0 || y.port == 0 || x.media != y.media || x.proto != y.proto) return false;
  for (const std::string& fx : x.formats) {
    for (const std::string& fy : y.formats) {
      if (SameFormat(x, fx, y, fy)) return true;
    }
  }
  return false;
}

std::string MirrorDirection(const std::string& line) {
  if (line == "a=sendonly") return "a=recvonly";
  if (line == "a=recvonly") return "a=sendonly";
  return line;
}

bool IsDirection(const std::string& line) {
  return line == "a=sendrecv" || line == "a=sendonly" || line == "a=recvonly" ||
         line == "a=inactive";
}

bool UsesIpv6(const RelaySdp& sdp) {
  auto v6 = [](const std::string& line) { return StartsWith(line, "c=IN IP6"); };
  for (const std::string& line : sdp.session) {
    if (v6(line)) return true;
  }
  for (const RelayMedia& m : sdp.media) {
    for (const std::string& line : m.lines) {
      if (v6(line)) return true;
    }
  }
  return false;
}

std::string BlackHoleConnection(bool ipv6) {
  return ipv6 ? "c=IN IP6 anchord.invalid" : "c=IN IP4 0.0.0.0";
}

std::vector<std::string> SessionLines(const std::string& connection) {
  std::vector<std::string> lines = {"v=0", "o=- 0 0 IN IP4 0.0.0.0", "s=-"};
  if (!connection.empty()) lines.push_back(connection);
  lines.push_back("t=0 0");
  return lines;
}

RelayMedia Rejected(const RelayMedia& like) {
  RelayMedia m;
  m.media = like.media;
  m.proto = like.proto;
  m.formats = {like.formats.empty() ? std::string("0") : like.formats.front()};
  return m;
}

}  // namespace

std::string RelayMedia::MLine() const {
  std::string out = "m=" + media + " " + std::to_string(port) + port_suffix + " " + proto;
  for (const std::string& f : formats) out += " " + f;
  return out;
}

Result<RelaySdp> ParseRelaySdp(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return Fail("not SDP: contains a NUL byte");
  RelaySdp sdp;
  for (std::string line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=') return Fail("not SDP: line \"" + line + "\"");
    if (StartsWith(line, "m=")) {
      auto m = ParseMLine(line);
      if (!m) return Fail(m.error().message);
      sdp.media.push_back(std::move(*m));
    } else if (!sdp.media.empty()) {
      sdp.media.back().lines.push_back(std::move(line));
    } else {
      sdp.session.push_back(std::move(line));
    }
  }
  if (sdp.session.empty() || sdp.session.front() != "v=0") return Fail("not SDP: no v=0 first");
  if (!OriginOf(sdp)) return Fail("SDP has no valid o= line");
  return sdp;
}

std::string Serialize(const RelaySdp& sdp) {
  std::string out;
  for (const std::string& line : sdp.session) out += line + "\r\n";
  for (const RelayMedia& m : sdp.media) {
    out += m.MLine() + "\r\n";
    for (const std::string& line : m.lines) out += line + "\r\n";
  }
  return out;
}

std::optional<Origin> OriginOf(const RelaySdp& sdp) {
  for (const std::string& line : sdp.session) {
    if (!StartsWith(line, "o=")) continue;
    std::vector<std::string> f = Split(std::string_view(line).substr(2), ' ');
    if (f.size() != 6) return std::nullopt;
    Origin o{f[0], f[1], 0, f[4], f[5]};
    auto [ptr, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), o.version);
    if (ec != std::errc() || ptr != f[2].data() + f[2].size()) return std::nullopt;
    return o;
  }
  return std::nullopt;
}

LegOrigin::LegOrigin(uint64_t session_id, std::string address)
    : session_id_(session_id), address_(std::move(address)) {}

std::string LegOrigin::Stamp(RelaySdp sdp) {
  const std::string type = address_.find(':') == std::string::npos ? "IP4" : "IP6";
  std::string* origin = nullptr;
  for (std::string& line : sdp.session) {
    if (StartsWith(line, "o=")) origin = &line;
  }
  if (!origin) {
    sdp.session.insert(sdp.session.begin() + (sdp.session.empty() ? 0 : 1), "o=");
    origin = &sdp.session[sdp.session.size() > 1 ? 1 : 0];
  }
  *origin = "o=";
  std::string content = Serialize(sdp);
  if (version_ == 0 || content != last_) {
    ++version_;
    last_ = std::move(content);
  }
  *origin = "o=anchord " + std::to_string(session_id_) + " " + std::to_string(version_) + " IN " +
            type + " " + address_;
  return Serialize(sdp);
}

uint16_t RandomBlackHolePort() {
  uint64_t r = std::stoull(RandomToken(8), nullptr, 16);
  return static_cast<uint16_t>(1024 + 2 * (r % 32255));  // even, 1024..65532
}

RelaySdp BlackHoleOffer(bool ipv6, uint16_t port) {
  RelaySdp sdp;
  sdp.session = SessionLines(BlackHoleConnection(ipv6));
  RelayMedia audio;
  audio.media = "audio";
  audio.port = port;
  audio.proto = "RTP/AVP";
  audio.formats = {"0"};
  audio.lines = {"a=rtpmap:0 PCMU/8000", "a=sendrecv"};
  sdp.media.push_back(std::move(audio));
  return sdp;
}

RelaySdp BlackHoleAnswer(const RelaySdp& offer) {
  RelaySdp sdp;
  sdp.session = SessionLines(BlackHoleConnection(UsesIpv6(offer)));
  uint16_t port = RandomBlackHolePort();
  for (const RelayMedia& offered : offer.media) {
    if (offered.port == 0) {
      sdp.media.push_back(Rejected(offered));
      continue;
    }
    RelayMedia m = offered;
    m.port = port;
    port = static_cast<uint16_t>(port >= 65530 ? 1024 : port + 2);
    m.lines.clear();
    for (const std::string& line : offered.lines) {
      if (StartsWith(line, "a=rtpmap:") || StartsWith(line, "a=fmtp:") ||
          StartsWith(line, "a=ptime:")) {
        m.lines.push_back(line);
      } else if (IsDirection(line)) {
        m.lines.push_back(MirrorDirection(line));
      }
    }
    sdp.media.push_back(std::move(m));
  }
  return sdp;
}

RelaySdp NoMediaSdp() {
  RelaySdp sdp;
  sdp.session = SessionLines("");
  return sdp;
}

RelaySdp ServerAudioOffer(const std::string& address, uint16_t port) {
  RelaySdp sdp;
  const bool v6 = address.find(':') != std::string::npos;
  sdp.session = SessionLines(std::string("c=IN ") + (v6 ? "IP6 " : "IP4 ") + address);
  RelayMedia audio;
  audio.media = "audio";
  audio.port = port;
  audio.proto = "RTP/AVP";
  audio.formats = {"0", "8"};
  audio.lines = {"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=ptime:20", "a=sendrecv"};
  sdp.media.push_back(std::move(audio));
  return sdp;
}

bool HasLiveMedia(const RelaySdp& sdp) {
  for (const RelayMedia& m : sdp.media) {
    if (m.port != 0) return true;
  }
  return false;
}

bool ShareMedia(const RelaySdp& x, const RelaySdp& y) {
  for (const RelayMedia& mx : x.media) {
    for (const RelayMedia& my : y.media) {
      if (LinesShare(mx, my)) return true;
    }
  }
  return false;
}

bool SameMedia(const RelaySdp& x, const RelaySdp& y) {
  auto without_origin = [](RelaySdp sdp) {
    for (std::string& line : sdp.session) {
      if (StartsWith(line, "o=")) line = "o=";
    }
    return Serialize(sdp);
  };
  return without_origin(x) == without_origin(y);
}

bool HasPreconditions(const RelaySdp& sdp) {
  auto is = [](const std::string& line) {
    return StartsWith(line, "a=curr:") || StartsWith(line, "a=des:") || StartsWith(line, "a=conf:");
  };
  for (const std::string& line : sdp.session) {
    if (is(line)) return true;
  }
  for (const RelayMedia& m : sdp.media) {
    for (const std::string& line : m.lines) {
      if (is(line)) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// LineMap

void LineMap::SetLayout(Side side, const RelaySdp& sdp) {
  slots_[side] = sdp.media;
  pair_[side].assign(sdp.media.size(), -1);
}

int LineMap::FindFree(Side side, const std::string& media) const {
  for (size_t j = 0; j < slots_[side].size(); ++j) {
    if (pair_[side][j] < 0 && slots_[side][j].media == media) return static_cast<int>(j);
  }
  return -1;
}

RelaySdp LineMap::Fit(Side from, const RelaySdp& sdp, bool grow) {
  const Side to = from == kA ? kB : kA;
  std::vector<int> line_at(slots_[to].size(), -1);  // other-side slot -> index in sdp
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    const RelayMedia& line = sdp.media[i];
    if (i >= slots_[from].size()) {
      slots_[from].push_back(line);
      pair_[from].push_back(-1);
    }
    slots_[from][i] = line;
    int j = pair_[from][i];
    if (j < 0) j = FindFree(to, line.media);
    if (j < 0 && grow) {
      slots_[to].push_back(Rejected(line));
      pair_[to].push_back(-1);
      line_at.push_back(-1);
      j = static_cast<int>(slots_[to].size() - 1);
    }
    if (j < 0) continue;  // an answer's line the other side never offered: dropped
    pair_[from][i] = j;
    pair_[to][j] = static_cast<int>(i);
    line_at[j] = static_cast<int>(i);
  }
  RelaySdp out;
  out.session = sdp.session;
  for (size_t j = 0; j < slots_[to].size(); ++j) {
    out.media.push_back(line_at[j] >= 0 ? sdp.media[line_at[j]] : Rejected(slots_[to][j]));
  }
  return out;
}

}  // namespace anchord::signaling::internal
