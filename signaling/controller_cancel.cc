// The caller's CANCEL (RFC 3261 §9.2, RFC 6026; B2B-CANCEL-a, R3261-9.2-a, R6026-a).
//
// Before our final response: 200 to the CANCEL, 487 to the INVITE, CANCEL (or ACK + BYE) to
// the position, and the call is recorded as abandoned (NENA-4.6.8-a). After our 2xx the INVITE
// server transaction is, by RFC 6026, in the Accepted state for 64*T1: a CANCEL that crosses
// the 2xx still matches it and gets 200 with no other effect (the call goes on). osip ends the
// IST with the 2xx, so the controller keeps its own small record of the INVITEs it accepted,
// with their To tag, for 64*T1 after the 2xx, also past the ACK and the end of the call. Only a
// CANCEL that matches nothing gets 481.
#include <algorithm>
#include <functional>

#include "core/clock.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {
namespace {

// A CANCEL carries the INVITE's top Via branch, Call-ID, From tag and CSeq number
// (R3261-9.1-a). A 64-bit hash of them: a collision would only answer 200 instead of 481 to a
// stray CANCEL, with no other effect.
uint64_t AcceptedKey(const osip_message_t* m) {
  const std::string key =
      TopBranch(m) + "|" + CallIdOf(m) + "|" + FromTag(m) + "|" + std::to_string(CseqNumber(m));
  return std::hash<std::string>{}(key);
}

// Drops the records whose 64*T1 are over (the oldest first).
template <class Map>
void Expire(Map& accepted, std::deque<std::pair<uint64_t, uint64_t>>& expiry, uint64_t now_us) {
  while (!expiry.empty() && expiry.front().first <= now_us) {
    accepted.erase(expiry.front().second);
    expiry.pop_front();
  }
}

}  // namespace

void Controller::HandleCancel(TxId tx, const osip_message_t* cancel) {
  TxId invite_tx = stack_->FindInviteServerTx(cancel);
  Leg* leg = invite_tx ? FindLegByTx(invite_tx) : nullptr;
  if (!leg) {
    std::optional<std::string> to_tag = AcceptedToTag(cancel);
    // A live INVITE transaction without a leg already has its final response (the leg goes
    // with it): 200 and nothing else, as in the Accepted state.
    Respond(tx, cancel, to_tag || invite_tx ? 200 : 481, to_tag.value_or(""));
    return;
  }
  Respond(tx, cancel, 200, leg->dialog.local_tag);
  Call* call = FindCall(leg->call);
  // A 200 held for a PRACK has not gone out: the INVITE can still be cancelled.
  if (!call || (call->answered && !leg->reliable.answer_held)) return;
  RespondToInvite(*call, 487);
  RecordAbandoned(*call);
  EndCall(call->id, "cancelled by the caller before answer", std::nullopt);
}

void Controller::RememberAccepted(const osip_message_t* invite, const std::string& to_tag) {
  const uint64_t now = core::MonotonicUs();
  Expire(accepted_, accepted_expiry_, now);
  AcceptedInvite record;
  if (to_tag.size() > record.to_tag.size()) return;  // not one of our tags: nothing to match
  std::copy(to_tag.begin(), to_tag.end(), record.to_tag.begin());
  record.to_tag_len = static_cast<uint8_t>(to_tag.size());
  const uint64_t key = AcceptedKey(invite);
  accepted_[key] = record;
  accepted_expiry_.emplace_back(now + 64ull * options_.t1_ms * core::kUsPerMs, key);
}

std::optional<std::string> Controller::AcceptedToTag(const osip_message_t* cancel) {
  Expire(accepted_, accepted_expiry_, core::MonotonicUs());
  auto it = accepted_.find(AcceptedKey(cancel));
  if (it == accepted_.end()) return std::nullopt;
  return std::string(it->second.to_tag.data(), it->second.to_tag_len);
}

}  // namespace anchord::signaling
