#include "media/media_service.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <limits>

#include "core/clock.h"
#include "core/log.h"
#include "media/internal/announcement.h"
#include "media/internal/port_allocator.h"
#include "media/internal/worker.h"

namespace anchord::media {

using core::Level;
using core::Log;
using core::Subsys;

MediaService::MediaService(const MediaOptions& options, core::EventLoop& signaling_loop)
    : options_(options), signaling_loop_(signaling_loop) {}

MediaService::~MediaService() { Stop(); }

Result<std::unique_ptr<MediaService>> MediaService::Create(const MediaOptions& options,
                                                           core::EventLoop& signaling_loop,
                                                           MediaEvents* events) {
  if (options.workers == 0) return Fail("media.workers must be at least 1");
  if (options.port_min > options.port_max) return Fail("media.port_min is above media.port_max");
  if (options.kernels.mix_minus == nullptr) return Fail("media: no mixer kernels");
  std::unique_ptr<MediaService> service(new MediaService(options, signaling_loop));
  service->ports_ = std::make_unique<internal::PortAllocator>(options.address, options.port_min,
                                                              options.port_max);
  if (auto ok = service->ports_->Validate(); !ok) return tl::unexpected(ok.error());
  // No announcements until SetAnnouncements() (not those of an earlier service in a test).
  internal::PublishAnnouncements(std::make_shared<const internal::Announcements>());
  for (uint32_t i = 0; i < options.workers; ++i) {
    auto loop = core::EventLoop::Create();
    if (!loop) return Fail("media worker event loop: " + loop.error().message);
    service->workers_.push_back(std::make_unique<internal::Worker>(
        i, std::move(*loop), options.kernels, signaling_loop, events));
  }
  return service;
}

Status MediaService::Start() {
  if (started_) return Fail("media service already started");
  for (auto& worker : workers_) worker->Start();
  started_ = true;
  Log(Level::kInfo, Subsys::kMedia, "media workers started",
      {{"WORKERS", std::to_string(workers_.size())},
       {"MIXER_ISA", std::string(mixer::IsaName(options_.kernels.isa))}});
  return {};
}

void MediaService::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

Status MediaService::SetAnnouncements(const core::AudioClip& queue,
                                      const core::AudioClip& failover) {
  auto announcements = internal::PrepareAnnouncements(queue, failover);
  if (!announcements) return tl::unexpected(announcements.error());
  internal::PublishAnnouncements(std::move(*announcements));
  return {};
}

uint64_t MediaService::MinTickCount() const {
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (const auto& worker : workers_) min = std::min(min, worker->ticks());
  return workers_.empty() ? 0 : min;
}

MediaCounters MediaService::Counters() const {
  MediaCounters total;
  auto add = [](uint64_t& sum, const std::atomic<uint64_t>& c) {
    sum += c.load(std::memory_order_relaxed);
  };
  for (const auto& worker : workers_) {
    const internal::WorkerCounters& c = worker->counters();
    add(total.rtp_received, c.rtp_received);
    add(total.rtp_sent, c.rtp_sent);
    add(total.rtp_garbage, c.rtp_garbage);
    add(total.rtp_flood_dropped, c.rtp_flood_dropped);
    add(total.rtp_foreign_source, c.rtp_foreign_source);
    add(total.rtp_lost, c.rtp_lost);
    add(total.rtp_late, c.rtp_late);
    add(total.jitter_dropped, c.jitter_dropped);
    add(total.latches, c.latches);
    add(total.frames_concealed, c.frames_concealed);
    add(total.payload_bad, c.payload_bad);
    add(total.encode_errors, c.encode_errors);
    add(total.dtmf_received, c.dtmf_received);
    add(total.dtmf_sent, c.dtmf_sent);
    add(total.tty_chars, c.tty_chars);
    add(total.ticks_late, c.ticks_late);
    add(total.send_errors, c.send_errors);
  }
  Percentiles(&internal::WorkerCounters::tick_work_us, &total.ticks_measured,
              &total.tick_work_p50_us, &total.tick_work_p99_us);
  Percentiles(&internal::WorkerCounters::tick_late_us, &total.ticks_measured,
              &total.tick_late_p50_us, &total.tick_late_p99_us);
  return total;
}

void MediaService::Percentiles(internal::TickHistogram internal::WorkerCounters::*which,
                               uint64_t* count, uint32_t* p50, uint32_t* p99) const {
  using internal::TickHistogram;
  std::array<uint64_t, TickHistogram::kUpperUs.size()> sum{};
  uint64_t n = 0;
  for (const auto& worker : workers_) {
    const TickHistogram& h = worker->counters().*which;
    for (size_t b = 0; b < sum.size(); ++b) {
      sum[b] += h.count(b);
      n += h.count(b);
    }
  }
  *count = n;
  auto at = [&](uint64_t rank) {
    uint64_t seen = 0;
    for (size_t b = 0; b < sum.size(); ++b) {
      seen += sum[b];
      if (seen > rank) return TickHistogram::kUpperUs[b];
    }
    return TickHistogram::kUpperUs.back();
  };
  *p50 = n == 0 ? 0 : at(n / 2);
  *p99 = n == 0 ? 0 : at(n * 99 / 100);
}

std::optional<LegStats> MediaService::GetLegStats(LegId leg) {
  return GetLegStats(std::span<const LegId>(&leg, 1)).front();
}

std::vector<std::optional<LegStats>> MediaService::GetLegStats(std::span<const LegId> legs) {
  using Answer = std::optional<internal::LegCounters>;
  std::vector<std::future<Answer>> answers;
  for (LegId leg : legs) {
    auto promise = std::make_shared<std::promise<Answer>>();
    answers.push_back(promise->get_future());
    if (internal::Worker* w = WorkerOf(leg)) {
      w->loop().Post([w, leg, promise] { promise->set_value(w->LegStats(leg)); });
    } else {
      promise->set_value(std::nullopt);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::vector<std::optional<LegStats>> stats;
  for (auto& answer : answers) {
    Answer c;
    if (answer.wait_until(deadline) == std::future_status::ready) c = answer.get();
    if (!c) {
      stats.emplace_back();
      continue;
    }
    stats.push_back(LegStats{c->received, c->lost, c->late, c->concealed, c->dropped, c->jitter_us,
                             c->jitter_target_ms, c->latched, c->skipped_silent, c->rtt_us,
                             c->peer_fraction_lost, c->peer_cumulative_lost, c->peer_jitter_us});
  }
  return stats;
}

internal::Worker* MediaService::WorkerOf(LegId leg) const {
  auto it = legs_.find(leg);
  return it == legs_.end() ? nullptr : it->second;
}

Result<LocalMedia> MediaService::CreateLeg(CallId call, LegId leg) {
  if (legs_.contains(leg)) return Fail("media leg " + std::to_string(leg.value) + " exists");
  auto sockets = ports_->Allocate();
  if (!sockets) return tl::unexpected(sockets.error());
  internal::Worker* worker = workers_[call.value % workers_.size()].get();
  legs_.emplace(leg, worker);
  worker->loop().Post([worker, call, leg, pair = *sockets] { worker->AddLeg(call, leg, pair); });
  return LocalMedia{options_.address, sockets->rtp_port};
}

void MediaService::SetRemote(LegId leg, const RemoteMedia& remote) {
  if (auto* w = WorkerOf(leg)) w->loop().Post([w, leg, remote] { w->SetRemote(leg, remote); });
}

void MediaService::Connect(LegId leg) {
  if (auto* w = WorkerOf(leg)) w->loop().Post([w, leg] { w->Connect(leg); });
}

void MediaService::Disconnect(LegId leg) {
  if (auto* w = WorkerOf(leg)) w->loop().Post([w, leg] { w->Disconnect(leg); });
}

void MediaService::SetTone(LegId leg, Tone tone) {
  if (auto* w = WorkerOf(leg)) w->loop().Post([w, leg, tone] { w->SetTone(leg, tone); });
}

void MediaService::WatchSilence(LegId leg, uint32_t timeout_ms) {
  if (auto* w = WorkerOf(leg)) {
    w->loop().Post([w, leg, timeout_ms] { w->WatchSilence(leg, timeout_ms); });
  }
}

void MediaService::MarkGap(LegId listener) {
  if (auto* w = WorkerOf(listener)) w->loop().Post([w, listener] { w->MarkGap(listener); });
}

void MediaService::DestroyLeg(LegId leg) {
  auto it = legs_.find(leg);
  if (it == legs_.end()) return;
  internal::Worker* w = it->second;
  legs_.erase(it);
  w->loop().Post([w, leg] { w->DestroyLeg(leg); });
}

}  // namespace anchord::media
