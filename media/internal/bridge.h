// Bridge: one call's legs on its media worker, and the per-tick pull -> decode -> mix-minus ->
// hold tone -> encode -> send (DESIGN "The media tick").
//
// Owning thread: the media worker. Control methods (AddLeg, Connect, ...) run from posted
// work and may allocate; Tick() is the data path and allocates, logs and throws nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/ids.h"
#include "media/internal/counters.h"
#include "media/internal/g711.h"
#include "media/internal/gap_meter.h"
#include "media/internal/tone_generator.h"
#include "media/internal/rtp_leg.h"
#include "media/media_plane.h"
#include "mixer/mix.h"

namespace anchord::media::internal {

// How a bridge reports to the signaling thread (the worker posts the events there).
class BridgeEvents {
 public:
  virtual ~BridgeEvents() = default;
  virtual void LegSilent(CallId call, LegId leg) = 0;
  virtual void GapMeasured(CallId call, LegId listener, uint32_t gap_ms) = 0;
};

struct LegState {
  LegId id;
  std::unique_ptr<RtpLeg> rtp;
  std::unique_ptr<ToneGenerator> tone;  // the tone being played, if any (SetTone)
  bool connected = false;
  bool live = false;  // this tick's input came from a packet
  uint64_t connect_seq = 0;
  uint32_t recv_ts = 0;  // playout clock for the jitter buffer
  uint32_t send_ts = 0;  // advances every tick, sent or not (invariant 2)
  // Silence watch (WatchSilence); timeout 0 = off.
  uint64_t watch_timeout_us = 0;
  uint64_t last_activity_us = 0;
  bool silent_reported = false;
  GapMeter gap;
  uint8_t in_payload[kFrameSamples];
  int16_t in_pcm[kFrameSamples];
  int16_t out_pcm[kFrameSamples];
  uint8_t out_payload[kFrameSamples];
};

class Bridge {
 public:
  Bridge(CallId call, mixer::Kernels kernels, WorkerCounters& counters, BridgeEvents& events);

  CallId call() const { return call_; }
  bool empty() const { return legs_.empty(); }

  LegState& AddLeg(LegId id, std::unique_ptr<RtpLeg> rtp, uint32_t initial_ts);
  LegState* Find(LegId id);
  void RemoveLeg(LegId id);
  void Connect(LegState& leg, uint64_t connect_seq);
  void WatchSilence(LegState& leg, uint32_t timeout_ms, uint64_t now_us);

  // One tick. `tick` is the worker's tick number, `elapsed` the ticks since the previous call
  // (1 unless the worker fell behind and skipped), `now_us` CLOCK_MONOTONIC.
  void Tick(uint64_t tick, uint32_t elapsed, uint64_t now_us);

 private:
  void PullInputs(uint32_t elapsed, uint64_t now_us);
  size_t MixConnected();
  void ProduceOutput(LegState& leg, uint64_t tick);

  CallId call_;
  mixer::Kernels kernels_;
  WorkerCounters& counters_;
  BridgeEvents& events_;
  std::vector<std::unique_ptr<LegState>> legs_;
  // Scratch for the mixer, sized once (no allocation per tick).
  const int16_t* mix_in_[mixer::kMaxSources] = {};
  int16_t* mix_out_[mixer::kMaxSources] = {};
};

}  // namespace anchord::media::internal
