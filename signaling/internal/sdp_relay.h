// SDP relaying for the RFC 3725 third-party controller (direct media): the controller does not
// terminate media, it passes one party's SDP to the other. What it must still do to that SDP:
//  - keep one o= line per leg (username, session id fixed; version +1 per changed SDP) and
//    rewrite the o= of every SDP it relays to the recipient leg's own (R3725-7-d, R3264-8);
//  - keep each leg's m-line list stable: lines never reorder or disappear toward a leg, new
//    streams are appended, and a leg's line with no counterpart gets a port-0 line
//    (R3264-6-a/8-b, R3725-4.3-b(ii));
//  - build black-hole SDP (c=0.0.0.0 for IPv4, a `.invalid` host for IPv6: RFC 6157 §4.1,
//    R3725-5-d) and SDP with no m-lines (flow IV);
//  - detect that two SDPs share no media stream and codec (R3725-4.3-b(iii)).
//
// SDP is handled as text lines (RFC 4566 grammar, one field per line), so attributes the
// server does not know (fmtp, rtcp-fb, crypto ...) pass through unchanged.
//
// Threading: plain values; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace anchord::signaling::internal {

struct RelayMedia {
  std::string media;        // "audio", "video", ...
  uint16_t port = 0;        // 0 = rejected / disabled stream
  std::string port_suffix;  // "/2" when the m= line gives a port count, else empty
  std::string proto;        // "RTP/AVP", ...
  std::vector<std::string> formats;
  std::vector<std::string> lines;  // the section's other lines (c=, b=, a= ...), no CRLF

  std::string MLine() const;  // "m=audio 4000 RTP/AVP 0 8"
};

struct RelaySdp {
  std::vector<std::string> session;  // lines before the first m=, v= first, no CRLF
  std::vector<RelayMedia> media;     // may be empty (flow IV, RFC 3264 §5)
};

// Parses SDP text into lines. Needs v= first and an o= line; m-lines are optional.
Result<RelaySdp> ParseRelaySdp(std::string_view text);
// CRLF-terminated text.
std::string Serialize(const RelaySdp& sdp);

// The o= line's fields.
struct Origin {
  std::string username;
  std::string session_id;
  uint64_t version = 0;
  std::string address_type;  // "IP4" | "IP6"
  std::string address;
};
std::optional<Origin> OriginOf(const RelaySdp& sdp);

// The server's o= on one leg: username "anchord", a session id fixed for the leg's life, and a
// version that starts at 1 and rises by exactly 1 each time the leg is sent an SDP that
// differs (anything but o=) from the previous one; an unchanged SDP keeps its version.
class LegOrigin {
 public:
  LegOrigin(uint64_t session_id, std::string address);  // address: numeric IPv4 or IPv6
  // `sdp` with its o= line replaced by this leg's; returns the text to send.
  std::string Stamp(RelaySdp sdp);
  uint64_t version() const { return version_; }
  uint64_t session_id() const { return session_id_; }

 private:
  uint64_t session_id_;
  std::string address_;
  uint64_t version_ = 0;
  std::string last_;  // the last stamped SDP without its o= line
};

// An even, non-zero port in 1024..65534, random (a black hole's port, R3725-4.2-a).
uint16_t RandomBlackHolePort();

// Flow II's first offer: one audio m-line, one codec (PCMU 0) on `port` (non-zero), and
// c=IN IP4 0.0.0.0, or for IPv6 c=IN IP6 anchord.invalid (RFC 6157). o= is a placeholder for
// LegOrigin::Stamp.
RelaySdp BlackHoleOffer(bool ipv6, uint16_t port);
// Flow III's answer to `offer`: the same m-lines (rejected ones stay port 0), the offered
// formats with their rtpmap/fmtp, a mirrored direction, and a black-hole connection address.
RelaySdp BlackHoleAnswer(const RelaySdp& offer);
// Flow IV's first offer: v=, o=, s=, t= and no m-line.
RelaySdp NoMediaSdp();
// The server's own audio offer (PCMU 0, PCMA 8, ptime 20, sendrecv) at address:port, used to
// play ringback / the hold tone to A while B is being called.
RelaySdp ServerAudioOffer(const std::string& address, uint16_t port);

// Whether any live (port != 0) m-line exists.
bool HasLiveMedia(const RelaySdp& sdp);
// Whether a live m-line of `x` and one of `y` have the same media and proto and a common
// format (static payload types by number, dynamic ones by rtpmap encoding/rate).
bool ShareMedia(const RelaySdp& x, const RelaySdp& y);
// Equal in everything but the o= line.
bool SameMedia(const RelaySdp& x, const RelaySdp& y);
// RFC 3312 precondition attributes (a=curr:, a=des:, a=conf:) anywhere.
bool HasPreconditions(const RelaySdp& sdp);

// The correspondence between the m-lines of leg A's session and leg B's: slot i of one side
// is paired with at most one slot of the other. Each side's slots only grow.
class LineMap {
 public:
  enum Side { kA = 0, kB = 1 };

  // Declares `sdp`'s m-lines as side `side`'s slots (what that party has already seen), all
  // unpaired. Used for A's first SDP exchange (flows II-IV).
  void SetLayout(Side side, const RelaySdp& sdp);

  // `sdp`, written in side `from`'s m-line order, refitted to the other side's order:
  // a line of `from` not paired yet pairs with the first unpaired slot of the same media on
  // the other side, else (only if `grow`, i.e. for offers) with a new slot appended there;
  // other-side slots with no line get a port-0 line. `from` lines beyond its slots become new
  // slots. The session part is copied; o= is left for LegOrigin::Stamp.
  RelaySdp Fit(Side from, const RelaySdp& sdp, bool grow);

  size_t slots(Side side) const { return slots_[side].size(); }
  // The other side's slot paired with slot `i` of `side`, or -1.
  int PairOf(Side side, size_t i) const { return pair_[side].at(i); }

 private:
  int FindFree(Side side, const std::string& media) const;

  std::vector<RelayMedia> slots_[2];  // the last line seen in each slot (port-0 template)
  std::vector<int> pair_[2];
};

}  // namespace anchord::signaling::internal
