// HeartbeatMonitor against a fake prober on a real event loop (HB-OPT-1): probes are spread
// over the interval, `misses` failures mark a position down, one success brings it back up.
#include "failover/heartbeat.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "core/clock.h"
#include "core/event_loop.h"

#include <systemd/sd-event.h>

namespace anchord::failover {
namespace {

class FakeProber : public Prober {
 public:
  void Probe(const Position& p, uint32_t timeout_ms, std::function<void(bool)> done) override {
    probes.push_back({p.name, core::MonotonicUs()});
    const bool ok = !dead[p.name];
    // Answer at once when alive; time out after `timeout_ms` when dead.
    auto timer = std::make_shared<core::Timer>(*loop, [done, ok] { done(ok); });
    timer->ArmIn(ok ? 0 : timeout_ms * core::kUsPerMs);
    timers.push_back(timer);
  }
  core::EventLoop* loop = nullptr;
  std::map<std::string, bool> dead;
  std::vector<std::pair<std::string, uint64_t>> probes;
  std::vector<std::shared_ptr<core::Timer>> timers;
};

class RecordingObserver : public HealthObserver {
 public:
  void OnPositionDown(PositionId id) override { events.push_back({id.value, false}); }
  void OnPositionUp(PositionId id) override { events.push_back({id.value, true}); }
  std::vector<std::pair<uint64_t, bool>> events;
};

std::vector<core::PositionConfig> FourPositions() {
  std::vector<core::PositionConfig> configs;
  for (const char* name : {"p1", "p2", "p3", "p4"}) {
    configs.push_back({name, std::string("sip:") + name + "@127.0.0.1:5060", "", {}});
  }
  return configs;
}

class HeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*core::EventLoop::Create());
    prober_.loop = loop_.get();
    monitor_ = std::make_unique<HeartbeatMonitor>(*loop_, registry_, prober_, observer_, 100, 3);
  }
  // Runs the loop's iterations for `ms` milliseconds (timers fire as they come due).
  void RunFor(uint64_t ms) {
    const uint64_t end = core::MonotonicUs() + ms * core::kUsPerMs;
    for (uint64_t now = core::MonotonicUs(); now < end; now = core::MonotonicUs()) {
      sd_event_run(loop_->raw(), end - now);
    }
  }
  std::unique_ptr<core::EventLoop> loop_;
  PositionRegistry registry_{FourPositions()};
  FakeProber prober_;
  RecordingObserver observer_;
  std::unique_ptr<HeartbeatMonitor> monitor_;
};

TEST_F(HeartbeatTest, ProbesAreSpreadOverTheInterval) {
  monitor_->Start();
  RunFor(1000);
  // 4 positions every 100 ms: one probe every 25 ms, each position about 10 times a second.
  std::map<std::string, int> per_position;
  for (const auto& [name, at] : prober_.probes) ++per_position[name];
  for (const char* name : {"p1", "p2", "p3", "p4"}) {
    EXPECT_GE(per_position[name], 9) << name;
    EXPECT_LE(per_position[name], 11) << name;
  }
  for (size_t i = 1; i < prober_.probes.size(); ++i) {
    const uint64_t gap_us = prober_.probes[i].second - prober_.probes[i - 1].second;
    EXPECT_GT(gap_us, 15'000u) << "probe " << i << " came in a burst";
  }
}

TEST_F(HeartbeatTest, MissesMarkDownAndOneAnswerBringsUp) {
  prober_.dead["p2"] = true;
  monitor_->Start();
  RunFor(150);  // one round: everyone answered once, p2 missed once
  EXPECT_EQ(registry_.FindByName("p1")->health, Health::kUp);
  EXPECT_NE(registry_.FindByName("p2")->health, Health::kDown);
  RunFor(400);  // three misses in a row
  EXPECT_EQ(registry_.FindByName("p2")->health, Health::kDown);
  EXPECT_EQ(std::count(observer_.events.begin(), observer_.events.end(),
                       std::make_pair(uint64_t{2}, false)),
            1);
  prober_.dead["p2"] = false;
  RunFor(250);
  EXPECT_EQ(registry_.FindByName("p2")->health, Health::kUp);
  EXPECT_EQ(observer_.events.back(), std::make_pair(uint64_t{2}, true));
}

TEST_F(HeartbeatTest, MarkDownIsImmediateAndReportedOnce) {
  monitor_->Start();
  RunFor(150);
  monitor_->MarkDown(registry_.FindByName("p3")->id);
  monitor_->MarkDown(registry_.FindByName("p3")->id);
  EXPECT_EQ(registry_.FindByName("p3")->health, Health::kDown);
  EXPECT_EQ(std::count(observer_.events.begin(), observer_.events.end(),
                       std::make_pair(uint64_t{3}, false)),
            1);
  RunFor(150);  // it answers its next heartbeat: up again
  EXPECT_EQ(registry_.FindByName("p3")->health, Health::kUp);
}

// Position choice (DESIGN "Defaults and definitions"): idle and up, idle the longest, ties in
// config order; the standby first when it can take the call.
TEST(PositionRegistryTest, ChoosesIdleLongestThenConfigOrderAndStandbyFirst) {
  std::vector<core::PositionConfig> configs = FourPositions();
  configs[0].standby = "p3";
  PositionRegistry registry(configs);
  for (Position& p : registry.all()) registry.SetHealth(p.id, Health::kUp);
  EXPECT_EQ(registry.ChooseIdle({})->value, 1u);  // tie: config order
  registry.SetActivity(PositionId{1}, Activity::kBusy, CallId{9}, 10);
  registry.SetActivity(PositionId{1}, Activity::kIdle, CallId{}, 20);
  EXPECT_EQ(registry.ChooseIdle({})->value, 2u);  // p1 became idle last
  EXPECT_EQ(registry.ChooseStandby(PositionId{1}, {PositionId{1}})->value, 3u);
  registry.SetHealth(PositionId{3}, Health::kDown);
  EXPECT_EQ(registry.ChooseStandby(PositionId{1}, {PositionId{1}})->value, 2u);
  EXPECT_FALSE(registry.ChooseIdle({PositionId{1}, PositionId{2}, PositionId{4}}));
}

}  // namespace
}  // namespace anchord::failover
