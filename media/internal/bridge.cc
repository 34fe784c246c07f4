// Per tick, for every leg: pull the packet due from oRTP's jitter buffer (a missing one becomes
// silence until PLC lands), decode G.711 to 8 kHz linear. Then mix-minus over the connected
// legs with the mixer kernels (out_i = sat16(sum_j in_j - in_i)), add the hold tone where it is
// on, encode in the listener's law and send with its own SSRC, sequence +1, timestamp +160.
//
// Pass-through: a listener that hears exactly one live party with the same codec (and no hold
// tone) is sent that party's payload bytes. The mix would give the same samples, but mu-law
// 0x7F does not survive decode -> encode, and invariant 3 is bit-exact (TTY tones).
#include "media/internal/bridge.h"

#include <algorithm>
#include <cstring>

namespace anchord::media::internal {

Bridge::Bridge(CallId call, mixer::Kernels kernels, WorkerCounters& counters, BridgeEvents& events)
    : call_(call), kernels_(kernels), counters_(counters), events_(events) {}

LegState& Bridge::AddLeg(LegId id, std::unique_ptr<RtpLeg> rtp, uint32_t initial_ts) {
  auto leg = std::make_unique<LegState>();
  leg->id = id;
  leg->rtp = std::move(rtp);
  leg->send_ts = initial_ts;
  legs_.push_back(std::move(leg));
  return *legs_.back();
}

LegState* Bridge::Find(LegId id) {
  for (auto& leg : legs_) {
    if (leg->id == id) return leg.get();
  }
  return nullptr;
}

void Bridge::RemoveLeg(LegId id) {
  std::erase_if(legs_, [id](const auto& leg) { return leg->id == id; });
}

void Bridge::Connect(LegState& leg, uint64_t connect_seq) {
  if (leg.connected) return;
  leg.connected = true;
  leg.connect_seq = connect_seq;
}

void Bridge::WatchSilence(LegState& leg, uint32_t timeout_ms, uint64_t now_us) {
  leg.watch_timeout_us = uint64_t{timeout_ms} * 1000u;
  leg.last_activity_us = now_us;
  leg.silent_reported = false;
}

void Bridge::Tick(uint64_t tick, uint32_t elapsed, uint64_t now_us) {
  PullInputs(elapsed, now_us);
  MixConnected();
  for (auto& leg : legs_) {
    ProduceOutput(*leg, tick);
    // Timestamps follow the wall clock whether or not this leg was sent anything.
    leg->send_ts += static_cast<uint32_t>(kFrameSamples) * elapsed;
  }
}

void Bridge::PullInputs(uint32_t elapsed, uint64_t now_us) {
  for (auto& leg_ptr : legs_) {
    LegState& leg = *leg_ptr;
    // Every leg is pulled, connected or not: it drains the sockets and keeps RTCP going.
    leg.live = leg.rtp->Pull(leg.recv_ts, leg.in_payload, kFrameSamples);
    leg.recv_ts += static_cast<uint32_t>(kFrameSamples) * elapsed;
    if (leg.live) {
      G711Decode(leg.rtp->codec(), leg.in_payload, kFrameSamples, leg.in_pcm);
    } else {
      std::fill(std::begin(leg.in_pcm), std::end(leg.in_pcm), int16_t{0});
      if (leg.connected) Bump(counters_.frames_concealed);
    }
    if (leg.rtp->TakeArrivals()) {
      leg.last_activity_us = now_us;
      leg.silent_reported = false;
    } else if (leg.watch_timeout_us != 0 && !leg.silent_reported &&
               now_us - leg.last_activity_us >= leg.watch_timeout_us) {
      leg.silent_reported = true;
      events_.LegSilent(call_, leg.id);
    }
  }
}

size_t Bridge::MixConnected() {
  size_t n = 0;
  for (auto& leg : legs_) {
    if (!leg->connected) continue;
    // More than kMaxSources connected parties is beyond any 9-1-1 call: the extra legs are not
    // heard and hear silence.
    if (n == mixer::kMaxSources) {
      std::fill(std::begin(leg->out_pcm), std::end(leg->out_pcm), int16_t{0});
      continue;
    }
    mix_in_[n] = leg->in_pcm;
    mix_out_[n] = leg->out_pcm;
    ++n;
  }
  if (n > 0) kernels_.mix_minus(mix_in_, mix_out_, n, kFrameSamples);
  return n;
}

void Bridge::ProduceOutput(LegState& leg, uint64_t tick) {
  size_t live_others = 0;
  bool heard_new = false;
  const LegState* only = nullptr;
  for (auto& other : legs_) {
    if (other.get() == &leg || !other->connected || !other->live) continue;
    ++live_others;
    only = other.get();
    if (leg.gap.armed() && other->connect_seq > leg.gap.mark_seq()) heard_new = true;
  }
  bool tone = leg.connected && leg.tone != nullptr;
  bool heard = leg.connected && (live_others > 0 || tone);
  if (auto gap_ticks = leg.gap.OnTick(tick, heard, heard && heard_new)) {
    events_.GapMeasured(call_, leg.id, static_cast<uint32_t>(*gap_ticks * 20u));
  }
  if (!leg.connected) return;  // a disconnected leg keeps its stream state but is sent nothing
  const Codec codec = leg.rtp->codec();
  if (tone) {
    leg.tone->AddTo(leg.out_pcm, kFrameSamples);
    G711Encode(codec, leg.out_pcm, kFrameSamples, leg.out_payload);
  } else if (live_others == 1 && only->rtp->codec() == codec) {
    std::memcpy(leg.out_payload, only->in_payload, kFrameSamples);
  } else {
    G711Encode(codec, leg.out_pcm, kFrameSamples, leg.out_payload);
  }
  leg.rtp->Send(leg.out_payload, kFrameSamples, leg.send_ts);
}

}  // namespace anchord::media::internal
