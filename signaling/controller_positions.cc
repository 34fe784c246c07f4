// The controller's position side: offering a call to positions (ring timeout, rejection, TCP
// for large INVITEs), their answers and failures, heartbeat probes, and failover (a position
// down or silent in a call: hold tone to the caller, the standby INVITEd, the gap measured).
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;
using failover::Activity;
using failover::Position;

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
  if (!leg || !leg->ack) return;
  if (ToTag(response) == leg->dialog.remote_tag) {
    (void)stack_->SendStateless(leg->ack.get(), leg->dialog.peer);
    return;
  }
  EndForkedDialog(*leg, response);
}

// A 2xx from another fork of our INVITE (another To tag) after the leg's dialog is set up:
// RFC 3261 §13.2.2.4 wants it ACKed; anchord keeps one dialog per leg, so the fork's dialog
// is then ended with a BYE (R3261-13.2.2.4).
void Controller::EndForkedDialog(const Leg& leg, const osip_message_t* response) {
  Dialog fork = leg.dialog;
  fork.remote_tag = ToTag(response);
  fork.remote_party = FromToText(response->to);
  LearnRoute(fork, response, true, leg.dialog.peer.transport);
  fork.local_cseq = CseqNumber(response);
  MessagePtr ack = MakeInDialogRequest(*stack_, fork, "ACK", CseqNumber(response));
  if (ack) (void)stack_->SendStateless(ack.get(), fork.peer);
  MessagePtr bye = MakeInDialogRequest(*stack_, fork, "BYE");
  if (!bye) return;
  osip_message_set_header(bye.get(), "Reason", "SIP;cause=200;text=\"forked answer\"");
  stack_->SendRequest(std::move(bye), fork.peer);
  Log(Level::kInfo, Subsys::kSip, "second 2xx from a fork: ACKed and ended with BYE",
      {{"CALL_ID", fork.call_id}, {"TO_TAG", fork.remote_tag}});
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

}  // namespace anchord::signaling
