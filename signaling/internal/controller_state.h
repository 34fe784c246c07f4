// The Controller's per-call and per-leg state, shared by its implementation files
// (controller.cc: calls and positions; controller_queue.cc; controller_control.cc;
// controller_prack.cc). Signaling thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "media/tty/tty_line_assembler.h"
#include "signaling/control.h"
#include "signaling/controller.h"

namespace anchord::signaling {

enum class LegKind { kCaller, kPosition, kParty };

// RFC 3262 toward the caller: which of our provisional responses to its INVITE go reliably.
// kAll: it sent Require: 100rel (every 101-199 must, R3262-a). kWithSdp: it sent only
// Supported: 100rel, and anchord chooses reliability for the 18x that carry SDP (the queue's
// 183 with the early-media answer), so the ESRP knows that answer arrived.
enum class Reliability { kNone, kWithSdp, kAll };

// The caller leg's reliable provisionals (controller_prack.cc). At most one is unacknowledged;
// later ones wait in `waiting`; a 200 that is ready before the PRACK is held.
struct ReliableProvisionals {
  Reliability mode = Reliability::kNone;
  uint32_t next_rseq = 0;          // RSeq of the next reliable provisional (random start, +1 each)
  MessagePtr unacked;              // sent, not PRACKed yet: retransmitted until the PRACK
  uint32_t unacked_rseq = 0;       // its RSeq
  std::deque<MessagePtr> waiting;  // reliable provisionals behind `unacked`, in order
  std::unique_ptr<core::Timer> timer;
  uint32_t interval_ms = 0;  // T1, 2*T1, 4*T1 ... (no T2 cap, RFC 3262 §3)
  uint64_t deadline_us = 0;  // first send + 64*T1: then 500 to the INVITE
  bool answer_held = false;  // our 200 is built (Leg::answer) and waits for the PRACK
  bool final_sent = false;   // a final response to the caller's INVITE went out
};

struct Controller::Leg {
  LegId id;
  CallId call;
  LegKind kind = LegKind::kPosition;
  PositionId position;  // position legs
  std::string uri;      // party legs: whom we called
  LegId transferor;     // a transfer target: the leg whose REFER brought it in (NOTIFYs go there)
  Dialog dialog;
  TxId invite_tx = 0;
  MessagePtr invite;           // position legs: the INVITE sent, for CANCEL
  bool provisional = false;    // a 1xx arrived: CANCEL is allowed (R3261-9.1)
  bool cancel_wanted = false;  // CANCEL as soon as a 1xx allows it
  bool abandoned = false;      // no longer wanted: a late 2xx gets ACK + BYE
  bool confirmed = false;      // position: answered; caller: our 200 was ACKed
  LocalSdp sdp{0};
  media::LocalMedia local;
  bool has_media = false;
  bool tcp_upgraded = false;  // sent over TCP for its size (R3261-18.1.1); UDP is the fallback
  std::string last_sdp;
  PeerAddress response_peer;  // caller: where its INVITE came from
  bool early_media = false;   // caller: a 183 with our SDP went out (queue ringback)
  MessagePtr answer;          // caller: our 200, retransmitted until ACK (R3261-13.3.1.4)
  MessagePtr ack;             // position: our ACK, re-sent on a retransmitted 2xx
  std::unique_ptr<core::Timer> retransmit;
  // RFC 4028 on a position leg: we refresh at half the interval, or watch the position's
  // refreshes and call the session dead when none came in time.
  std::unique_ptr<core::Timer> session_timer;
  uint32_t session_expires_s = 0;
  bool we_refresh = false;
  uint32_t retransmit_ms = 0;
  uint64_t retransmit_deadline_us = 0;
  ReliableProvisionals reliable;  // caller legs: RFC 3262 (controller_prack.cc)
};

struct Controller::Call {
  CallId id;
  LegId caller;
  LegId position_leg;  // the position leg ringing or answered now
  MessagePtr invite;   // the caller's INVITE
  TxId invite_tx = 0;
  SessionDescription offer;
  media::RemoteMedia caller_media;
  EmergencyData emergency;
  std::vector<PositionId> tried;
  bool answered = false;
  bool ringing_sent = false;
  bool failing_over = false;
  PositionId failed_position;
  uint64_t failover_start_us = 0;
  std::unique_ptr<core::Timer> ring_timer;
  std::string sip_call_id;
  int max_forwards = 70;  // for the INVITEs that carry the caller's call on (R7332-5-a)
  // Queue (NENA-4.2.1.3): waiting for a position, in arrival order.
  bool queued = false;
  bool queued_before = false;
  std::unique_ptr<core::Timer> queue_timer;
  // Conference parties and the two ends of an anchored third-party call.
  std::vector<LegId> parties;
  bool third_party = false;  // no caller leg: created through the control API
  NewCallRequest request;    // third-party calls
  uint64_t started_unix_ms = 0;
  uint64_t answered_unix_ms = 0;
  // TTY text from the caller (issue 4): every character, and the line being assembled.
  std::string tty_text;
  media::tty::TtyLineAssembler tty_lines;
};

}  // namespace anchord::signaling
