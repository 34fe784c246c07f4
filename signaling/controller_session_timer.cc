// Session timers (RFC 4028) on position legs, where an expiry means failover, never a BYE to
// the caller (issue 3, B2B-4028-a): anchord asks for `session_expires_s` with itself as the
// refresher. If the position's 2xx keeps anchord as refresher, anchord sends an UPDATE (no
// SDP) every half interval; a refresh that fails (408, 481, no answer) marks the position
// down. If the position takes the refresher role, anchord expects its re-INVITE or UPDATE
// before the interval minus min(32 s, interval / 3) ends (RFC 4028 §10), else marks it down.
// A caller's own session timer is answered (its refreshes are absorbed like re-INVITEs) but a
// caller that stops refreshing is never hung up on (DESIGN invariant 1).
#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;
using failover::Position;

namespace {

struct SessionExpires {
  uint32_t seconds = 0;
  bool uas_refreshes = false;
};

// "1800;refresher=uas" (also the compact "x" header, which osip keeps by its long name only
// when written in full: both are looked up).
std::optional<SessionExpires> ParseSessionExpires(const osip_message_t* m) {
  std::string value = HeaderValue(m, "session-expires");
  if (value.empty()) value = HeaderValue(m, "x");
  if (value.empty()) return std::nullopt;
  SessionExpires se;
  se.seconds = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
  if (se.seconds == 0) return std::nullopt;
  se.uas_refreshes = value.find("refresher=uas") != std::string::npos;
  return se;
}

}  // namespace

void Controller::AddSessionTimerHeaders(osip_message_t* invite) const {
  if (options_.session_expires_s == 0) return;
  const std::string se = std::to_string(options_.session_expires_s);
  osip_message_set_header(invite, "Supported", "timer");
  osip_message_set_header(invite, "Session-Expires", (se + ";refresher=uac").c_str());
  osip_message_set_header(
      invite, "Min-SE",
      std::min<uint32_t>(90, options_.session_expires_s) == 90 ? "90" : se.c_str());
}

void Controller::StartSessionTimer(Leg& leg, const osip_message_t* response) {
  std::optional<SessionExpires> se = ParseSessionExpires(response);
  if (!se || options_.session_expires_s == 0) return;  // the position does not do timers
  leg.session_expires_s = se->seconds;
  leg.we_refresh = !se->uas_refreshes;
  LegId id = leg.id;
  leg.session_timer = std::make_unique<core::Timer>(loop_, [this, id] { OnSessionTimer(id); });
  NoteRefreshFromPeer(leg);
}

// Arms the next deadline: our refresh at half the interval, or the peer's refresh deadline.
void Controller::NoteRefreshFromPeer(Leg& leg) {
  if (!leg.session_timer) return;
  const uint64_t interval_us = uint64_t{leg.session_expires_s} * 1'000'000u;
  const uint64_t margin_us = std::min<uint64_t>(32'000'000u, interval_us / 3);
  leg.session_timer->ArmIn(leg.we_refresh ? interval_us / 2 : interval_us - margin_us);
}

void Controller::OnSessionTimer(LegId leg_id) {
  Leg* leg = FindLeg(leg_id);
  if (!leg) return;
  if (!leg->we_refresh)
    return SessionTimerFailed(*leg, "the position's session refresh did not come");
  MessagePtr update = MakeInDialogRequest(*stack_, leg->dialog, "UPDATE");
  if (!update) return SessionTimerFailed(*leg, "cannot build the session refresh");
  osip_message_set_header(update.get(), "Supported", "timer");
  osip_message_set_header(update.get(), "Session-Expires",
                          (std::to_string(leg->session_expires_s) + ";refresher=uac").c_str());
  TxId tx = stack_->SendRequest(std::move(update), leg->dialog.peer);
  if (!tx) return SessionTimerFailed(*leg, "cannot send the session refresh");
  refresh_txs_[tx] = leg->id;
}

void Controller::OnRefreshDone(LegId leg_id, int status_code) {
  Leg* leg = FindLeg(leg_id);
  if (!leg) return;
  if (status_code >= 200 && status_code < 300) {
    NoteRefreshFromPeer(*leg);
    return;
  }
  SessionTimerFailed(*leg, ("session refresh failed with " + std::to_string(status_code)).c_str());
}

// A position whose session cannot be refreshed is treated like one that stopped answering its
// heartbeat: down, and its call re-pointed to the standby.
void Controller::SessionTimerFailed(Leg& leg, const char* why) {
  Call* call = FindCall(leg.call);
  Position* p = positions_.Find(leg.position);
  Log(Level::kWarning, Subsys::kFailover, std::string("session timer: ") + why,
      {{"CALL_ID", call ? call->sip_call_id : ""}, {"POSITION", p ? p->name : ""}});
  if (leg.session_timer) leg.session_timer->Cancel();
  if (p && heartbeat_) heartbeat_->MarkDown(leg.position);
}

}  // namespace anchord::signaling
