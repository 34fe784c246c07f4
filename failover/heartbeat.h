// HeartbeatMonitor: probes every position every `heartbeat_ms` (SIP OPTIONS, sent by whoever
// implements Prober) with a timeout of the same length — never osip's 32 s timer F — and marks
// a position down after `misses` consecutive failures, up again on the next success
// (HB-OPT-1, R3261-11.2-a, NENA-3.1.2.3-a). The probes are spread evenly over the interval
// (one position every heartbeat_ms / positions), so 64 positions do not answer in one burst
// in front of a caller's INVITE.
//
// Threading: signaling thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/event_loop.h"
#include "core/ids.h"
#include "failover/position_registry.h"

namespace anchord::failover {

class Prober {
 public:
  virtual ~Prober() = default;
  // Sends one probe; calls `done(alive)` exactly once, at the latest after `timeout_ms`.
  virtual void Probe(const Position& position, uint32_t timeout_ms,
                     std::function<void(bool alive)> done) = 0;
};

class HealthObserver {
 public:
  virtual ~HealthObserver() = default;
  virtual void OnPositionDown(PositionId id) = 0;
  virtual void OnPositionUp(PositionId id) = 0;
};

class HeartbeatMonitor {
 public:
  HeartbeatMonitor(core::EventLoop& loop, PositionRegistry& registry, Prober& prober,
                   HealthObserver& observer, uint32_t heartbeat_ms, uint32_t misses);

  void Start();
  // Marks a position down at once (RTP silence, failed refresh, operator); heartbeats bring it
  // back up when it answers again.
  void MarkDown(PositionId id);

 private:
  struct State {
    uint32_t misses = 0;
    bool probing = false;
  };
  void Tick();
  void ProbeOne(Position& p);
  void OnResult(PositionId id, bool alive);

  PositionRegistry& registry_;
  Prober& prober_;
  HealthObserver& observer_;
  uint32_t heartbeat_ms_;
  uint32_t max_misses_;
  std::vector<State> states_;
  core::Timer timer_;
  uint64_t next_tick_us_ = 0;
  size_t next_position_ = 0;  // round robin over the registry
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace anchord::failover
