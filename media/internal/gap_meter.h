// GapMeter: measures a failover gap as the listener hears it (DESIGN "Defaults and
// definitions": the longest stretch in which the caller hears neither a party nor the hold
// tone, from what it last heard before the mark until it first hears a party that connected
// after the mark).
//
// Ticks are the worker's tick numbers; one call to OnTick() per tick. Pure bookkeeping, no
// allocation. Owning thread: the media worker.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace anchord::media::internal {

class GapMeter {
 public:
  // Starts a measurement after tick `tick` (the last tick run). `connect_seq` is the bridge's
  // connect counter now: parties whose connect number is larger count as "after the mark".
  void Mark(uint64_t tick, uint64_t connect_seq) {
    armed_ = true;
    mark_seq_ = connect_seq;
    // A silence already in progress at the mark is part of the gap.
    run_ = last_heard_ ? tick - *last_heard_ : 0;
    longest_ = run_;
  }

  // `heard`: the listener's output this tick held a live source (a party's packet or the hold
  // tone). `heard_new`: one of those parties connected after the mark. Returns the gap in ticks
  // when the measurement completes.
  std::optional<uint64_t> OnTick(uint64_t tick, bool heard, bool heard_new) {
    if (!heard) {
      if (armed_) ++run_;
      return std::nullopt;
    }
    last_heard_ = tick;
    if (!armed_) return std::nullopt;
    longest_ = std::max(longest_, run_);
    run_ = 0;
    if (!heard_new) return std::nullopt;
    armed_ = false;
    return longest_;
  }

  bool armed() const { return armed_; }
  uint64_t mark_seq() const { return mark_seq_; }

 private:
  std::optional<uint64_t> last_heard_;
  bool armed_ = false;
  uint64_t mark_seq_ = 0;
  uint64_t run_ = 0;
  uint64_t longest_ = 0;
};

}  // namespace anchord::media::internal
