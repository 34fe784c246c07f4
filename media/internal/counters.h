// Per-worker data-path counters. Written by the worker thread only, read by any thread
// (MediaService::Counters()); relaxed atomics because each is an independent tally.
#pragma once

#include <atomic>
#include <cstdint>

namespace anchord::media::internal {

struct WorkerCounters {
  std::atomic<uint64_t> rtp_received{0};
  std::atomic<uint64_t> rtp_sent{0};
  std::atomic<uint64_t> rtp_garbage{0};
  std::atomic<uint64_t> rtp_foreign_source{0};
  std::atomic<uint64_t> frames_concealed{0};
  std::atomic<uint64_t> ticks_late{0};
  std::atomic<uint64_t> send_errors{0};
};

// Single writer: a plain load + store avoids a locked read-modify-write on the data path.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace anchord::media::internal
