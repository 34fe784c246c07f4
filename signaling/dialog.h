// One SIP dialog as the server sees it on one leg (RFC 3261 §12): identifiers, route set,
// remote target and the local CSeq, plus building in-dialog requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "signaling/sip_message.h"

namespace anchord::signaling {

class SipStack;

struct Dialog {
  std::string call_id;
  std::string local_tag;
  std::string remote_tag;
  std::string local_party;             // our From/To header value, with our tag
  std::string remote_party;            // theirs, with their tag once known
  std::string remote_target;           // their Contact URI
  std::vector<std::string> route_set;  // Route values in the order to send them
  uint32_t local_cseq = 1;
  uint32_t remote_cseq = 0;  // highest CSeq of the peer's requests so far (0 = none yet)
  PeerAddress peer;  // where in-dialog requests go: first loose route, else the remote target
};

// Dialog key for the index: Call-ID and our tag.
std::string DialogKey(const std::string& call_id, const std::string& local_tag);

// An in-dialog request (BYE, re-INVITE ...) with the next CSeq, or CSeq `cseq` if non-zero.
// `max_forwards`: 70 for requests the server starts; the caller's value - 1 for the INVITE
// that carries a caller's call on (R7332-5-a).
MessagePtr MakeInDialogRequest(const SipStack& stack, Dialog& dialog, const char* method,
                               uint32_t cseq = 0, int max_forwards = 70);

// Fills route set, remote target and peer from a message's Record-Route and Contact: in the
// received order for a UAS (the request), reversed for a UAC (the 2xx), RFC 3261 §12.1.
void LearnRoute(Dialog& dialog, const osip_message_t* message, bool as_uac,
                core::Transport transport);

}  // namespace anchord::signaling
