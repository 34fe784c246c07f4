// Bridge: one call's legs on its media worker, and the per-tick receive -> jitter buffer ->
// decode/conceal -> FrameMixer (mix-minus, limiter, fades) -> tone -> encode -> send
// (DESIGN "The media tick"), with RFC 4733 events and TTY decoding on the side. A caller's
// RFC 4733 event reaches legs with telephone-event as events, the others as in-band DTMF.
//
// Rate: the bridge mixes at 8 kHz, or 16 kHz as soon as one leg has a wideband codec (G.722,
// Opus); every leg's Decoder/Encoder (media/codec) converts to and from the bridge rate.
// Up to mixer::FrameMixer::kMaxSlots (16) legs have a mixer slot; more are not mixed.
//
// Owning thread: the media worker. Control methods (AddLeg, SetRemote, Connect, ...) run from
// posted work and may allocate (codec state); Tick() is the data path and allocates, logs and
// throws nothing (events are posted through BridgeEvents, see media/README.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/ids.h"
#include "media/codec/codec.h"
#include "media/internal/announcement.h"
#include "media/internal/counters.h"
#include "media/internal/dtmf_generator.h"
#include "media/internal/gap_meter.h"
#include "media/internal/rtp_leg.h"
#include "media/internal/telephone_event.h"
#include "media/internal/tone_generator.h"
#include "media/media_plane.h"
#include "media/tty/tty_decoder.h"
#include "mixer/frame_mixer.h"
#include "mixer/mix.h"

namespace anchord::media::internal {

// How a bridge reports to the signaling thread (the worker posts the events there).
class BridgeEvents {
 public:
  virtual ~BridgeEvents() = default;
  virtual void LegSilent(CallId call, LegId leg) = 0;
  virtual void GapMeasured(CallId call, LegId listener, uint32_t gap_ms) = 0;
  virtual void Dtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) = 0;
  virtual void TtyText(CallId call, LegId leg, const char* text, size_t n) = 0;
};

// Per-leg counts, for MediaService::LegStats().
struct LegCounters {
  uint64_t received = 0;   // audio packets into the jitter buffer
  uint64_t lost = 0;       // frames missing at playout
  uint64_t late = 0;       // packets after their playout time
  uint64_t concealed = 0;  // frames filled by PLC/FEC (lost, stalls, undecodable)
  uint64_t dropped = 0;    // frames dropped to bound the delay, duplicates
  uint32_t jitter_us = 0;  // RFC 3550 interarrival jitter
  uint32_t jitter_target_ms = 0;
  bool latched = false;
  uint64_t skipped_silent = 0;  // near-silent frames skipped to give back delay (not loss)
  // What the peer's RTCP says about the stream we send it (RtcpPeerStats).
  int64_t rtt_us = -1;          // -1 = no RTT yet
  int peer_fraction_lost = -1;  // 0..255 (1/256); -1 = no report yet
  int32_t peer_cumulative_lost = 0;
  uint32_t peer_jitter_us = 0;
};

struct LegState {
  LegId id;
  std::unique_ptr<RtpLeg> rtp;
  std::unique_ptr<codec::Decoder> decoder;  // null until SetRemote
  std::unique_ptr<codec::Encoder> encoder;
  std::unique_ptr<tty::TtyDecoder> tty;
  std::unique_ptr<ToneGenerator> tone;  // the tone being played, if any (SetTone)
  int slot = -1;                        // FrameMixer slot, -1 = none (over 16 legs)
  bool connected = false;
  bool live = false;     // this tick's input is a received, decoded packet
  bool audible = false;  // this tick's input is audio (a packet or its concealment)
  uint64_t connect_seq = 0;
  uint32_t send_ts = 0;  // advances every tick, sent or not (invariant 2)
  // Silence watch (WatchSilence); timeout 0 = off. Times on the worker's tick grid.
  uint64_t watch_timeout_us = 0;
  uint64_t last_activity_us = 0;
  bool silent_reported = false;
  GapMeter gap;
  // RFC 4733 forwarding toward this leg, and the source's event generation already forwarded.
  TelephoneEventSender dtmf_out;
  // In-band DTMF toward this leg when it has no telephone-event (replaces its audio); empty
  // for a leg with telephone-event or without a remote yet. Held in place, not on the heap:
  // every tick asks whether it is active, and a pointer there was a cache miss per leg and
  // tick with hundreds of calls on a worker (perf: 1.8 % of the worker at 400 calls).
  std::optional<DtmfGenerator> dtmf_tone;
  LegId dtmf_source{};
  uint32_t dtmf_generation = 0;
  uint64_t shared_tick = 0;  // tick whose out_payload is the plain encoded mix (sharable)
  uint64_t concealed = 0;
  JitterStats reported;  // jitter stats already added to the worker's counters
  size_t in_len = 0;
  size_t out_len = 0;
  uint8_t in_payload[JitterBuffer::kMaxPayload];
  uint8_t out_payload[codec::kMaxPayloadBytes];
  int16_t in_pcm[codec::kMaxFrameSamples];
  int16_t out_pcm[codec::kMaxFrameSamples];
};

class Bridge {
 public:
  // `announcements`: the clips of the announcement tones (by default the set MediaService
  // published at start, see internal/announcement.h); never null.
  Bridge(CallId call, mixer::Kernels kernels, WorkerCounters& counters, BridgeEvents& events,
         std::shared_ptr<const Announcements> announcements = PublishedAnnouncements());

  CallId call() const { return call_; }
  bool empty() const { return legs_.empty(); }
  int rate_hz() const { return rate_hz_; }

  LegState& AddLeg(LegId id, std::unique_ptr<RtpLeg> rtp, uint32_t initial_ts);
  LegState* Find(LegId id);
  void RemoveLeg(LegId id);
  // False if the remote is unusable (not numeric IPv4, bad PT) or its codec cannot be built.
  bool SetRemote(LegState& leg, const RemoteMedia& remote);
  void Connect(LegState& leg, uint64_t connect_seq);
  void Disconnect(LegState& leg);
  void SetTone(LegState& leg, Tone tone);
  // `now_us` is the caller's time on the worker's tick grid; a time later than the next tick's
  // grid time (a worker running late) must not make the leg look silent.
  void WatchSilence(LegState& leg, uint32_t timeout_ms, uint64_t now_us);
  LegCounters Stats(const LegState& leg) const;

  // One tick. `tick` is the worker's tick number, `elapsed` the ticks since the previous call
  // (1 unless the worker fell behind and skipped), `now_us` the tick's time on the grid.
  void Tick(uint64_t tick, uint32_t elapsed, uint64_t now_us);

 private:
  size_t frame_samples() const { return codec::FrameSamples(rate_hz_); }
  bool BuildCodecs(LegState& leg);
  void UpdateRate();
  void PullLeg(LegState& leg, uint32_t elapsed, uint64_t now_us);
  void Decode(LegState& leg);
  void NoteJitterStats(LegState& leg);
  void WatchLeg(LegState& leg, bool arrived, uint64_t now_us);
  void FeedTty(LegState& leg);
  void HandleEvents(LegState& leg);
  void Mix();
  void ProduceOutput(LegState& leg, uint64_t tick);
  bool SendEvent(LegState& leg);
  bool EncodeMix(LegState& leg, bool tone, uint64_t tick);
  bool EncodeDtmfTone(LegState& leg);
  void StartEvent(const LegState& source, uint8_t event);
  void EndEvent(const LegState& source);
  void ReadRtcp();

  CallId call_;
  WorkerCounters& counters_;
  BridgeEvents& events_;
  std::shared_ptr<const Announcements> announcements_;
  int rate_hz_ = 8000;
  std::vector<std::unique_ptr<LegState>> legs_;
  mixer::FrameMixer mixer_;
  mixer::FrameMixer::Frame frame_;
  const mixer::FrameMixer::ShareMap* share_ = nullptr;
  std::array<LegState*, mixer::FrameMixer::kMaxSlots> by_slot_{};
  std::array<bool, mixer::FrameMixer::kMaxSlots> slot_reused_{};
  uint64_t rtcp_ticks_ = 0;
};

}  // namespace anchord::media::internal
