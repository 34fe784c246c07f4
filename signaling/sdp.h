// SDP for anchored legs (RFC 4566, RFC 3264): reading a peer's offer or answer, and writing the
// server's own offers and answers with one o= line per leg whose version rises by exactly one
// on every change (R3264-8, R3725-7-d).
//
// One audio stream is negotiated: PCMU, PCMA, G.722 or Opus, plus RFC 4733 telephone-event;
// other m-lines of an offer are answered with port 0 in the same order (RFC 3264 §6: the
// answer keeps the m-line count). Comfort noise (CN) is never offered or accepted and Opus DTX
// stays off: no silence suppression on emergency calls (R6881-ED-73).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "media/media_plane.h"

namespace anchord::signaling {

struct SdpMediaLine {
  std::string media;  // "audio", "video", ...
  uint16_t port = 0;
  std::string proto;                 // "RTP/AVP", ...
  std::vector<std::string> formats;  // as written on the m= line
  std::string connection;            // this m-line's c= address, or the session's
  std::string direction;             // sendrecv | sendonly | recvonly | inactive
  std::vector<std::string> rtpmaps;  // a=rtpmap values as written ("96 PCMU/8000")
};

struct SessionDescription {
  std::vector<SdpMediaLine> media;
};

// Parses a peer's SDP. Errors (not SDP, no c= for an m-line, bad port ...) say what is wrong;
// the caller answers 488. The text need not be NUL-terminated; it is copied into a padded
// buffer before osip's parser sees it (libraries.md: sdp_message_parse over-reads).
Result<SessionDescription> ParseSdp(std::string_view text);

// On the first usable audio m-line (port not 0, RTP/AVP, IPv4 c=) that has one, the first
// format in the SDP's own order (the peer's preference) that anchord supports: static 0 PCMU,
// 8 PCMA, 9 G722, or a dynamic type (96..127) whose rtpmap says PCMU/8000, PCMA/8000,
// G722/8000 or opus/48000/2; with the peer's address and port, and in telephone_event_pt that
// line's telephone-event/8000 payload type (0 if it has none). Works on offers and answers.
// nullopt when nothing is usable (G.729 only, CN only ...): the caller answers 488.
std::optional<media::RemoteMedia> ChooseAudio(const SessionDescription& sdp);

// A peer's SDP parsed and its audio chosen (ParseSdp + ChooseAudio). Errors: no SDP at all,
// SDP that does not parse, or no supported audio codec; the caller answers 488.
struct NegotiatedAudio {
  SessionDescription sdp;
  media::RemoteMedia audio;
};
Result<NegotiatedAudio> NegotiateAudio(const std::optional<std::string>& sdp_text);

// The server's side of one leg's SDP: session id fixed per leg, version +1 on every new SDP.
class LocalSdp {
 public:
  explicit LocalSdp(uint64_t session_id);

  // An offer with one audio m-line, in this order: PCMU 0, PCMA 8 (first: G.711 on every leg,
  // R6881-ED-72), G722 9, opus 111 (a=fmtp useinbandfec=1, no usedtx), telephone-event 101
  // (a=fmtp 0-15); a=ptime:20, a=sendrecv. No CN. Each call is a new SDP: version + 1.
  std::string Offer(const media::LocalMedia& local);
  // An answer to `offer`, given `chosen` = ChooseAudio(offer): on the m-line it came from, the
  // chosen format under the offer's payload type number, plus telephone-event under the
  // offer's number when chosen.telephone_event_pt is set (and on that line); a=ptime:20 and
  // the direction mirroring the offer's. Every other m-line is rejected with port 0, in the
  // offer's order. Each call is a new SDP: version + 1.
  std::string Answer(const media::LocalMedia& local, const SessionDescription& offer,
                     const media::RemoteMedia& chosen);
  // The answer to a later offer in the same session (re-INVITE, UPDATE): what Answer() writes,
  // but the version rises (by exactly 1) only when the text differs from `previous`, this
  // leg's last SDP; an unchanged answer is `previous` itself (R3264-8-a). A direction change
  // (hold: sendonly -> recvonly, R3264-6-a) is a change.
  std::string Reanswer(const media::LocalMedia& local, const SessionDescription& offer,
                       const media::RemoteMedia& chosen, const std::string& previous);

  uint64_t version() const { return version_; }

 private:
  std::string AnswerText(const media::LocalMedia& local, const SessionDescription& offer,
                         const media::RemoteMedia& chosen) const;

  uint64_t session_id_;
  uint64_t version_ = 0;
};

}  // namespace anchord::signaling
