// EventLoop: one thread's sd-event loop, plus Post() so other threads can hand it work.
//
// Threading: everything except Post() and Exit() runs on the loop's own thread (the one that
// calls Run()). Post() is the only way across threads (DESIGN: a queue + eventfd).
// Timers use CLOCK_MONOTONIC with 1 us accuracy (sd-event's default of 250 ms would make a
// 20 ms media tick slip).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "core/result.h"

struct sd_event;
struct sd_event_source;

namespace anchord::core {

class EventLoop;

// Owns one sd_event_source; disables and releases it on destruction.
class EventSource {
 public:
  EventSource() = default;
  explicit EventSource(sd_event_source* source) : source_(source) {}
  EventSource(EventSource&& other) noexcept : source_(other.source_) { other.source_ = nullptr; }
  EventSource& operator=(EventSource&& other) noexcept;
  EventSource(const EventSource&) = delete;
  EventSource& operator=(const EventSource&) = delete;
  ~EventSource();

  sd_event_source* get() const { return source_; }
  explicit operator bool() const { return source_ != nullptr; }

 private:
  sd_event_source* source_ = nullptr;
};

// A re-armable one-shot timer on a loop. Owning thread only.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once at the absolute monotonic time `at_us` (see MonotonicUs()). Re-arming replaces
  // the previous deadline.
  void ArmAt(uint64_t at_us);
  void ArmIn(uint64_t delay_us);
  void Cancel();
  bool armed() const { return armed_; }

 private:
  static int OnTime(sd_event_source* s, uint64_t usec, void* self);
  EventSource source_;
  std::function<void()> on_fire_;
  bool armed_ = false;
};

class EventLoop {
 public:
  using IoCallback = std::function<void(uint32_t revents)>;

  static Result<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Exit(); returns the exit code. Call from the thread that owns the loop.
  int Run();
  // Any thread: asks the loop to stop after the current iteration.
  void Exit(int code);
  // Any thread: runs `fn` on the loop's thread, in posting order.
  void Post(std::function<void()> fn);

  // Owning thread: calls `cb` when `fd` is ready for `events` (EPOLLIN, EPOLLOUT ...).
  Result<EventSource> WatchFd(int fd, uint32_t events, IoCallback cb);
  // Owning thread: calls `cb` on SIGTERM/SIGINT/... (the signal must be blocked first).
  Result<EventSource> WatchSignal(int signo, std::function<void()> cb);

  sd_event* raw() const { return event_; }

 private:
  EventLoop() = default;
  static int OnWake(sd_event_source* s, int fd, uint32_t revents, void* self);
  void DrainPosted();

  sd_event* event_ = nullptr;
  int wake_fd_ = -1;
  EventSource wake_source_;
  std::mutex mutex_;
  std::deque<std::function<void()>> posted_;
};

}  // namespace anchord::core
