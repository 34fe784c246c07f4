// RFC 4733 telephone-events (DTMF) for one leg: the receiver folds the packets of an event
// (start, continuations, the end packet and its retransmissions, all with the event's start
// timestamp) into one digit reported once; the sender paces an event on the media tick, one
// packet per 20 ms (start with the marker bit, growing duration, the end packet three times),
// instead of oRTP's send_dtmf2 which bursts all packets at once.
//
// Payload (RFC 4733 2.3): event (8 bits) | E (1) | R (1) | volume (6) | duration (16, in RTP
// timestamp units from the event's start timestamp).
//
// Thread: the media worker owning the leg. No allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace anchord::media::internal {

inline constexpr size_t kTelephoneEventBytes = 4;

// '0'..'9', '*', '#', 'A'..'D' for events 0..15; 0 for anything else (flash, tones).
char DtmfDigit(uint8_t event);
// The event number of a DTMF digit; nullopt for anything else.
std::optional<uint8_t> DtmfEvent(char digit);

class TelephoneEventReceiver {
 public:
  struct Ended {
    char digit;
    uint32_t duration_ts;  // RTP timestamp units
  };

  // One received telephone-event packet. Returns true when it starts a new event.
  bool OnPacket(uint32_t ts, const uint8_t* payload, size_t len);
  // Called once per tick. Returns the event that ended (E bit seen, or no packet for
  // kTimeoutTicks), once.
  std::optional<Ended> Poll();

  // True while an event is in progress (started, not ended).
  bool active() const { return seen_ && !reported_; }
  uint8_t event() const { return event_; }
  // Incremented by every packet that starts a new event (the bridge forwards on a change).
  uint32_t generation() const { return generation_; }
  static constexpr uint32_t kTimeoutTicks = 25;  // 500 ms without a packet ends an event

 private:
  bool seen_ = false;
  bool reported_ = false;
  std::optional<Ended> pending_;
  uint32_t ts_ = 0;
  uint8_t event_ = 0;
  uint32_t duration_ = 0;
  uint32_t quiet_ticks_ = 0;
  uint32_t generation_ = 0;
};

// One outgoing event toward a leg, a packet per tick.
class TelephoneEventSender {
 public:
  static constexpr int kEndRepeats = 3;
  static constexpr uint8_t kVolume = 10;  // -10 dBm0

  // Starts `event` at RTP timestamp `ts` (the leg's send clock now); replaces any event.
  void Start(uint8_t event, uint32_t ts);
  // The source ended the event: the next packets carry the E bit.
  void End() { ending_ = true; }
  bool active() const { return active_; }
  // Writes this tick's packet (4 bytes) and its RTP timestamp and marker; `step` is the
  // leg's timestamp step per tick. Returns false when the event is over (nothing to send).
  bool Next(uint32_t step, uint8_t* payload, uint32_t* ts, bool* marker);

 private:
  bool active_ = false;
  bool ending_ = false;
  bool first_ = false;
  int ends_sent_ = 0;
  uint8_t event_ = 0;
  uint32_t start_ts_ = 0;
  uint32_t duration_ = 0;
};

}  // namespace anchord::media::internal
