// ControlHandler: what the control API (HTTP + JSON, app/control_api) and anchorctl may see and
// do. Implemented by the Controller.
//
// Threading: every method runs on the signaling thread; the API server posts its requests onto
// the signaling loop and waits for the answer on its own thread. Ids are the server's CallId
// values (decimal in JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace anchord::signaling {

struct PartySummary {
  uint64_t leg = 0;
  std::string kind;      // "caller" | "position" | "party"
  std::string uri;       // the remote party's URI
  std::string state;     // "inviting" | "ringing" | "connected" | "ended"
  std::string position;  // position name for kind "position"
};

struct CallSummary {
  uint64_t id = 0;
  std::string state;        // "queued" | "ringing" | "answered" | "failing-over" | "connecting"
  std::string sip_call_id;  // the caller's Call-ID (anchored calls) or the A leg's (3pcc)
  std::string ng911_call_id;
  std::string incident_id;
  std::string caller;    // caller's From URI, or the 3pcc A party
  std::string position;  // name of the position serving it now, if any
  std::string location;  // Geolocation header value(s), if any
  std::string media;     // "anchored" | "direct"
  int flow = 0;          // 3pcc flow 1..4, 0 for calls from the ESInet
  uint64_t started_unix_ms = 0;
  uint64_t answered_unix_ms = 0;  // 0 = not answered
  std::vector<PartySummary> parties;
  std::string tty_text;  // TTY text decoded from the caller so far (issue 4)
};

struct PositionSummary {
  std::string name;
  std::string uri;
  std::string standby;
  std::string health;    // "unknown" | "up" | "down"
  std::string activity;  // "idle" | "ringing" | "busy"
  uint64_t call = 0;     // the call it rings or serves, 0 if none
};

// A caller who hung up while queued or ringing (NENA-4.6.8-a): kept for callback.
struct AbandonedCall {
  uint64_t id = 0;
  std::string caller;           // From URI
  std::string caller_identity;  // P-Asserted-Identity, if any
  std::string sip_call_id;
  std::string ng911_call_id;
  std::string incident_id;
  std::string location;  // Geolocation value (reference), if any
  std::string stage;     // "queued" | "ringing"
  uint64_t started_unix_ms = 0;
  uint64_t ended_unix_ms = 0;
};

struct NewCallRequest {
  std::string a;          // SIP URI of party A (called first)
  std::string b;          // SIP URI of party B
  int flow = 0;           // 1..4 (RFC 3725 §4), 0 = "auto" (§5: flow I to automata, else flow IV)
  bool anchored = false;  // true: each party gets the server's SDP and the call is a bridge
  bool callback = false;  // a PSAP callback: the INVITEs carry "Priority: psap-callback"
};

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  virtual std::vector<CallSummary> ListCalls() = 0;
  virtual std::optional<CallSummary> GetCall(uint64_t id) = 0;
  virtual std::vector<PositionSummary> ListPositions() = 0;
  virtual std::vector<AbandonedCall> ListAbandoned() = 0;
  // Operator hang-up: ends every leg of the call with BYE (or CANCEL/487 before answer).
  virtual Status Hangup(uint64_t id) = 0;
  // RFC 3725 third-party call; returns the new call's id.
  virtual Result<uint64_t> CreateCall(const NewCallRequest& request) = 0;
  // Brings a third party into an anchored call's bridge (conference); returns its leg id.
  virtual Result<uint64_t> AddParty(uint64_t call, const std::string& uri) = 0;
};

}  // namespace anchord::signaling
