// SDP for anchored legs (RFC 4566, RFC 3264): reading a peer's offer or answer, and writing the
// server's own offers and answers with one o= line per leg whose version rises by exactly one
// on every change (R3264-8, R3725-7-d).
//
// Only audio with PCMU and PCMA is negotiated in this version; other m-lines of an offer are
// answered with port 0 in the same order (RFC 3264 §6: the answer keeps the m-line count).
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

// The first audio m-line's first format that is PCMU or PCMA (static 0/8, or a dynamic
// payload type whose rtpmap says PCMU/8000 or PCMA/8000), with the peer's address and port.
// nullopt when there is none (the caller answers 488).
std::optional<media::RemoteMedia> ChooseAudio(const SessionDescription& sdp);

// The server's side of one leg's SDP: session id fixed per leg, version +1 on every new SDP.
class LocalSdp {
 public:
  explicit LocalSdp(uint64_t session_id);

  // An offer with one audio m-line: PCMU (0) and PCMA (8), a=sendrecv, a=ptime:20.
  std::string Offer(const media::LocalMedia& local);
  // An answer to `offer`: the chosen audio format on the first audio m-line, every other
  // m-line rejected with port 0, in the offer's order.
  std::string Answer(const media::LocalMedia& local, const SessionDescription& offer,
                     const media::RemoteMedia& chosen);

  uint64_t version() const { return version_; }

 private:
  uint64_t session_id_;
  uint64_t version_ = 0;
};

}  // namespace anchord::signaling
