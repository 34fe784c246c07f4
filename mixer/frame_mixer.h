// FrameMixer: one bridge's mixer, called once per bridge per media tick. It puts the mix-minus
// kernels of mix.h behind what a bridge needs: a soft limiter per output instead of hard
// clipping, click-free entry and exit of parties, and one computation for listeners who all
// hear the same thing.
//
// Slots. A bridge gives each party a fixed slot in [0, kMaxSlots) for as long as it is in the
// bridge; per-slot state (was it heard last frame, its last sample, its output's limiter gain)
// is what makes ramps and the limiter possible. Per frame a slot may contribute audio (in), hear
// the mix (out), both, or neither.
//
// Guarantees (tests in tests/unit/mixer/frame_mixer_test.cc):
// - Exactness: a source present in this and the previous frame (not restarted, not fading out)
//   enters everyone's mix unscaled; an output whose limiter is at unity and whose mix does not
//   overflow int16 is exactly the kernel's mix-minus output. So with a single other party a
//   slot hears that party bit-exact from its second frame on (DESIGN invariant 3).
// - No hard clipping where it can be avoided: an output whose total - own would overflow is
//   scaled by a gain that reaches the needed value within the frame (instant attack, no step)
//   and climbs back to unity at release_ms per unit of gain.
// - No clicks on entry/exit: a new source is faded in over its first frame; a source marked
//   last is faded out over that frame; a source that just disappears (no last frame given) has
//   its final sample faded to zero over the next frame, so its level never steps to 0.
// - Listen-only outputs (slots with out but no audio this frame) at the same limiter gain are
//   computed once and copied; the share map says so (encode once per distinct (codec, mix)).
//
// Thread: one media worker owns a FrameMixer; not thread-safe. Never allocates: the working
// memory of a Mix() (38 KiB) is one per thread, shared by the thread's mixers. Mix() does not
// allocate, lock, throw or log.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mixer/mix.h"

namespace anchord::mixer {

struct FrameMixerOptions {
  uint32_t frame_ms = 20;     // the duration of one Mix() call's frame, 1..1000
  uint32_t release_ms = 500;  // time for the limiter gain to climb from 0 to unity, >= frame_ms
};

class FrameMixer {
 public:
  static constexpr size_t kMaxSlots = kMaxSources;
  static constexpr uint8_t kNoOutput = 0xff;  // in the share map: the slot has no output

  // One frame of the bridge; the arrays are indexed by slot.
  struct Frame {
    size_t n_samples = 0;  // samples per slot, 1..kMaxSamples (the same every frame, normally)
    // The slot's audio for this frame, or nullptr: it contributes nothing (absent, muted,
    // listen-only). Must not alias any out[].
    const int16_t* in[kMaxSlots] = {};
    // Where the slot's mix (everyone's audio but its own) goes, or nullptr: not computed.
    int16_t* out[kMaxSlots] = {};
    // in[slot] is that party's last frame (it is leaving, going on hold): it fades out over
    // this frame. If it comes back later it fades in again.
    bool last[kMaxSlots] = {};
  };

  // share[i] for a slot with an output: the lowest slot whose output is bit-identical to it by
  // construction (i itself if none); kNoOutput for a slot without output. Slots with the same
  // share value and the same codec need one encode.
  using ShareMap = std::array<uint8_t, kMaxSlots>;

  // Monotonic counts for the worker's once-a-second summary.
  struct Counters {
    uint64_t frames = 0;
    uint64_t limited_outputs = 0;  // (frame, output) pairs computed with a gain below unity
    uint64_t clipped_samples = 0;  // samples still clamped after the limiter (attack too late)
    uint64_t fades_in = 0;
    uint64_t fades_out = 0;  // marked last, restarted, or vanished with a non-zero last sample
  };

  explicit FrameMixer(Kernels kernels, FrameMixerOptions options = {});
  ~FrameMixer();
  FrameMixer(FrameMixer&&) noexcept;
  FrameMixer& operator=(FrameMixer&&) noexcept;

  // Mixes one frame into frame.out[] and returns which outputs are the same (valid until the
  // next call). n_samples outside 1..kMaxSamples mixes nothing and returns all kNoOutput.
  const ShareMap& Mix(const Frame& frame);

  // The party in `slot` changed (re-point to another leg, a new party reusing the slot): on the
  // next frame the old party's last sample fades out and the new audio fades in.
  void Restart(size_t slot);
  // Forgets everything about `slot`: its next audio fades in, its limiter gain is unity.
  void Clear(size_t slot);

  // The limiter gain of slot's output at the end of the last frame: 1.0 is unity.
  float gain(size_t slot) const { return gain_[slot]; }
  const Counters& counters() const { return counters_; }
  Isa isa() const { return kernels_.isa; }

 private:
  struct Scratch;

  void PrepareSources(const Frame& frame);
  void PrepareFaded(const Frame& frame, size_t slot, bool fade_in, bool fade_out, bool hold);
  void RunKernel(const Frame& frame);
  void Limit(const Frame& frame, bool saturated);
  void LimitOutput(size_t n_samples, const int16_t* own, int16_t* out, float& gain);
  void ComputeTotal(size_t n_samples);
  void FinishFrame(const Frame& frame);

  static Scratch& ThreadScratch();

  Kernels kernels_;
  float release_per_frame_;
  Counters counters_;
  ShareMap share_{};
  // Per slot, across frames.
  std::array<float, kMaxSlots> gain_{};
  std::array<int16_t, kMaxSlots> last_sample_{};
  std::array<bool, kMaxSlots> was_heard_{};  // contributed unfaded at the end of last frame
  std::array<bool, kMaxSlots> restart_{};
  // Per frame: the effective input of each slot (in[], a faded copy, or nullptr).
  std::array<const int16_t*, kMaxSlots> source_{};
  bool total_ready_ = false;
};

}  // namespace anchord::mixer
