// Worker: one media thread with its own event loop, a 20 ms tick on absolute CLOCK_MONOTONIC
// deadlines (next = previous + 20 ms, so the tick does not drift), and the bridges of the calls
// assigned to it, and (unless the kernel refuses it or ANCHORD_NO_URING=1) one io_uring that
// carries all their RTP sends and receives (uring_ring.h): per tick one io_uring_enter() to
// collect what arrived, one to submit what is sent.
//
// Threading: the constructor, Start(), Stop(), loop(), ticks() and counters() are for the
// owning MediaService (signaling thread; ticks/counters from any thread). Every other method
// runs on the worker thread, posted through loop().Post().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/event_loop.h"
#include "core/ids.h"
#include "media/internal/bridge.h"
#include "media/internal/counters.h"
#include "media/internal/port_allocator.h"
#include "media/internal/uring_ring.h"
#include "media/media_plane.h"
#include "mixer/mix.h"

namespace anchord::media::internal {

inline constexpr uint64_t kTickUs = 20'000;

class Worker : public BridgeEvents {
 public:
  Worker(uint32_t index, std::unique_ptr<core::EventLoop> loop, mixer::Kernels kernels,
         core::EventLoop& signaling_loop, MediaEvents* events);
  ~Worker() override;

  void Start();
  void Stop();
  core::EventLoop& loop() { return *loop_; }
  uint64_t ticks() const { return ticks_.load(std::memory_order_acquire); }
  const WorkerCounters& counters() const { return counters_; }

  // Worker thread.
  void AddLeg(CallId call, LegId leg, SocketPair sockets);
  void SetRemote(LegId leg, const RemoteMedia& remote);
  void Connect(LegId leg);
  void Disconnect(LegId leg);
  void SetTone(LegId leg, Tone tone);
  void WatchSilence(LegId leg, uint32_t timeout_ms);
  void MarkGap(LegId leg);
  void DestroyLeg(LegId leg);
  // The leg's counts, or nullopt for an unknown leg.
  std::optional<LegCounters> LegStats(LegId leg);

  // BridgeEvents (worker thread): posted to the signaling thread.
  void LegSilent(CallId call, LegId leg) override;
  void GapMeasured(CallId call, LegId listener, uint32_t gap_ms) override;
  void Dtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) override;
  void TtyText(CallId call, LegId leg, const char* text, size_t n) override;

 private:
  struct Where {
    Bridge* bridge;
    LegState* leg;
  };
  void Run();
  void OnTick();
  void ReportOnceASecond();
  void CreateRing();
  Where Find(LegId leg);

  uint32_t index_;
  std::unique_ptr<core::EventLoop> loop_;
  mixer::Kernels kernels_;
  core::EventLoop& signaling_loop_;
  MediaEvents* events_;
  std::thread thread_;

  // Worker-thread state.
  std::unique_ptr<core::Timer> tick_timer_;
  std::unique_ptr<UringRing> ring_;  // null: sendto/recvmmsg per leg; outlives the legs
  uint64_t deadline_us_ = 0;
  uint64_t grid_us_ = 0;  // grid time of the last tick run: the bridges' one time base
  uint64_t tick_ = 0;
  uint64_t connect_seq_ = 0;
  std::unordered_map<CallId, std::unique_ptr<Bridge>> bridges_;
  std::unordered_map<LegId, Bridge*> leg_bridge_;
  std::minstd_rand random_;
  WorkerCounters reported_;  // snapshot at the last summary (worker thread only)

  std::atomic<uint64_t> ticks_{0};
  WorkerCounters counters_;
};

}  // namespace anchord::media::internal
