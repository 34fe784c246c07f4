// JitterBuffer: one incoming leg's adaptive, bounded playout buffer of 20 ms RTP frames.
//
// Algorithm. Packets are stored by sequence number in a ring of kSlots slots (one 20 ms frame
// each). Playout pops one frame per media tick, in sequence order, starting once `target`
// frames are buffered (prefill). The target adapts:
//   - a packet that arrives after its frame was played out (late) raises the target by one
//     frame, and playout stalls for one tick (the frame is concealed) so the delay grows now;
//   - every kShrinkWindow pops, if the buffer never held fewer than target + 2 frames in that
//     window (a second of surplus), a shrink is armed; it is carried out only on a frame the
//     caller decoded to near-silence (SkipIfSilent: mean power below kSilenceDbm0): that frame
//     is skipped and the next one plays in the same tick, so the delay falls by 20 ms and no
//     speech is lost (issue 4: dropping a buffered speech frame to shrink was audible and
//     counted as loss). A late packet or a window without surplus disarms it; at most one
//     skip per window. Continuous speech or noise above the threshold keeps the delay, which
//     the bound still caps;
//   - after kDecayWindow pops without a late packet the target falls by one frame.
// Why skip a decoded frame rather than drop an encoded one: the buffer holds payloads of any
// codec and cannot tell silence from them; and G.722's ADPCM and Opus decoders carry state, so
// a frame dropped before decoding desynchronises them, while one decoded and then discarded
// keeps the decoder continuous (the cut is between two near-silent frames: no click).
// Steady stream: after prefill the next packet's margin is >= 20 ms, and a skip happens only
// when every pop of a second saw target + 2 frames, so afterwards at least target + 1 >= 2
// frames are there at each pop: the frame after the one played has already arrived, >= 20 ms
// of margin, more than a +-3 ms scheduling wobble can take; the stream never turns late, so it
// never grows again (no grow/shrink oscillation; jitter_buffer_test: 10 min at 40 phases).
// Prefill (first packet, restart) waits for at least kMinPrefillFrames = 2 frames even when
// the target has decayed to 1, for the same 20 ms margin at every talk spurt or resume.
// Bound (DESIGN: 9-1-1 latency): the buffer never holds more than max_frames frames; a packet
// that would make it deeper drops the oldest frames (counted, speech or not: a real
// overflow), so the delay through the buffer is at most max_frames x 20 ms (200 ms by
// default) whatever the network or a late worker does.
// A sequence jump of more than kResyncFrames, or a stream that ran dry for more than
// max_frames ticks, restarts the buffer on the next packet (a peer restarting its stream).
//
// Interarrival jitter is the RFC 3550 6.4.1 estimator (J += (|D| - J) / 16), in microseconds.
//
// Thread: the media worker owning the leg. Allocates nothing (the ring is inline); no locks,
// logs or throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace anchord::media::internal {

struct JitterOptions {
  uint32_t start_frames = 2;  // initial target (40 ms)
  uint32_t min_frames = 1;    // the target never goes below
  uint32_t max_frames = 10;   // buffer depth bound (200 ms); <= kSlots - 2
};

// Monotonic per-leg counts.
struct JitterStats {
  uint64_t received = 0;        // audio packets put
  uint64_t lost = 0;            // frames missing at their playout time
  uint64_t late = 0;            // packets that arrived after their playout time (dropped)
  uint64_t dropped = 0;         // frames dropped by the bound (audio lost), duplicates
  uint64_t skipped_silent = 0;  // near-silent frames skipped to shrink the delay (no loss)
  uint64_t stalls = 0;          // ticks that played nothing to grow the delay
  uint64_t restarts = 0;        // buffer restarted (first packet, jump, stream resumed)
  uint32_t jitter_us = 0;       // RFC 3550 interarrival jitter
};

class JitterBuffer {
 public:
  static constexpr size_t kSlots = 16;
  static constexpr size_t kMaxPayload = 1280;  // one Opus frame (1276) fits
  static constexpr uint32_t kResyncFrames = 50;
  static constexpr uint32_t kShrinkWindow = 50;  // pops (1 s)
  static constexpr uint32_t kDecayWindow = 250;  // pops (5 s)
  // Prefill waits for at least this many frames whatever the target (see Pop).
  static constexpr uint32_t kMinPrefillFrames = 2;
  // A frame whose mean power is below this is near-silent and may be skipped to shrink.
  // Active speech is around -20 to -30 dBm0 (a quiet talker -35); -50 dBm0 keeps a margin of
  // 15 dB or more under it, so only pauses qualify (a noisy line never does: it keeps its
  // delay, capped by the bound). 0 dBm0 is a sine of peak 22 300 in 16-bit linear (G.711's
  // +3.17 dBm0 is 32 124), RMS 15 770; -50 dBm0 is then an RMS of 50.
  static constexpr int kSilenceDbm0 = -50;
  static constexpr int64_t kSilenceRms = 50;

  enum class Kind : uint8_t {
    kIdle,     // nothing to play: not started, prefilling, or the stream ran dry
    kPacket,   // `payload` is this tick's frame
    kMissing,  // this tick's frame is lost or the buffer stalled: conceal; `next` may hold the
               // following frame (for Opus FEC), else empty
  };
  struct Frame {
    Kind kind = Kind::kIdle;
    std::span<const uint8_t> payload;  // valid until the next Put/Pop
    std::span<const uint8_t> next;
  };

  explicit JitterBuffer(JitterOptions options = {});

  // The RTP clock of the audio (8000, 48000): for the jitter estimate only.
  void set_clock_hz(uint32_t hz) { clock_hz_ = hz; }
  // Stores one packet that arrived at `now_us`. A payload over kMaxPayload is truncated.
  void Put(uint16_t seq, uint32_t ts, std::span<const uint8_t> payload, uint64_t now_us);
  // The frame for this tick.
  Frame Pop();
  // Pops a frame that was due while the worker could not play it (a stalled tick) and throws
  // it away: counted in `dropped` when it was a packet (in `lost` when missing, as Pop does).
  void DropDue();
  // Call after decoding a kPacket frame from Pop() into `pcm` (16-bit linear, any rate, one
  // frame). Returns true when the buffer used that frame to shrink its delay: a shrink was
  // armed, `pcm` is near-silent (mean power < kSilenceDbm0) and the next frame is buffered.
  // The caller then discards `pcm` and calls Pop() again for this tick, which returns that next
  // frame as kPacket. At most one true per tick. O(1) unless a shrink is armed (then one pass
  // over `pcm`). A caller that never calls it gets no shrinking, only the bound.
  bool SkipIfSilent(std::span<const int16_t> pcm);
  // Whether `pcm` is near-silent: mean power below kSilenceDbm0.
  static bool IsNearSilent(std::span<const int16_t> pcm);
  // Forgets everything buffered (new SSRC); the next packet starts a new prefill.
  void Reset();

  // Frames buffered from the next playout position to the newest packet.
  uint32_t depth() const;
  uint32_t target() const { return target_; }
  bool shrink_armed() const { return shrink_armed_; }
  const JitterStats& stats() const { return stats_; }

 private:
  enum class State : uint8_t { kIdle, kPrefill, kPlaying };
  struct Slot {
    bool used = false;
    uint16_t seq = 0;
    uint16_t len = 0;
    uint8_t data[kMaxPayload];
  };

  void Start(uint16_t seq);
  void Store(uint16_t seq, std::span<const uint8_t> payload);
  void DropOldest();
  void Adapt();
  void RestartWindow();
  void NoteTransit(uint32_t ts, uint64_t now_us);
  Slot& SlotOf(uint16_t seq) { return slots_[seq % kSlots]; }
  bool Has(uint16_t seq) const {
    const Slot& s = slots_[seq % kSlots];
    return s.used && s.seq == seq;
  }

  JitterOptions options_;
  uint32_t clock_hz_ = 8000;
  State state_ = State::kIdle;
  uint16_t next_seq_ = 0;  // the next frame to play
  uint16_t newest_ = 0;    // highest sequence stored
  uint32_t target_;
  bool stall_ = false;
  bool shrink_armed_ = false;   // a window of surplus: skip the next near-silent frame
  bool popped_packet_ = false;  // the last Pop() returned kPacket (SkipIfSilent's precondition)
  uint32_t dry_ = 0;            // consecutive pops with nothing buffered
  uint32_t window_pops_ = 0;
  uint32_t window_min_depth_ = UINT32_MAX;
  uint32_t pops_since_late_ = 0;
  bool have_transit_ = false;
  int64_t last_transit_us_ = 0;
  double jitter_us_ = 0;
  JitterStats stats_;
  std::array<Slot, kSlots> slots_;
};

}  // namespace anchord::media::internal
