// rtp_load: drives N two-leg G.711 calls through a media server and measures what it costs.
//
//   rtp_load --target anchord   --server 127.0.0.1:5990  --pid PID --calls N [options]
//   rtp_load --target rtpengine --server 127.0.0.1:22222 --pid PID --calls N [options]
//
// anchord: the generator is both the callers (INVITE with SDP) and every position (answers
// OPTIONS and INVITE), over its own minimal SIP (sip_peer.h). rtpengine: the generator drives
// offer/answer over the ng protocol (ng_client.h). Then every call streams PCMU 20 ms both ways
// (4 phases of 5 ms so the packets are spread over the period, timerfd on absolute deadlines),
// and after a warm-up one measurement window records: the server's CPU time (all threads, and
// the busiest one = the media worker), packets in and out, end-to-end loss per stream, latency
// through the server, system-wide UDP drops, RSS and the generator's own CPU. One JSON line on
// stdout; exit 0 when the run completed (loss or not), 1 when setup failed.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "bench/rtp_load/net.h"
#include "bench/rtp_load/ng_client.h"
#include "bench/rtp_load/proc_stats.h"
#include "bench/rtp_load/rtp_streams.h"
#include "bench/rtp_load/sip_peer.h"

namespace anchord::bench {
namespace {

struct Options {
  std::string target, server, ip = "127.0.0.1";
  pid_t pid = 0;
  uint32_t calls = 0, positions = 0, cps = 400, phases = 4;  // positions: anchord's, >= calls
  uint16_t rtp_port = 16000, sip_port = 15990;
  int sockets = 4;
  double warmup_s = 5, measure_s = 20, setup_timeout_s = 60;
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target")
      o->target = v;
    else if (k == "--server")
      o->server = v;
    else if (k == "--ip")
      o->ip = v;
    else if (k == "--pid")
      o->pid = std::stoi(v);
    else if (k == "--calls")
      o->calls = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--positions")
      o->positions = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--cps")
      o->cps = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--phases")
      o->phases = static_cast<uint32_t>(std::stoul(v));
    else if (k == "--rtp-port")
      o->rtp_port = static_cast<uint16_t>(std::stoul(v));
    else if (k == "--sip-port")
      o->sip_port = static_cast<uint16_t>(std::stoul(v));
    else if (k == "--sockets")
      o->sockets = std::stoi(v);
    else if (k == "--warmup-s")
      o->warmup_s = std::stod(v);
    else if (k == "--measure-s")
      o->measure_s = std::stod(v);
    else if (k == "--setup-timeout-s")
      o->setup_timeout_s = std::stod(v);
    else
      return false;
  }
  if (o->positions < o->calls) o->positions = o->calls;
  return (o->target == "anchord" || o->target == "rtpengine") && !o->server.empty() && o->pid > 0 &&
         o->calls > 0 && o->phases >= 1 && o->sockets >= 1;
}

// The generator's one loop: a pacing timerfd, the RTP sockets and (anchord) the SIP sockets.
class Loop {
 public:
  Loop(RtpStreams& rtp, SipPeer* sip, uint32_t phases) : rtp_(rtp), sip_(sip), phases_(phases) {}
  bool Init() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep_ < 0 || tfd_ < 0) return false;
    Add(tfd_);
    for (int fd : rtp_.fds()) Add(fd);
    if (sip_) {
      Add(sip_->caller_fd());
      Add(sip_->position_fd());
    }
    return true;
  }
  // Starts pacing: the first phase at the next whole 20 ms / phases after now.
  void StartPacing() {
    itimerspec its{};
    long period_ns = 20'000'000L / static_cast<long>(phases_);
    its.it_interval.tv_nsec = period_ns;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    its.it_value = now;
    its.it_value.tv_nsec += period_ns;
    if (its.it_value.tv_nsec >= 1'000'000'000L) {
      its.it_value.tv_nsec -= 1'000'000'000L;
      ++its.it_value.tv_sec;
    }
    timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }
  // Runs until `deadline_us` or until `done()` is true.
  void RunUntil(uint64_t deadline_us, const std::function<bool()>& done = nullptr) {
    epoll_event ev[64];
    for (uint64_t now = NowUs(); now < deadline_us; now = NowUs()) {
      if (done && done()) return;
      int n = epoll_wait(ep_, ev, 64, 1);
      for (int i = 0; i < n; ++i) Dispatch(ev[i].data.fd);
      if (sip_) sip_->FlushPaced(NowUs());
      if (sip_ && now - last_retransmit_us_ > 200'000) {
        sip_->Retransmit(now);
        last_retransmit_us_ = now;
      }
    }
  }
  uint64_t overruns() const { return overruns_; }

 private:
  void Add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  void Dispatch(int fd) {
    if (fd == tfd_) {
      uint64_t expirations = 0;
      if (read(tfd_, &expirations, sizeof(expirations)) != sizeof(expirations)) return;
      if (expirations > 1) overruns_ += expirations - 1;
      // Keep the rate after a stall, but never burst more than one period's worth.
      for (uint64_t i = 0; i < std::min<uint64_t>(expirations, phases_); ++i) {
        rtp_.SendPhase(static_cast<int>(phase_), static_cast<int>(phases_));
        phase_ = (phase_ + 1) % phases_;
      }
    } else if (sip_ && (fd == sip_->caller_fd() || fd == sip_->position_fd())) {
      sip_->OnReadable(fd);
    } else {
      rtp_.Drain(fd);
    }
  }

  RtpStreams& rtp_;
  SipPeer* sip_;
  uint32_t phases_, phase_ = 0;
  int ep_ = -1, tfd_ = -1;
  uint64_t overruns_ = 0, last_retransmit_us_ = 0;
};

bool SetupAnchord(const Options& o, SipPeer& sip, Loop& loop) {
  uint64_t deadline = NowUs() + static_cast<uint64_t>(o.setup_timeout_s * 1e6);
  // A position takes calls once a heartbeat succeeded: wait for every p<N> to be probed.
  loop.RunUntil(deadline, [&] { return sip.positions_probed() >= o.positions; });
  loop.RunUntil(NowUs() + 300'000);  // anchord has processed the last 200s
  uint64_t start = NowUs();
  for (uint32_t i = 0; i < o.calls && NowUs() < deadline; ++i) {
    sip.Invite(i);
    uint64_t next = start + (static_cast<uint64_t>(i) + 1) * 1'000'000u / o.cps;
    loop.RunUntil(next);
  }
  loop.RunUntil(deadline, [&] {
    return sip.calls_answered() + sip.calls_failed() >= o.calls &&
           sip.positions_in_call() >= sip.calls_answered();
  });
  std::fprintf(stderr,
               "rtp_load: probed %zu, answered %zu, failed %zu, position legs %zu (+%zu ended)\n",
               sip.positions_probed(), sip.calls_answered(), sip.calls_failed(),
               sip.positions_in_call(), sip.positions_ended());
  return sip.calls_answered() == o.calls && sip.positions_in_call() == o.calls;
}

// "m=audio PORT" of an SDP as a destination on `ip` (rtpengine's c= is its interface = ip).
bool SdpPort(const std::string& sdp, const std::string& ip, sockaddr_in* out) {
  size_t a = sdp.find("m=audio ");
  if (a == std::string::npos) return false;
  return MakeAddr(ip, static_cast<uint16_t>(std::stoul(sdp.substr(a + 8))), out);
}

std::string PlainSdp(const std::string& ip, uint16_t port) {
  return "v=0\r\no=rtpl 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio " +
         std::to_string(port) +
         " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
}

bool SetupRtpengine(const Options& o, const sockaddr_in& ng_addr, RtpStreams& rtp) {
  NgClient ng;
  if (!ng.Open(ng_addr) || !ng.Ping()) {
    std::fprintf(stderr, "rtp_load: rtpengine does not answer ping: %s\n", ng.error().c_str());
    return false;
  }
  for (uint32_t i = 0; i < o.calls; ++i) {
    uint32_t a = rtp.Reserve(0), b = rtp.Reserve(1);
    std::string id = "rtpl-" + std::to_string(i), offer, answer;
    sockaddr_in to_callee_side, to_caller_side;
    if (!ng.Offer(id, "a" + std::to_string(i), PlainSdp(o.ip, rtp.PortOf(a)), &offer) ||
        !ng.Answer(id, "a" + std::to_string(i), "b" + std::to_string(i),
                   PlainSdp(o.ip, rtp.PortOf(b)), &answer) ||
        !SdpPort(offer, o.ip, &to_callee_side) || !SdpPort(answer, o.ip, &to_caller_side)) {
      std::fprintf(stderr, "rtp_load: call %u: %s\n", i, ng.error().c_str());
      return false;
    }
    rtp.SetDestination(a, to_caller_side);  // the caller sends where the answer SDP says
    rtp.SetDestination(b, to_callee_side);  // the callee sends where the offer SDP says
  }
  return true;
}

int Run(const Options& o) {
  std::string server_ip;
  uint16_t server_port = 0;
  sockaddr_in server;
  if (!SplitHostPort(o.server, &server_ip, &server_port) ||
      !MakeAddr(server_ip, server_port, &server)) {
    std::fprintf(stderr, "rtp_load: bad --server %s\n", o.server.c_str());
    return 2;
  }
  RtpStreams rtp;
  if (!rtp.Open(o.ip, o.rtp_port, o.sockets, 32 << 20)) return 1;
  std::unique_ptr<SipPeer> sip;
  if (o.target == "anchord") {
    sip = std::make_unique<SipPeer>(rtp, o.ip);
    if (!sip->Open(o.sip_port, static_cast<uint16_t>(o.sip_port + 1), server)) return 1;
  }
  Loop loop(rtp, sip.get(), o.phases);
  if (!loop.Init()) return 1;
  ProcSnapshot idle = SnapshotProcess(o.pid);
  uint64_t setup_start = NowUs();
  loop.StartPacing();  // anchord: RTP flows as calls come up (positions must not go silent)
  bool ok = sip ? SetupAnchord(o, *sip, loop) : SetupRtpengine(o, server, rtp);
  if (!ok) return 1;
  double setup_s = static_cast<double>(NowUs() - setup_start) / 1e6;
  loop.RunUntil(NowUs() + static_cast<uint64_t>(o.warmup_s * 1e6));

  auto window_packets = static_cast<uint32_t>(o.measure_s * 50 + 50);
  ProcSnapshot a = SnapshotProcess(o.pid);
  UdpErrors ua = SnapshotUdp();
  uint64_t self_a = SelfCpuNs(), t_a = NowUs();
  rtp.BeginWindow(window_packets);
  loop.RunUntil(t_a + static_cast<uint64_t>(o.measure_s * 1e6));
  rtp.EndWindow();
  uint64_t t_b = NowUs(), self_b = SelfCpuNs();
  ProcSnapshot b = SnapshotProcess(o.pid);
  UdpErrors ub = SnapshotUdp();
  loop.RunUntil(NowUs() + 500'000);  // late window packets still count as delivered
  if (!a.ok || !b.ok) {
    std::fprintf(stderr, "rtp_load: server process %d is gone\n", o.pid);
    return 1;
  }
  WindowResults r = rtp.Results();

  // The busiest thread in the window: the media worker (anchord) / the poller (rtpengine).
  pid_t busiest = 0;
  uint64_t busiest_ns = 0;
  for (const auto& [tid, ns] : b.thread_cpu_ns) {
    uint64_t d = ns - (a.thread_cpu_ns.count(tid) ? a.thread_cpu_ns.at(tid) : 0);
    if (d > busiest_ns) busiest_ns = d, busiest = tid;
  }
  double window_s = static_cast<double>(t_b - t_a) / 1e6;
  double server_ns = static_cast<double>(b.process_cpu_ns - a.process_cpu_ns);
  double packets = static_cast<double>(r.sent + r.received);  // at the server: in + out
  std::printf(
      "{\"target\":\"%s\",\"calls\":%u,\"setup_s\":%.2f,\"window_s\":%.3f,"
      "\"window_mono_ms\":[%" PRIu64 ",%" PRIu64
      "],"
      "\"server_cpu_pct\":%.2f,\"worker_cpu_pct\":%.2f,\"worker_thread\":\"%s\","
      "\"server_us_per_pkt\":%.3f,\"worker_us_per_pkt\":%.3f,\"pkts_per_s\":%.0f,"
      "\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64
      ",\"received\":%" PRIu64 ",\"fill\":%" PRIu64 ",\"silent_streams\":%" PRIu64
      ",\"gen_send_errors\":%" PRIu64 ",\"gen_overruns\":%" PRIu64 ",\"udp_rcvbuf_errors\":%" PRIu64
      ",\"udp_in_errors\":%" PRIu64
      ",\"latency_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
      "\"rss_idle_kb\":%" PRIu64 ",\"rss_kb\":%" PRIu64
      ",\"rss_per_call_kb\":%.2f,"
      "\"gen_cpu_pct\":%.2f}\n",
      o.target.c_str(), o.calls, setup_s, window_s, t_a / 1000, t_b / 1000,
      server_ns / window_s / 1e7, static_cast<double>(busiest_ns) / window_s / 1e7,
      b.thread_names[busiest].c_str(), server_ns / 1e3 / packets,
      static_cast<double>(busiest_ns) / 1e3 / packets, packets / window_s, r.sent, r.delivered,
      r.lost, r.duplicates, r.received, r.fill, r.silent_streams, r.send_errors, loop.overruns(),
      ub.rcvbuf_errors - ua.rcvbuf_errors, ub.in_errors - ua.in_errors, r.latency_p50_ms,
      r.latency_p99_ms, r.latency_max_ms, idle.rss_kb, b.rss_kb,
      (static_cast<double>(b.rss_kb) - static_cast<double>(idle.rss_kb)) / o.calls,
      static_cast<double>(self_b - self_a) / window_s / 1e7);
  return 0;
}

}  // namespace
}  // namespace anchord::bench

int main(int argc, char** argv) {
  anchord::bench::Options o;
  if (!anchord::bench::ParseOptions(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: rtp_load --target anchord|rtpengine --server IP:PORT --pid PID --calls N\n"
                 "  [--ip 127.0.0.1] [--rtp-port 16000] [--sockets 4] [--sip-port 15990]\n"
                 "  [--positions N] [--cps 400] [--phases 4] [--warmup-s 5] [--measure-s 20]"
                 " [--setup-timeout-s 60]\n");
    return 2;
  }
  return anchord::bench::Run(o);
}
