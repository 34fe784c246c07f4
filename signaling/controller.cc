#include "signaling/controller.h"

#include "signaling/internal/controller_state.h"

#include <strings.h>

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;
using failover::Activity;
using failover::Position;

namespace {

// What anchord supports toward callers: session timers (RFC 4028) and reliable provisionals
// (RFC 3262, controller_prack.cc).
constexpr char kSupported[] = "100rel, timer";

// The option tags of the request's Require headers that anchord does not support, joined
// with ", "; empty when it supports them all.
std::string UnsupportedRequire(const osip_message_t* request) {
  std::string unsupported;
  for (const std::string& tag : OptionTags(request, "require")) {
    if (strcasecmp(tag.c_str(), "timer") == 0 || strcasecmp(tag.c_str(), "100rel") == 0) continue;
    unsupported += (unsupported.empty() ? "" : ", ") + tag;
  }
  return unsupported;
}

}  // namespace

Controller::Controller(core::EventLoop& loop, media::MediaPlane& media,
                       failover::PositionRegistry& positions, ControllerOptions options)
    : loop_(loop), media_(media), positions_(positions), options_(options) {
  housekeeping_ = std::make_unique<core::Timer>(loop_, [this] {
    PollTty();
    housekeeping_->ArmIn(1'000'000);
  });
  housekeeping_->ArmIn(1'000'000);
}

Controller::~Controller() = default;

void Controller::Attach(SipStack* stack, failover::HeartbeatMonitor* heartbeat) {
  stack_ = stack;
  heartbeat_ = heartbeat;
}

// ---------------------------------------------------------------------------------------------
// Requests

void Controller::OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) {
  const std::string method = request->sip_method;
  const bool in_dialog = !ToTag(request).empty();
  if (in_dialog && owner_ && owner_->OwnsDialog(CallIdOf(request), ToTag(request))) {
    owner_->OnRequest(tx, request, source);
    return;
  }
  if (method == "CANCEL") {
    HandleCancel(tx, request);
  } else if (in_dialog) {
    HandleInDialog(tx, request);
  } else if (method == "INVITE") {
    StartCall(tx, request, source);
  } else if (method == "OPTIONS") {
    Respond(tx, request, InviteStatusNow(), NewTag());
  } else if (method == "BYE") {
    Respond(tx, request, 481);
  } else {
    Respond(tx, request, 405);
  }
}

void Controller::Respond(TxId tx, const osip_message_t* request, int code,
                         const std::string& to_tag) {
  MessagePtr response = MakeResponse(request, code, code == 100 ? "" : to_tag);
  if (!response) return;
  if (code == 405 || (code == 200 && MSG_IS_OPTIONS(request))) {
    osip_message_set_allow(response.get(),
                           "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY, PRACK");
    osip_message_set_accept(response.get(), "application/sdp, multipart/mixed");
    osip_message_set_supported(response.get(), kSupported);
  }
  stack_->Respond(tx, std::move(response));
}

// R3261-11.2-a: OPTIONS gets the status an INVITE would get now: 200 while a position or a
// queue place is free, the overflow answer otherwise.
bool Controller::HasConnectedParty(const Call& call) const {
  for (LegId id : call.parties) {
    auto it = legs_.find(id);
    if (it != legs_.end() && it->second->confirmed) return true;
  }
  return false;
}

int Controller::InviteStatusNow() const {
  if (positions_.ChooseIdle({}) || queue_.size() < options_.queue_max_calls) return 200;
  return options_.overflow_status;
}

void Controller::StartCall(TxId tx, const osip_message_t* invite, const PeerAddress& source) {
  // R7332-5-a: Max-Forwards goes on across the B2BUA, decremented; at zero the call stops here
  // (R3261-16.3: 483), which breaks loops between B2BUAs.
  int max_forwards = 70;
  if (std::string mf = HeaderValue(invite, "max-forwards"); !mf.empty()) {
    max_forwards = std::min(std::atoi(mf.c_str()), 255);
    if (max_forwards <= 0) {
      Respond(tx, invite, 483, NewTag());
      return;
    }
  }
  // R3261-8.2.2.3: an extension the caller requires and anchord does not do gets 420 with
  // Unsupported, so the ESRP retries without it (anchord supports "timer" and "100rel").
  if (std::string unsupported = UnsupportedRequire(invite); !unsupported.empty()) {
    MessagePtr bad = MakeResponse(invite, 420, NewTag());
    if (bad) {
      osip_message_set_header(bad.get(), "Unsupported", unsupported.c_str());
      stack_->Respond(tx, std::move(bad));
    }
    return;
  }
  Respond(tx, invite, 100);
  Result<NegotiatedAudio> offer = NegotiateAudio(SdpBody(invite));
  if (!offer) {
    Log(Level::kWarning, Subsys::kSip, "call rejected with 488: " + offer.error().message,
        {{"CALL_ID", CallIdOf(invite)}, {"PEER", source.host}});
    Respond(tx, invite, 488, NewTag());
    return;
  }
  auto owned = std::make_unique<Call>();
  Call& call = *owned;
  call.id = CallId{next_id_++};
  call.invite = Clone(invite);
  call.invite_tx = tx;
  call.offer = std::move(offer->sdp);
  call.caller_media = offer->audio;
  call.emergency = ExtractEmergencyData(invite);
  call.sip_call_id = CallIdOf(invite);
  call.max_forwards = max_forwards - 1;
  call.started_unix_ms = core::UnixMs();
  CallId call_id = call.id;
  call.ring_timer =
      std::make_unique<core::Timer>(loop_, [this, call_id] { OnRingTimeout(call_id); });
  calls_[call.id] = std::move(owned);

  Leg& caller = NewLeg(call, LegKind::kCaller);
  call.caller = caller.id;
  Dialog& d = caller.dialog;
  d.call_id = call.sip_call_id;
  d.remote_tag = FromTag(invite);
  d.remote_cseq = CseqNumber(invite);
  d.local_tag = NewTag();
  d.remote_party = FromToText(invite->from);
  d.local_party = FromToText(invite->to) + ";tag=" + d.local_tag;
  LearnRoute(d, invite, false, source.transport);
  caller.response_peer = source;
  InitReliability(caller, invite);
  dialogs_[DialogKey(d.call_id, d.local_tag)] = caller.id;
  caller.invite_tx = tx;  // DestroyLeg() forgets the mapping by it
  invite_txs_[tx] = caller.id;

  Log(Level::kNotice, Subsys::kSip, "call start",
      {{"CALL_ID", call.sip_call_id},
       {"NG911_CALL_ID", call.emergency.ng911_call_id},
       {"NG911_INCIDENT_ID", call.emergency.incident_id},
       {"PEER", source.host},
       {"LEG", std::to_string(caller.id.value)},
       {"MESSAGE_ID", core::message_id::kCallStart}});

  Result<media::LocalMedia> local = media_.CreateLeg(call.id, caller.id);
  if (!local) {
    Log(Level::kError, Subsys::kMedia, "no RTP port for the caller: " + local.error().message,
        {{"CALL_ID", call.sip_call_id}});
    RespondToInvite(call, 503);
    EndCall(call.id, "no media port", std::nullopt);
    return;
  }
  caller.local = *local;
  caller.has_media = true;
  media_.SetRemote(caller.id, call.caller_media);
  PlaceCall(call);
}

void Controller::RespondToInvite(Call& call, int code) {
  Leg* caller = FindLeg(call.caller);
  MessagePtr response = MakeResponse(call.invite.get(), code, caller->dialog.local_tag);
  if (!response) return;
  if (code < 300 && code > 100) {
    stack_->AddContact(response.get(), caller->response_peer.transport);
  }
  if (code > 100 && code < 200) return SendProvisional(call, std::move(response));
  EndReliability(*caller);
  stack_->Respond(call.invite_tx, std::move(response));
}

void Controller::AnswerCaller(Call& call) {
  Leg& caller = *FindLeg(call.caller);
  if (caller.early_media) {
    media_.SetTone(caller.id, media::Tone::kNone);  // the 183's SDP stands: same o= version
  } else {
    caller.last_sdp = caller.sdp.Answer(caller.local, call.offer, call.caller_media);
  }
  call.answered_unix_ms = core::UnixMs();
  MessagePtr answer = MakeResponse(call.invite.get(), 200, caller.dialog.local_tag);
  stack_->AddContact(answer.get(), caller.response_peer.transport);
  SetSdpBody(answer.get(), caller.last_sdp);
  // The caller asked for a session timer: it refreshes (its refreshes are absorbed); anchord
  // never ends the caller's leg when it stops (DESIGN invariant 1).
  if (std::string se = HeaderValue(call.invite.get(), "session-expires"); !se.empty()) {
    const std::string seconds = se.substr(0, se.find(';'));
    osip_message_set_header(answer.get(), "Session-Expires", (seconds + ";refresher=uac").c_str());
    osip_message_set_header(answer.get(), "Require", "timer");
  }
  osip_message_set_supported(answer.get(), kSupported);
  caller.answer = std::move(answer);
  call.answered = true;
  // R3262-a: not while a reliable provisional (the 183 with our SDP answer) is unacknowledged.
  if (!HoldAnswerForPrack(caller)) SendAnswer(call, caller);
}

void Controller::SendAnswer(Call& call, Leg& caller) {
  caller.reliable.answer_held = false;
  EndReliability(caller);
  stack_->Respond(call.invite_tx, Clone(caller.answer.get()));
  RememberAccepted(call.invite.get(), caller.dialog.local_tag);
  // The IST ends with the 2xx (RFC 6026 gap in osip): retransmit it ourselves until the ACK
  // (over UDP; over TCP only the 64*T1 deadline applies), R3261-13.3.1.4.
  LegId id = caller.id;
  caller.retransmit = std::make_unique<core::Timer>(loop_, [this, id] { RetransmitAnswer(id); });
  caller.retransmit_ms = options_.t1_ms;
  caller.retransmit_deadline_us = core::MonotonicUs() + 64ull * options_.t1_ms * 1000;
  caller.retransmit->ArmIn((caller.response_peer.transport == core::Transport::kUdp
                                ? caller.retransmit_ms
                                : 64ull * options_.t1_ms) *
                           core::kUsPerMs);
}

void Controller::RetransmitAnswer(LegId leg_id) {
  Leg* leg = FindLeg(leg_id);
  if (!leg || leg->confirmed || !leg->answer) return;
  if (core::MonotonicUs() >= leg->retransmit_deadline_us) {
    // R3261-13.3.1.4: the session was never confirmed by the caller, so the UAS ends it with
    // a BYE. The one case where the server ends a caller's leg: the caller's side never
    // completed the answer (README, "Limits"); everything else keeps invariant 1.
    Log(Level::kWarning, Subsys::kSip, "no ACK for the 200 within 64*T1: BYE to the caller",
        {{"CALL_ID", leg->dialog.call_id}});
    if (MessagePtr bye = MakeInDialogRequest(*stack_, leg->dialog, "BYE")) {
      osip_message_set_header(bye.get(), "Reason", "SIP;cause=408;text=\"no ACK for the 200\"");
      stack_->SendRequest(std::move(bye), leg->dialog.peer);
    }
    if (Call* call = FindCall(leg->call)) EndCall(call->id, "no ACK from the caller", leg->id);
    return;
  }
  if (leg->response_peer.transport != core::Transport::kUdp) {
    leg->retransmit->ArmAt(leg->retransmit_deadline_us);
    return;
  }
  (void)stack_->SendStateless(leg->answer.get(), leg->response_peer);
  leg->retransmit_ms = std::min(leg->retransmit_ms * 2, options_.t2_ms);
  leg->retransmit->ArmAt(std::min(core::MonotonicUs() + leg->retransmit_ms * core::kUsPerMs,
                                  leg->retransmit_deadline_us));
}

void Controller::OnAck(const osip_message_t* ack) {
  if (owner_ && owner_->OwnsDialog(CallIdOf(ack), ToTag(ack))) {
    owner_->OnAck(ack);
    return;
  }
  if (Leg* leg = FindLegByDialog(CallIdOf(ack), ToTag(ack))) {
    leg->confirmed = true;
    if (leg->retransmit) leg->retransmit->Cancel();
  }
}

void Controller::HandleInDialog(TxId tx, const osip_message_t* request) {
  Leg* leg = FindLegByDialog(CallIdOf(request), ToTag(request));
  if (!leg) {
    Respond(tx, request, 481);
    return;
  }
  const std::string method = request->sip_method;
  // R3261-12.2.2: a request with a CSeq lower than the last one is out of order.
  const uint32_t cseq = CseqNumber(request);
  if (leg->dialog.remote_cseq != 0 && cseq <= leg->dialog.remote_cseq) {
    Respond(tx, request, 500);
    return;
  }
  leg->dialog.remote_cseq = cseq;
  if (method == "BYE") {
    Respond(tx, request, 200);
    Call* call = FindCall(leg->call);
    if (!call) {
      DestroyLeg(leg->id);
    } else if (leg->kind == LegKind::kCaller) {
      EndCall(call->id, "caller hung up", leg->id);
    } else if (leg->kind == LegKind::kPosition && call->position_leg == leg->id &&
               !HasConnectedParty(*call)) {
      EndCall(call->id, "position hung up", leg->id);
    } else if (leg->kind == LegKind::kPosition && call->position_leg == leg->id) {
      // After a transfer or in a conference the call goes on with the others (NENA-4.7).
      Log(Level::kNotice, Subsys::kSip, "position left; the call goes on with its parties",
          {{"CALL_ID", call->sip_call_id}, {"POSITION", positions_.Find(leg->position)->name}});
      call->position_leg = LegId{};
      ReleasePosition(*leg);
      DestroyLeg(leg->id);
    } else if (leg->kind == LegKind::kParty && call->third_party) {
      EndCall(call->id, "a party hung up", leg->id);
    } else {  // a conferenced party left, or a stale position leg
      std::erase(call->parties, leg->id);
      ReleasePosition(*leg);
      DestroyLeg(leg->id);
    }
  } else if (method == "INVITE" || method == "UPDATE") {
    HandleReInvite(tx, *leg, request);  // RFC 3311: an UPDATE's offer is absorbed the same way
  } else if (method == "REFER") {
    HandleRefer(tx, *leg, request);
  } else if (method == "PRACK") {
    HandlePrack(tx, *leg, request);
  } else if (method == "NOTIFY" || method == "OPTIONS" || method == "INFO") {
    Respond(tx, request, 200);
  } else {
    Respond(tx, request, 405);
  }
}

// A re-INVITE or UPDATE is absorbed by the server (anchored media): the peer's new address is
// used, and the answer mirrors the new offer's directions per m-line (hold: sendonly ->
// recvonly, R3264-6-a) with the o= version + 1 only when our SDP changed (R3264-8-a). Each one
// is answered at once, so a second re-INVITE always finds the first answered: a new
// transaction, never the 500 of R3261-14.2-a. A leg answered recvonly or inactive is sent no
// RTP until it offers sendrecv again (RemoteMedia::send, from the offer's direction).
void Controller::HandleReInvite(TxId tx, Leg& leg, const osip_message_t* invite) {
  if (std::optional<std::string> text = SdpBody(invite)) {
    Result<NegotiatedAudio> offer = NegotiateAudio(text);
    if (!offer) {
      Respond(tx, invite, 488);
      return;
    }
    media_.SetRemote(leg.id, offer->audio);
    if (!leg.last_sdp.empty() && leg.has_media) {
      leg.last_sdp = leg.sdp.Reanswer(leg.local, offer->sdp, offer->audio, leg.last_sdp);
    }
  }
  MessagePtr answer = MakeResponse(invite, 200);
  stack_->AddContact(answer.get(), leg.dialog.peer.transport);
  // A session refresh (RFC 4028): echo the interval; a position's refresh re-arms our watch.
  if (std::string se = HeaderValue(invite, "session-expires"); !se.empty()) {
    osip_message_set_header(answer.get(), "Session-Expires", se.c_str());
    osip_message_set_header(answer.get(), "Require", "timer");
  }
  NoteRefreshFromPeer(leg);
  if (!leg.last_sdp.empty()) SetSdpBody(answer.get(), leg.last_sdp);
  stack_->Respond(tx, std::move(answer));
}

// ---------------------------------------------------------------------------------------------
// Lifetime

Controller::Leg& Controller::NewLeg(Call& call, LegKind kind) {
  auto leg = std::make_unique<Leg>();
  leg->id = LegId{next_id_++};
  leg->call = call.id;
  leg->kind = kind;
  leg->sdp = LocalSdp(std::stoull(RandomToken(12), nullptr, 16));
  Leg& ref = *leg;
  legs_[ref.id] = std::move(leg);
  return ref;
}

void Controller::EndCall(CallId id, const char* reason, std::optional<LegId> bye_from) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& call = *it->second;
  std::erase(queue_, id);
  if (call.queue_timer) call.queue_timer->Cancel();
  if (std::optional<std::string> line = call.tty_lines.Flush()) LogTtyLine(call, *line);
  for (LegId party : call.parties) {
    if (Leg* leg = FindLeg(party)) {
      if (leg->confirmed) {
        if (leg->id != bye_from) SendBye(*leg, reason);
        DestroyLeg(leg->id);
      } else {
        AbandonPositionLeg(*leg);
      }
    }
  }
  if (Leg* position = FindLeg(call.position_leg)) {
    ReleasePosition(*position);
    if (!position->confirmed) {
      AbandonPositionLeg(*position);  // stays until its INVITE transaction ends
    } else {
      if (position->id != bye_from) SendBye(*position, reason);
      DestroyLeg(position->id);
    }
  }
  if (Leg* caller = FindLeg(call.caller)) {
    if (caller->reliable.answer_held) {
      // Our 200 waited for a PRACK and never went out: the INVITE still needs a final answer.
      if (!caller->reliable.final_sent) RespondToInvite(call, 480);
    } else if (call.answered && caller->id != bye_from) {
      SendBye(*caller, reason);
    }
    DestroyLeg(caller->id);
  }
  Log(Level::kNotice, Subsys::kSip, std::string("call end: ") + reason,
      {{"CALL_ID", call.sip_call_id},
       {"NG911_CALL_ID", call.emergency.ng911_call_id},
       {"NG911_INCIDENT_ID", call.emergency.incident_id},
       {"MESSAGE_ID", core::message_id::kCallEnd}});
  // Destroyed on the next loop turn: we may be inside one of the call's own timer callbacks.
  std::shared_ptr<Call> dead(std::move(it->second));
  calls_.erase(it);
  loop_.Post([dead] {});
}

void Controller::DestroyLeg(LegId id) {
  auto it = legs_.find(id);
  if (it == legs_.end()) return;
  Leg& leg = *it->second;
  if (leg.has_media) media_.DestroyLeg(leg.id);
  dialogs_.erase(DialogKey(leg.dialog.call_id, leg.dialog.local_tag));
  if (auto tx = invite_txs_.find(leg.invite_tx); tx != invite_txs_.end() && tx->second == id) {
    invite_txs_.erase(tx);
  }
  std::shared_ptr<Leg> dead(std::move(it->second));
  legs_.erase(it);
  loop_.Post([dead] {});
}

Controller::Call* Controller::FindCall(CallId id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second.get();
}

Controller::Leg* Controller::FindLeg(LegId id) {
  auto it = legs_.find(id);
  return it == legs_.end() ? nullptr : it->second.get();
}

Controller::Leg* Controller::FindLegByDialog(const std::string& call_id,
                                             const std::string& local_tag) {
  auto it = dialogs_.find(DialogKey(call_id, local_tag));
  return it == dialogs_.end() ? nullptr : FindLeg(it->second);
}

Controller::Leg* Controller::FindLegByTx(TxId tx) {
  auto it = invite_txs_.find(tx);
  return it == invite_txs_.end() ? nullptr : FindLeg(it->second);
}

}  // namespace anchord::signaling
