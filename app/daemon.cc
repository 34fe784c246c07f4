#include "app/daemon.h"

#include "app/control_api.h"

#include <signal.h>

#include <array>
#include <string>

#include <systemd/sd-daemon.h>

#include "core/clock.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "failover/heartbeat.h"
#include "failover/position_registry.h"
#include "media/media_service.h"
#include "mixer/mix.h"
#include "signaling/controller.h"
#include "signaling/sip_stack.h"
#include "signaling/third_party.h"
#include "signaling/transport.h"

namespace anchord::app {
namespace {

using core::Level;
using core::Log;
using core::Subsys;

constexpr int kExitStartFailure = 1;

// The media plane reports to the controller, which needs the media plane to exist first.
class MediaEventsForwarder : public media::MediaEvents {
 public:
  media::MediaEvents* target = nullptr;
  void OnLegSilent(CallId call, LegId leg) override {
    if (target) target->OnLegSilent(call, leg);
  }
  void OnGapMeasured(CallId call, LegId listener, uint32_t gap_ms) override {
    if (target) target->OnGapMeasured(call, listener, gap_ms);
  }
  void OnDtmf(CallId call, LegId leg, char digit, uint32_t duration_ms) override {
    if (target) target->OnDtmf(call, leg, digit, duration_ms);
  }
  void OnTtyText(CallId call, LegId leg, const std::string& text) override {
    if (target) target->OnTtyText(call, leg, text);
  }
};

Level ParseLevel(const std::string& name) {
  if (name == "error") return Level::kError;
  if (name == "warning") return Level::kWarning;
  if (name == "notice") return Level::kNotice;
  if (name == "debug") return Level::kDebug;
  return Level::kInfo;
}

Result<mixer::Kernels> ChooseKernels(const std::string& isa_name) {
  if (isa_name == "auto") return mixer::BestKernels();
  std::optional<mixer::Isa> isa = mixer::ParseIsa(isa_name);
  std::optional<mixer::Kernels> kernels = isa ? mixer::KernelsFor(*isa) : std::nullopt;
  if (!kernels) return Fail("media.mixer_isa = \"" + isa_name + "\" is not supported by this CPU");
  return *kernels;
}

// Status line, counter summary and watchdog, on the signaling loop.
class Supervisor {
 public:
  Supervisor(core::EventLoop& loop, media::MediaService& media, signaling::Controller& controller,
             signaling::SipStack& stack, failover::PositionRegistry& positions)
      : media_(media),
        controller_(controller),
        stack_(stack),
        positions_(positions),
        status_timer_(loop, [this] { OnStatusTimer(); }),
        watchdog_timer_(loop, [this] { OnWatchdogTimer(); }) {}

  void Start() {
    status_timer_.ArmIn(0);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
      watchdog_interval_us_ = usec / 2;
      watchdog_timer_.ArmIn(watchdog_interval_us_);
    }
  }

 private:
  void OnStatusTimer() {
    size_t up = 0;
    for (const auto& p : positions_.all()) up += p.health == failover::Health::kUp;
    sd_notifyf(0,
               "STATUS=%zu calls, %zu of %zu positions up, %zu SIP transactions (+%zu completed)",
               controller_.active_calls(), up, positions_.all().size(), stack_.live_transactions(),
               stack_.completed_transactions());
    ReportCounters();
    status_timer_.ArmIn(1'000'000);
  }

  // Bad input is counted on the data path and summarised here (DESIGN invariant 4).
  void ReportCounters() {
    media::MediaCounters m = media_.Counters();
    ReportTicks(m);
    // A spoofed or stray RTP source is bad input too (counted per packet, never played).
    uint64_t bad =
        m.rtp_garbage + m.rtp_flood_dropped + m.rtp_foreign_source + stack_.counters().malformed;
    if (bad == last_bad_) return;
    last_bad_ = bad;
    Log(Level::kNotice, Subsys::kMain, "bad input counted",
        {{"SIP_MALFORMED", std::to_string(stack_.counters().malformed)},
         {"SIP_400_SENT", std::to_string(stack_.counters().bad_request_sent)},
         {"RTP_GARBAGE", std::to_string(m.rtp_garbage)},
         {"RTP_FLOOD_DROPPED", std::to_string(m.rtp_flood_dropped)},
         {"RTP_FOREIGN_SOURCE", std::to_string(m.rtp_foreign_source)}});
  }

  // The media ticks' percentiles (since start, all workers; bucket upper bounds in µs), logged
  // only when one of them moved: a worker falling behind shows in the journal, and benchmarks
  // read the tick p99 from here (bench/rtp_load). Steady state logs nothing.
  void ReportTicks(const media::MediaCounters& m) {
    std::array<uint32_t, 4> now = {m.tick_work_p50_us, m.tick_work_p99_us, m.tick_late_p50_us,
                                   m.tick_late_p99_us};
    if (now == last_ticks_pct_) return;
    last_ticks_pct_ = now;
    Log(Level::kInfo, Subsys::kMedia, "media tick percentiles changed",
        {{"TICKS_MEASURED", std::to_string(m.ticks_measured)},
         {"TICKS_LATE_TOTAL", std::to_string(m.ticks_late)},
         {"TICK_WORK_P50_US", std::to_string(now[0])},
         {"TICK_WORK_P99_US", std::to_string(now[1])},
         {"TICK_LATE_P50_US", std::to_string(now[2])},
         {"TICK_LATE_P99_US", std::to_string(now[3])}});
  }

  // WATCHDOG=1 only while every media worker's tick advances.
  void OnWatchdogTimer() {
    uint64_t ticks = media_.MinTickCount();
    if (ticks != last_ticks_) {
      sd_notify(0, "WATCHDOG=1");
      last_ticks_ = ticks;
    } else {
      Log(Level::kError, Subsys::kMedia, "media tick stalled; withholding the watchdog");
    }
    watchdog_timer_.ArmIn(watchdog_interval_us_);
  }

  media::MediaService& media_;
  signaling::Controller& controller_;
  signaling::SipStack& stack_;
  failover::PositionRegistry& positions_;
  core::Timer status_timer_;
  core::Timer watchdog_timer_;
  uint64_t watchdog_interval_us_ = 0;
  uint64_t last_ticks_ = UINT64_MAX;
  uint64_t last_bad_ = 0;
  std::array<uint32_t, 4> last_ticks_pct_{};
};

int Fatal(const std::string& message) {
  Log(Level::kError, Subsys::kMain, message);
  return kExitStartFailure;
}

}  // namespace

int RunDaemon(const core::Config& config) {
  core::SetLogLevel(ParseLevel(config.log.level));
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  // Blocked before any thread starts, so every thread inherits the mask and sd-event gets them.
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto loop = core::EventLoop::Create();
  if (!loop) return Fatal("event loop: " + loop.error().message);
  auto kernels = ChooseKernels(config.media.mixer_isa);
  if (!kernels) return Fatal(kernels.error().message);

  MediaEventsForwarder forwarder;
  media::MediaOptions media_options{config.media.address, config.media.port_min,
                                    config.media.port_max, config.media.workers, *kernels};
  auto media = media::MediaService::Create(media_options, **loop, &forwarder);
  if (!media) return Fatal("media: " + media.error().message);
  if (Status ok =
          (*media)->SetAnnouncements(config.queue.announcement, config.failover.announcement);
      !ok) {
    return Fatal("media: announcements: " + ok.error().message);
  }

  failover::PositionRegistry positions(config.positions);
  signaling::ControllerOptions controller_options;
  controller_options.ring_timeout_ms = config.sip.ring_timeout_ms;
  controller_options.rtp_timeout_ms = config.failover.rtp_timeout_ms;
  controller_options.t1_ms = config.sip.t1_ms;
  controller_options.t2_ms = config.sip.t2_ms;
  controller_options.session_expires_s = config.sip.session_expires_s;
  controller_options.queue_max_calls = config.queue.max_calls;
  controller_options.queue_max_wait_s = config.queue.max_wait_s;
  controller_options.overflow_status = static_cast<int>(config.queue.overflow_status);
  signaling::Controller controller(**loop, **media, positions, controller_options);
  forwarder.target = &controller;

  // RFC 3725 §5: flow I only toward parties known to answer at once (positions marked
  // automaton = true in the config).
  auto is_automaton = [&config](const std::string& uri) {
    for (const auto& p : config.positions) {
      if (p.uri == uri) return p.automaton;
    }
    return false;
  };
  signaling::ThirdPartyOptions third_party_options;
  third_party_options.sdp_address = config.media.address;
  signaling::ThirdPartyController third_party(**loop, **media, is_automaton, third_party_options);
  controller.SetThirdParty(&third_party);

  std::unique_ptr<signaling::SipStack> stack;
  auto transport = signaling::SipTransport::Create(
      **loop, config.sip.listen,
      [&stack](const signaling::InboundMessage& message) { stack->Receive(message); });
  if (!transport) return Fatal("SIP transport: " + transport.error().message);
  auto created = signaling::SipStack::Create(**loop, **transport, controller);
  if (!created) return Fatal("SIP stack: " + created.error().message);
  stack = std::move(*created);
  (*transport)->SetFailureHandler([&stack](const signaling::PeerAddress& peer) {
    stack->OnTransportFailure(peer);
  });
  stack->SetT1(config.sip.t1_ms);
  stack->SetT2(config.sip.t2_ms);

  failover::HeartbeatMonitor heartbeat(**loop, positions, controller, controller,
                                       config.failover.heartbeat_ms, config.failover.misses);
  controller.Attach(stack.get(), &heartbeat);
  third_party.Attach(stack.get());

  if (auto started = (*media)->Start(); !started) return Fatal("media: " + started.error().message);
  Supervisor supervisor(**loop, **media, controller, *stack, positions);
  auto on_stop = [&loop] { (*loop)->Exit(0); };
  auto term = (*loop)->WatchSignal(SIGTERM, on_stop);
  auto intr = (*loop)->WatchSignal(SIGINT, on_stop);
  if (!term || !intr) return Fatal("cannot watch SIGTERM/SIGINT");

  std::unique_ptr<ControlApi> control_api;
  if (!config.control.listen.empty()) {
    ControlApiOptions api_options;
    api_options.leg_stats = [&media](std::span<const LegId> legs) {
      return (*media)->GetLegStats(legs);
    };
    auto api = ControlApi::Start(config.control.listen, **loop, controller, api_options);
    if (!api) return Fatal("control API: " + api.error().message);
    control_api = std::move(*api);
  }

  heartbeat.Start();
  supervisor.Start();
  Log(Level::kNotice, Subsys::kMain, "anchord ready",
      {{"POSITIONS", std::to_string(config.positions.size())},
       {"MIXER_ISA", std::string(mixer::IsaName(kernels->isa))}});
  sd_notify(0, "READY=1");
  int code = (*loop)->Run();
  sd_notify(0, "STOPPING=1");
  if (control_api) control_api->Stop();  // before the controller it posts to goes away
  Log(Level::kNotice, Subsys::kMain, "anchord stopping");
  (*media)->Stop();
  return code < 0 ? kExitStartFailure : code;
}

}  // namespace anchord::app
