// MediaService: the production MediaPlane. RTP endpoints (ours, io_uring), codecs, the hold
// tone and the per-call bridges, run by N media worker threads with a 20 ms tick each.
//
// Threading: Create(), Start(), Stop() and every MediaPlane method run on the signaling thread
// (the one running `signaling_loop`). A call's bridge lives on worker (call.value % workers);
// MediaPlane methods post their work there. MediaEvents come back on the signaling thread.
// MinTickCount() and Counters() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/ids.h"
#include "core/result.h"
#include "core/wav_clip.h"
#include "media/media_plane.h"
#include "mixer/mix.h"

namespace anchord::media {

namespace internal {
class PortAllocator;
class TickHistogram;
class Worker;
struct WorkerCounters;
}  // namespace internal

struct MediaOptions {
  std::string address = "127.0.0.1";            // numeric IPv4 the RTP sockets bind to
  uint16_t port_min = 30000, port_max = 39999;  // RTP even ports, RTCP = RTP + 1
  uint32_t workers = 1;                         // media worker threads, >= 1
  mixer::Kernels kernels = mixer::BestKernels();
};

// Totals over all workers since Create(). Monotonic, except the tick percentiles.
struct MediaCounters {
  uint64_t rtp_received = 0;  // valid RTP (audio, telephone-event) from the leg's current source
  uint64_t rtp_sent = 0;
  uint64_t rtp_garbage = 0;         // dropped: not RTP, bad version, unexpected payload type
  uint64_t rtp_flood_dropped = 0;   // dropped: over 64 datagrams for one leg in one tick
  uint64_t rtp_foreign_source = 0;  // from another address than the leg's current one: not
                                    // played (it may latch the leg, see media/README.md)
  uint64_t rtp_lost = 0;            // frames missing at their playout time
  uint64_t rtp_late = 0;            // packets that arrived after their playout time
  uint64_t jitter_dropped = 0;      // frames dropped to keep jitter buffers <= 200 ms
  uint64_t latches = 0;             // legs that latched onto a new source address
  uint64_t frames_concealed = 0;    // frames filled by PLC / Opus FEC
  uint64_t payload_bad = 0;         // payloads the codec could not decode (concealed)
  uint64_t encode_errors = 0;
  uint64_t dtmf_received = 0;  // RFC 4733 digits received (OnDtmf)
  uint64_t dtmf_sent = 0;      // telephone-event packets sent
  uint64_t tty_chars = 0;      // TTY characters decoded (OnTtyText)
  uint64_t ticks_late = 0;     // ticks run > 5 ms after their deadline, or skipped
  uint64_t send_errors = 0;
  // Tick histogram since Create(), all workers: processing time of a tick and its wake-up
  // lateness, as percentiles (the upper bound of the histogram bucket, in microseconds).
  uint64_t ticks_measured = 0;
  uint32_t tick_work_p50_us = 0, tick_work_p99_us = 0;
  uint32_t tick_late_p50_us = 0, tick_late_p99_us = 0;
};

// One leg's receive counts (see internal/bridge.h LegCounters).
struct LegStats {
  uint64_t received = 0;   // audio packets into the jitter buffer
  uint64_t lost = 0;       // frames missing at playout
  uint64_t late = 0;       // packets after their playout time (dropped)
  uint64_t concealed = 0;  // frames filled by PLC/FEC
  uint64_t dropped = 0;    // frames dropped to bound the delay, duplicates
  uint32_t jitter_us = 0;  // RFC 3550 interarrival jitter
  uint32_t jitter_target_ms = 0;
  bool latched = false;         // sending to a latched source instead of the SDP address
  uint64_t skipped_silent = 0;  // near-silent frames skipped to give back delay (not loss)
  // From the peer's RTCP receiver reports about the stream anchord sends it.
  int64_t rtt_us = -1;          // round-trip time (LSR/DLSR); -1 = none yet
  int peer_fraction_lost = -1;  // 0..255 (1/256); -1 = no report yet
  int32_t peer_cumulative_lost = 0;
  uint32_t peer_jitter_us = 0;
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

  // The clips of Tone::kQueueAnnouncement / kFailoverAnnouncement: core::Config's
  // queue.announcement / failover.announcement, already read (empty = the tone alone).
  // Converted here, on the signaling thread, to both bridge rates and shared read-only with
  // the workers; calls whose bridge is created afterwards play them. Call once after
  // Create(), before the first call. Fails only on a clip the config would have rejected.
  Status SetAnnouncements(const core::AudioClip& queue, const core::AudioClip& failover);

  // Smallest tick count over all workers: the watchdog is fed only while this advances.
  uint64_t MinTickCount() const;
  MediaCounters Counters() const;
  // Signaling thread. Asks the leg's worker and waits for the answer (at most about one
  // tick): for the control API and tests, not for a hot path. nullopt for an unknown leg.
  std::optional<LegStats> GetLegStats(LegId leg);
  // The same for several legs with one wait for all of them (each worker asked once per leg,
  // all in parallel); result i belongs to legs[i].
  std::vector<std::optional<LegStats>> GetLegStats(std::span<const LegId> legs);

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
  void Percentiles(internal::TickHistogram internal::WorkerCounters::*which, uint64_t* count,
                   uint32_t* p50, uint32_t* p99) const;

  MediaOptions options_;
  core::EventLoop& signaling_loop_;
  std::unique_ptr<internal::PortAllocator> ports_;
  std::vector<std::unique_ptr<internal::Worker>> workers_;
  std::unordered_map<LegId, internal::Worker*> legs_;
  bool started_ = false;
};

}  // namespace anchord::media
