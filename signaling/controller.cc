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
// Positions

bool Controller::OfferToNextPosition(Call& call) {
  while (true) {
    std::optional<PositionId> next =
        call.failing_over ? positions_.ChooseStandby(call.failed_position, call.tried)
                          : positions_.ChooseIdle(call.tried);
    if (!next) break;
    if (OfferToPosition(call, *next)) return true;
  }
  if (!call.answered) {
    Enqueue(call);  // or the overflow answer when the queue cannot take it
  } else {
    Log(Level::kWarning, Subsys::kFailover,
        "no position can take the call now; the caller hears the hold tone until one can",
        {{"CALL_ID", call.sip_call_id}});
  }
  return false;
}

bool Controller::OfferToPosition(Call& call, PositionId position_id, bool force_udp) {
  call.tried.push_back(position_id);
  Position& p = *positions_.Find(position_id);
  Leg& leg = NewLeg(call, LegKind::kPosition);
  leg.position = position_id;
  Result<media::LocalMedia> local = media_.CreateLeg(call.id, leg.id);
  if (!local) {
    Log(Level::kError, Subsys::kMedia, "no RTP port for a position: " + local.error().message,
        {{"CALL_ID", call.sip_call_id}, {"POSITION", p.name}});
    DestroyLeg(leg.id);
    return false;
  }
  leg.local = *local;
  leg.has_media = true;
  MessagePtr invite = MakePositionInvite(call, leg, p);
  if (!invite) {
    DestroyLeg(leg.id);
    return false;
  }
  // R3261-18.1.1: a request over 1300 bytes (an INVITE with the caller's PIDF-LO, say) goes
  // over TCP; if the position takes no TCP connection, it is sent again over UDP at once.
  if (!force_udp && leg.dialog.peer.transport == core::Transport::kUdp &&
      stack_->CanSend(core::Transport::kTcp) && ToText(invite.get()).size() > 1300) {
    MoveToTcp(leg, invite.get());
  }
  leg.invite = Clone(invite.get());
  leg.invite_tx = stack_->SendRequest(std::move(invite), leg.dialog.peer);
  if (!leg.invite_tx) {
    DestroyLeg(leg.id);
    return false;
  }
  invite_txs_[leg.invite_tx] = leg.id;
  positions_.SetActivity(position_id, Activity::kRinging, call.id, core::MonotonicUs());
  call.position_leg = leg.id;
  call.ring_timer->ArmIn(options_.ring_timeout_ms * core::kUsPerMs);
  Log(Level::kInfo, Subsys::kSip, "offering the call to a position",
      {{"CALL_ID", call.sip_call_id}, {"POSITION", p.name}, {"LEG", std::to_string(leg.id.value)}});
  return true;
}

// Re-addresses a request built for UDP to TCP: the dialog's peer, the top Via (RFC 3261
// §18.1.1: the Via must name the transport used) and the Contact.
void Controller::MoveToTcp(Leg& leg, osip_message_t* request) {
  leg.dialog.peer.transport = core::Transport::kTcp;
  leg.tcp_upgraded = true;
  while (osip_list_size(&request->vias) > 0) {
    auto* via = static_cast<osip_via_t*>(osip_list_get(&request->vias, 0));
    osip_list_remove(&request->vias, 0);
    osip_via_free(via);
  }
  std::string branch;
  osip_message_set_via(request, stack_->NewVia(core::Transport::kTcp, &branch).c_str());
  while (osip_list_size(&request->contacts) > 0) {
    auto* contact = static_cast<osip_contact_t*>(osip_list_get(&request->contacts, 0));
    osip_list_remove(&request->contacts, 0);
    osip_contact_free(contact);
  }
  stack_->AddContact(request, core::Transport::kTcp);
  osip_message_force_update(request);
}

MessagePtr Controller::MakePositionInvite(const Call& call, Leg& leg, const Position& p) {
  Dialog& d = leg.dialog;
  std::optional<PeerAddress> peer = PeerOfUriText(p.uri, core::Transport::kUdp);
  if (!peer) return nullptr;
  d.peer = *peer;
  d.call_id = RandomToken(24) + "@anchord";
  d.local_tag = NewTag();
  d.remote_target = p.uri;
  d.remote_party = "<" + p.uri + ">";
  // The position sees the caller's identity in From (the B2BUA's own tag).
  const osip_from_t* from = call.invite->from;
  d.local_party = (from->displayname ? std::string(from->displayname) + " " : std::string()) + "<" +
                  UriText(from->url) + ">;tag=" + d.local_tag;
  MessagePtr invite = MakeInDialogRequest(*stack_, d, "INVITE", 1, call.max_forwards);
  if (!invite) return nullptr;
  leg.last_sdp = leg.sdp.Offer(leg.local);
  ApplyEmergencyData(invite.get(), call.emergency, p.location, leg.last_sdp);
  AddSessionTimerHeaders(invite.get());
  dialogs_[DialogKey(d.call_id, d.local_tag)] = leg.id;
  return invite;
}

void Controller::OnResponse(TxId tx, const osip_message_t* response) {
  if (owner_ && owner_->OwnsTransaction(tx)) {
    owner_->OnResponse(tx, response);
    return;
  }
  const int code = response->status_code;
  if (auto refresh = refresh_txs_.find(tx); refresh != refresh_txs_.end()) {
    if (code < 200) return;
    LegId leg_id = refresh->second;
    refresh_txs_.erase(refresh);
    return OnRefreshDone(leg_id, code);
  }
  if (auto probe = probes_.find(tx); probe != probes_.end()) {
    if (code < 200) return;
    auto done = std::move(probe->second);
    probes_.erase(probe);
    done(code < 500);  // any answer but a server failure means the position's UA is alive
    return;
  }
  Leg* leg = FindLegByTx(tx);
  if (!leg || leg->kind == LegKind::kCaller) return;  // responses to BYE and CANCEL need nothing
  if (leg->kind == LegKind::kParty) return OnPartyResponse(*leg, response);
  if (code < 200) {
    if (code > 100) OnPositionProvisional(*leg);
  } else if (code < 300) {
    OnPositionAnswer(*leg, response);
  } else {
    OnPositionAttemptFailed(*leg, code);
  }
}

void Controller::OnPositionProvisional(Leg& leg) {
  leg.provisional = true;
  if (leg.cancel_wanted) {
    leg.cancel_wanted = false;
    stack_->SendRequest(MakeCancel(leg.invite.get()), leg.dialog.peer);
    return;
  }
  Call* call = FindCall(leg.call);
  if (call && call->position_leg == leg.id && !call->answered && !call->ringing_sent) {
    RespondToInvite(*call, 180);
    call->ringing_sent = true;
  }
}

// A 2xx to an INVITE we sent: the dialog is confirmed with the peer's tag, Contact and
// Record-Route, and ACKed at once (the ICT ends with the 2xx, RFC 6026).
void Controller::ConfirmUacDialog(Leg& leg, const osip_message_t* response) {
  invite_txs_.erase(leg.invite_tx);
  leg.dialog.remote_tag = ToTag(response);
  leg.dialog.remote_party = FromToText(response->to);
  LearnRoute(leg.dialog, response, true, leg.dialog.peer.transport);
  SendAck(leg, response);
  leg.confirmed = true;
}

void Controller::OnPositionAnswer(Leg& leg, const osip_message_t* response) {
  ConfirmUacDialog(leg, response);
  Call* call = FindCall(leg.call);
  if (leg.abandoned || !call || call->position_leg != leg.id) {
    SendBye(leg, "call no longer offered");
    ReleasePosition(leg);
    DestroyLeg(leg.id);
    return;
  }
  Result<NegotiatedAudio> answer = NegotiateAudio(SdpBody(response));
  if (!answer) {
    Log(Level::kWarning, Subsys::kSip, "position answered without usable SDP; trying the next",
        {{"CALL_ID", call->sip_call_id}, {"POSITION", positions_.Find(leg.position)->name}});
    SendBye(leg, "no common codec");
    OnPositionAttemptFailed(leg, 488);
    return;
  }
  call->ring_timer->Cancel();
  media_.SetRemote(leg.id, answer->audio);
  positions_.SetActivity(leg.position, Activity::kBusy, call->id, core::MonotonicUs());
  if (!call->answered) {
    AnswerCaller(*call);
    media_.Connect(call->caller);
    Log(Level::kNotice, Subsys::kSip, "call answered",
        {{"CALL_ID", call->sip_call_id},
         {"NG911_CALL_ID", call->emergency.ng911_call_id},
         {"POSITION", positions_.Find(leg.position)->name},
         {"MESSAGE_ID", core::message_id::kCallAnswer}});
  }
  media_.Connect(leg.id);
  media_.WatchSilence(leg.id, options_.rtp_timeout_ms);
  StartSessionTimer(leg, response);
}

void Controller::SendAck(Leg& leg, const osip_message_t* response) {
  leg.ack = MakeInDialogRequest(*stack_, leg.dialog, "ACK", CseqNumber(response));
  if (leg.ack) (void)stack_->SendStateless(leg.ack.get(), leg.dialog.peer);
}

void Controller::SendBye(Leg& leg, const char* reason) {
  MessagePtr bye = MakeInDialogRequest(*stack_, leg.dialog, "BYE");
  if (!bye) return;
  osip_message_set_header(bye.get(), "Reason",
                          (std::string("SIP;cause=200;text=\"") + reason + "\"").c_str());
  stack_->SendRequest(std::move(bye), leg.dialog.peer);
}

void Controller::OnStrayResponse(const osip_message_t* response) {
  if (owner_ && owner_->OwnsDialog(CallIdOf(response), FromTag(response))) {
    owner_->OnStrayResponse(response);
    return;
  }
  // A 2xx retransmitted after its ICT ended: our ACK was lost, send it again (R3261-13.2.2.4).
  if (response->status_code < 200 || response->status_code >= 300 ||
      CseqMethod(response) != "INVITE") {
    return;
  }
  Leg* leg = FindLegByDialog(CallIdOf(response), FromTag(response));
  if (leg && leg->ack) (void)stack_->SendStateless(leg->ack.get(), leg->dialog.peer);
}

void Controller::OnClientFailure(TxId tx, int status_code) {
  if (owner_ && owner_->OwnsTransaction(tx)) {
    owner_->OnClientFailure(tx, status_code);
    return;
  }
  if (auto probe = probes_.find(tx); probe != probes_.end()) {
    auto done = std::move(probe->second);
    probes_.erase(probe);
    done(false);
    return;
  }
  if (auto refresh = refresh_txs_.find(tx); refresh != refresh_txs_.end()) {
    LegId leg_id = refresh->second;
    refresh_txs_.erase(refresh);
    return OnRefreshDone(leg_id, status_code);
  }
  Leg* leg = FindLegByTx(tx);
  if (!leg || leg->kind == LegKind::kCaller) return;
  if (leg->kind == LegKind::kParty) return OnPartyFailed(*leg, status_code);
  OnPositionAttemptFailed(*leg, status_code);
}

void Controller::OnPositionAttemptFailed(Leg& leg, int status_code) {
  invite_txs_.erase(leg.invite_tx);
  ReleasePosition(leg);
  Call* call = FindCall(leg.call);
  const bool current = call && call->position_leg == leg.id && !leg.abandoned;
  const std::string position = positions_.Find(leg.position)->name;
  const bool retry_over_udp = leg.tcp_upgraded && status_code == 503;
  const PositionId position_id = leg.position;
  DestroyLeg(leg.id);
  if (!current) return;
  call->position_leg = LegId{};
  call->ring_timer->Cancel();
  if (retry_over_udp && OfferToPosition(*call, position_id, /*force_udp=*/true)) {
    Log(Level::kInfo, Subsys::kSip, "position takes no TCP: INVITE sent again over UDP",
        {{"CALL_ID", call->sip_call_id}, {"POSITION", position}});
    return;
  }
  Log(Level::kInfo, Subsys::kSip, "position did not take the call; trying the next",
      {{"CALL_ID", call->sip_call_id},
       {"POSITION", position},
       {"STATUS", std::to_string(status_code)}});
  OfferToNextPosition(*call);
}

void Controller::OnRingTimeout(CallId call_id) {
  Call* call = FindCall(call_id);
  Leg* leg = call ? FindLeg(call->position_leg) : nullptr;
  if (!leg || leg->confirmed) return;
  Log(Level::kInfo, Subsys::kSip, "ring timeout; offering the call to the next position",
      {{"CALL_ID", call->sip_call_id}, {"POSITION", positions_.Find(leg->position)->name}});
  ReleasePosition(*leg);
  AbandonPositionLeg(*leg);
  call->position_leg = LegId{};
  OfferToNextPosition(*call);
}

// The leg stays until its INVITE transaction ends: CANCEL now if a 1xx allows it, else as soon
// as one arrives; a 2xx that crosses gets ACK + BYE.
void Controller::AbandonPositionLeg(Leg& leg) {
  leg.abandoned = true;
  if (leg.has_media) {
    media_.DestroyLeg(leg.id);
    leg.has_media = false;
  }
  if (leg.provisional) {
    stack_->SendRequest(MakeCancel(leg.invite.get()), leg.dialog.peer);
  } else {
    leg.cancel_wanted = true;
  }
}

void Controller::ReleasePosition(Leg& leg) {
  Position* p = positions_.Find(leg.position);
  if (!p || p->call != leg.call) return;
  positions_.SetActivity(leg.position, Activity::kIdle, CallId{}, core::MonotonicUs());
  loop_.Post([this] {
    RetryWaitingCalls(false);
    DrainQueue();
  });
}

void Controller::Probe(const Position& position, uint32_t timeout_ms,
                       std::function<void(bool alive)> done) {
  Dialog probe;
  std::optional<PeerAddress> peer = PeerOfUriText(position.uri, core::Transport::kUdp);
  if (!peer) {
    done(false);
    return;
  }
  probe.peer = *peer;
  probe.call_id = RandomToken(24) + "@anchord";
  probe.local_party = "<" + stack_->ContactUri(core::Transport::kUdp) + ">;tag=" + NewTag();
  probe.remote_party = "<" + position.uri + ">";
  probe.remote_target = position.uri;
  MessagePtr options = MakeInDialogRequest(*stack_, probe, "OPTIONS", 1);
  if (!options) {
    done(false);
    return;
  }
  osip_message_set_accept(options.get(), "application/sdp");
  TxId tx = stack_->SendRequest(std::move(options), probe.peer, timeout_ms);
  if (!tx) {
    done(false);
    return;
  }
  probes_[tx] = std::move(done);
}

// ---------------------------------------------------------------------------------------------
// Failover

void Controller::OnPositionDown(PositionId id) {
  Position* p = positions_.Find(id);
  Call* call = p && p->call.valid() ? FindCall(p->call) : nullptr;
  Leg* leg = call ? FindLeg(call->position_leg) : nullptr;
  if (!leg || leg->position != id) return;
  if (leg->confirmed) {
    StartFailover(*call, "heartbeat");
    return;
  }
  Log(Level::kInfo, Subsys::kFailover, "ringing position went down; trying the next",
      {{"CALL_ID", call->sip_call_id}, {"POSITION", p->name}});
  ReleasePosition(*leg);
  AbandonPositionLeg(*leg);
  call->position_leg = LegId{};
  call->ring_timer->Cancel();
  OfferToNextPosition(*call);
}

void Controller::OnPositionUp(PositionId) {
  RetryWaitingCalls(true);  // answered callers on hold first
  DrainQueue();
}

void Controller::OnLegSilent(CallId call_id, LegId leg_id) {
  Call* call = FindCall(call_id);
  Leg* leg = FindLeg(leg_id);
  if (!call || !leg) return;
  if (leg->kind == LegKind::kCaller) {
    // A silent caller is reported, never hung up on (DESIGN invariant 1).
    Log(Level::kWarning, Subsys::kMedia, "no RTP from the caller",
        {{"CALL_ID", call->sip_call_id}, {"MESSAGE_ID", core::message_id::kMediaTimeout}});
    return;
  }
  if (call->position_leg != leg_id || !leg->confirmed) return;
  Log(Level::kWarning, Subsys::kMedia, "no RTP from the position",
      {{"CALL_ID", call->sip_call_id},
       {"POSITION", positions_.Find(leg->position)->name},
       {"TIMEOUT_MS", std::to_string(options_.rtp_timeout_ms)},
       {"MESSAGE_ID", core::message_id::kMediaTimeout}});
  heartbeat_->MarkDown(leg->position);  // reports OnPositionDown, which starts the failover
}

void Controller::StartFailover(Call& call, const char* reason) {
  Leg* old = FindLeg(call.position_leg);
  if (!old) return;
  call.failed_position = old->position;
  SendBye(*old, "position failed");
  ReleasePosition(*old);
  DestroyLeg(old->id);
  call.position_leg = LegId{};
  call.ring_timer->Cancel();
  call.tried = {call.failed_position};
  if (!call.failing_over) {
    call.failing_over = true;
    call.failover_start_us = core::MonotonicUs();
    // failover.announcement once (if configured), then the hold tone.
    media_.SetTone(call.caller, media::Tone::kFailoverAnnouncement);
    media_.MarkGap(call.caller);
  }
  Log(Level::kWarning, Subsys::kFailover, "failover started",
      {{"CALL_ID", call.sip_call_id},
       {"POSITION", positions_.Find(call.failed_position)->name},
       {"REASON", reason}});
  OfferToNextPosition(call);
}

void Controller::OnGapMeasured(CallId call_id, LegId listener, uint32_t gap_ms) {
  Call* call = FindCall(call_id);
  if (!call || !call->failing_over || listener != call->caller) return;
  call->failing_over = false;
  media_.SetTone(call->caller, media::Tone::kNone);
  Leg* now_serving = FindLeg(call->position_leg);
  uint64_t took_ms = (core::MonotonicUs() - call->failover_start_us) / 1000;
  Log(Level::kNotice, Subsys::kFailover, "failover",
      {{"CALL_ID", call->sip_call_id},
       {"NG911_CALL_ID", call->emergency.ng911_call_id},
       {"POSITION", positions_.Find(call->failed_position)->name},
       {"STANDBY", now_serving ? positions_.Find(now_serving->position)->name : ""},
       {"GAP_MS", std::to_string(gap_ms)},
       {"REPOINT_MS", std::to_string(took_ms)},
       {"MESSAGE_ID", core::message_id::kFailover}});
}

// `forget_tried`: a position coming up again may take a call it failed before; a position
// merely becoming idle is offered only calls it has not refused (no offer/refuse loop).
void Controller::RetryWaitingCalls(bool forget_tried) {
  for (auto& [id, call] : calls_) {
    if (call->answered && call->failing_over && !call->position_leg.valid()) {
      if (forget_tried) call->tried = {call->failed_position};
      OfferToNextPosition(*call);
    }
  }
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
