// Controller: the B2BUA that answers emergency calls, offers them to positions, bridges the
// legs through the media plane and re-points a failed position's stream to its standby
// (DESIGN "Failover"; RFC 3725 rules for an anchoring B2BUA, standards.md §1.0).
//
// Call life: caller INVITE → 100 → INVITE with the server's SDP to the idle position idle the
// longest → its 180 → 180 to the caller → its 200 → ACK → 200 with the server's SDP to the
// caller → both legs connected in the call's bridge. No answer within the ring timeout or a
// rejection → the next position; none left → 486 (NENA-4.2.1.3). After answer, a position
// that fails (heartbeat misses or RTP silence) is replaced by its standby while the caller
// hears the hold tone; the caller's leg gets no SIP message (DESIGN invariant 1).
// Provisionals to a caller that supports or requires 100rel go reliably (RFC 3262,
// controller_prack.cc); toward positions anchord does not use 100rel.
//
// Threading: signaling thread only.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/ids.h"
#include "failover/heartbeat.h"
#include "failover/position_registry.h"
#include "media/media_plane.h"
#include "signaling/control.h"
#include "signaling/dialog.h"
#include "signaling/dialog_owner.h"
#include "signaling/ng911.h"
#include "signaling/sdp.h"
#include "signaling/sip_stack.h"

namespace anchord::signaling {

enum class LegKind;

struct ControllerOptions {
  uint32_t ring_timeout_ms = 15000;
  uint32_t rtp_timeout_ms = 300;
  uint32_t t1_ms = 500;
  uint32_t t2_ms = 4000;  // caps the retransmission interval of anchord's 200 to a caller
  uint32_t session_expires_s = 1800;  // RFC 4028 toward positions; 0 = no session timer
  uint32_t queue_max_calls = 16;      // 0 = no queue
  uint32_t queue_max_wait_s = 300;
  int overflow_status = 486;     // 486 or 503 (NENA-4.2.1.3)
  size_t abandoned_kept = 1000;  // most recent abandoned calls kept for callback
};

class ThirdPartyController;

class Controller : public SipStackHandler,
                   public media::MediaEvents,
                   public failover::HealthObserver,
                   public failover::Prober,
                   public ControlHandler {
 public:
  Controller(core::EventLoop& loop, media::MediaPlane& media, failover::PositionRegistry& positions,
             ControllerOptions options);
  ~Controller() override;

  // Wiring after construction (the stack needs this object as its handler).
  void Attach(SipStack* stack, failover::HeartbeatMonitor* heartbeat);

  // Messages of transactions and dialogs `owner` claims go to it (third-party calls), and
  // direct-media third-party calls are created through it.
  void SetThirdParty(ThirdPartyController* third_party);

  size_t active_calls() const { return calls_.size(); }
  // Everything the controller tracks; all zero once no call is up (leak checks in tests).
  struct Sizes {
    size_t calls, legs, dialogs, invite_transactions;
  };
  Sizes sizes() const { return {calls_.size(), legs_.size(), dialogs_.size(), invite_txs_.size()}; }

  // SipStackHandler
  void OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) override;
  void OnAck(const osip_message_t* ack) override;
  void OnResponse(TxId tx, const osip_message_t* response) override;
  void OnStrayResponse(const osip_message_t* response) override;
  void OnClientFailure(TxId tx, int status_code) override;
  // media::MediaEvents
  void OnLegSilent(CallId call, LegId leg) override;
  void OnGapMeasured(CallId call, LegId listener, uint32_t gap_ms) override;
  void OnDtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) override;
  void OnTtyText(CallId call, LegId leg, const std::string& text) override;
  // ControlHandler (controller_control.cc)
  std::vector<CallSummary> ListCalls() override;
  std::optional<CallSummary> GetCall(uint64_t id) override;
  std::vector<PositionSummary> ListPositions() override;
  std::vector<AbandonedCall> ListAbandoned() override;
  Status Hangup(uint64_t id) override;
  Result<uint64_t> CreateCall(const NewCallRequest& request) override;
  Result<uint64_t> AddParty(uint64_t call, const std::string& uri) override;
  // failover::HealthObserver
  void OnPositionDown(PositionId id) override;
  void OnPositionUp(PositionId id) override;
  // failover::Prober: SIP OPTIONS with an application timeout.
  void Probe(const failover::Position& position, uint32_t timeout_ms,
             std::function<void(bool alive)> done) override;

 private:
  struct Leg;
  struct Call;

  // Caller side.
  void StartCall(TxId tx, const osip_message_t* invite, const PeerAddress& source);
  int InviteStatusNow() const;
  bool HasConnectedParty(const Call& call) const;
  // Any response to the caller's INVITE after 100: provisionals go through SendProvisional
  // (reliably when RFC 3262 says so), a final one ends the reliable provisionals.
  void RespondToInvite(Call& call, int code);
  void AnswerCaller(Call& call);
  void SendAnswer(Call& call, Leg& caller);  // the 200 built by AnswerCaller, then retransmitted
  void RetransmitAnswer(LegId leg_id);
  // CANCEL (controller_cancel.cc, R3261-9.2-a): before answer 200 + 487 and an abandoned
  // call; after our 2xx (RFC 6026 Accepted, 64*T1) 200 and nothing else; unmatched 481.
  void HandleCancel(TxId tx, const osip_message_t* cancel);
  void RememberAccepted(const osip_message_t* invite, const std::string& to_tag);
  // The To tag of our 2xx to the INVITE `cancel` names, if it went out less than 64*T1 ago.
  std::optional<std::string> AcceptedToTag(const osip_message_t* cancel);
  void HandleInDialog(TxId tx, const osip_message_t* request);
  void HandleReInvite(TxId tx, Leg& leg, const osip_message_t* invite);

  // Position side.
  bool OfferToNextPosition(Call& call);
  bool OfferToPosition(Call& call, PositionId position, bool force_udp = false);
  void MoveToTcp(Leg& leg, osip_message_t* request);
  MessagePtr MakePositionInvite(const Call& call, Leg& leg, const failover::Position& p);
  void OnPositionProvisional(Leg& leg);
  void ConfirmUacDialog(Leg& leg, const osip_message_t* response);
  void OnPositionAnswer(Leg& leg, const osip_message_t* response);
  void OnPositionAttemptFailed(Leg& leg, int status_code);
  void OnRingTimeout(CallId call_id);
  void AbandonPositionLeg(Leg& leg);
  void SendAck(Leg& leg, const osip_message_t* response);
  void SendBye(Leg& leg, const char* reason);
  void EndForkedDialog(const Leg& leg, const osip_message_t* response);

  // Queue and abandoned calls (controller_queue.cc).
  void PlaceCall(Call& call);
  void Enqueue(Call& call);
  void DrainQueue();
  void OnQueueTimeout(CallId call_id);
  void Overflow(Call& call, const char* reason);
  void SendEarlyMedia(Call& call);
  void RecordAbandoned(const Call& call);

  // Reliable provisionals toward the caller (controller_prack.cc, RFC 3262, R3262-a).
  void InitReliability(Leg& caller, const osip_message_t* invite);
  void SendProvisional(Call& call, MessagePtr response);
  void SendReliable(Leg& caller, MessagePtr response);
  void RetransmitProvisional(LegId caller_id);
  void HandlePrack(TxId tx, Leg& leg, const osip_message_t* prack);
  // True when our 200 must wait for a PRACK (it is then sent by HandlePrack).
  bool HoldAnswerForPrack(Leg& caller);
  void EndReliability(Leg& caller);  // a final response went out: no more provisionals

  // Parties: conference members and the ends of anchored third-party calls
  // (controller_control.cc).
  // `extra_headers`: (name, value) pairs for the INVITE (Replaces, Referred-By of a transfer).
  Result<LegId> InviteParty(
      Call& call, const std::string& uri,
      const std::vector<std::pair<std::string, std::string>>& extra_headers = {});

  // Transfer (controller_transfer.cc): REFER from a position, blind or attended (Replaces),
  // NENA-4.7; the caller's leg stays, the target joins the bridge.
  void HandleRefer(TxId tx, Leg& transferor, const osip_message_t* refer);
  std::string TransferorUri(const Leg& transferor);
  void NotifyTransferor(Leg& target, int status_code);
  void OnPartyResponse(Leg& leg, const osip_message_t* response);
  void OnPartyFailed(Leg& leg, int status_code);
  CallSummary Summarize(const Call& call);
  void PollTty();
  void LogTtyLine(const Call& call, const std::string& line);

  // Session timers toward positions (controller_session_timer.cc, RFC 4028).
  void AddSessionTimerHeaders(osip_message_t* invite) const;
  void StartSessionTimer(Leg& leg, const osip_message_t* response);
  void OnSessionTimer(LegId leg_id);
  void OnRefreshDone(LegId leg_id, int status_code);
  void NoteRefreshFromPeer(Leg& leg);
  void SessionTimerFailed(Leg& leg, const char* why);

  // Failover.
  void StartFailover(Call& call, const char* reason);
  void RetryWaitingCalls(bool forget_tried);

  // Lifetime.
  Leg& NewLeg(Call& call, LegKind kind);
  void EndCall(CallId id, const char* reason, std::optional<LegId> bye_from);
  void DestroyLeg(LegId id);
  void ReleasePosition(Leg& leg);
  Call* FindCall(CallId id);
  Leg* FindLeg(LegId id);
  Leg* FindLegByDialog(const std::string& call_id, const std::string& local_tag);
  Leg* FindLegByTx(TxId tx);
  void Respond(TxId tx, const osip_message_t* request, int code, const std::string& to_tag = {});

  core::EventLoop& loop_;
  media::MediaPlane& media_;
  failover::PositionRegistry& positions_;
  ControllerOptions options_;
  SipStack* stack_ = nullptr;
  failover::HeartbeatMonitor* heartbeat_ = nullptr;
  DialogOwner* owner_ = nullptr;
  ThirdPartyController* third_party_ = nullptr;
  std::deque<CallId> queue_;                   // arrival order (NENA-4.2.1.3)
  std::deque<AbandonedCall> abandoned_;        // newest last, at most abandoned_kept
  std::unique_ptr<core::Timer> housekeeping_;  // 1 s: TTY line pauses

  uint64_t next_id_ = 1;
  std::unordered_map<CallId, std::unique_ptr<Call>> calls_;
  std::unordered_map<LegId, std::unique_ptr<Leg>> legs_;
  std::unordered_map<std::string, LegId> dialogs_;  // DialogKey -> leg
  std::unordered_map<TxId, LegId> invite_txs_;      // client or server INVITE tx -> leg
  std::unordered_map<TxId, std::function<void(bool)>> probes_;
  std::unordered_map<TxId, LegId> refresh_txs_;  // our session refreshes (UPDATE)
  // Caller INVITEs answered 2xx in the last 64*T1 (RFC 6026 Accepted; osip's IST ends with
  // the 2xx): a hash of (branch, Call-ID, From tag, CSeq) -> our To tag, and their expiry,
  // oldest first (every entry lives 64*T1, so insertion order is expiry order). Compact on
  // purpose: at 1,000 calls/s some 32,000 live at once (T1 = 500 ms), and four heap strings
  // each made every malloc of the signaling thread slower (bench/RESULTS.md, call setup rate).
  struct AcceptedInvite {
    std::array<char, 32> to_tag{};
    uint8_t to_tag_len = 0;
  };
  std::unordered_map<uint64_t, AcceptedInvite> accepted_;
  std::deque<std::pair<uint64_t, uint64_t>> accepted_expiry_;  // (expires_us, key hash)
};

}  // namespace anchord::signaling
