#include "failover/heartbeat.h"

#include <algorithm>
#include <string>

#include "core/clock.h"
#include "core/log.h"

namespace anchord::failover {

using core::Level;
using core::Log;
using core::Subsys;

HeartbeatMonitor::HeartbeatMonitor(core::EventLoop& loop, PositionRegistry& registry,
                                   Prober& prober, HealthObserver& observer, uint32_t heartbeat_ms,
                                   uint32_t misses)
    : registry_(registry),
      prober_(prober),
      observer_(observer),
      heartbeat_ms_(heartbeat_ms),
      max_misses_(misses),
      states_(registry.all().size()),
      timer_(loop, [this] { Tick(); }) {}

void HeartbeatMonitor::Start() {
  next_tick_us_ = core::MonotonicUs();
  Tick();
}

void HeartbeatMonitor::Tick() {
  std::vector<Position>& all = registry_.all();
  if (all.empty()) return;
  ProbeOne(all[next_position_ % all.size()]);
  next_position_ = (next_position_ + 1) % all.size();
  // Absolute deadlines: the probe rate does not drift with the time spent sending. Each
  // position is still probed once per heartbeat_ms.
  next_tick_us_ += heartbeat_ms_ * core::kUsPerMs / all.size();
  uint64_t now = core::MonotonicUs();
  if (next_tick_us_ < now) next_tick_us_ = now;
  timer_.ArmAt(next_tick_us_);
}

void HeartbeatMonitor::ProbeOne(Position& p) {
  State& s = states_[p.id.value - 1];
  if (s.probing) return;  // its own timeout reports it; never two probes at once
  s.probing = true;
  std::weak_ptr<bool> alive = alive_;
  PositionId id = p.id;
  // The timeout ends a little before the position's next turn, so a dead position's probes
  // never overlap and `misses` failures take `misses` intervals.
  const uint32_t timeout_ms = std::max<uint32_t>(1, heartbeat_ms_ - heartbeat_ms_ / 10);
  prober_.Probe(p, timeout_ms, [this, alive, id](bool ok) {
    if (!alive.expired()) OnResult(id, ok);
  });
}

void HeartbeatMonitor::OnResult(PositionId id, bool alive) {
  State& s = states_[id.value - 1];
  s.probing = false;
  Position* p = registry_.Find(id);
  if (alive) {
    s.misses = 0;
    if (registry_.SetHealth(id, Health::kUp)) {
      Log(Level::kNotice, Subsys::kFailover, "position up",
          {{"POSITION", p->name}, {"MESSAGE_ID", core::message_id::kPositionUp}});
      observer_.OnPositionUp(id);
    }
    return;
  }
  ++s.misses;
  if (s.misses >= max_misses_ && p->health != Health::kDown) MarkDown(id);
}

void HeartbeatMonitor::MarkDown(PositionId id) {
  Position* p = registry_.Find(id);
  if (!p || !registry_.SetHealth(id, Health::kDown)) return;
  states_[id.value - 1].misses = max_misses_;
  Log(Level::kWarning, Subsys::kFailover, "position down",
      {{"POSITION", p->name},
       {"MISSES", std::to_string(states_[id.value - 1].misses)},
       {"MESSAGE_ID", core::message_id::kPositionDown}});
  observer_.OnPositionDown(id);
}

}  // namespace anchord::failover
