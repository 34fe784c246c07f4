// RFC 4733 event folding and pacing; see telephone_event.h.
#include "media/internal/telephone_event.h"

#include <algorithm>

namespace anchord::media::internal {
namespace {
constexpr char kDigits[] = "0123456789*#ABCD";
}  // namespace

char DtmfDigit(uint8_t event) { return event < 16 ? kDigits[event] : '\0'; }

std::optional<uint8_t> DtmfEvent(char digit) {
  for (uint8_t i = 0; i < 16; ++i) {
    if (kDigits[i] == digit) return i;
  }
  return std::nullopt;
}

bool TelephoneEventReceiver::OnPacket(uint32_t ts, const uint8_t* payload, size_t len) {
  if (len < kTelephoneEventBytes) return false;
  const uint8_t event = payload[0];
  const bool end = (payload[1] & 0x80) != 0;
  const uint32_t duration = uint32_t{payload[2]} << 8 | payload[3];
  bool started = false;
  if (!seen_ || ts != ts_) {
    if (seen_ && static_cast<int32_t>(ts - ts_) < 0) return false;  // a stale packet
    // A new event (RFC 4733 2.5.2.1: a new timestamp); an unfinished previous one ends now.
    if (seen_ && !reported_) pending_ = Ended{DtmfDigit(event_), duration_};
    seen_ = true;
    reported_ = false;
    ts_ = ts;
    event_ = event;
    duration_ = duration;
    started = true;
    ++generation_;
  }
  if (reported_) return false;  // retransmitted end packets
  duration_ = std::max(duration_, duration);
  quiet_ticks_ = 0;
  if (end) {
    reported_ = true;
    pending_ = Ended{DtmfDigit(event_), duration_};
  }
  return started;
}

std::optional<TelephoneEventReceiver::Ended> TelephoneEventReceiver::Poll() {
  if (seen_ && !reported_ && ++quiet_ticks_ >= kTimeoutTicks) {
    reported_ = true;
    pending_ = Ended{DtmfDigit(event_), duration_};
  }
  auto out = pending_;
  pending_.reset();
  return out;
}

void TelephoneEventSender::Start(uint8_t event, uint32_t ts) {
  active_ = true;
  ending_ = false;
  first_ = true;
  ends_sent_ = 0;
  event_ = event;
  start_ts_ = ts;
  duration_ = 0;
}

bool TelephoneEventSender::Next(uint32_t step, uint8_t* payload, uint32_t* ts, bool* marker) {
  if (!active_) return false;
  if (ending_ && ends_sent_ >= kEndRepeats) {
    active_ = false;
    return false;
  }
  // The end packet's repeats carry the same, final duration.
  if (!ending_ || ends_sent_ == 0) duration_ = std::min<uint32_t>(duration_ + step, 0xFFFF);
  if (ending_) ++ends_sent_;
  payload[0] = event_;
  payload[1] = static_cast<uint8_t>((ending_ ? 0x80 : 0) | kVolume);
  payload[2] = static_cast<uint8_t>(duration_ >> 8);
  payload[3] = static_cast<uint8_t>(duration_);
  *ts = start_ts_;
  *marker = first_;
  first_ = false;
  return true;
}

}  // namespace anchord::media::internal
