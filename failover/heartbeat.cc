#include "failover/heartbeat.h"

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
  for (Position& p : registry_.all()) {
    State& s = states_[p.id.value - 1];
    if (s.probing) continue;  // its own timeout reports it; never two probes at once
    s.probing = true;
    std::weak_ptr<bool> alive = alive_;
    PositionId id = p.id;
    prober_.Probe(p, heartbeat_ms_, [this, alive, id](bool ok) {
      if (!alive.expired()) OnResult(id, ok);
    });
  }
  // Absolute deadlines: the probe rate does not drift with the time spent sending.
  next_tick_us_ += heartbeat_ms_ * core::kUsPerMs;
  uint64_t now = core::MonotonicUs();
  if (next_tick_us_ < now) next_tick_us_ = now;
  timer_.ArmAt(next_tick_us_);
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
