#include "failover/position_registry.h"

#include <algorithm>

namespace anchord::failover {

const char* HealthName(Health health) {
  switch (health) {
    case Health::kUnknown:
      return "unknown";
    case Health::kUp:
      return "up";
    case Health::kDown:
      return "down";
  }
  return "?";
}

const char* ActivityName(Activity activity) {
  switch (activity) {
    case Activity::kIdle:
      return "idle";
    case Activity::kRinging:
      return "ringing";
    case Activity::kBusy:
      return "busy";
  }
  return "?";
}

PositionRegistry::PositionRegistry(const std::vector<core::PositionConfig>& configs) {
  positions_.reserve(configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    Position p;
    p.id = PositionId{i + 1};
    p.name = configs[i].name;
    p.uri = configs[i].uri;
    p.location = configs[i].location;
    positions_.push_back(std::move(p));
  }
  for (size_t i = 0; i < configs.size(); ++i) {
    if (Position* standby = FindByName(configs[i].standby)) positions_[i].standby = standby->id;
  }
}

Position* PositionRegistry::Find(PositionId id) {
  if (id.value == 0 || id.value > positions_.size()) return nullptr;
  return &positions_[id.value - 1];
}

Position* PositionRegistry::FindByName(const std::string& name) {
  auto it = std::find_if(positions_.begin(), positions_.end(),
                         [&](const Position& p) { return p.name == name; });
  return it == positions_.end() ? nullptr : &*it;
}

bool PositionRegistry::Eligible(const Position& p, const std::vector<PositionId>& exclude) const {
  return p.health == Health::kUp && p.activity == Activity::kIdle &&
         std::find(exclude.begin(), exclude.end(), p.id) == exclude.end();
}

std::optional<PositionId> PositionRegistry::ChooseIdle(
    const std::vector<PositionId>& exclude) const {
  const Position* best = nullptr;
  for (const Position& p : positions_) {
    // Strictly earlier idle_since wins, so ties keep the first in config order.
    if (Eligible(p, exclude) && (!best || p.idle_since_us < best->idle_since_us)) best = &p;
  }
  return best ? std::optional(best->id) : std::nullopt;
}

std::optional<PositionId> PositionRegistry::ChooseStandby(
    PositionId failed, const std::vector<PositionId>& exclude) const {
  const Position& p = positions_.at(failed.value - 1);
  if (p.standby && Eligible(positions_.at(p.standby->value - 1), exclude)) return p.standby;
  return ChooseIdle(exclude);
}

void PositionRegistry::SetActivity(PositionId id, Activity activity, CallId call, uint64_t now_us) {
  Position* p = Find(id);
  if (!p) return;
  if (activity == Activity::kIdle && p->activity != Activity::kIdle) p->idle_since_us = now_us;
  p->activity = activity;
  p->call = activity == Activity::kIdle ? CallId{} : call;
}

bool PositionRegistry::SetHealth(PositionId id, Health health) {
  Position* p = Find(id);
  if (!p || p->health == health) return false;
  p->health = health;
  return true;
}

}  // namespace anchord::failover
