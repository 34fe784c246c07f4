// Early media from B in the third-party controller (RFC 3725 §8, Fig. 8; R3725-8-a), with
// anchord as the UAC side of RFC 3262 (R3262-a). The controller still only relays SDP.
//
// Flow IV (and auto → IV) INVITEs B with `Supported: 100rel`. Then:
//  - a reliable 18x (Require: 100rel, RSeq) with offer2 while B's INVITE is the pending step:
//    A is re-INVITEd with offer2' (o= of A's leg + 1, m-lines fitted, as for B's 200), A's
//    200 is ACKed and answer2' goes to B, refitted to offer2's m-lines and with B's leg o=,
//    in a PRACK with `RAck: <RSeq> <CSeq> INVITE`. The server's ringback leg to A (auto) is
//    destroyed then: A hears B's early media directly. B's later 200 changes nothing: it is
//    ACKed without SDP (an SDP in it that differs from offer2 is a protocol error by B; it is
//    logged and ignored, RFC 3262 §5 / RFC 3264 §4 allow one answer per offer);
//  - a reliable 18x without SDP (or any later one once the early session is set up): PRACK
//    at once, no body;
//  - a retransmission (RSeq not above the last taken) is discarded, and a gap (RSeq more
//    than last + 1) is neither PRACKed nor processed (RFC 3262 §4). Our PRACK is a non-INVITE
//    transaction that the stack re-sends itself over UDP, so a 183 that B repeats because the
//    PRACK was lost gets it again from that retransmission, and A is not re-INVITEd twice;
//  - an unreliable 18x with SDP: its SDP is ignored (it is no offer anchord may answer: the
//    answer to an offer in an unreliable 18x goes in the ACK of the 200, RFC 3261 §13.2.1),
//    and offer2 is read from B's 200 as in plain flow IV.
// Failures: A refusing the re-INVITE, an unusable early offer, or a PRACK with the answer
// failing ends the call as any setup failure: CANCEL to B (still ringing), BYE to A with
// `Reason: SIP;cause=<code>` (R3725-6-a/b).
//
// A in an early dialog (RFC 3725 §8 Fig. 9, R3725-8-b): flow IV's INVITE to A also says
// `Supported: 100rel`. A reliable 18x from A with SDP (its answer to the first offer) is
// PRACKed at once and B is called without waiting for A's 200. B's offer (in its 200, or in a
// reliable 18x) reaches A in an UPDATE (RFC 3311, R3311-5) instead of a re-INVITE; A's answer
// in the UPDATE's 200 goes to B's ACK (or PRACK). A's 200 later is ACKed without SDP. A
// refusing the UPDATE, or A's INVITE failing, ends the call like any setup failure. While A is
// early, B's re-INVITEs get 491.
//
// Not done: forked early dialogs (only the first To tag is PRACKed and used).
//
// Threading: signaling thread only.
#include <cstdlib>

#include "core/log.h"
#include "signaling/ng911.h"
#include "signaling/third_party.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;
using internal::LineMap;
using internal::RelaySdp;

namespace {

constexpr int kA = 0;
constexpr int kB = 1;

// RSeq 1 .. 2^32-1 (RFC 3262 §7.1); 0 when absent or malformed.
uint32_t RSeqOf(const osip_message_t* response) {
  const std::string text = HeaderValue(response, "rseq");
  if (text.empty()) return 0;
  char* end = nullptr;
  const unsigned long value = std::strtoul(text.c_str(), &end, 10);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  if (!end || *end != '\0' || value == 0 || value > 0xFFFFFFFFul) return 0;
  return static_cast<uint32_t>(value);
}

}  // namespace

void ThirdPartyController::OnProvisional(Call& call, int side, const osip_message_t* response) {
  Party& p = call.party[side];
  const bool reliable = HasOptionTag(response, "require", "100rel");
  const uint32_t rseq = reliable ? RSeqOf(response) : 0;
  if (!p.offers_100rel || call.step == Step::kEnding) return;
  if (!reliable || rseq == 0) {
    if (SdpBody(response) && !p.early_session) {
      Log(Level::kInfo, Subsys::kSip, "third-party call: SDP in an unreliable 18x ignored",
          {{"CALL", std::to_string(call.id)}, {"STATUS", std::to_string(response->status_code)}});
    }
    return;
  }
  if (p.last_rseq != 0 && rseq != p.last_rseq + 1) return;  // repeat or gap (RFC 3262 §4)
  const std::string tag = ToTag(response);
  if (!p.dialog.remote_tag.empty() && tag != p.dialog.remote_tag) return;  // a fork: not ours
  p.last_rseq = rseq;
  if (p.dialog.remote_tag.empty()) {  // the early dialog (RFC 3261 §12.1.2)
    p.dialog.remote_tag = tag;
    p.dialog.remote_party = FromToText(response->to);
    LearnRoute(p.dialog, response, true, p.dialog.peer.transport);
  }
  const uint32_t cseq = CseqNumber(response);
  if (SdpBody(response) && side == kA && !p.early_session && call.step == Step::kInviteA) {
    SendPrack(call, side, rseq, cseq, "");  // it answers our offer: nothing to answer back
    return OnAEarlyDialog(call, response);
  }
  if (SdpBody(response) && side == kB && !p.early_session && call.step == Step::kInviteB) {
    p.early_rseq = rseq;
    p.early_cseq = cseq;
    if (TakeEarlyOffer(call, response)) return;  // the PRACK waits for A's answer
  }
  SendPrack(call, side, rseq, cseq, "");
}

// offer2 in B's reliable 18x: A is re-INVITEd with it as with B's 200 (RFC 3725 Fig. 8).
// False when the offer was not taken (the call is then ending).
bool ThirdPartyController::TakeEarlyOffer(Call& call, const osip_message_t* response) {
  Party& b = call.party[kB];
  b.early_session = true;
  Log(Level::kInfo, Subsys::kSip, "third-party call: B's offer in a reliable 18x, early media",
      {{"CALL", std::to_string(call.id)}, {"STATUS", std::to_string(response->status_code)}});
  const std::string body = SdpBody(response).value_or("");
  if (auto offer2 = internal::ParseRelaySdp(body)) call.b_seen = *offer2;
  OnBAnswer(call, body);  // flow IV: re-INVITE A, or Fail
  if (call.step == Step::kEnding) {
    b.early_session = false;  // B is CANCELed; its offer needs no answer
    return false;
  }
  return true;
}

// A's 200 to offer2': answer2 goes to B in the PRACK of the 18x that carried offer2.
void ThirdPartyController::OnAEarlyAnswer(Call& call, const RelaySdp& answer) {
  Party& b = call.party[kB];
  const std::string sdp = Stamp(call, kB, call.lines.Fit(LineMap::kA, answer, false));
  SendPrack(call, kB, b.early_rseq, b.early_cseq, sdp);
  b.early_rseq = 0;
  StopRingback(call);  // A hears B's early media now, not the server's tone
  call.step = Step::kEarlyB;
}

void ThirdPartyController::SendPrack(Call& call, int side, uint32_t rseq, uint32_t cseq,
                                     const std::string& sdp) {
  Party& p = call.party[side];
  MessagePtr prack = MakeInDialogRequest(*stack_, p.dialog, "PRACK");
  if (!prack) return Fail(call, 500, "cannot build a PRACK");
  const std::string rack = std::to_string(rseq) + " " + std::to_string(cseq) + " INVITE";
  osip_message_set_header(prack.get(), "RAck", rack.c_str());
  SetSdpBody(prack.get(), sdp);
  TxId tx = stack_->SendRequest(std::move(prack), p.dialog.peer);
  if (!tx) return Fail(call, 500, "cannot send a PRACK");
  txs_[tx] = {call.id, side, false, true, !sdp.empty()};
}

// Only the PRACK that carries answer2 matters: without it B has no answer to its offer.
void ThirdPartyController::OnPrackResult(Call& call, const TxRef& ref, int code) {
  if (code < 300 || !ref.answer || call.step == Step::kEnding) return;
  Fail(call, code, "PRACK with the answer refused");
}

// B's 200 after its early offer was answered in the PRACK: no session change, ACK without SDP.
void ThirdPartyController::OnBOkAfterEarly(Call& call, const osip_message_t* response) {
  SendAck(call, kB, CseqNumber(response), "");
  if (std::optional<std::string> body = SdpBody(response)) {
    auto sdp = internal::ParseRelaySdp(*body);
    if (!sdp || !internal::SameMedia(*sdp, call.b_seen)) {
      Log(Level::kWarning, Subsys::kSip, "third-party call: B's 200 changes its early SDP; ignored",
          {{"CALL", std::to_string(call.id)}});
    }
  }
  if (call.step != Step::kEarlyB) {
    // A 2xx before the PRACK of its offer (RFC 3262 §3 forbids it): the offer has no answer.
    return Fail(call, 500, "B answered before the PRACK of its early offer");
  }
  Connected(call);
}

// ---------------------------------------------------------------------------------------------
// A in an early dialog (RFC 3725 §8 Fig. 9, R3725-8-b)

// A answered the first offer in a reliable 18x (PRACKed already): B is called now, and B's
// offer will reach A in an UPDATE (ReInvite sends one to a party not established).
void ThirdPartyController::OnAEarlyDialog(Call& call, const osip_message_t* response) {
  call.party[kA].early_session = true;
  Log(Level::kInfo, Subsys::kSip, "third-party call: A answered in a reliable 18x, early dialog",
      {{"CALL", std::to_string(call.id)}, {"STATUS", std::to_string(response->status_code)}});
  OnAFirstAnswer(call, SdpBody(response).value_or(""));
}

// An offer in an UPDATE: RFC 3311 §5.1, the only way to change an early dialog's session.
void ThirdPartyController::SendUpdate(Call& call, int side, const std::string& sdp) {
  Party& p = call.party[side];
  MessagePtr update = MakeInDialogRequest(*stack_, p.dialog, "UPDATE");
  if (!update) return Fail(call, 500, "cannot build an UPDATE");
  SetSdpBody(update.get(), sdp);
  TxId tx = stack_->SendRequest(std::move(update), p.dialog.peer);
  if (!tx) return Fail(call, 500, "cannot send an UPDATE");
  TxRef ref{call.id, side, false};
  ref.update = true;
  txs_[tx] = ref;
}

// A's answer to offer2' in the UPDATE's 200 goes on as a re-INVITE's would (to B's ACK, or to
// B's PRACK when B's offer was early too). A refusing it ends the call (R3725-6-a/b); a 491
// too: A's own offers are refused while the call is set up, so it cannot be A's glare.
void ThirdPartyController::OnUpdateResult(Call& call, int code, const osip_message_t* response) {
  if (code < 200 || call.step == Step::kEnding) return;
  if (code >= 300) return Fail(call, code, "A refused the offer in the UPDATE");
  if (call.step != Step::kUpdateA || !response) return;
  OnAUpdated(call, SdpBody(response).value_or(""));
}

// A's 200 after its early dialog: the session was set up in the 18x and the UPDATE; ACK it
// without SDP, and the call is answered if B is connected already.
void ThirdPartyController::OnAOkAfterEarly(Call& call, const osip_message_t* response) {
  SendAck(call, kA, CseqNumber(response), "");
  if (call.step == Step::kConnected) Connected(call);
}

bool ThirdPartyController::Ringing(const Call& call) const {
  for (const Party& p : call.party) {
    if (p.invite_tx && !p.established) return true;
  }
  return false;
}

}  // namespace anchord::signaling
