#include "media/internal/worker.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/clock.h"
#include "core/log.h"

namespace anchord::media::internal {
namespace {

using core::Level;
using core::Log;
using core::Subsys;

// A tick this late is counted; the tick itself still runs (it is only late, not lost).
constexpr uint64_t kLateUs = 5'000;
// Further behind than this (a stall: debugger, swap, SIGSTOP) the worker skips ahead on the
// 20 ms grid instead of bursting the missed packets out back to back.
constexpr uint64_t kMaxCatchUpTicks = 5;

uint64_t Delta(const std::atomic<uint64_t>& now, std::atomic<uint64_t>& then) {
  uint64_t n = now.load(std::memory_order_relaxed);
  uint64_t d = n - then.load(std::memory_order_relaxed);
  then.store(n, std::memory_order_relaxed);
  return d;
}

}  // namespace

Worker::Worker(uint32_t index, std::unique_ptr<core::EventLoop> loop, mixer::Kernels kernels,
               core::EventLoop& signaling_loop, MediaEvents* events)
    : index_(index),
      loop_(std::move(loop)),
      kernels_(kernels),
      signaling_loop_(signaling_loop),
      events_(events),
      random_(std::random_device{}()) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  loop_->Exit(0);
  thread_.join();
}

// The ring is created on the worker thread (it is single issuer). Off with ANCHORD_NO_URING=1
// (sends and receives as before: sendto, recvmmsg), receives only with
// ANCHORD_NO_URING_RECV=1; both are read once, here. Logged once per worker.
void Worker::CreateRing() {
  const char* off = std::getenv("ANCHORD_NO_URING");
  if (off != nullptr && std::strcmp(off, "1") == 0) {
    Log(Level::kInfo, Subsys::kMedia, "media worker uses sendto/recvmmsg (ANCHORD_NO_URING=1)",
        {{"WORKER", std::to_string(index_)}});
    return;
  }
  const char* no_recv = std::getenv("ANCHORD_NO_URING_RECV");
  const bool recv = no_recv == nullptr || std::strcmp(no_recv, "1") != 0;
  std::string why;
  ring_ = UringRing::Create(recv, &why);
  if (ring_ == nullptr) {
    Log(Level::kWarning, Subsys::kMedia,
        "media worker cannot use io_uring: falling back to sendto/recvmmsg",
        {{"WORKER", std::to_string(index_)}, {"REASON", why}});
    return;
  }
  Log(Level::kInfo, Subsys::kMedia,
      recv ? "media worker sends and receives RTP through io_uring"
           : "media worker sends RTP through io_uring (receives with recvmmsg)",
      {{"WORKER", std::to_string(index_)}});
}

void Worker::Run() {
  CreateRing();
  tick_timer_ = std::make_unique<core::Timer>(*loop_, [this] { OnTick(); });
  deadline_us_ = core::MonotonicUs() + kTickUs;
  grid_us_ = deadline_us_ - kTickUs;
  tick_timer_->ArmAt(deadline_us_);
  loop_->Run();
  // Legs (their sockets and codec state) are destroyed on the thread that used them.
  tick_timer_.reset();
  leg_bridge_.clear();
  bridges_.clear();
  ring_.reset();  // after the legs: they detach from it
}

void Worker::OnTick() {
  const uint64_t now = core::MonotonicUs();
  counters_.tick_late_us.Add(now > deadline_us_ ? now - deadline_us_ : 0);
  uint32_t elapsed = 1;
  if (now > deadline_us_ + kLateUs) Bump(counters_.ticks_late);
  if (now > deadline_us_ + kMaxCatchUpTicks * kTickUs) {
    uint64_t behind = (now - deadline_us_) / kTickUs;
    deadline_us_ += behind * kTickUs;
    elapsed += static_cast<uint32_t>(behind);
    Bump(counters_.ticks_late, behind);
  }
  tick_ += elapsed;
  // Bridges get the tick's grid time, not the wake-up time: silence timeouts then count whole
  // ticks and wake-up jitter cannot add a tick to a detection.
  grid_us_ = deadline_us_;
  // Everything that arrived since the last tick, and the completions of its sends.
  if (ring_ != nullptr) ring_->Poll(deadline_us_);
  for (auto& [call, bridge] : bridges_) bridge->Tick(tick_, elapsed, deadline_us_);
  if (ring_ != nullptr) ring_->Submit();  // the whole tick's sends in one io_uring_enter()
  counters_.tick_work_us.Add(core::MonotonicUs() - now);
  ticks_.store(tick_, std::memory_order_release);
  if (tick_ % 50 == 0) ReportOnceASecond();
  deadline_us_ += kTickUs;  // absolute grid: never now + 20 ms
  tick_timer_->ArmAt(deadline_us_);
}

// Invariant 4: the data path only counts; this summary (at most once a second, and only when
// something went wrong) is where drops become visible in the journal.
void Worker::ReportOnceASecond() {
  uint64_t garbage = Delta(counters_.rtp_garbage, reported_.rtp_garbage);
  uint64_t flood = Delta(counters_.rtp_flood_dropped, reported_.rtp_flood_dropped);
  uint64_t foreign = Delta(counters_.rtp_foreign_source, reported_.rtp_foreign_source);
  uint64_t late = Delta(counters_.ticks_late, reported_.ticks_late);
  uint64_t errors = Delta(counters_.send_errors, reported_.send_errors);
  // What the jitter buffers threw away: the loss a listener hears although the socket got it.
  uint64_t rtp_late = Delta(counters_.rtp_late, reported_.rtp_late);
  uint64_t dropped = Delta(counters_.jitter_dropped, reported_.jitter_dropped);
  if (garbage + flood + foreign + late + errors + rtp_late + dropped == 0) return;
  Log(Level::kWarning, Subsys::kMedia, "media worker dropped or flagged packets in the last second",
      {{"WORKER", std::to_string(index_)},
       {"RTP_GARBAGE", std::to_string(garbage)},
       {"RTP_FLOOD_DROPPED", std::to_string(flood)},
       {"RTP_FOREIGN_SOURCE", std::to_string(foreign)},
       {"TICKS_LATE", std::to_string(late)},
       {"SEND_ERRORS", std::to_string(errors)},
       {"RTP_LATE", std::to_string(rtp_late)},
       {"JITTER_DROPPED", std::to_string(dropped)}});
}

Worker::Where Worker::Find(LegId leg) {
  auto it = leg_bridge_.find(leg);
  if (it == leg_bridge_.end()) return {nullptr, nullptr};
  return {it->second, it->second->Find(leg)};
}

void Worker::AddLeg(CallId call, LegId leg, SocketPair sockets) {
  auto& bridge = bridges_[call];
  if (!bridge) bridge = std::make_unique<Bridge>(call, kernels_, counters_, *this);
  auto rtp = std::make_unique<RtpLeg>(sockets.rtp_fd, sockets.rtcp_fd, counters_, JitterOptions{},
                                      ring_.get());
  bridge->AddLeg(leg, std::move(rtp), static_cast<uint32_t>(random_()));
  leg_bridge_[leg] = bridge.get();
}

void Worker::SetRemote(LegId leg, const RemoteMedia& remote) {
  auto where = Find(leg);
  if (where.leg == nullptr) return;
  if (!where.bridge->SetRemote(*where.leg, remote)) {
    Log(Level::kError, Subsys::kMedia,
        "remote media rejected: not a numeric IPv4 address, a bad PT, or no codec",
        {{"LEG", std::to_string(leg.value)}, {"PEER", remote.address}});
  }
}

void Worker::Connect(LegId leg) {
  auto where = Find(leg);
  if (where.leg != nullptr) where.bridge->Connect(*where.leg, ++connect_seq_);
}

void Worker::Disconnect(LegId leg) {
  auto where = Find(leg);
  if (where.leg != nullptr) where.bridge->Disconnect(*where.leg);
}

void Worker::SetTone(LegId leg, Tone tone) {
  auto where = Find(leg);
  if (where.leg != nullptr) where.bridge->SetTone(*where.leg, tone);
}

void Worker::WatchSilence(LegId leg, uint32_t timeout_ms) {
  auto where = Find(leg);
  if (where.leg != nullptr) where.bridge->WatchSilence(*where.leg, timeout_ms, grid_us_);
}

void Worker::MarkGap(LegId leg) {
  auto where = Find(leg);
  if (where.leg != nullptr) where.leg->gap.Mark(tick_, connect_seq_);
}

void Worker::DestroyLeg(LegId leg) {
  auto where = Find(leg);
  if (where.bridge == nullptr) return;
  where.bridge->RemoveLeg(leg);
  leg_bridge_.erase(leg);
  if (where.bridge->empty()) bridges_.erase(where.bridge->call());
}

std::optional<LegCounters> Worker::LegStats(LegId leg) {
  auto where = Find(leg);
  if (where.leg == nullptr) return std::nullopt;
  return where.bridge->Stats(*where.leg);
}

void Worker::Dtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) {
  Log(Level::kInfo, Subsys::kMedia, "DTMF received",
      {{"LEG", std::to_string(leg.value)},
       {"DIGIT", std::string(1, digit)},
       {"DURATION_MS", std::to_string(duration_ms)}});
  if (events_ == nullptr) return;
  signaling_loop_.Post([events = events_, call, leg, digit, duration_ms] {
    events->OnDtmf(call, leg, digit, duration_ms);
  });
}

void Worker::TtyText(CallId call, LegId leg, const char* text, size_t n) {
  if (events_ == nullptr) return;
  // At most one character per ~150 ms per leg (Baudot): this string is not per packet.
  signaling_loop_.Post([events = events_, call, leg, chars = std::string(text, n)] {
    events->OnTtyText(call, leg, chars);
  });
}

void Worker::LegSilent(CallId call, LegId leg) {
  if (events_ == nullptr) return;
  signaling_loop_.Post([events = events_, call, leg] { events->OnLegSilent(call, leg); });
}

void Worker::GapMeasured(CallId call, LegId listener, uint32_t gap_ms) {
  if (events_ == nullptr) return;
  signaling_loop_.Post([events = events_, call, listener, gap_ms] {
    events->OnGapMeasured(call, listener, gap_ms);
  });
}

}  // namespace anchord::media::internal
