// Reliable provisional responses toward the caller (RFC 3262, R3262-a; NENA-3.1.2-a).
//
// A caller whose INVITE says Require: 100rel gets every 101-199 reliably; one that only says
// Supported: 100rel gets reliably the 18x that carry SDP (the queue's 183 with the early-media
// answer), so the ESRP knows that answer arrived. A reliable provisional carries Require:
// 100rel and an RSeq (random start in 1 .. 2^31-1, +1 each) and is re-sent at T1, 2*T1, 4*T1 ...
// (no T2 cap: PRACKs are not triggered by the 1xx, RFC 3262 §3) until its PRACK arrives; after
// 64*T1 without one the INVITE gets 500 and the call is cleaned up like any failed call.
// Only one is unacknowledged at a time: later ones wait behind it, and a 200 that is ready
// before the PRACK is held until the PRACK (the unacknowledged 183 carries the SDP answer, so
// RFC 3262 §3 forbids the 2xx before it; anchord holds the 200 for any unacknowledged one,
// which is simpler and still correct).
//
// PRACK: a matching RAck (RSeq, CSeq number, method of the unacknowledged provisional) gets
// 200; anything else 481. A PRACK with SDP would be a new offer (our 183 already answered the
// caller's): it gets 488, the provisional stays unacknowledged and the offer/answer state is
// unchanged. Retransmitted PRACKs get the same answer from the stack's completed cache.
//
// anchord does not use 100rel toward positions (its INVITEs do not list it in Supported).

#include <cstdlib>

#include "core/clock.h"
#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;

namespace {

// At most this many reliable provisionals wait behind the unacknowledged one (anchord sends
// at most a 180 and a 183 per INVITE; the bound only keeps a bug from growing memory).
constexpr size_t kMaxWaiting = 4;

struct RAck {
  uint32_t rseq = 0;
  uint32_t cseq = 0;
  std::string method;
};

// "RAck: 776656 1 INVITE" (RFC 3262 §7.2); nullopt when malformed.
std::optional<RAck> ParseRAck(const std::string& value) {
  RAck rack;
  const char* p = value.c_str();
  char* end = nullptr;
  unsigned long rseq = std::strtoul(p, &end, 10);
  if (end == p || *end != ' ') return std::nullopt;
  p = end;
  unsigned long cseq = std::strtoul(p, &end, 10);
  if (end == p || *end != ' ') return std::nullopt;
  std::string method(end);
  method.erase(0, method.find_first_not_of(" \t"));
  method.erase(method.find_last_not_of(" \t\r\n") + 1);
  if (method.empty() || rseq == 0 || rseq > 0xFFFFFFFFul || cseq > 0xFFFFFFFFul) {
    return std::nullopt;
  }
  rack.rseq = static_cast<uint32_t>(rseq);
  rack.cseq = static_cast<uint32_t>(cseq);
  rack.method = std::move(method);
  return rack;
}

bool HasBody(const osip_message_t* m) { return osip_list_size(&m->bodies) > 0; }

}  // namespace

void Controller::InitReliability(Leg& caller, const osip_message_t* invite) {
  ReliableProvisionals& r = caller.reliable;
  if (HasOptionTag(invite, "require", "100rel")) {
    r.mode = Reliability::kAll;
  } else if (HasOptionTag(invite, "supported", "100rel")) {
    r.mode = Reliability::kWithSdp;
  }
  if (r.mode != Reliability::kNone) r.next_rseq = RandomRSeq();
}

void Controller::SendProvisional(Call& call, MessagePtr response) {
  Leg* caller = FindLeg(call.caller);
  if (!caller || !response) return;
  ReliableProvisionals& r = caller->reliable;
  if (r.final_sent) return;  // R3262: no new provisional after a final response
  const bool reliable =
      r.mode == Reliability::kAll || (r.mode == Reliability::kWithSdp && HasBody(response.get()));
  if (!reliable) {
    stack_->Respond(call.invite_tx, std::move(response));
    return;
  }
  if (r.unacked) {  // one unacknowledged at a time (R3262-a): this one waits for the PRACK
    if (r.waiting.size() < kMaxWaiting) r.waiting.push_back(std::move(response));
    return;
  }
  SendReliable(*caller, std::move(response));
}

void Controller::SendReliable(Leg& caller, MessagePtr response) {
  Call* call = FindCall(caller.call);
  if (!call) return;
  ReliableProvisionals& r = caller.reliable;
  r.unacked_rseq = r.next_rseq++;
  osip_message_set_header(response.get(), "Require", "100rel");
  osip_message_set_header(response.get(), "RSeq", std::to_string(r.unacked_rseq).c_str());
  r.unacked = Clone(response.get());
  stack_->Respond(call->invite_tx, std::move(response));
  if (!r.timer) {
    LegId id = caller.id;
    r.timer = std::make_unique<core::Timer>(loop_, [this, id] { RetransmitProvisional(id); });
  }
  r.interval_ms = options_.t1_ms;
  r.deadline_us = core::MonotonicUs() + 64ull * options_.t1_ms * core::kUsPerMs;
  r.timer->ArmIn(uint64_t{r.interval_ms} * core::kUsPerMs);
}

void Controller::RetransmitProvisional(LegId caller_id) {
  Leg* caller = FindLeg(caller_id);
  if (!caller || !caller->reliable.unacked) return;
  ReliableProvisionals& r = caller->reliable;
  if (core::MonotonicUs() >= r.deadline_us) {
    Call* call = FindCall(caller->call);
    if (!call) return;
    // R3262-a: 64*T1 without a PRACK: the INVITE gets a 5xx and the call ends like any failed
    // call (CANCEL or BYE toward the position, out of the queue). Not a caller BYE: the
    // caller's INVITE never got a final answer until now.
    Log(Level::kWarning, Subsys::kSip, "no PRACK for a reliable provisional within 64*T1: 500",
        {{"CALL_ID", call->sip_call_id}, {"RSEQ", std::to_string(r.unacked_rseq)}});
    RespondToInvite(*call, 500);
    EndCall(call->id, "no PRACK from the caller", std::nullopt);
    return;
  }
  // Over TCP too: RFC 3262 §3 passes each retransmission to the transaction layer.
  (void)stack_->SendStateless(r.unacked.get(), caller->response_peer);
  r.interval_ms *= 2;
  r.timer->ArmAt(
      std::min(core::MonotonicUs() + uint64_t{r.interval_ms} * core::kUsPerMs, r.deadline_us));
}

void Controller::HandlePrack(TxId tx, Leg& leg, const osip_message_t* prack) {
  ReliableProvisionals& r = leg.reliable;
  std::optional<RAck> rack = ParseRAck(HeaderValue(prack, "rack"));
  Call* call = FindCall(leg.call);
  const bool matches = leg.kind == LegKind::kCaller && call && r.unacked && rack &&
                       rack->rseq == r.unacked_rseq && rack->cseq == CseqNumber(r.unacked.get()) &&
                       rack->method == CseqMethod(r.unacked.get());
  if (!matches) {
    Respond(tx, prack, 481);  // R3262-a: no unacknowledged reliable provisional matches
    return;
  }
  if (SdpBody(prack)) {
    // Our reliable 183 carried the answer to the caller's offer, so SDP here is a new offer
    // in an early dialog: refused (RFC 3262 §5 and RFC 6337 allow 488); nothing changes.
    Respond(tx, prack, 488);
    return;
  }
  Respond(tx, prack, 200);
  r.unacked.reset();
  r.timer->Cancel();
  if (r.answer_held) {
    r.waiting.clear();  // superseded by the final answer
    SendAnswer(*call, leg);
  } else if (!r.waiting.empty()) {
    MessagePtr next = std::move(r.waiting.front());
    r.waiting.pop_front();
    SendReliable(leg, std::move(next));
  }
}

bool Controller::HoldAnswerForPrack(Leg& caller) {
  ReliableProvisionals& r = caller.reliable;
  r.waiting.clear();  // provisionals not sent yet are superseded by the 200
  if (!r.unacked) return false;
  r.answer_held = true;
  return true;
}

void Controller::EndReliability(Leg& caller) {
  ReliableProvisionals& r = caller.reliable;
  r.final_sent = true;
  r.unacked.reset();
  r.waiting.clear();
  if (r.timer) r.timer->Cancel();
}

}  // namespace anchord::signaling
