// Algorithm: see jitter_buffer.h (sequence-indexed ring, prefill to an adaptive target,
// late packets grow the delay by one stall, a full window of surplus arms a shrink that skips
// the next frame the caller decoded to near-silence, depth capped at max_frames).
#include "media/internal/jitter_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace anchord::media::internal {
namespace {

int16_t SeqDiff(uint16_t a, uint16_t b) {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b));
}

}  // namespace

JitterBuffer::JitterBuffer(JitterOptions options)
    : options_(options), target_(options.start_frames) {
  options_.max_frames = std::clamp<uint32_t>(options_.max_frames, 1, kSlots - 2);
  options_.min_frames = std::clamp<uint32_t>(options_.min_frames, 1, options_.max_frames);
  target_ = std::clamp(options_.start_frames, options_.min_frames, options_.max_frames);
}

void JitterBuffer::Reset() {
  for (Slot& s : slots_) s.used = false;
  state_ = State::kIdle;
  stall_ = false;
  shrink_armed_ = false;
  popped_packet_ = false;
  dry_ = 0;
  have_transit_ = false;
}

void JitterBuffer::Start(uint16_t seq) {
  Reset();
  state_ = State::kPrefill;
  next_seq_ = seq;
  newest_ = seq;
  RestartWindow();
  ++stats_.restarts;
}

void JitterBuffer::RestartWindow() {
  window_pops_ = 0;
  window_min_depth_ = UINT32_MAX;
}

uint32_t JitterBuffer::depth() const {
  if (state_ == State::kIdle) return 0;
  int16_t d = SeqDiff(newest_, next_seq_);
  return d < 0 ? 0 : static_cast<uint32_t>(d) + 1;
}

void JitterBuffer::NoteTransit(uint32_t ts, uint64_t now_us) {
  // Transit in microseconds modulo the 32-bit timestamp wrap; only differences matter.
  const int64_t media_us = static_cast<int64_t>(uint64_t{ts} * 1'000'000u / clock_hz_);
  const int64_t transit = static_cast<int64_t>(now_us) - media_us;
  if (have_transit_) {
    const double d = std::fabs(static_cast<double>(transit - last_transit_us_));
    // A timestamp wrap or a stream jump gives an absurd D: ignore it rather than pollute J.
    if (d < 10'000'000.0) jitter_us_ += (d - jitter_us_) / 16.0;
    stats_.jitter_us = static_cast<uint32_t>(jitter_us_);
  }
  last_transit_us_ = transit;
  have_transit_ = true;
}

void JitterBuffer::Store(uint16_t seq, std::span<const uint8_t> payload) {
  Slot& slot = SlotOf(seq);
  if (slot.used && slot.seq == seq) {
    ++stats_.dropped;  // duplicate
    return;
  }
  const size_t len = std::min(payload.size(), kMaxPayload);
  std::memcpy(slot.data, payload.data(), len);
  slot.len = static_cast<uint16_t>(len);
  slot.seq = seq;
  slot.used = true;
  if (SeqDiff(seq, newest_) > 0) newest_ = seq;
}

void JitterBuffer::DropOldest() {
  Slot& slot = SlotOf(next_seq_);
  if (slot.used && slot.seq == next_seq_) {
    slot.used = false;
    ++stats_.dropped;
  }
  ++next_seq_;
}

void JitterBuffer::Put(uint16_t seq, uint32_t ts, std::span<const uint8_t> payload,
                       uint64_t now_us) {
  ++stats_.received;
  NoteTransit(ts, now_us);
  if (state_ == State::kIdle) Start(seq);
  const int16_t d = SeqDiff(seq, next_seq_);
  if (d < -static_cast<int32_t>(kResyncFrames) || d > static_cast<int32_t>(kResyncFrames)) {
    Start(seq);  // the peer restarted its sequence: follow it at once
  } else if (d < 0) {
    ++stats_.late;
    if (state_ == State::kPlaying && target_ < options_.max_frames) {
      ++target_;
      stall_ = true;
    }
    // The delay was too short, not too long: forget any surplus seen so far.
    shrink_armed_ = false;
    RestartWindow();
    pops_since_late_ = 0;
    return;
  }
  // Keep depth <= max_frames: drop the oldest frames rather than let latency grow. This is an
  // overflow (a burst, a late worker), so it drops speech too.
  while (SeqDiff(seq, next_seq_) >= static_cast<int32_t>(options_.max_frames)) DropOldest();
  Store(seq, payload);
}

void JitterBuffer::Adapt() {
  window_min_depth_ = std::min(window_min_depth_, depth());
  if (++window_pops_ >= kShrinkWindow) {
    // Every pop of the last second found at least target + 2 frames: one frame of delay can
    // go, on the next near-silent frame (SkipIfSilent). Re-judged every window.
    shrink_armed_ = window_min_depth_ != UINT32_MAX && window_min_depth_ > target_ + 1;
    RestartWindow();
  }
  if (++pops_since_late_ >= kDecayWindow) {
    pops_since_late_ = 0;
    if (target_ > options_.min_frames) --target_;
  }
}

void JitterBuffer::DropDue() {
  if (Pop().kind == Kind::kPacket) ++stats_.dropped;
}

JitterBuffer::Frame JitterBuffer::Pop() {
  Frame frame;
  popped_packet_ = false;
  if (state_ == State::kIdle) return frame;
  if (state_ == State::kPrefill) {
    // Never fewer than kMinPrefillFrames: with one frame the first packet's margin is anywhere
    // in 0-20 ms (the phase between sender and tick), and a few ms of jitter make the stream
    // late at every talk spurt (lost audio, then growth) once the target has decayed to 1.
    if (depth() < std::max(target_, std::min(kMinPrefillFrames, options_.max_frames))) {
      return frame;
    }
    state_ = State::kPlaying;
  }
  if (stall_) {
    stall_ = false;
    ++stats_.stalls;
    frame.kind = Kind::kMissing;
    return frame;
  }
  Adapt();
  const uint16_t seq = next_seq_++;
  Slot& slot = SlotOf(seq);
  if (slot.used && slot.seq == seq) {
    slot.used = false;
    dry_ = 0;
    popped_packet_ = true;
    frame.kind = Kind::kPacket;
    frame.payload = {slot.data, slot.len};
    return frame;
  }
  ++stats_.lost;
  frame.kind = Kind::kMissing;
  if (Has(next_seq_)) {
    const Slot& next = SlotOf(next_seq_);
    frame.next = {next.data, next.len};
  }
  // Nothing buffered for longer than the bound: the stream paused; restart on its return.
  if (depth() == 0 && ++dry_ > options_.max_frames) {
    state_ = State::kIdle;
    dry_ = 0;
  }
  return frame;
}

bool JitterBuffer::IsNearSilent(std::span<const int16_t> pcm) {
  if (pcm.empty()) return true;
  int64_t energy = 0;
  for (int16_t s : pcm) energy += int64_t{s} * s;
  return energy < kSilenceRms * kSilenceRms * static_cast<int64_t>(pcm.size());
}

bool JitterBuffer::SkipIfSilent(std::span<const int16_t> pcm) {
  if (!shrink_armed_ || !popped_packet_ || !Has(next_seq_)) return false;
  // The surplus must still be there now, not only over the window that armed the shrink:
  // this pop found target + 2 frames (the one popped and depth() after it), so target + 1 are
  // left when the skip has taken one.
  if (depth() + 1 < target_ + 2 || !IsNearSilent(pcm)) return false;
  shrink_armed_ = false;
  popped_packet_ = false;
  ++stats_.skipped_silent;
  // The skipped frame's pop counted in this window; the replacement pop starts a new one, so
  // the next skip needs another full second of surplus.
  RestartWindow();
  return true;
}

}  // namespace anchord::media::internal
