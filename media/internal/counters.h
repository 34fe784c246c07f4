// Per-worker data-path counters. Written by the worker thread only, read by any thread
// (MediaService::Counters()); relaxed atomics because each is an independent tally.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace anchord::media::internal {

// A fixed-bucket histogram of durations in microseconds, single writer, any reader. Buckets
// are upper bounds; the last one is open. Percentiles are reported as a bucket's upper bound.
class TickHistogram {
 public:
  static constexpr std::array<uint32_t, 20> kUpperUs = {
      25,   50,   100,  150,  200,   300,   500,   750,   1000,  1500,
      2000, 3000, 5000, 7500, 10000, 15000, 20000, 40000, 80000, UINT32_MAX};

  void Add(uint64_t us) {
    size_t i = 0;
    while (i + 1 < kUpperUs.size() && us > kUpperUs[i]) ++i;
    counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t count(size_t bucket) const { return counts_[bucket].load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kUpperUs.size()> counts_{};
};

struct WorkerCounters {
  std::atomic<uint64_t> rtp_received{0};
  std::atomic<uint64_t> rtp_sent{0};
  std::atomic<uint64_t> rtp_garbage{0};
  std::atomic<uint64_t> rtp_flood_dropped{0};  // beyond kMaxReadsPerTick in a tick (ring)
  std::atomic<uint64_t> rtp_foreign_source{0};
  std::atomic<uint64_t> rtp_lost{0};
  std::atomic<uint64_t> rtp_late{0};
  std::atomic<uint64_t> jitter_dropped{0};  // frames dropped to keep the jitter buffer bounded
  std::atomic<uint64_t> latches{0};
  std::atomic<uint64_t> frames_concealed{0};
  std::atomic<uint64_t> payload_bad{0};
  std::atomic<uint64_t> encode_errors{0};
  std::atomic<uint64_t> dtmf_received{0};
  std::atomic<uint64_t> dtmf_sent{0};
  std::atomic<uint64_t> tty_chars{0};
  std::atomic<uint64_t> ticks_late{0};
  std::atomic<uint64_t> send_errors{0};
  std::atomic<uint64_t> rtcp_sent{0};      // compound reports (SR/RR + SDES)
  std::atomic<uint64_t> rtcp_received{0};  // compound packets that parsed as RTCP
  TickHistogram tick_work_us;              // processing time of one tick (all bridges)
  TickHistogram tick_late_us;              // wake-up time minus the tick's deadline
};

// Single writer: a plain load + store avoids a locked read-modify-write on the data path.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace anchord::media::internal
