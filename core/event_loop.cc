#include "core/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <systemd/sd-event.h>

#include "core/clock.h"

namespace anchord::core {
namespace {

std::string ErrnoText(const char* what, int negative_errno) {
  return std::string(what) + ": " + std::strerror(-negative_errno);
}

// Callbacks own their std::function through the source's userdata; this frees it with the source.
template <class Fn>
void AttachOwned(sd_event_source* source, Fn* fn) {
  sd_event_source_set_userdata(source, fn);
  sd_event_source_set_destroy_callback(source, [](void* p) { delete static_cast<Fn*>(p); });
}

}  // namespace

EventSource& EventSource::operator=(EventSource&& other) noexcept {
  if (this != &other) {
    if (source_) sd_event_source_disable_unref(source_);
    source_ = other.source_;
    other.source_ = nullptr;
  }
  return *this;
}

EventSource::~EventSource() {
  if (source_) sd_event_source_disable_unref(source_);
}

Timer::Timer(EventLoop& loop, std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {
  sd_event_source* s = nullptr;
  // Accuracy 1 us: see the header. The timer starts disabled.
  int r = sd_event_add_time(loop.raw(), &s, CLOCK_MONOTONIC, UINT64_MAX, 1, &Timer::OnTime, this);
  if (r < 0) std::abort();  // only fails on ENOMEM or a dead loop: a programming error
  sd_event_source_set_enabled(s, SD_EVENT_OFF);
  source_ = EventSource(s);
}

Timer::~Timer() = default;

void Timer::ArmAt(uint64_t at_us) {
  sd_event_source_set_time(source_.get(), at_us);
  sd_event_source_set_enabled(source_.get(), SD_EVENT_ONESHOT);
  armed_ = true;
}

void Timer::ArmIn(uint64_t delay_us) { ArmAt(MonotonicUs() + delay_us); }

void Timer::Cancel() {
  sd_event_source_set_enabled(source_.get(), SD_EVENT_OFF);
  armed_ = false;
}

int Timer::OnTime(sd_event_source*, uint64_t, void* self) {
  auto* timer = static_cast<Timer*>(self);
  timer->armed_ = false;
  timer->on_fire_();
  return 0;
}

Result<std::unique_ptr<EventLoop>> EventLoop::Create() {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  if (int r = sd_event_new(&loop->event_); r < 0) return Fail(ErrnoText("sd_event_new", r));
  loop->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop->wake_fd_ < 0) return Fail(ErrnoText("eventfd", -errno));
  sd_event_source* s = nullptr;
  int r =
      sd_event_add_io(loop->event_, &s, loop->wake_fd_, EPOLLIN, &EventLoop::OnWake, loop.get());
  if (r < 0) return Fail(ErrnoText("sd_event_add_io(eventfd)", r));
  loop->wake_source_ = EventSource(s);
  return loop;
}

EventLoop::~EventLoop() {
  wake_source_ = EventSource();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (event_) sd_event_unref(event_);
}

int EventLoop::Run() {
  int r = sd_event_loop(event_);
  return r;
}

void EventLoop::Exit(int code) {
  Post([this, code] { sd_event_exit(event_, code); });
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  // A full counter (2^64-2 pending wakes) cannot happen; EAGAIN would only mean "already woken".
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

int EventLoop::OnWake(sd_event_source*, int fd, uint32_t, void* self) {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd, &count, sizeof count);
  static_cast<EventLoop*>(self)->DrainPosted();
  return 0;
}

void EventLoop::DrainPosted() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

Result<EventSource> EventLoop::WatchFd(int fd, uint32_t events, IoCallback cb) {
  auto* owned = new IoCallback(std::move(cb));
  sd_event_source* s = nullptr;
  int r = sd_event_add_io(
      event_, &s, fd, events,
      [](sd_event_source*, int, uint32_t revents, void* p) {
        (*static_cast<IoCallback*>(p))(revents);
        return 0;
      },
      owned);
  if (r < 0) {
    delete owned;
    return Fail(ErrnoText("sd_event_add_io", r));
  }
  AttachOwned(s, owned);
  return EventSource(s);
}

Result<EventSource> EventLoop::WatchSignal(int signo, std::function<void()> cb) {
  using Fn = std::function<void()>;
  auto* owned = new Fn(std::move(cb));
  sd_event_source* s = nullptr;
  int r = sd_event_add_signal(
      event_, &s, signo,
      [](sd_event_source*, const struct signalfd_siginfo*, void* p) {
        (*static_cast<Fn*>(p))();
        return 0;
      },
      owned);
  if (r < 0) {
    delete owned;
    return Fail(ErrnoText("sd_event_add_signal", r));
  }
  AttachOwned(s, owned);
  return EventSource(s);
}

}  // namespace anchord::core
