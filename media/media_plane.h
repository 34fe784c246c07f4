// MediaPlane: the one narrow interface through which signaling drives media (DESIGN: create an
// endpoint, set its remote, put it in a bridge, take it out), so the controller can be tested
// against a fake.
//
// Threading: every method is called on the signaling thread and returns at once; the work runs
// on the media worker that owns the call's bridge. Events come back through MediaEvents, also
// on the signaling thread (posted there by the worker).
//
// Model: one call = one bridge. A leg is created in its call's bridge but silent and deaf until
// Connect(): connected legs hear the mix of all other connected legs (mix-minus) plus the tone
// set with SetTone(). From its first Connect() on, a leg is sent one continuous RTP stream (one
// SSRC, sequence +1, timestamp +160 per 20 ms; DESIGN invariant 2) until DestroyLeg(), also
// while it is the only party left (then it hears silence or the hold tone).
#pragma once

#include <cstdint>
#include <string>

#include "core/ids.h"
#include "core/result.h"

namespace anchord::media {

// Audio codecs a leg can negotiate. PCMU and PCMA are on every leg (R6881); G.722 (RTP clock
// 8000, audio 16 kHz, RFC 3551) and Opus (RTP clock 48000) make the bridge wideband.
enum class Codec : uint8_t { kPcmu, kPcma, kG722, kOpus };

// What the server plays into a leg's output, mixed with whatever else it hears.
enum class Tone : uint8_t {
  kNone,
  kHold,      // continuous 440 Hz, no cadence: failover (DESIGN "Failover")
  kRingback,  // 440 + 480 Hz, 2 s on / 4 s off: a queued caller's early media
  // queue.announcement once, then kRingback with no gap (the clip's last sample is followed by
  // ringback's first); ringback at once when none is configured. For a caller being queued.
  kQueueAnnouncement,
  // failover.announcement once, then kHold with no gap; the hold tone at once when none is
  // configured. For a caller whose position failed.
  kFailoverAnnouncement,
};

struct LocalMedia {
  std::string address;    // numeric IPv4, as configured in media.address
  uint16_t rtp_port = 0;  // even; RTCP is rtp_port + 1
};

struct RemoteMedia {
  std::string address;  // numeric IPv4
  uint16_t rtp_port = 0;
  Codec codec = Codec::kPcmu;
  uint8_t payload_type = 0;  // as negotiated in SDP
  // RFC 4733 telephone-event payload type negotiated on this leg; 0 = none.
  uint8_t telephone_event_pt = 0;
  // False when the peer's SDP says it does not want to receive (a=sendonly or a=inactive:
  // hold, RFC 3264 §6.1): no RTP is sent to it (RTCP still is); what it sends is still heard.
  // Its stream resumes with the next sequence number, as after Disconnect (invariant 2).
  bool send = true;
};

// Events from the media plane, delivered on the signaling thread.
class MediaEvents {
 public:
  virtual ~MediaEvents() = default;
  // No RTP from `leg` for the timeout given to WatchSilence(). Reported once per silence.
  virtual void OnLegSilent(CallId call, LegId leg) = 0;
  // After MarkGap(listener): the listener hears a party that connected after the mark; `gap_ms`
  // is the longest stretch since the listener last heard a party or the hold tone, up to now.
  virtual void OnGapMeasured(CallId call, LegId listener, uint32_t gap_ms) = 0;
  // A DTMF digit received from `leg` (RFC 4733 telephone-event, at the end of the event).
  virtual void OnDtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) = 0;
  // TTY (Baudot) characters decoded from `leg`'s audio, as they arrive (ADA; issue 4).
  virtual void OnTtyText(CallId call, LegId leg, const std::string& text) = 0;
};

class MediaPlane {
 public:
  virtual ~MediaPlane() = default;

  // Binds an RTP/RTCP port pair for a new leg of `call` now (so its SDP can be written at once).
  virtual Result<LocalMedia> CreateLeg(CallId call, LegId leg) = 0;
  // Where to send and what to send/receive. May be called again (re-INVITE, re-point).
  virtual void SetRemote(LegId leg, const RemoteMedia& remote) = 0;
  // Joins the bridge: the leg hears the others and is heard by them.
  virtual void Connect(LegId leg) = 0;
  // Leaves the bridge but keeps the port and the outgoing stream's state.
  virtual void Disconnect(LegId leg) = 0;
  // Plays `tone` into this leg's output (mixed with whatever else it hears); kNone stops it
  // (at once, mid-announcement too). The same tone again changes nothing (an announcement is
  // not restarted); another tone starts from its beginning.
  virtual void SetTone(LegId leg, Tone tone) = 0;
  // Reports OnLegSilent when no RTP arrives from `leg` for `timeout_ms` (0 = stop watching).
  virtual void WatchSilence(LegId leg, uint32_t timeout_ms) = 0;
  // Starts a failover gap measurement for what `listener` hears (see MediaEvents).
  virtual void MarkGap(LegId listener) = 0;
  // Closes the leg's sockets and frees its state. The bridge goes with its last leg.
  virtual void DestroyLeg(LegId leg) = 0;
};

}  // namespace anchord::media
