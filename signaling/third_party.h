// ThirdPartyController: RFC 3725 third-party call control with direct media. The server calls
// party A, then party B, and relays SDP between them so that their RTP flows A <-> B without
// the server; it stays the signalling centre of both dialogs for the whole call (R3725-7-a).
//
// Flows (RFC 3725 §4), chosen per call by NewCallRequest::flow:
//   1  INVITE A (no SDP) → A 200 offer1 → INVITE B (offer1) → B 200 answer1 → ACK B →
//      ACK A (answer1). Only for an automaton B: A's 200 waits un-ACKed for B (R3725-4.1-b).
//   2  INVITE A (black-hole offer) → A 200 sdp2, ACK → INVITE B (sdp2) → B 200 sdp3 → ACK B →
//      re-INVITE A (sdp3) → A 200 → ACK. If A's new answer differs from sdp2, B is re-INVITEd
//      with it, and so on, at most ThirdPartyOptions::max_flow2_rounds times (R3725-4.2-b).
//   3  INVITE A (no SDP) → A 200 offer1, ACK with a black-hole answer → INVITE B (no SDP) →
//      B 200 offer2 → re-INVITE A (offer2': m-lines fitted to offer1's) → A 200 answer2' →
//      ACK B (answer2: fitted back to offer2's m-lines) → ACK A.
//   4  as 3, but the first INVITE carries SDP with no m-lines (RFC 3725 exactly).
//   0  "auto" (§5): flow 1 when `is_automaton(b)`, else flow 4 with ringback: the first
//      INVITE to A offers a server media leg (MediaPlane) that plays ringback, so A hears
//      a tone rather than silence while B is called (R3725-5-e); offer2' then replaces it (A's
//      one audio m-line carries B's audio) and the server leg is destroyed. An explicit flow 4
//      keeps the RFC's m-line-less offer (and silence).
//
// Early media (RFC 3725 §8; third_party_early.cc): in flow 4 (and auto → 4) both INVITEs say
// `Supported: 100rel`, and anchord is the RFC 3262 UAC (R3262-a): every reliable 18x is
// PRACKed (`RAck: <RSeq> <CSeq> INVITE`), a repeated or out-of-order RSeq is discarded.
//  - B's offer2 in a reliable 18x (Fig. 8, R3725-8-a): A gets offer2' at once, and A's answer
//    goes to B in the PRACK of that 18x; B's 200 is then ACKed without SDP. SDP in an
//    unreliable 18x is ignored (offer2 is then read from B's 200).
//  - A's answer in a reliable 18x (Fig. 9, R3725-8-b): PRACKed without SDP and B is called
//    before A's 200; offer2' reaches A in an UPDATE (RFC 3311, R3311-5), never a re-INVITE,
//    while A's dialog is early; A's 200 is ACKed without SDP. The call is "answered" only
//    when both have sent 200.
//  - Auto's ringback leg is destroyed when A takes offer2' (A then hears B's early media).
//
// Every SDP sent on a leg carries that leg's own o= line (LegOrigin: version +1 per changed
// SDP) and the leg's m-line order (LineMap) (R3725-7-d, R3264-6-a/8-b). No common media, or
// an SDP with RFC 3312 precondition attributes during setup, ends both legs with BYE and
// `Reason: SIP;cause=488` (R3725-4.3-b, R3725-6-a/b); B failing (486, 408 ...) ends A with
// `Reason: SIP;cause=<B's code>`. A party's 200 that carried an offer is always ACKed (with a
// black-hole answer if needed) before its BYE.
//
// Continued processing (§7): a re-INVITE from a party with an offer is mediated: 491 while any
// INVITE of the call is pending or the other party is still early (R3725-6-c), else the other party
// is re-INVITEd with the offer (refitted and o= rewritten) and its answer returned in the 200.
// `Require: precondition` gets 420 with `Unsupported: precondition`; an offer with
// a=curr:/a=des:/a=conf: gets 488. An offerless re-INVITE is answered with the SDP the leg last had
// (same o= version). BYE from one party: 200, and BYE to the other with `Reason: Q.850;cause=16`.
//
// Ids: the caller of Start() hands out call ids (the Controller's id space); the ringback
// leg uses LegId{call_id}, which the Controller never gives a leg (its calls and legs share
// one counter).
//
// Threading: signaling thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/result.h"
#include "media/media_plane.h"
#include "signaling/control.h"
#include "signaling/dialog.h"
#include "signaling/dialog_owner.h"
#include "signaling/internal/sdp_relay.h"
#include "signaling/sip_stack.h"

namespace anchord::signaling {

struct ThirdPartyOptions {
  std::string sdp_address = "127.0.0.1";  // the address in the server's o= lines
  uint32_t ring_timeout_ms = 60000;       // an unanswered INVITE to A or B is CANCELed then
  uint32_t max_flow2_rounds = 2;          // flow II: corrective re-INVITEs after the first
};

class ThirdPartyController : public DialogOwner {
 public:
  ThirdPartyController(core::EventLoop& loop, media::MediaPlane& media,
                       std::function<bool(const std::string& uri)> is_automaton,
                       ThirdPartyOptions options = {});
  ~ThirdPartyController() override;

  void Attach(SipStack* stack) { stack_ = stack; }

  // Starts a direct-media call (request.anchored must be false) under `call_id`, which must
  // be new. Fails at once for a bad URI (numeric host needed), flow outside 0..4, or an
  // id in use; later failures end the call with BYEs.
  Result<uint64_t> Start(uint64_t call_id, const NewCallRequest& request);

  // The control API's view: media "direct", flow = the flow used (1..4).
  std::vector<CallSummary> ListCalls() const;
  std::optional<CallSummary> GetCall(uint64_t id) const;
  // BYE to answered parties, CANCEL to ringing ones. Fails for an unknown id.
  Status Hangup(uint64_t id);
  size_t active_calls() const { return calls_.size(); }

  // DialogOwner
  bool OwnsTransaction(TxId tx) const override;
  bool OwnsDialog(const std::string& call_id, const std::string& local_tag) const override;
  void OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) override;
  void OnAck(const osip_message_t* ack) override;
  void OnResponse(TxId tx, const osip_message_t* response) override;
  void OnStrayResponse(const osip_message_t* response) override;
  void OnClientFailure(TxId tx, int status_code) override;

 private:
  enum class Step {
    kInviteA,
    kInviteB,
    kUpdateA,
    kUpdateB,
    kEarlyB,  // B's early offer answered in our PRACK; its 200 changes nothing (R3725-8-a)
    kConnected,
    kMediating,
    kEnding
  };

  struct Party {
    std::string uri;
    Dialog dialog;
    std::unique_ptr<internal::LegOrigin> origin;
    TxId invite_tx = 0;
    MessagePtr invite;  // the pending INVITE, for CANCEL
    bool provisional = false;
    bool cancel_wanted = false;
    bool timed_out = false;
    bool established = false;   // answered the initial INVITE
    bool bye_sent = false;      // its dialog is over (our BYE, or its BYE)
    uint32_t unacked_cseq = 0;  // its 2xx carried an offer and waits for our ACK (answer)
    internal::RelaySdp unacked_offer;
    MessagePtr ack;  // the last ACK, re-sent on a retransmitted 2xx (R3261-13.2.2.4)
    std::string last_sent;
    MessagePtr last_ok;  // our 200 to its last re-INVITE, for a retransmitted re-INVITE
    uint32_t last_ok_cseq = 0;
    // RFC 3262 as UAC, toward B in flow IV (third_party_early.cc, R3262-a, R3725-8-a).
    bool offers_100rel = false;  // our INVITE said Supported: 100rel
    uint32_t last_rseq = 0;      // RSeq of the last reliable provisional taken (0 = none)
    uint32_t early_rseq = 0;     // the reliable 18x whose offer our PRACK must answer
    uint32_t early_cseq = 0;     // its CSeq number (for RAck)
    bool early_session = false;  // offer/answer done in a reliable 18x + PRACK (A or B)
  };

  struct Call {
    uint64_t id = 0;
    NewCallRequest request;
    int flow = 0;
    bool ringback = false;
    bool ringback_leg = false;
    Step step = Step::kInviteA;
    Party party[2];
    internal::LineMap lines;
    internal::RelaySdp a_seen;  // flow II: A's SDP (sdp2); flow III: offer1
    internal::RelaySdp b_seen;  // flow II: B's SDP (sdp3)
    uint32_t rounds = 0;
    TxId server_tx = 0;  // a party's re-INVITE being mediated
    MessagePtr server_request;
    int mediating_from = 0;
    std::unique_ptr<core::Timer> ring_timer;
    uint64_t started_unix_ms = 0;
    uint64_t answered_unix_ms = 0;
  };

  struct TxRef {
    uint64_t call = 0;
    int side = 0;  // 0 = A, 1 = B
    bool invite = false;
    bool prack = false;  // a PRACK; `answer`: it carries the answer to an early offer
    bool answer = false;
    bool update = false;  // an UPDATE with an offer to A in its early dialog (R3725-8-b)
  };

  // Setup.
  Status Invite(Call& call, int side, const std::optional<std::string>& sdp);
  void ReInvite(Call& call, int side, const std::string& sdp);
  void OnInviteOk(Call& call, int side, const osip_message_t* response);
  void OnAOffer(Call& call, const std::string& body);
  void OnAFirstAnswer(Call& call, const std::string& body);
  void OnBAnswer(Call& call, const std::string& body);
  void OnAUpdated(Call& call, const std::string& body);
  void OnBUpdated(Call& call, const std::string& body);
  void OnInviteFailed(Call& call, int side, int code);
  void Connected(Call& call);
  void StopRingback(Call& call);
  void StartRingback(Call& call, const std::string& answer);

  // Early media from B (third_party_early.cc, R3725-8-a, R3262-a).
  void OnProvisional(Call& call, int side, const osip_message_t* response);
  bool TakeEarlyOffer(Call& call, const osip_message_t* response);
  void SendPrack(Call& call, int side, uint32_t rseq, uint32_t cseq, const std::string& sdp);
  void OnPrackResult(Call& call, const TxRef& ref, int code);
  void OnAEarlyAnswer(Call& call, const internal::RelaySdp& answer);
  void OnBOkAfterEarly(Call& call, const osip_message_t* response);
  // A in an early dialog (third_party_early.cc, R3725-8-b, R3311-5).
  void OnAEarlyDialog(Call& call, const osip_message_t* response);
  void SendUpdate(Call& call, int side, const std::string& sdp);
  void OnUpdateResult(Call& call, int code, const osip_message_t* response);
  void OnAOkAfterEarly(Call& call, const osip_message_t* response);
  // Whether a party's initial INVITE is still unanswered.
  bool Ringing(const Call& call) const;

  // Continued processing.
  void OnReInvite(TxId tx, Call& call, int side, const osip_message_t* request);
  void OnMediatedAnswer(Call& call, const std::string& body);
  void OnBye(TxId tx, Call& call, int side, const osip_message_t* request);

  // Messages.
  void SendAck(Call& call, int side, uint32_t cseq, const std::string& sdp);
  void SendBye(Call& call, int side, const std::string& reason);
  void SendCancel(Party& party);
  void Respond(TxId tx, const osip_message_t* request, int code, const std::string& sdp = {},
               Party* party = nullptr);
  std::string Stamp(Call& call, int side, const internal::RelaySdp& sdp);

  // Ending.
  void Fail(Call& call, int cause, const std::string& text);
  void EndCall(Call& call, const std::string& reason, int except_side);
  void MaybeForget(Call& call);
  void OnRingTimeout(uint64_t id);

  Call* FindCall(uint64_t id) const;
  Call* FindByDialog(const std::string& call_id, const std::string& local_tag, int* side) const;

  core::EventLoop& loop_;
  media::MediaPlane& media_;
  std::function<bool(const std::string&)> is_automaton_;
  ThirdPartyOptions options_;
  SipStack* stack_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Call>> calls_;
  std::unordered_map<std::string, uint64_t> dialogs_;  // DialogKey -> call
  std::unordered_map<TxId, TxRef> txs_;
};

}  // namespace anchord::signaling
