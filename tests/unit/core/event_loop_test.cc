#include "core/event_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"

namespace anchord::core {
namespace {

// Generous: only a hung loop reaches it, and then the test fails instead of hanging.
constexpr uint64_t kSafetyUs = 5'000'000;
constexpr int kTimedOut = 99;

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Create();
    ASSERT_TRUE(loop.has_value()) << loop.error().message;
    loop_ = std::move(*loop);
    safety_ = std::make_unique<Timer>(*loop_, [this] { loop_->Exit(kTimedOut); });
    safety_->ArmIn(kSafetyUs);
  }
  void TearDown() override { safety_.reset(); }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Timer> safety_;
};

TEST_F(EventLoopTest, ExitStopsRunWithItsCode) {
  loop_->Exit(7);
  EXPECT_EQ(loop_->Run(), 7);
}

TEST_F(EventLoopTest, PostFromAnotherThreadRunsOnLoopThreadInOrder) {
  constexpr int kCount = 1000;
  std::vector<int> seen;
  std::atomic<bool> wrong_thread = false;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread poster([&] {
    for (int i = 0; i < kCount; ++i) {
      loop_->Post([&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        seen.push_back(i);
        if (i == kCount - 1) loop_->Exit(0);
      });
    }
  });
  int code = loop_->Run();
  poster.join();
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(wrong_thread);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(seen[i], i);
}

TEST_F(EventLoopTest, PostFromLoopThreadRunsLater) {
  std::vector<int> order;
  loop_->Post([&] {
    loop_->Post([&] {
      order.push_back(2);
      loop_->Exit(0);
    });
    order.push_back(1);
  });
  EXPECT_EQ(loop_->Run(), 0);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(EventLoopTest, TimerFiresOnceNotBeforeItsDeadline) {
  int fired = 0;
  uint64_t fired_at = 0;
  const uint64_t start = MonotonicUs();
  Timer timer(*loop_, [&] {
    ++fired;
    fired_at = MonotonicUs();
  });
  timer.ArmIn(10 * kUsPerMs);
  EXPECT_TRUE(timer.armed());
  // A later timer ends the test; a one-shot timer must not have fired again by then.
  Timer end(*loop_, [&] { loop_->Exit(0); });
  end.ArmIn(60 * kUsPerMs);
  EXPECT_EQ(loop_->Run(), 0);
  EXPECT_EQ(fired, 1);
  EXPECT_GE(fired_at, start + 10 * kUsPerMs);
  EXPECT_FALSE(timer.armed());
}

TEST_F(EventLoopTest, RearmReplacesDeadline) {
  uint64_t fired_at = 0;
  int fired = 0;
  Timer timer(*loop_, [&] {
    ++fired;
    fired_at = MonotonicUs();
    loop_->Exit(0);
  });
  const uint64_t start = MonotonicUs();
  timer.ArmIn(1 * kUsPerMs);
  timer.ArmIn(40 * kUsPerMs);  // replaces the 1 ms deadline
  EXPECT_EQ(loop_->Run(), 0);
  EXPECT_EQ(fired, 1);
  EXPECT_GE(fired_at, start + 40 * kUsPerMs);
}

TEST_F(EventLoopTest, RearmEarlierReplacesLaterDeadline) {
  int fired = 0;
  Timer timer(*loop_, [&] {
    ++fired;
    loop_->Exit(0);
  });
  timer.ArmIn(kSafetyUs * 2);
  timer.ArmIn(1 * kUsPerMs);
  EXPECT_EQ(loop_->Run(), 0);  // not kTimedOut: the early deadline won
  EXPECT_EQ(fired, 1);
}

TEST_F(EventLoopTest, CancelPreventsFiring) {
  int fired = 0;
  Timer timer(*loop_, [&] { ++fired; });
  timer.ArmIn(5 * kUsPerMs);
  timer.Cancel();
  EXPECT_FALSE(timer.armed());
  Timer end(*loop_, [&] { loop_->Exit(0); });
  end.ArmIn(40 * kUsPerMs);
  EXPECT_EQ(loop_->Run(), 0);
  EXPECT_EQ(fired, 0);
}

TEST_F(EventLoopTest, TimerCanRearmFromItsCallback) {
  int fired = 0;
  Timer* self = nullptr;
  Timer timer(*loop_, [&] {
    if (++fired < 3) {
      self->ArmIn(1 * kUsPerMs);
    } else {
      loop_->Exit(0);
    }
  });
  self = &timer;
  timer.ArmIn(1 * kUsPerMs);
  EXPECT_EQ(loop_->Run(), 0);
  EXPECT_EQ(fired, 3);
}

TEST_F(EventLoopTest, WatchFdCallsBackWhenReadable) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  uint32_t got = 0;
  auto source = loop_->WatchFd(fds[0], EPOLLIN, [&](uint32_t revents) {
    got = revents;
    char c;
    [[maybe_unused]] ssize_t n = read(fds[0], &c, 1);
    loop_->Exit(0);
  });
  ASSERT_TRUE(source.has_value()) << source.error().message;
  std::thread writer([&] { [[maybe_unused]] ssize_t n = write(fds[1], "x", 1); });
  EXPECT_EQ(loop_->Run(), 0);
  writer.join();
  EXPECT_TRUE(got & EPOLLIN);
  *source = EventSource();
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace anchord::core
