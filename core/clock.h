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

}  // namespace anchord::core
