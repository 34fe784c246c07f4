// PositionRegistry: the call-taker positions, their health (from heartbeats and media) and
// their activity (idle, ringing, busy), and the policy that picks one for a call.
//
// Threading: signaling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/ids.h"

namespace anchord::failover {

enum class Health { kUnknown, kUp, kDown };
enum class Activity { kIdle, kRinging, kBusy };

struct Position {
  PositionId id;
  std::string name;
  std::string uri;
  std::optional<PositionId> standby;
  core::LocationMode location = core::LocationMode::kMultipart;
  Health health = Health::kUnknown;
  Activity activity = Activity::kIdle;
  uint64_t idle_since_us = 0;  // when it last became idle (monotonic)
  CallId call;                 // the call it rings or serves, if any
};

const char* HealthName(Health health);
const char* ActivityName(Activity activity);

class PositionRegistry {
 public:
  explicit PositionRegistry(const std::vector<core::PositionConfig>& positions);

  Position* Find(PositionId id);
  Position* FindByName(const std::string& name);
  std::vector<Position>& all() { return positions_; }

  // The idle, healthy position idle the longest, not in `exclude`; ties go to config order.
  std::optional<PositionId> ChooseIdle(const std::vector<PositionId>& exclude) const;
  // For a failed position: its standby if idle and healthy, else ChooseIdle.
  std::optional<PositionId> ChooseStandby(PositionId failed,
                                          const std::vector<PositionId>& exclude) const;

  void SetActivity(PositionId id, Activity activity, CallId call, uint64_t now_us);
  // Returns true when the health changed.
  bool SetHealth(PositionId id, Health health);

 private:
  bool Eligible(const Position& p, const std::vector<PositionId>& exclude) const;
  std::vector<Position> positions_;
};

}  // namespace anchord::failover
