// The Controller's queue (NENA-4.2.1.3) and abandoned-call record (NENA-4.6.8-a).
//
// A call that finds no idle position waits in arrival order. Its caller gets 180, then a 183
// with the server's SDP and ringback as early media, and hears the ringback until a position
// answers. A call over `queue_max_calls` or waiting longer than `queue_max_wait_s` gets the
// overflow answer (486 or 503) so the ESRP reroutes it: the only way the server ends a call it
// has not answered (DESIGN invariant 1). A caller who hangs up while queued or ringing is an
// abandoned call: logged with its identity and location reference and kept for callback.

#include "core/clock.h"
#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;

namespace {

std::string HeaderOf(const EmergencyData& data, const char* name) {
  for (const auto& [n, v] : data.headers) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace

// Calls are offered in arrival order: a new call waits behind the queue even when a position
// is idle at this instant (the queue's head gets it on the next drain, posted right away).
void Controller::PlaceCall(Call& call) {
  if (!queue_.empty()) {
    Enqueue(call);
    loop_.Post([this] { DrainQueue(); });
    return;
  }
  OfferToNextPosition(call);
}

void Controller::Enqueue(Call& call) {
  if (queue_.size() >= options_.queue_max_calls) {
    Overflow(call, options_.queue_max_calls == 0 ? "no idle position" : "queue full");
    return;
  }
  // A call that was queued before and whose position then failed keeps its place: the front.
  if (call.queued_before) {
    queue_.push_front(call.id);
  } else {
    queue_.push_back(call.id);
  }
  call.queued = true;
  call.queued_before = true;
  if (!call.queue_timer) {
    CallId id = call.id;
    call.queue_timer = std::make_unique<core::Timer>(loop_, [this, id] { OnQueueTimeout(id); });
    call.queue_timer->ArmIn(uint64_t{options_.queue_max_wait_s} * 1'000'000u);
  }
  SendEarlyMedia(call);
  Log(Level::kNotice, Subsys::kSip, "call queued: no idle position",
      {{"CALL_ID", call.sip_call_id},
       {"NG911_CALL_ID", call.emergency.ng911_call_id},
       {"QUEUE_LENGTH", std::to_string(queue_.size())},
       {"MESSAGE_ID", core::message_id::kCallQueued}});
}

// NENA: 180 while queued; then early media so the caller hears ringback, not silence
// (R3725-5-e). The 183 carries the caller leg's answer; the final 200 repeats it unchanged.
void Controller::SendEarlyMedia(Call& call) {
  Leg* caller = FindLeg(call.caller);
  if (!caller) return;
  if (!call.ringing_sent) {
    RespondToInvite(call, 180);
    call.ringing_sent = true;
  }
  if (caller->early_media) return;
  caller->last_sdp = caller->sdp.Answer(caller->local, call.offer, call.caller_media);
  MessagePtr progress = MakeResponse(call.invite.get(), 183, caller->dialog.local_tag);
  stack_->AddContact(progress.get(), caller->response_peer.transport);
  osip_message_set_content_type(progress.get(), "application/sdp");
  osip_message_set_body(progress.get(), caller->last_sdp.data(), caller->last_sdp.size());
  caller->early_media = true;
  // Reliably when the caller supports 100rel (R3262-a): it then knows our answer arrived.
  SendProvisional(call, std::move(progress));
  media_.Connect(caller->id);
  // queue.announcement once (if configured), then ringback (NENA-4.2.1.3).
  media_.SetTone(caller->id, media::Tone::kQueueAnnouncement);
}

void Controller::DrainQueue() {
  while (!queue_.empty()) {
    Call* call = FindCall(queue_.front());
    if (!call) {
      queue_.pop_front();
      continue;
    }
    std::optional<PositionId> next = positions_.ChooseIdle({});
    if (!next) return;
    queue_.pop_front();
    call->queued = false;
    call->tried.clear();
    if (!OfferToPosition(*call, *next)) {
      queue_.push_front(call->id);  // keeps its place; the position will be retried later
      call->queued = true;
      return;
    }
  }
}

void Controller::OnQueueTimeout(CallId call_id) {
  Call* call = FindCall(call_id);
  if (!call || call->answered) return;
  // Still ringing a position after the longest wait: give up on it as on a ring timeout.
  if (Leg* leg = FindLeg(call->position_leg)) {
    ReleasePosition(*leg);
    AbandonPositionLeg(*leg);
    call->position_leg = LegId{};
  }
  Overflow(*call, "waited too long in the queue");
}

void Controller::Overflow(Call& call, const char* reason) {
  std::erase(queue_, call.id);
  Log(Level::kWarning, Subsys::kSip,
      std::string("call rejected with ") + std::to_string(options_.overflow_status) + ": " + reason,
      {{"CALL_ID", call.sip_call_id}, {"NG911_CALL_ID", call.emergency.ng911_call_id}});
  RespondToInvite(call, options_.overflow_status);
  EndCall(call.id, reason, std::nullopt);
}

void Controller::RecordAbandoned(const Call& call) {
  AbandonedCall record;
  record.id = call.id.value;
  record.caller = call.invite && call.invite->from ? UriText(call.invite->from->url) : "";
  record.caller_identity = HeaderOf(call.emergency, "P-Asserted-Identity");
  record.sip_call_id = call.sip_call_id;
  record.ng911_call_id = call.emergency.ng911_call_id;
  record.incident_id = call.emergency.incident_id;
  record.location = HeaderOf(call.emergency, "Geolocation");
  record.stage = call.queued ? "queued" : "ringing";
  record.started_unix_ms = call.started_unix_ms;
  record.ended_unix_ms = core::UnixMs();
  Log(Level::kWarning, Subsys::kSip, "abandoned call: the caller hung up before answer",
      {{"CALL_ID", record.sip_call_id},
       {"NG911_CALL_ID", record.ng911_call_id},
       {"NG911_INCIDENT_ID", record.incident_id},
       {"CALLER", record.caller},
       {"CALLER_IDENTITY", record.caller_identity},
       {"LOCATION", record.location},
       {"STAGE", record.stage},
       {"MESSAGE_ID", core::message_id::kCallAbandoned}});
  abandoned_.push_back(std::move(record));
  while (abandoned_.size() > options_.abandoned_kept) abandoned_.pop_front();
}

}  // namespace anchord::signaling
