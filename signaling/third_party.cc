#include "signaling/third_party.h"

#include <chrono>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "signaling/dialog.h"
#include "signaling/internal/sdp_relay.h"
#include "signaling/ng911.h"
#include "signaling/sdp.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;
using internal::LineMap;
using internal::RelaySdp;

namespace {

constexpr int kA = 0;
constexpr int kB = 1;

const char* Name(int side) { return side == kA ? "A" : "B"; }
LineMap::Side SideOf(int side) { return side == kA ? LineMap::kA : LineMap::kB; }

std::string SipReason(int cause, const std::string& text) {
  return "SIP;cause=" + std::to_string(cause) + (text.empty() ? "" : ";text=\"" + text + "\"");
}

}  // namespace

ThirdPartyController::ThirdPartyController(core::EventLoop& loop, media::MediaPlane& media,
                                           std::function<bool(const std::string&)> is_automaton,
                                           ThirdPartyOptions options)
    : loop_(loop),
      media_(media),
      is_automaton_(std::move(is_automaton)),
      options_(std::move(options)) {}

ThirdPartyController::~ThirdPartyController() {
  for (auto& [id, call] : calls_) {
    if (call->ringback_leg) media_.DestroyLeg(LegId{id});
  }
}

// ---------------------------------------------------------------------------------------------
// Setup

Result<uint64_t> ThirdPartyController::Start(uint64_t call_id, const NewCallRequest& request) {
  if (!stack_) return anchord::Fail("third-party controller not attached to the SIP stack");
  if (request.anchored) return anchord::Fail("anchored calls are not third-party calls");
  if (request.flow < 0 || request.flow > 4) return anchord::Fail("flow must be 0..4");
  if (calls_.count(call_id)) return anchord::Fail("call id in use");
  for (const std::string* uri : {&request.a, &request.b}) {
    if (!PeerOfUriText(*uri, core::Transport::kUdp)) {
      return anchord::Fail("not a SIP URI with a numeric host: " + *uri);
    }
  }
  auto owned = std::make_unique<Call>();
  Call& call = *owned;
  call.id = call_id;
  call.request = request;
  call.flow = request.flow;
  if (call.flow == 0) {
    call.flow = is_automaton_ && is_automaton_(request.b) ? 1 : 4;
    call.ringback = call.flow == 4;
  }
  call.started_unix_ms = core::UnixMs();
  call.ring_timer =
      std::make_unique<core::Timer>(loop_, [this, call_id] { OnRingTimeout(call_id); });
  call.party[kA].uri = request.a;
  call.party[kB].uri = request.b;
  for (Party& p : call.party) {
    p.origin = std::make_unique<internal::LegOrigin>(std::stoull(RandomToken(12), nullptr, 16),
                                                     options_.sdp_address);
  }
  calls_[call_id] = std::move(owned);

  std::optional<std::string> first;
  if (call.flow == 2) {
    const bool v6 = request.a.find('[') != std::string::npos;
    RelaySdp offer = internal::BlackHoleOffer(v6, internal::RandomBlackHolePort());
    call.lines.SetLayout(LineMap::kA, offer);
    first = Stamp(call, kA, offer);
  } else if (call.flow == 4) {
    RelaySdp offer = internal::NoMediaSdp();
    if (call.ringback) {
      Result<media::LocalMedia> local = media_.CreateLeg(CallId{call_id}, LegId{call_id});
      if (local) {
        call.ringback_leg = true;
        offer = internal::ServerAudioOffer(local->address, local->rtp_port);
      }
    }
    call.lines.SetLayout(LineMap::kA, offer);
    first = Stamp(call, kA, offer);
  }
  Log(Level::kNotice, Subsys::kSip, "third-party call start",
      {{"CALL", std::to_string(call_id)},
       {"FLOW", std::to_string(call.flow)},
       {"PARTY_A", request.a},
       {"PARTY_B", request.b}});
  if (Status sent = Invite(call, kA, first); !sent) {
    EndCall(call, "", -1);
    return anchord::Fail(sent.error().message);
  }
  return call_id;
}

std::string ThirdPartyController::Stamp(Call& call, int side, const RelaySdp& sdp) {
  Party& p = call.party[side];
  p.last_sent = p.origin->Stamp(sdp);
  return p.last_sent;
}

// The initial INVITE to a party: its own Call-ID and tag; From names the other party, so each
// sees whom it is being connected to.
Status ThirdPartyController::Invite(Call& call, int side, const std::optional<std::string>& sdp) {
  Party& p = call.party[side];
  Dialog& d = p.dialog;
  d.peer = *PeerOfUriText(p.uri, core::Transport::kUdp);
  d.call_id = RandomToken(24) + "@anchord";
  d.local_tag = NewTag();
  d.remote_target = p.uri;
  d.remote_party = "<" + p.uri + ">";
  d.local_party = "<" + call.party[1 - side].uri + ">;tag=" + d.local_tag;
  MessagePtr invite = MakeInDialogRequest(*stack_, d, "INVITE", 1);
  if (!invite) return anchord::Fail("cannot build an INVITE to " + p.uri);
  if (call.request.callback) osip_message_set_header(invite.get(), "Priority", "psap-callback");
  // Flow IV lets B send its offer in a reliable 18x (early media, R3725-8-a) and A answer in
  // one (A in an early dialog, R3725-8-b); both need PRACK from us (R3262-a).
  p.offers_100rel = call.flow == 4;
  if (p.offers_100rel) osip_message_set_header(invite.get(), "Supported", "100rel");
  if (sdp) SetSdpBody(invite.get(), *sdp);
  p.invite = Clone(invite.get());
  p.invite_tx = stack_->SendRequest(std::move(invite), d.peer);
  if (!p.invite_tx) return anchord::Fail("cannot send the INVITE to " + p.uri);
  txs_[p.invite_tx] = {call.id, side, true};
  dialogs_[DialogKey(d.call_id, d.local_tag)] = call.id;
  call.step = side == kA ? Step::kInviteA : Step::kInviteB;
  call.ring_timer->ArmIn(options_.ring_timeout_ms * core::kUsPerMs);
  return {};
}

void ThirdPartyController::ReInvite(Call& call, int side, const std::string& sdp) {
  Party& p = call.party[side];
  if (!p.established) return SendUpdate(call, side, sdp);  // early dialog (R3725-8-b)
  MessagePtr invite = MakeInDialogRequest(*stack_, p.dialog, "INVITE");
  if (!invite) return Fail(call, 500, "cannot build a re-INVITE");
  SetSdpBody(invite.get(), sdp);
  p.invite = Clone(invite.get());
  p.provisional = false;
  p.invite_tx = stack_->SendRequest(std::move(invite), p.dialog.peer);
  if (!p.invite_tx) return Fail(call, 500, "cannot send a re-INVITE");
  txs_[p.invite_tx] = {call.id, side, true};
}

void ThirdPartyController::OnResponse(TxId tx, const osip_message_t* response) {
  auto it = txs_.find(tx);
  if (it == txs_.end()) return;
  TxRef ref = it->second;
  const int code = response->status_code;
  if (code >= 200) txs_.erase(it);
  Call* call = FindCall(ref.call);
  if (call && ref.prack) return OnPrackResult(*call, ref, code);
  if (call && ref.update) return OnUpdateResult(*call, code, response);
  if (!call || !ref.invite) return;  // BYE and CANCEL responses need nothing
  Party& p = call->party[ref.side];
  if (code < 200) {
    if (code > 100) p.provisional = true;
    if (code > 100) OnProvisional(*call, ref.side, response);
    if (p.provisional && p.cancel_wanted) SendCancel(p);
    return;
  }
  p.invite_tx = 0;
  p.cancel_wanted = false;
  if (code < 300) {
    OnInviteOk(*call, ref.side, response);
  } else {
    OnInviteFailed(*call, ref.side, p.timed_out && code == 487 ? 408 : code);
  }
}

void ThirdPartyController::OnClientFailure(TxId tx, int status_code) {
  auto it = txs_.find(tx);
  if (it == txs_.end()) return;
  TxRef ref = it->second;
  txs_.erase(it);
  Call* call = FindCall(ref.call);
  if (call && ref.prack) return OnPrackResult(*call, ref, status_code);
  if (call && ref.update) return OnUpdateResult(*call, status_code, nullptr);
  if (!call || !ref.invite) return;
  call->party[ref.side].invite_tx = 0;
  OnInviteFailed(*call, ref.side, status_code);
}

void ThirdPartyController::OnInviteOk(Call& call, int side, const osip_message_t* response) {
  Party& p = call.party[side];
  const uint32_t cseq = CseqNumber(response);
  const bool initial = !p.established;
  if (initial) {
    p.established = true;
    p.dialog.remote_tag = ToTag(response);
    p.dialog.remote_party = FromToText(response->to);
    LearnRoute(p.dialog, response, true, p.dialog.peer.transport);
    if (!Ringing(call)) call.ring_timer->Cancel();
  }
  std::string body = SdpBody(response).value_or("");
  if (call.step == Step::kEnding) {
    // A 2xx that crossed our CANCEL or came after the call ended: ACK, then BYE.
    auto offer = internal::ParseRelaySdp(body);
    SendAck(call, side, cseq,
            (p.invite && !SdpBody(p.invite.get()) && offer && !p.early_session)
                ? Stamp(call, side, internal::BlackHoleAnswer(*offer))
                : std::string());
    if (!p.bye_sent) SendBye(call, side, "Q.850;cause=16;text=\"call ended\"");
    return MaybeForget(call);
  }
  if (side == kB && p.early_session) return OnBOkAfterEarly(call, response);
  if (side == kA && initial && p.early_session) return OnAOkAfterEarly(call, response);
  const bool offer_in_2xx = p.invite && !SdpBody(p.invite.get());
  if (offer_in_2xx) {
    p.unacked_cseq = cseq;
    if (auto parsed = internal::ParseRelaySdp(body)) p.unacked_offer = *parsed;
  } else {
    SendAck(call, side, cseq, "");
  }
  switch (call.step) {
    case Step::kInviteA:
      return call.flow == 1 || call.flow == 3 ? OnAOffer(call, body) : OnAFirstAnswer(call, body);
    case Step::kInviteB:
      return OnBAnswer(call, body);
    case Step::kUpdateA:
      return OnAUpdated(call, body);
    case Step::kUpdateB:
      return OnBUpdated(call, body);
    case Step::kMediating:
      return OnMediatedAnswer(call, body);
    default:
      return;
  }
}

// Flows I and III: A's 200 carries offer1.
void ThirdPartyController::OnAOffer(Call& call, const std::string& body) {
  auto offer1 = internal::ParseRelaySdp(body);
  if (!offer1 || !internal::HasLiveMedia(*offer1)) {
    return Fail(call, 488, "A's 200 has no usable offer");
  }
  if (internal::HasPreconditions(*offer1)) return Fail(call, 488, "preconditions not supported");
  call.a_seen = *offer1;
  if (call.flow == 1) {
    std::string offer = Stamp(call, kB, call.lines.Fit(LineMap::kA, *offer1, true));
    if (Status s = Invite(call, kB, offer); !s) Fail(call, 500, s.error().message);
    return;
  }
  // Flow III: ACK at once with a black-hole answer, so A's 200 is not left waiting on B.
  Party& a = call.party[kA];
  call.lines.SetLayout(LineMap::kA, *offer1);
  SendAck(call, kA, a.unacked_cseq, Stamp(call, kA, internal::BlackHoleAnswer(*offer1)));
  if (Status s = Invite(call, kB, std::nullopt); !s) Fail(call, 500, s.error().message);
}

// Flows II and IV: A answered the server's first offer (black hole, no m-lines, or ringback).
void ThirdPartyController::OnAFirstAnswer(Call& call, const std::string& body) {
  auto answer = internal::ParseRelaySdp(body);
  if (!answer) return Fail(call, 488, "A's answer is not SDP");
  if (internal::HasPreconditions(*answer)) return Fail(call, 488, "preconditions not supported");
  if (call.flow == 2) {
    if (!internal::HasLiveMedia(*answer)) return Fail(call, 488, "no common media");
    call.a_seen = *answer;
    std::string offer = Stamp(call, kB, call.lines.Fit(LineMap::kA, *answer, true));
    if (Status s = Invite(call, kB, offer); !s) Fail(call, 500, s.error().message);
    return;
  }
  if (call.ringback_leg) StartRingback(call, body);
  if (Status s = Invite(call, kB, std::nullopt); !s) Fail(call, 500, s.error().message);
}

void ThirdPartyController::StartRingback(Call& call, const std::string& answer) {
  Result<SessionDescription> parsed = ParseSdp(answer);
  std::optional<media::RemoteMedia> chosen;
  if (parsed) chosen = ChooseAudio(*parsed);
  if (!chosen) return;  // A declined the tone: it waits in silence, the call goes on
  const LegId leg{call.id};
  media_.SetRemote(leg, *chosen);
  media_.Connect(leg);
  media_.SetTone(leg, media::Tone::kRingback);
}

void ThirdPartyController::StopRingback(Call& call) {
  if (!call.ringback_leg) return;
  call.ringback_leg = false;
  media_.DestroyLeg(LegId{call.id});
}

// B's 200 to the initial INVITE: answer1 (flow I), sdp3 (flow II) or offer2 (flows III, IV).
void ThirdPartyController::OnBAnswer(Call& call, const std::string& body) {
  auto sdp = internal::ParseRelaySdp(body);
  if (!sdp || !internal::HasLiveMedia(*sdp)) return Fail(call, 488, "no common media");
  if (internal::HasPreconditions(*sdp)) return Fail(call, 488, "preconditions not supported");
  if (call.flow == 1) {
    Party& a = call.party[kA];
    const uint32_t cseq = a.unacked_cseq;
    SendAck(call, kA, cseq, Stamp(call, kA, call.lines.Fit(LineMap::kB, *sdp, false)));
    return Connected(call);
  }
  if (call.flow == 2) {
    call.b_seen = *sdp;
  } else if (call.flow == 3 && !internal::ShareMedia(call.a_seen, *sdp)) {
    return Fail(call, 488, "no common media");
  }
  call.step = Step::kUpdateA;
  ReInvite(call, kA, Stamp(call, kA, call.lines.Fit(LineMap::kB, *sdp, true)));
}

// A's 200 to the re-INVITE with B's SDP.
void ThirdPartyController::OnAUpdated(Call& call, const std::string& body) {
  auto sdp = internal::ParseRelaySdp(body);
  if (!sdp || !internal::HasLiveMedia(*sdp)) return Fail(call, 488, "no common media");
  if (call.party[kB].early_session) return OnAEarlyAnswer(call, *sdp);
  if (call.flow != 2) {
    // Flows III/IV: answer2' goes to B in its ACK, refitted to offer2's m-lines.
    Party& b = call.party[kB];
    SendAck(call, kB, b.unacked_cseq, Stamp(call, kB, call.lines.Fit(LineMap::kA, *sdp, false)));
    StopRingback(call);
    return Connected(call);
  }
  if (internal::SameMedia(*sdp, call.a_seen)) return Connected(call);
  if (call.rounds >= options_.max_flow2_rounds) {
    Log(Level::kWarning, Subsys::kSip, "flow II: A's SDP keeps changing; re-INVITEs stopped",
        {{"CALL", std::to_string(call.id)}, {"ROUNDS", std::to_string(call.rounds)}});
    return Connected(call);
  }
  ++call.rounds;
  call.a_seen = *sdp;
  call.step = Step::kUpdateB;
  ReInvite(call, kB, Stamp(call, kB, call.lines.Fit(LineMap::kA, *sdp, true)));
}

// Flow II: B's 200 to a corrective re-INVITE.
void ThirdPartyController::OnBUpdated(Call& call, const std::string& body) {
  auto sdp = internal::ParseRelaySdp(body);
  if (!sdp || !internal::HasLiveMedia(*sdp)) return Fail(call, 488, "no common media");
  if (internal::SameMedia(*sdp, call.b_seen)) return Connected(call);
  call.b_seen = *sdp;
  call.step = Step::kUpdateA;
  ReInvite(call, kA, Stamp(call, kA, call.lines.Fit(LineMap::kB, *sdp, true)));
}

void ThirdPartyController::Connected(Call& call) {
  call.step = Step::kConnected;
  // A still in its early dialog (R3725-8-b): answered when its 200 comes (OnAOkAfterEarly).
  if (call.answered_unix_ms != 0 || !call.party[kA].established) return;
  call.answered_unix_ms = core::UnixMs();
  Log(Level::kNotice, Subsys::kSip, "third-party call connected",
      {{"CALL", std::to_string(call.id)},
       {"CALL_ID", call.party[kA].dialog.call_id},
       {"FLOW", std::to_string(call.flow)},
       {"MESSAGE_ID", core::message_id::kCallAnswer}});
}

void ThirdPartyController::OnInviteFailed(Call& call, int side, int code) {
  Party& p = call.party[side];
  p.invite.reset();
  switch (call.step) {
    case Step::kEnding:
      return MaybeForget(call);
    case Step::kInviteA:
      StopRingback(call);
      Log(Level::kNotice, Subsys::kSip, "third-party call: A did not answer",
          {{"CALL", std::to_string(call.id)}, {"STATUS", std::to_string(code)}});
      return EndCall(call, "", -1);
    case Step::kMediating:
      if (call.server_tx)
        Respond(call.server_tx, call.server_request.get(), code == 491 ? 491 : code);
      call.server_tx = 0;
      call.step = Step::kConnected;
      if (code == 481 || code == 408) Fail(call, code, "");
      return;
    default:  // B failed, or a re-INVITE in setup was refused (R3725-6-a/b)
      return Fail(call, code, !p.established ? "" : "no common media");
  }
}

// ---------------------------------------------------------------------------------------------
// Continued processing (§7)

void ThirdPartyController::OnRequest(TxId tx, const osip_message_t* request,
                                     const PeerAddress& /*source*/) {
  int side = kA;
  Call* call = FindByDialog(CallIdOf(request), ToTag(request), &side);
  const std::string method = request->sip_method;
  if (!call) return Respond(tx, request, 481);
  if (method == "INVITE") return OnReInvite(tx, *call, side, request);
  if (method == "BYE") return OnBye(tx, *call, side, request);
  if (method == "OPTIONS" || method == "INFO" || method == "CANCEL") {
    return Respond(tx, request, 200);  // a CANCEL of a mediated re-INVITE: it completes anyway
  }
  Respond(tx, request, 405);
}

void ThirdPartyController::OnReInvite(TxId tx, Call& call, int side,
                                      const osip_message_t* request) {
  Party& p = call.party[side];
  if (p.last_ok && CseqNumber(request) == p.last_ok_cseq) {
    stack_->Respond(tx, Clone(p.last_ok.get()));  // a retransmission our 200 crossed
    return;
  }
  const std::string require = HeaderValue(request, "require");
  if (require.find("precondition") != std::string::npos) {
    MessagePtr r = MakeResponse(request, 420);
    if (r) osip_message_set_header(r.get(), "Unsupported", "precondition");
    if (r) stack_->Respond(tx, std::move(r));
    return;
  }
  // R3725-6-c; the other party still early cannot take a re-INVITE (RFC 3311 §5.1).
  if (call.step != Step::kConnected || !call.party[1 - side].established) {
    return Respond(tx, request, 491);
  }
  std::optional<std::string> body = SdpBody(request);
  if (!body) return Respond(tx, request, 200, p.last_sent, &p);  // unchanged session
  auto offer = internal::ParseRelaySdp(*body);
  if (!offer || internal::HasPreconditions(*offer)) return Respond(tx, request, 488);
  Respond(tx, request, 100);
  call.step = Step::kMediating;
  call.mediating_from = side;
  call.server_tx = tx;
  call.server_request = Clone(request);
  const int other = 1 - side;
  ReInvite(call, other, Stamp(call, other, call.lines.Fit(SideOf(side), *offer, true)));
}

void ThirdPartyController::OnMediatedAnswer(Call& call, const std::string& body) {
  const int from = call.mediating_from;
  const int other = 1 - from;
  auto answer = internal::ParseRelaySdp(body);
  call.step = Step::kConnected;
  TxId tx = call.server_tx;
  call.server_tx = 0;
  if (!answer) {
    Respond(tx, call.server_request.get(), 488);
    return;
  }
  std::string sdp = Stamp(call, from, call.lines.Fit(SideOf(other), *answer, false));
  Respond(tx, call.server_request.get(), 200, sdp, &call.party[from]);
}

void ThirdPartyController::OnBye(TxId tx, Call& call, int side, const osip_message_t* request) {
  Respond(tx, request, 200);
  call.party[side].bye_sent = true;  // its dialog is over: no BYE back
  Log(Level::kNotice, Subsys::kSip, std::string("third-party call: BYE from ") + Name(side),
      {{"CALL", std::to_string(call.id)}, {"MESSAGE_ID", core::message_id::kCallEnd}});
  EndCall(call, "Q.850;cause=16;text=\"Normal call clearing\"", side);
}

void ThirdPartyController::OnAck(const osip_message_t* /*ack*/) {
  // ACKs to our 200s (re-INVITEs): nothing to relay; an offerless re-INVITE was answered with
  // the leg's unchanged SDP, so its ACK's answer changes nothing on the other leg.
}

void ThirdPartyController::OnStrayResponse(const osip_message_t* response) {
  int side = kA;
  Call* call = FindByDialog(CallIdOf(response), FromTag(response), &side);
  if (!call || response->status_code < 200 || response->status_code >= 300) return;
  Party& p = call->party[side];
  if (p.ack && CseqNumber(p.ack.get()) == CseqNumber(response)) {
    (void)stack_->SendStateless(p.ack.get(), p.dialog.peer);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

void ThirdPartyController::SendAck(Call& call, int side, uint32_t cseq, const std::string& sdp) {
  Party& p = call.party[side];
  p.ack = MakeInDialogRequest(*stack_, p.dialog, "ACK", cseq);
  if (!p.ack) return;
  SetSdpBody(p.ack.get(), sdp);
  if (p.unacked_cseq == cseq) p.unacked_cseq = 0;
  (void)stack_->SendStateless(p.ack.get(), p.dialog.peer);
}

void ThirdPartyController::SendBye(Call& call, int side, const std::string& reason) {
  Party& p = call.party[side];
  MessagePtr bye = MakeInDialogRequest(*stack_, p.dialog, "BYE");
  if (!bye) return;
  if (!reason.empty()) osip_message_set_header(bye.get(), "Reason", reason.c_str());
  TxId tx = stack_->SendRequest(std::move(bye), p.dialog.peer);
  if (tx) txs_[tx] = {call.id, side, false};
  p.bye_sent = true;
}

void ThirdPartyController::SendCancel(Party& party) {
  party.cancel_wanted = false;
  if (!party.invite) return;
  MessagePtr cancel = MakeCancel(party.invite.get());
  if (cancel) stack_->SendRequest(std::move(cancel), party.dialog.peer);
}

void ThirdPartyController::Respond(TxId tx, const osip_message_t* request, int code,
                                   const std::string& sdp, Party* party) {
  if (!request) return;
  MessagePtr response = MakeResponse(request, code);
  if (!response) return;
  if (code == 405) osip_message_set_allow(response.get(), "INVITE, ACK, CANCEL, BYE, OPTIONS");
  if (code >= 200 && code < 300 && MSG_IS_INVITE(request)) {
    stack_->AddContact(response.get(), core::Transport::kUdp);
    SetSdpBody(response.get(), sdp);
    if (party) {
      party->last_ok = Clone(response.get());
      party->last_ok_cseq = CseqNumber(request);
    }
  }
  stack_->Respond(tx, std::move(response));
}

// ---------------------------------------------------------------------------------------------
// Ending

// The call cannot go on: every party gets BYE with `Reason: SIP;cause=<cause>` (R3725-6-a/b);
// a 2xx still waiting for our ACK is ACKed first (with a black-hole answer to its offer).
void ThirdPartyController::Fail(Call& call, int cause, const std::string& text) {
  Log(Level::kWarning, Subsys::kSip, "third-party call failed",
      {{"CALL", std::to_string(call.id)},
       {"STATUS", std::to_string(cause)},
       {"REASON", text},
       {"MESSAGE_ID", core::message_id::kCallEnd}});
  EndCall(call, SipReason(cause, text), -1);
}

void ThirdPartyController::EndCall(Call& call, const std::string& reason, int except_side) {
  call.step = Step::kEnding;
  call.ring_timer->Cancel();
  StopRingback(call);
  if (call.server_tx) {
    Respond(call.server_tx, call.server_request.get(), 487);
    call.server_tx = 0;
  }
  for (int side : {kA, kB}) {
    Party& p = call.party[side];
    if (p.unacked_cseq) {
      SendAck(call, side, p.unacked_cseq,
              Stamp(call, side, internal::BlackHoleAnswer(p.unacked_offer)));
    }
    if (p.established && !p.bye_sent && side != except_side) SendBye(call, side, reason);
    if (p.invite_tx && !p.established) {
      if (p.provisional) {
        SendCancel(p);
      } else {
        p.cancel_wanted = true;
      }
    }
  }
  MaybeForget(call);
}

// A call is forgotten once no INVITE of it is pending (a late 2xx still needs ACK + BYE).
void ThirdPartyController::MaybeForget(Call& call) {
  for (const Party& p : call.party) {
    if (p.invite_tx) return;
  }
  for (const Party& p : call.party) dialogs_.erase(DialogKey(p.dialog.call_id, p.dialog.local_tag));
  for (auto it = txs_.begin(); it != txs_.end();) {
    it = it->second.call == call.id && it->second.invite ? txs_.erase(it) : std::next(it);
  }
  auto it = calls_.find(call.id);
  if (it == calls_.end()) return;
  // Freed on the next loop turn: we may be inside the call's own timer callback.
  std::shared_ptr<Call> dead(std::move(it->second));
  calls_.erase(it);
  loop_.Post([dead] {});
}

void ThirdPartyController::OnRingTimeout(uint64_t id) {
  Call* call = FindCall(id);
  if (!call) return;
  for (Party& p : call->party) {
    if (!p.invite_tx || p.established) continue;
    p.timed_out = true;
    if (p.provisional) {
      SendCancel(p);
    } else {
      p.cancel_wanted = true;
    }
  }
}

Status ThirdPartyController::Hangup(uint64_t id) {
  Call* call = FindCall(id);
  if (!call || call->step == Step::kEnding) return anchord::Fail("no such third-party call");
  EndCall(*call, "Q.850;cause=16;text=\"operator hang-up\"", -1);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Lookups and summaries

bool ThirdPartyController::OwnsTransaction(TxId tx) const { return txs_.count(tx) > 0; }

bool ThirdPartyController::OwnsDialog(const std::string& call_id,
                                      const std::string& local_tag) const {
  return dialogs_.count(DialogKey(call_id, local_tag)) > 0;
}

ThirdPartyController::Call* ThirdPartyController::FindCall(uint64_t id) const {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second.get();
}

ThirdPartyController::Call* ThirdPartyController::FindByDialog(const std::string& call_id,
                                                               const std::string& local_tag,
                                                               int* side) const {
  auto it = dialogs_.find(DialogKey(call_id, local_tag));
  Call* call = it == dialogs_.end() ? nullptr : FindCall(it->second);
  if (call) *side = call->party[kA].dialog.call_id == call_id ? kA : kB;
  return call;
}

std::vector<CallSummary> ThirdPartyController::ListCalls() const {
  std::vector<CallSummary> out;
  for (const auto& [id, call] : calls_) {
    if (auto s = GetCall(id)) out.push_back(std::move(*s));
  }
  return out;
}

std::optional<CallSummary> ThirdPartyController::GetCall(uint64_t id) const {
  const Call* call = FindCall(id);
  if (!call || call->step == Step::kEnding) return std::nullopt;
  CallSummary s;
  s.id = id;
  const bool up = (call->step == Step::kConnected || call->step == Step::kMediating) &&
                  call->party[kA].established;
  s.state = up ? "answered" : "connecting";
  s.sip_call_id = call->party[kA].dialog.call_id;
  s.caller = call->request.a;
  s.media = "direct";
  s.flow = call->flow;
  s.started_unix_ms = call->started_unix_ms;
  s.answered_unix_ms = call->answered_unix_ms;
  for (int side : {kA, kB}) {
    const Party& p = call->party[side];
    PartySummary party;
    party.kind = "party";
    party.uri = p.uri;
    if (side == kB && call->step == Step::kInviteA) continue;  // not called yet
    party.state = p.bye_sent      ? "ended"
                  : p.established ? "connected"
                  : p.provisional ? "ringing"
                                  : "inviting";
    s.parties.push_back(std::move(party));
  }
  return s;
}

}  // namespace anchord::signaling
