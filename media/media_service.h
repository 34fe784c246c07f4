// MediaService: the production MediaPlane. RTP endpoints (oRTP), G.711 (spandsp), the hold
// tone and the per-call bridges, run by N media worker threads with a 20 ms tick each.
//
// Threading: Create(), Start(), Stop() and every MediaPlane method run on the signaling thread
// (the one running `signaling_loop`). A call's bridge lives on worker (call.value % workers);
// MediaPlane methods post their work there. MediaEvents come back on the signaling thread.
// MinTickCount() and Counters() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/ids.h"
#include "core/result.h"
#include "media/media_plane.h"
#include "mixer/mix.h"

namespace anchord::media {

namespace internal {
class PortAllocator;
class Worker;
}  // namespace internal

struct MediaOptions {
  std::string address = "127.0.0.1";            // numeric IPv4 the RTP sockets bind to
  uint16_t port_min = 30000, port_max = 39999;  // RTP even ports, RTCP = RTP + 1
  uint32_t workers = 1;                         // media worker threads, >= 1
  mixer::Kernels kernels = mixer::BestKernels();
};

// Totals over all workers since Create(). Monotonic.
struct MediaCounters {
  uint64_t rtp_received = 0;  // valid RTP of the negotiated payload type
  uint64_t rtp_sent = 0;
  uint64_t rtp_garbage = 0;         // dropped: not RTP, bad version, unexpected payload type
  uint64_t rtp_foreign_source = 0;  // accepted, but not from the SDP address (NAT, SBC)
  uint64_t frames_concealed = 0;    // a connected leg had no packet due: silence inserted
  uint64_t ticks_late = 0;          // ticks run > 5 ms after their deadline, or skipped
  uint64_t send_errors = 0;
};

class MediaService : public MediaPlane {
 public:
  // `events` may be null (then nothing is reported); it must outlive the service.
  static Result<std::unique_ptr<MediaService>> Create(const MediaOptions& options,
                                                      core::EventLoop& signaling_loop,
                                                      MediaEvents* events);
  ~MediaService() override;

  // Starts the worker threads and their ticks. Legs may be created before.
  Status Start();
  // Stops the ticks and joins the workers; their legs' sockets are closed. Idempotent.
  void Stop();

  // Smallest tick count over all workers: the watchdog is fed only while this advances.
  uint64_t MinTickCount() const;
  MediaCounters Counters() const;

  Result<LocalMedia> CreateLeg(CallId call, LegId leg) override;
  void SetRemote(LegId leg, const RemoteMedia& remote) override;
  void Connect(LegId leg) override;
  void Disconnect(LegId leg) override;
  void SetTone(LegId leg, Tone tone) override;
  void WatchSilence(LegId leg, uint32_t timeout_ms) override;
  void MarkGap(LegId listener) override;
  void DestroyLeg(LegId leg) override;

 private:
  MediaService(const MediaOptions& options, core::EventLoop& signaling_loop);
  // The worker owning `leg`, or null (unknown legs are ignored: signaling may race a failure).
  internal::Worker* WorkerOf(LegId leg) const;

  MediaOptions options_;
  core::EventLoop& signaling_loop_;
  std::unique_ptr<internal::PortAllocator> ports_;
  std::vector<std::unique_ptr<internal::Worker>> workers_;
  std::unordered_map<LegId, internal::Worker*> legs_;
  bool started_ = false;
};

}  // namespace anchord::media
