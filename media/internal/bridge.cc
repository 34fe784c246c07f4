// Per tick, for every leg: drain its socket into its jitter buffer, pop this tick's frame and
// decode it to the bridge rate (a missing frame: Opus FEC from the next packet when it is
// already buffered, else the codec's PLC). Then FrameMixer mixes the connected legs
// (out_i = everyone but i, limiter, fades), the tone is added where it is on, and each output
// is encoded in the listener's codec and sent with its own SSRC, sequence +1 and timestamp
// + the codec's step.
//
// Pass-through (invariant 3): a listener that hears exactly one party, whose frame this tick
// is a received packet of the same codec, and no tone, is sent that party's payload bytes (the
// mix would give the same samples, but mu-law 0x7F and PLC blending do not survive decode ->
// encode, and TTY needs bit-exact audio).
// Encode once per distinct (codec, mix): outputs the FrameMixer's share map says are identical
// share one G.711 encoding. G.722 and Opus encoders carry state, so each keeps its own.
#include "media/internal/bridge.h"

#include <algorithm>
#include <cstring>

#include "media/codec/codec_factory.h"
#include "media/internal/g711.h"

namespace anchord::media::internal {
namespace {

// Opus FEC on from the start: a 9-1-1 leg's first loss burst should already be recoverable;
// the peer's RTCP reports then set the real figure.
constexpr int kOpusInitialLossPercent = 10;
constexpr uint64_t kRtcpPollTicks = 50;

bool IsG711(Codec codec) { return codec == Codec::kPcmu || codec == Codec::kPcma; }

}  // namespace

Bridge::Bridge(CallId call, mixer::Kernels kernels, WorkerCounters& counters, BridgeEvents& events,
               std::shared_ptr<const Announcements> announcements)
    : call_(call),
      counters_(counters),
      events_(events),
      announcements_(std::move(announcements)),
      mixer_(kernels) {}

LegState& Bridge::AddLeg(LegId id, std::unique_ptr<RtpLeg> rtp, uint32_t initial_ts) {
  auto leg = std::make_unique<LegState>();
  leg->id = id;
  leg->rtp = std::move(rtp);
  leg->send_ts = initial_ts;
  if (auto tty = tty::TtyDecoder::Create()) leg->tty = std::move(*tty);
  for (size_t s = 0; s < by_slot_.size(); ++s) {
    if (by_slot_[s] != nullptr) continue;
    leg->slot = static_cast<int>(s);
    by_slot_[s] = leg.get();
    // A slot used before: its old party fades out, the new one in (no step in the mix).
    if (slot_reused_[s]) mixer_.Restart(s);
    slot_reused_[s] = true;
    break;
  }
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
  for (auto& leg : legs_) {
    if (leg->id == id && leg->slot >= 0) by_slot_[static_cast<size_t>(leg->slot)] = nullptr;
  }
  std::erase_if(legs_, [id](const auto& leg) { return leg->id == id; });
  UpdateRate();
}

bool Bridge::BuildCodecs(LegState& leg) {
  if (!leg.rtp->has_remote()) return true;
  const codec::CodecSpec spec = codec::SpecFor(leg.rtp->codec());
  auto decoder = codec::CreateDecoder(spec, rate_hz_);
  auto encoder = codec::CreateEncoder(spec, rate_hz_);
  if (!decoder || !encoder) return false;
  leg.decoder = std::move(*decoder);
  leg.encoder = std::move(*encoder);
  if (spec.id == codec::CodecId::kOpus) leg.encoder->SetPacketLossPercent(kOpusInitialLossPercent);
  return true;
}

void Bridge::UpdateRate() {
  int rate = 8000;
  for (auto& leg : legs_) {
    if (leg->rtp->has_remote() && codec::IsWideband(codec::SpecFor(leg->rtp->codec()).id))
      rate = 16000;
  }
  if (rate == rate_hz_) return;
  // A rate change is a control event (a wideband leg joins or leaves): rebuild every leg's
  // codecs and tones at the new rate, and restart the mixer's per-slot history.
  rate_hz_ = rate;
  for (auto& leg : legs_) {
    BuildCodecs(*leg);
    if (leg->tone) leg->tone = leg->tone->AtRate(rate_hz_);  // an announcement continues
    if (leg->dtmf_tone) leg->dtmf_tone.emplace(rate_hz_);    // a digit in progress is cut
  }
  for (size_t s = 0; s < by_slot_.size(); ++s) mixer_.Clear(s);
}

bool Bridge::SetRemote(LegState& leg, const RemoteMedia& remote) {
  const bool had = leg.rtp->has_remote();
  const Codec before = leg.rtp->codec();
  if (!leg.rtp->SetRemote(remote)) return false;
  // In-band DTMF only for a leg without telephone-event; built here, not when a digit starts.
  if (remote.telephone_event_pt != 0) {
    leg.dtmf_tone.reset();
  } else if (!leg.dtmf_tone) {
    leg.dtmf_tone.emplace(rate_hz_);
  }
  const int rate = rate_hz_;
  UpdateRate();
  if (rate == rate_hz_ && (!had || before != remote.codec || leg.decoder == nullptr)) {
    return BuildCodecs(leg);
  }
  return leg.decoder != nullptr;
}

void Bridge::Connect(LegState& leg, uint64_t connect_seq) {
  if (leg.connected) return;
  leg.connected = true;
  leg.connect_seq = connect_seq;
}

void Bridge::Disconnect(LegState& leg) { leg.connected = false; }

void Bridge::SetTone(LegState& leg, Tone tone) {
  if (tone == Tone::kNone) {
    leg.tone.reset();
  } else if (!leg.tone || leg.tone->tone() != tone) {
    // A control command, not the data path: the generator is built once per tone change.
    leg.tone = std::make_unique<ToneGenerator>(tone, rate_hz_, announcements_);
  }
}

void Bridge::WatchSilence(LegState& leg, uint32_t timeout_ms, uint64_t now_us) {
  leg.watch_timeout_us = uint64_t{timeout_ms} * 1000u;
  leg.last_activity_us = now_us;
  leg.silent_reported = false;
}

LegCounters Bridge::Stats(const LegState& leg) const {
  const JitterBuffer& jb = leg.rtp->jitter();
  LegCounters c;
  c.received = jb.stats().received;
  c.lost = jb.stats().lost;
  c.late = jb.stats().late;
  c.dropped = jb.stats().dropped;
  c.concealed = leg.concealed;
  c.jitter_us = jb.stats().jitter_us;
  c.jitter_target_ms = jb.target() * 20;
  c.latched = leg.rtp->latched();
  c.skipped_silent = jb.stats().skipped_silent;
  const RtcpPeerStats& peer = leg.rtp->rtcp_stats();
  c.rtt_us = peer.rtt_us;
  c.peer_fraction_lost = peer.fraction_lost;
  c.peer_cumulative_lost = peer.cumulative_lost;
  c.peer_jitter_us = peer.jitter_us;
  return c;
}

void Bridge::Tick(uint64_t tick, uint32_t elapsed, uint64_t now_us) {
  for (auto& leg : legs_) PullLeg(*leg, elapsed, now_us);
  Mix();
  for (auto& leg : legs_) {
    ProduceOutput(*leg, tick);
    // Timestamps follow the wall clock whether or not this leg was sent anything.
    leg->send_ts += leg->rtp->ts_step() * elapsed;
  }
  if (++rtcp_ticks_ >= kRtcpPollTicks) {
    rtcp_ticks_ = 0;
    ReadRtcp();
  }
}

void Bridge::PullLeg(LegState& leg, uint32_t elapsed, uint64_t now_us) {
  // Every leg is pulled, connected or not: it drains the socket and keeps the buffer bounded.
  const bool arrived = leg.rtp->Receive(now_us);
  // Ticks the worker skipped: their frames were due and are gone (no burst of old audio),
  // counted as dropped.
  for (uint32_t i = 1; i < elapsed; ++i) leg.rtp->jitter().DropDue();
  Decode(leg);
  NoteJitterStats(leg);
  WatchLeg(leg, arrived, now_us);
  FeedTty(leg);
  HandleEvents(leg);
}

void Bridge::Decode(LegState& leg) {
  const size_t n = frame_samples();
  std::span<int16_t> pcm{leg.in_pcm, n};
  leg.live = false;
  leg.audible = false;
  leg.in_len = 0;
  const JitterBuffer::Frame f = leg.rtp->jitter().Pop();
  if (leg.decoder == nullptr || f.kind == JitterBuffer::Kind::kIdle) {
    std::fill(pcm.begin(), pcm.end(), int16_t{0});
    return;
  }
  leg.audible = true;
  if (f.kind == JitterBuffer::Kind::kPacket) {
    leg.in_len = f.payload.size();
    std::memcpy(leg.in_payload, f.payload.data(), leg.in_len);
    if (leg.decoder->Decode(f.payload, pcm)) {
      leg.live = true;
      // The buffer gives back surplus delay only on a near-silent frame: when it skips this
      // one, the next (already buffered) is played instead; at most once per tick.
      if (leg.rtp->jitter().SkipIfSilent(pcm)) Decode(leg);
      return;
    }
    leg.in_len = 0;
    Bump(counters_.payload_bad);
  } else if (!f.next.empty() && leg.rtp->codec() == Codec::kOpus) {
    leg.decoder->DecodeFec(f.next, pcm);  // LBRR of the next packet (or libopus PLC)
  } else {
    leg.decoder->Conceal(pcm);
  }
  ++leg.concealed;
  Bump(counters_.frames_concealed);
}

void Bridge::NoteJitterStats(LegState& leg) {
  const JitterStats& now = leg.rtp->jitter().stats();
  Bump(counters_.rtp_lost, now.lost - leg.reported.lost);
  Bump(counters_.rtp_late, now.late - leg.reported.late);
  Bump(counters_.jitter_dropped, now.dropped - leg.reported.dropped);
  leg.reported = now;
}

void Bridge::WatchLeg(LegState& leg, bool arrived, uint64_t now_us) {
  if (arrived) {
    leg.last_activity_us = now_us;
    leg.silent_reported = false;
    return;
  }
  // One time base (the tick grid), and still guarded: an arming time later than this tick's
  // grid time (the worker is late) must never read as a huge silence.
  if (leg.watch_timeout_us == 0 || leg.silent_reported || now_us <= leg.last_activity_us) return;
  if (now_us - leg.last_activity_us >= leg.watch_timeout_us) {
    leg.silent_reported = true;
    events_.LegSilent(call_, leg.id);
  }
}

// Concealment is not the caller's tones: the decoder is fed silence for a lost frame.
void Bridge::FeedTty(LegState& leg) {
  if (leg.tty == nullptr || leg.decoder == nullptr) return;
  static constexpr int16_t kSilence[codec::kMaxFrameSamples] = {};
  const std::span<const int16_t> pcm{leg.live ? leg.in_pcm : kSilence, frame_samples()};
  if (rate_hz_ == 8000) {
    leg.tty->Process(pcm);
  } else if (IsG711(leg.rtp->codec())) {
    // 16 kHz bridge, G.711 leg: its payload is the 8 kHz audio itself, bit-exact.
    int16_t narrow[codec::FrameSamples(8000)];
    const size_t got = leg.live ? std::min(leg.in_len, std::size(narrow)) : 0;
    if (got > 0) G711Decode(leg.rtp->codec(), leg.in_payload, got, narrow);
    std::fill(narrow + got, std::end(narrow), int16_t{0});
    leg.tty->Process(narrow);
  } else {
    leg.tty->ProcessWideband(pcm);  // G.722 / Opus: decimated from the decoded 16 kHz
  }
  char text[16];
  const size_t n = leg.tty->ReadChars(text);
  if (n == 0) return;
  Bump(counters_.tty_chars, n);
  events_.TtyText(call_, leg.id, text, n);
}

void Bridge::HandleEvents(LegState& leg) {
  TelephoneEventReceiver& in = leg.rtp->events_in();
  if (in.active() && leg.dtmf_generation != in.generation()) {
    leg.dtmf_generation = in.generation();
    StartEvent(leg, in.event());
  }
  auto ended = in.Poll();
  if (!ended) return;
  EndEvent(leg);
  if (ended->digit == '\0') return;
  Bump(counters_.dtmf_received);
  const uint32_t clock_hz = leg.rtp->ts_step() * 50;
  events_.Dtmf(call_, leg.id, ended->digit,
               static_cast<uint32_t>(uint64_t{ended->duration_ts} * 1000u / clock_hz));
}

// Every other connected leg hears the event: as RFC 4733 packets if it negotiated
// telephone-event, else as the digit's tones in its audio (RFC 4733 2.6).
void Bridge::StartEvent(const LegState& source, uint8_t event) {
  const char digit = DtmfDigit(event);
  for (auto& other : legs_) {
    if (other.get() == &source || !other->connected) continue;
    if (other->rtp->telephone_event_pt() != 0) {
      other->dtmf_out.Start(event, other->send_ts);
      other->dtmf_source = source.id;
    } else if (digit != '\0' && other->dtmf_tone) {
      other->dtmf_tone->Start(digit, source.id);
    }
  }
}

void Bridge::EndEvent(const LegState& source) {
  for (auto& other : legs_) {
    if (other->dtmf_source == source.id && other->dtmf_out.active()) other->dtmf_out.End();
    if (other->dtmf_tone && other->dtmf_tone->active() && other->dtmf_tone->source() == source.id) {
      other->dtmf_tone->Stop();
    }
  }
}

void Bridge::Mix() {
  frame_.n_samples = frame_samples();
  for (size_t s = 0; s < by_slot_.size(); ++s) {
    const LegState* leg = by_slot_[s];
    const bool on = leg != nullptr && leg->connected;
    frame_.in[s] = on && leg->audible ? leg->in_pcm : nullptr;
    frame_.out[s] = on ? by_slot_[s]->out_pcm : nullptr;
  }
  share_ = &mixer_.Mix(frame_);
}

bool Bridge::SendEvent(LegState& leg) {
  uint8_t payload[kTelephoneEventBytes];
  uint32_t ts = 0;
  bool marker = false;
  if (!leg.dtmf_out.Next(leg.rtp->ts_step(), payload, &ts, &marker)) return false;
  leg.rtp->SendEvent(payload, ts, marker);
  Bump(counters_.dtmf_sent);
  return true;
}

bool Bridge::EncodeDtmfTone(LegState& leg) {
  const size_t n = frame_samples();
  leg.dtmf_tone->Generate(leg.out_pcm, n);  // not shared: this leg's mix is replaced
  leg.out_len = leg.encoder->Encode({leg.out_pcm, n}, leg.out_payload);
  if (leg.out_len > 0) return true;
  Bump(counters_.encode_errors);
  return false;
}

bool Bridge::EncodeMix(LegState& leg, bool tone, uint64_t tick) {
  const size_t n = frame_samples();
  if (leg.slot < 0) std::fill(leg.out_pcm, leg.out_pcm + n, int16_t{0});
  if (tone) {
    leg.tone->AddTo(leg.out_pcm, n);
  } else if (leg.slot >= 0 && IsG711(leg.rtp->codec())) {
    const uint8_t twin_slot = (*share_)[static_cast<size_t>(leg.slot)];
    const LegState* twin = twin_slot < by_slot_.size() ? by_slot_[twin_slot] : nullptr;
    if (twin != nullptr && twin != &leg && twin->shared_tick == tick &&
        twin->rtp->codec() == leg.rtp->codec()) {
      std::memcpy(leg.out_payload, twin->out_payload, twin->out_len);
      leg.out_len = twin->out_len;
      return true;
    }
  }
  leg.out_len = leg.encoder->Encode({leg.out_pcm, n}, leg.out_payload);
  if (leg.out_len == 0) {
    Bump(counters_.encode_errors);
    return false;
  }
  if (!tone) leg.shared_tick = tick;
  return true;
}

void Bridge::ProduceOutput(LegState& leg, uint64_t tick) {
  size_t live_others = 0;
  size_t audible_others = 0;
  bool heard_new = false;
  const LegState* only = nullptr;
  uint32_t csrc[RtpLeg::kMaxCsrc];  // R3550-7.3: the parties mixed into this leg's packet
  size_t n_csrc = 0;
  for (auto& other : legs_) {
    if (other.get() == &leg || !other->connected || other->slot < 0) continue;
    if (other->audible) {
      ++audible_others;
      if (other->rtp->has_incoming_ssrc() && n_csrc < RtpLeg::kMaxCsrc) {
        csrc[n_csrc++] = other->rtp->incoming_ssrc();
      }
    }
    if (!other->live) continue;
    ++live_others;
    only = other.get();
    if (leg.gap.armed() && other->connect_seq > leg.gap.mark_seq()) heard_new = true;
  }
  const bool tone = leg.connected && leg.tone != nullptr;
  const bool heard = leg.connected && (live_others > 0 || tone);
  if (auto gap_ticks = leg.gap.OnTick(tick, heard, heard && heard_new)) {
    events_.GapMeasured(call_, leg.id, static_cast<uint32_t>(*gap_ticks * 20u));
  }
  // A disconnected leg, or one holding (RemoteMedia::send), keeps its stream state but is
  // sent nothing.
  if (!leg.connected || leg.encoder == nullptr || !leg.rtp->sending()) return;
  leg.rtp->SetContributors(csrc, n_csrc);
  // An RFC 4733 event toward this leg replaces its audio while it lasts.
  if (leg.dtmf_out.active() && SendEvent(leg)) return;
  // In-band DTMF toward a leg without telephone-event replaces its audio while it lasts.
  if (leg.dtmf_tone && leg.dtmf_tone->active()) {
    if (EncodeDtmfTone(leg)) leg.rtp->Send(leg.out_payload, leg.out_len, leg.send_ts);
    return;
  }
  if (!tone && audible_others == 1 && live_others == 1 && only->rtp->codec() == leg.rtp->codec()) {
    leg.rtp->Send(only->in_payload, only->in_len, leg.send_ts);
    return;
  }
  if (EncodeMix(leg, tone, tick)) leg.rtp->Send(leg.out_payload, leg.out_len, leg.send_ts);
}

void Bridge::ReadRtcp() {
  for (auto& leg : legs_) {
    const int loss = leg->rtp->ReceiveRtcp();
    if (loss >= 0 && leg->encoder != nullptr) leg->encoder->SetPacketLossPercent(loss);
  }
}

}  // namespace anchord::media::internal
