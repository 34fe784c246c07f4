// Monotonic time in microseconds (CLOCK_MONOTONIC), the time base of every timer in anchord.
#pragma once

#include <cstdint>
#include <ctime>

namespace anchord::core {

inline uint64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

inline constexpr uint64_t kUsPerMs = 1000;

// Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME): for records shown to people
// (call start and answer times), never for timers.
inline uint64_t UnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000u;
}

}  // namespace anchord::core
