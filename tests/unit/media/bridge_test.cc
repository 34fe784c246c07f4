// Bridge on real sockets without the worker: the silence watch's time base (regression test
// for the unsigned underflow that reported positions silent at once when the worker ran late),
// driven tick by tick with explicit grid times.
#include "media/internal/bridge.h"

#include <gtest/gtest.h>

#include <vector>

#include "media/internal/port_allocator.h"

namespace anchord::media::internal {
namespace {

class CountingEvents : public BridgeEvents {
 public:
  void LegSilent(CallId, LegId leg) override { silent.push_back(leg); }
  void GapMeasured(CallId, LegId, uint32_t) override {}
  void Dtmf(CallId, LegId, char, uint32_t) override {}
  void TtyText(CallId, LegId, const char*, size_t) override {}
  std::vector<LegId> silent;
};

class BridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = ports_.Allocate();
    ASSERT_TRUE(pair) << pair.error().message;
    leg_ = &bridge_.AddLeg(LegId{1},
                           std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_), 1234);
    ASSERT_TRUE(bridge_.SetRemote(*leg_, RemoteMedia{"127.0.0.1", 9, Codec::kPcmu, 0}));
    bridge_.Connect(*leg_, 1);
  }

  PortAllocator ports_{"127.0.0.1", 43000, 43999};
  WorkerCounters counters_;
  CountingEvents events_;
  Bridge bridge_{CallId{1}, mixer::BestKernels(), counters_, events_};
  LegState* leg_ = nullptr;
};

// The worker runs late: the watch is armed at a time later than the grid time of the next
// tick. Before the fix `now - last_activity` wrapped to ~2^64 and the leg was reported silent
// on that very tick (a false failover).
TEST_F(BridgeTest, WatchArmedAfterTheTickGridTimeIsNotSilentAtOnce) {
  constexpr uint64_t kGrid = 10'000'000;
  bridge_.WatchSilence(*leg_, 200, kGrid + 15'000);  // armed 15 ms "after" the next tick
  uint64_t tick = 1;
  for (uint64_t t = kGrid; t < kGrid + 200'000; t += 20'000) {
    bridge_.Tick(tick++, 1, t);
    ASSERT_TRUE(events_.silent.empty())
        << "reported silent at grid +" << (t - kGrid) / 1000 << " ms";
  }
  // And the watch still works: silent once the timeout has passed since arming.
  for (uint64_t t = kGrid + 200'000; t <= kGrid + 260'000; t += 20'000) bridge_.Tick(tick++, 1, t);
  ASSERT_EQ(events_.silent.size(), 1u);
  EXPECT_EQ(events_.silent[0], LegId{1});
}

}  // namespace
}  // namespace anchord::media::internal
