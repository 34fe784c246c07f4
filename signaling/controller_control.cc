// The Controller's control-API side (ControlHandler), its conference parties and anchored
// third-party calls, and what the media plane reports about a call's content (DTMF, TTY).
//
// Parties: a conferenced third party (fire dispatch ...) gets the server's SDP and joins the
// call's bridge, so everyone hears everyone (mix-minus). An anchored third-party call is a
// call with no caller leg: party A is INVITEd with the server's SDP; once A answers it hears
// ringback while B is INVITEd (RFC 3725 §5: not silence); B failing ends A with a Reason
// carrying B's status (R3725-6-a/b).
#include "core/clock.h"
#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"
#include "signaling/third_party.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;

using failover::Position;

namespace {

constexpr size_t kTtyTextKept = 4096;  // characters of a call's TTY text kept for the API

}  // namespace

void Controller::SetThirdParty(ThirdPartyController* third_party) {
  third_party_ = third_party;
  owner_ = third_party;
}

// ---------------------------------------------------------------------------------------------
// Parties

Result<LegId> Controller::InviteParty(
    Call& call, const std::string& uri,
    const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  std::optional<PeerAddress> peer = PeerOfUriText(uri, core::Transport::kUdp);
  if (!peer) return Fail("not a SIP URI with a numeric host: " + uri);
  Leg& leg = NewLeg(call, LegKind::kParty);
  leg.uri = uri;
  Result<media::LocalMedia> local = media_.CreateLeg(call.id, leg.id);
  if (!local) {
    DestroyLeg(leg.id);
    return Fail("no RTP port: " + local.error().message);
  }
  leg.local = *local;
  leg.has_media = true;
  Dialog& d = leg.dialog;
  d.peer = *peer;
  d.call_id = RandomToken(24) + "@anchord";
  d.local_tag = NewTag();
  d.remote_target = uri;
  d.remote_party = "<" + uri + ">";
  d.local_party = call.invite && call.invite->from
                      ? "<" + UriText(call.invite->from->url) + ">;tag=" + d.local_tag
                      : "<" + stack_->ContactUri(peer->transport) + ">;tag=" + d.local_tag;
  MessagePtr invite = MakeInDialogRequest(*stack_, d, "INVITE", 1);
  if (!invite) {
    DestroyLeg(leg.id);
    return Fail("cannot build an INVITE to " + uri);
  }
  leg.last_sdp = leg.sdp.Offer(leg.local);
  // A conferenced party gets the emergency headers, location by reference.
  ApplyEmergencyData(invite.get(), call.emergency, core::LocationMode::kReference, leg.last_sdp);
  if (call.request.callback) osip_message_set_header(invite.get(), "Priority", "psap-callback");
  for (const auto& [name, value] : extra_headers) {
    osip_message_set_header(invite.get(), name.c_str(), value.c_str());
  }
  leg.invite = Clone(invite.get());
  leg.invite_tx = stack_->SendRequest(std::move(invite), d.peer);
  if (!leg.invite_tx) {
    DestroyLeg(leg.id);
    return Fail("cannot send an INVITE to " + uri);
  }
  invite_txs_[leg.invite_tx] = leg.id;
  dialogs_[DialogKey(d.call_id, d.local_tag)] = leg.id;
  call.parties.push_back(leg.id);
  Log(Level::kInfo, Subsys::kSip, "inviting a party into the call",
      {{"CALL_ID", call.sip_call_id}, {"PEER", uri}, {"LEG", std::to_string(leg.id.value)}});
  return leg.id;
}

void Controller::OnPartyResponse(Leg& leg, const osip_message_t* response) {
  const int code = response->status_code;
  if (code >= 300) return OnPartyFailed(leg, code);
  if (leg.transferor.valid() && code >= 200) NotifyTransferor(leg, code);
  if (code < 200) {
    leg.provisional = code > 100;
    if (leg.provisional && leg.cancel_wanted) {
      leg.cancel_wanted = false;
      stack_->SendRequest(MakeCancel(leg.invite.get()), leg.dialog.peer);
    }
    return;
  }
  ConfirmUacDialog(leg, response);
  Call* call = FindCall(leg.call);
  Result<NegotiatedAudio> answer = NegotiateAudio(SdpBody(response));
  if (leg.abandoned || !call || !answer) {
    SendBye(leg, answer ? "call no longer offered" : "no common codec");
    if (call && !leg.abandoned) return OnPartyFailed(leg, 488);
    DestroyLeg(leg.id);
    return;
  }
  media_.SetRemote(leg.id, answer->audio);
  media_.Connect(leg.id);
  if (!call->third_party) return;
  if (call->parties.size() == 1) {  // A answered: ringback while B is called
    media_.SetTone(leg.id, media::Tone::kRingback);
    if (Result<LegId> b = InviteParty(*call, call->request.b); !b) {
      Log(Level::kWarning, Subsys::kSip, "cannot call B: " + b.error().message,
          {{"CALL_ID", call->sip_call_id}});
      EndCall(call->id, "cannot call B", std::nullopt);
    }
    return;
  }
  media_.SetTone(call->parties.front(), media::Tone::kNone);
  call->answered = true;
  call->answered_unix_ms = core::UnixMs();
  Log(Level::kNotice, Subsys::kSip, "third-party call connected",
      {{"CALL_ID", call->sip_call_id}, {"MESSAGE_ID", core::message_id::kCallAnswer}});
}

void Controller::OnPartyFailed(Leg& leg, int status_code) {
  invite_txs_.erase(leg.invite_tx);
  if (leg.transferor.valid()) NotifyTransferor(leg, status_code);
  Call* call = FindCall(leg.call);
  const bool wanted = call && !leg.abandoned;
  const std::string uri = leg.uri;
  const LegId id = leg.id;
  DestroyLeg(id);
  if (!wanted) return;
  std::erase(call->parties, id);
  Log(Level::kInfo, Subsys::kSip, "party did not join the call",
      {{"CALL_ID", call->sip_call_id}, {"PEER", uri}, {"STATUS", std::to_string(status_code)}});
  if (!call->third_party) return;
  // R3725-6-a/b: A hears why B failed.
  const std::string reason = "SIP;cause=" + std::to_string(status_code);
  for (LegId party : call->parties) {
    if (Leg* other = FindLeg(party); other && other->confirmed) {
      MessagePtr bye = MakeInDialogRequest(*stack_, other->dialog, "BYE");
      if (bye) {
        osip_message_set_header(bye.get(), "Reason", reason.c_str());
        stack_->SendRequest(std::move(bye), other->dialog.peer);
      }
      other->confirmed = false;  // EndCall must not BYE it twice
      DestroyLeg(party);
    }
  }
  call->parties.clear();
  EndCall(call->id, "B did not answer", std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// ControlHandler

Result<uint64_t> Controller::CreateCall(const NewCallRequest& request) {
  if (!PeerOfUriText(request.a, core::Transport::kUdp) ||
      !PeerOfUriText(request.b, core::Transport::kUdp)) {
    return Fail("a and b must be SIP URIs with a numeric host");
  }
  if (!request.anchored) {
    if (!third_party_) return Fail("direct-media calls are not available");
    return third_party_->Start(next_id_++, request);
  }
  auto owned = std::make_unique<Call>();
  Call& call = *owned;
  call.id = CallId{next_id_++};
  call.third_party = true;
  call.request = request;
  call.sip_call_id = "3pcc-" + std::to_string(call.id.value) + "@anchord";
  call.started_unix_ms = core::UnixMs();
  calls_[call.id] = std::move(owned);
  Result<LegId> a = InviteParty(call, request.a);
  if (!a) {
    calls_.erase(call.id);
    return Fail(a.error().message);
  }
  return call.id.value;
}

Result<uint64_t> Controller::AddParty(uint64_t id, const std::string& uri) {
  Call* call = FindCall(CallId{id});
  if (!call) return Fail("no call " + std::to_string(id));
  if (!call->answered) return Fail("call " + std::to_string(id) + " is not answered yet");
  Result<LegId> leg = InviteParty(*call, uri);
  if (!leg) return Fail(leg.error().message);
  return leg->value;
}

Status Controller::Hangup(uint64_t id) {
  Call* call = FindCall(CallId{id});
  if (!call) {
    if (third_party_ && third_party_->GetCall(id)) return third_party_->Hangup(id);
    return Fail("no call " + std::to_string(id));
  }
  // An operator's decision (DESIGN invariant 1 allows it): before answer the caller gets 480.
  if (!call->answered && call->invite) RespondToInvite(*call, 480);
  EndCall(call->id, "operator hang-up", std::nullopt);
  return {};
}

std::vector<CallSummary> Controller::ListCalls() {
  std::vector<CallSummary> list;
  for (auto& [id, call] : calls_) list.push_back(Summarize(*call));
  if (third_party_) {
    for (CallSummary& c : third_party_->ListCalls()) list.push_back(std::move(c));
  }
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return list;
}

std::optional<CallSummary> Controller::GetCall(uint64_t id) {
  if (Call* call = FindCall(CallId{id})) return Summarize(*call);
  return third_party_ ? third_party_->GetCall(id) : std::nullopt;
}

std::vector<PositionSummary> Controller::ListPositions() {
  std::vector<PositionSummary> list;
  for (const Position& p : positions_.all()) {
    PositionSummary s{
        p.name,      p.uri, "", failover::HealthName(p.health), failover::ActivityName(p.activity),
        p.call.value};
    if (p.standby) s.standby = positions_.Find(*p.standby)->name;
    list.push_back(std::move(s));
  }
  return list;
}

std::vector<AbandonedCall> Controller::ListAbandoned() {
  return {abandoned_.begin(), abandoned_.end()};
}

CallSummary Controller::Summarize(const Call& call) {
  CallSummary s;
  s.id = call.id.value;
  s.sip_call_id = call.sip_call_id;
  s.ng911_call_id = call.emergency.ng911_call_id;
  s.incident_id = call.emergency.incident_id;
  s.media = "anchored";
  s.started_unix_ms = call.started_unix_ms;
  s.answered_unix_ms = call.answered_unix_ms;
  s.tty_text = call.tty_text;
  for (const auto& [name, value] : call.emergency.headers) {
    if (name == "Geolocation") s.location += (s.location.empty() ? "" : ", ") + value;
  }
  s.state = call.queued         ? "queued"
            : call.failing_over ? "failing-over"
            : call.answered     ? "answered"
            : call.third_party  ? "connecting"
                                : "ringing";
  if (call.invite && call.invite->from) s.caller = UriText(call.invite->from->url);
  if (call.third_party) s.caller = call.request.a;
  std::vector<LegId> legs = {call.caller, call.position_leg};
  legs.insert(legs.end(), call.parties.begin(), call.parties.end());
  for (LegId id : legs) {
    const Leg* leg = FindLeg(id);
    if (!leg) continue;
    const char* state = leg->confirmed || leg->kind == LegKind::kCaller ? "connected"
                        : leg->provisional                              ? "ringing"
                                                                        : "inviting";
    PartySummary p{leg->id.value, "", leg->uri, state, ""};
    if (leg->kind == LegKind::kCaller) {
      p.kind = "caller";
      p.uri = s.caller;
    } else if (leg->kind == LegKind::kPosition) {
      const Position* pos = positions_.Find(leg->position);
      p.kind = "position";
      p.position = pos ? pos->name : "";
      p.uri = pos ? pos->uri : "";
      if (leg->confirmed) s.position = p.position;
    } else {
      p.kind = "party";
    }
    s.parties.push_back(std::move(p));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// What the media plane hears

void Controller::OnDtmf(CallId call_id, LegId leg_id, char digit, uint32_t duration_ms) {
  Call* call = FindCall(call_id);
  Log(Level::kNotice, Subsys::kMedia, std::string("DTMF ") + digit,
      {{"CALL_ID", call ? call->sip_call_id : ""},
       {"LEG", std::to_string(leg_id.value)},
       {"DIGIT", std::string(1, digit)},
       {"DURATION_MS", std::to_string(duration_ms)},
       {"MESSAGE_ID", core::message_id::kDtmf}});
}

void Controller::OnTtyText(CallId call_id, LegId, const std::string& text) {
  Call* call = FindCall(call_id);
  if (!call) return;
  call->tty_text += text;
  if (call->tty_text.size() > kTtyTextKept) {
    call->tty_text.erase(0, call->tty_text.size() - kTtyTextKept);
  }
  const int64_t now_ms = static_cast<int64_t>(core::MonotonicUs() / 1000);
  for (const std::string& line : call->tty_lines.Add(text, now_ms)) LogTtyLine(*call, line);
}

void Controller::PollTty() {
  const int64_t now_ms = static_cast<int64_t>(core::MonotonicUs() / 1000);
  for (auto& [id, call] : calls_) {
    if (std::optional<std::string> line = call->tty_lines.Poll(now_ms)) LogTtyLine(*call, *line);
  }
}

void Controller::LogTtyLine(const Call& call, const std::string& line) {
  Log(Level::kNotice, Subsys::kMedia, "TTY: " + line,
      {{"CALL_ID", call.sip_call_id},
       {"NG911_CALL_ID", call.emergency.ng911_call_id},
       {"TTY_TEXT", line},
       {"MESSAGE_ID", core::message_id::kTtyLine}});
}

}  // namespace anchord::signaling
