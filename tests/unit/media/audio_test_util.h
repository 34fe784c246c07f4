// Test helpers for hearing audio: Goertzel tone levels, G.711 tone frames, a UDP peer that
// stands in for a phone's RTP endpoint, and a thread running an EventLoop.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <spandsp.h>

#include "core/event_loop.h"

namespace anchord::media::testing {

inline constexpr double kRate = 8000.0;
inline constexpr size_t kFrame = 160;

// Amplitude of the `freq` component of `x` (a full-scale sine of amplitude A gives about A).
inline double ToneLevel(const std::vector<int16_t>& x, double freq) {
  const double w = 2.0 * M_PI * freq / kRate;
  const double coeff = 2.0 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (int16_t v : x) {
    double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2.0 * std::sqrt(std::max(power, 0.0)) / static_cast<double>(x.size());
}

// Frame `index` of a continuous mu-law sine with a little deterministic dither, so that every
// frame is a distinct byte string (bit-exact checks can tell them apart; a pure 1 kHz tone
// repeats every frame).
inline std::vector<uint8_t> UlawToneFrame(double freq, uint32_t index) {
  std::vector<uint8_t> out(kFrame);
  uint32_t noise = index * 2654435761u + 1;
  for (size_t i = 0; i < kFrame; ++i) {
    double t = static_cast<double>(index * kFrame + i) / kRate;
    noise = noise * 1664525u + 1013904223u;
    double dither = static_cast<double>(noise >> 24) - 128.0;  // +-128
    out[i] = linear_to_ulaw(static_cast<int16_t>(6000.0 * std::sin(2 * M_PI * freq * t) + dither));
  }
  return out;
}

inline std::vector<int16_t> DecodeUlaw(const std::vector<uint8_t>& bytes) {
  std::vector<int16_t> pcm(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) pcm[i] = ulaw_to_linear(bytes[i]);
  return pcm;
}

struct RtpPacket {
  uint32_t ssrc;
  uint16_t seq;
  uint32_t ts;
  uint8_t pt;
  std::vector<uint8_t> payload;
};

// A plain UDP socket on 127.0.0.1 playing a phone's RTP endpoint.
class UdpPeer {
 public:
  explicit UdpPeer(uint32_t ssrc = 0x1234) : ssrc_(ssrc) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~UdpPeer() { close(fd_); }
  uint16_t port() const { return port_; }

  void SendRaw(uint16_t to_port, const void* data, size_t len) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(to_port);
    sendto(fd_, data, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }

  void SendRtp(uint16_t to_port, const std::vector<uint8_t>& payload, uint8_t pt = 0) {
    std::vector<uint8_t> packet(12 + payload.size());
    packet[0] = 0x80;
    packet[1] = pt;
    packet[2] = static_cast<uint8_t>(seq_ >> 8);
    packet[3] = static_cast<uint8_t>(seq_);
    for (int i = 0; i < 4; ++i) {
      packet[4 + i] = static_cast<uint8_t>(ts_ >> (24 - 8 * i));
      packet[8 + i] = static_cast<uint8_t>(ssrc_ >> (24 - 8 * i));
    }
    std::memcpy(packet.data() + 12, payload.data(), payload.size());
    SendRaw(to_port, packet.data(), packet.size());
    ++seq_;
    ts_ += static_cast<uint32_t>(payload.size());
  }

  // Reads every datagram waiting; returns the RTP packets.
  std::vector<RtpPacket> Drain() {
    std::vector<RtpPacket> out;
    uint8_t buf[2048];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 12) break;
      RtpPacket p;
      p.pt = buf[1] & 0x7F;
      p.seq = static_cast<uint16_t>(buf[2] << 8 | buf[3]);
      p.ts = uint32_t{buf[4]} << 24 | uint32_t{buf[5]} << 16 | uint32_t{buf[6]} << 8 | buf[7];
      p.ssrc = uint32_t{buf[8]} << 24 | uint32_t{buf[9]} << 16 | uint32_t{buf[10]} << 8 | buf[11];
      const ssize_t header = 12 + 4 * (buf[0] & 0x0F);  // fixed header + CSRC list
      if (n < header) continue;
      p.payload.assign(buf + header, buf + n);
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint32_t ssrc_;
  uint16_t seq_ = 1000;
  uint32_t ts_ = 5000;
};

// An EventLoop on its own thread (the "signaling thread" of a test).
class LoopThread {
 public:
  LoopThread() : loop_(std::move(*core::EventLoop::Create())) {
    thread_ = std::thread([this] { loop_->Run(); });
  }
  ~LoopThread() {
    loop_->Exit(0);
    thread_.join();
  }
  core::EventLoop& loop() { return *loop_; }

  // Runs `fn` on the loop thread and waits for its result.
  template <class Fn>
  auto Call(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    loop_->Post([&task] { task(); });
    return result.get();
  }

 private:
  std::unique_ptr<core::EventLoop> loop_;
  std::thread thread_;
};

// Paces a test's peers on absolute 20 ms deadlines (like the media tick, so no drift).
class Pacer {
 public:
  Pacer() { clock_gettime(CLOCK_MONOTONIC, &next_); }
  void Wait() {
    next_.tv_nsec += 20'000'000;
    if (next_.tv_nsec >= 1'000'000'000) {
      next_.tv_nsec -= 1'000'000'000;
      ++next_.tv_sec;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_, nullptr);
  }

 private:
  timespec next_{};
};

}  // namespace anchord::media::testing
