#include "bench/rtp_load/rtp_streams.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "bench/rtp_load/net.h"

namespace anchord::bench {
namespace {

constexpr uint8_t kMagic[4] = {0x41, 0x4E, 0x43, 0x48};  // "ANCH": mu-law bytes, none 0x7F
constexpr int kTagBytes = 4 + 24;                        // magic + 3 × 8 nibbles
constexpr uint32_t kBinUs = 100;
constexpr uint32_t kBins = 10'000;  // 1 s of latency at 100 µs

void PutNibbles(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(0x20 | ((v >> (28 - 4 * i)) & 0xF));
}

bool GetNibbles(const uint8_t* p, uint32_t* v) {
  uint32_t r = 0;
  for (int i = 0; i < 8; ++i) {
    if ((p[i] & 0xF0) != 0x20) return false;
    r = (r << 4) | (p[i] & 0xF);
  }
  *v = r;
  return true;
}

double Percentile(const std::vector<uint32_t>& hist, double q) {
  uint64_t total = 0;
  for (uint32_t c : hist) total += c;
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1, acc = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    acc += hist[i];
    if (acc >= want) return (static_cast<double>(i) + 1) * kBinUs / 1000.0;  // bin upper edge
  }
  return static_cast<double>(hist.size()) * kBinUs / 1000.0;
}

}  // namespace

RtpStreams::~RtpStreams() {
  for (int fd : fds_) close(fd);
}

bool RtpStreams::Open(const std::string& ip, uint16_t base_port, int k, int buf_bytes) {
  k_ = k;
  for (int i = 0; i < 2 * k; ++i) {
    int fd = BindUdp(ip, static_cast<uint16_t>(base_port + i), buf_bytes);
    if (fd < 0) return false;
    fds_.push_back(fd);
  }
  out_msgs_.resize(fds_.size());
  out_iovs_.resize(fds_.size());
  out_len_.assign(fds_.size(), 0);
  for (size_t i = 0; i < rx_msg_.size(); ++i) {
    rx_iov_[i] = {rx_buf_[i].data(), rx_buf_[i].size()};
    rx_msg_[i] = {};
    rx_msg_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msg_[i].msg_hdr.msg_iovlen = 1;
  }
  latency_hist_.assign(kBins, 0);
  return true;
}

uint32_t RtpStreams::Reserve(int side) {
  uint32_t id = static_cast<uint32_t>(streams_.size());
  Stream& s = streams_.emplace_back();
  s.fd_index = side * k_ + static_cast<int>(side_count_[side]++ % static_cast<uint32_t>(k_));
  s.seq = static_cast<uint16_t>(id * 7919u);
  s.ts = id * 104729u;
  uint8_t* p = s.packet.data();
  p[0] = 0x80;  // V=2
  p[1] = 0;     // PT 0 (PCMU)
  uint32_t ssrc = htonl(0x5000'0000u + id);
  std::memcpy(p + 8, &ssrc, 4);
  std::memset(p + 12, 0xFF, kPayloadBytes);  // mu-law silence after the tag
  std::memcpy(p + 12, kMagic, 4);
  PutNibbles(p + 16, id);
  return id;
}

uint16_t RtpStreams::PortOf(uint32_t id) const { return LocalPort(fds_[streams_[id].fd_index]); }

void RtpStreams::SetDestination(uint32_t id, const sockaddr_in& dst) {
  Stream& s = streams_[id];
  if (!s.active) ++active_;
  s.dst = dst;
  s.active = true;
  // Grow the per-socket scratch here, never on the send path.
  auto& msgs = out_msgs_[s.fd_index];
  msgs.resize(msgs.size() + 1);
  out_iovs_[s.fd_index].resize(msgs.size());
}

void RtpStreams::Stop(uint32_t id) {
  if (streams_[id].active) --active_;
  streams_[id].active = false;
}

void RtpStreams::Fill(uint32_t, Stream& s, uint64_t now_us) {
  uint8_t* p = s.packet.data();
  uint16_t seq = htons(s.seq);
  uint32_t ts = htonl(s.ts);
  std::memcpy(p + 2, &seq, 2);
  std::memcpy(p + 4, &ts, 4);
  PutNibbles(p + 24, s.counter);
  PutNibbles(p + 32, static_cast<uint32_t>(now_us));
  ++s.seq;
  s.ts += 160;
  ++s.counter;
}

void RtpStreams::SendPhase(int phase, int phases) {
  uint64_t now = NowUs();
  for (uint32_t id = static_cast<uint32_t>(phase); id < streams_.size();
       id += static_cast<uint32_t>(phases)) {
    Stream& s = streams_[id];
    if (!s.active) continue;
    Fill(id, s, now);
    size_t n = out_len_[s.fd_index]++;
    iovec& iov = out_iovs_[s.fd_index][n];
    iov = {s.packet.data(), s.packet.size()};
    mmsghdr& m = out_msgs_[s.fd_index][n];
    m = {};
    m.msg_hdr.msg_name = &s.dst;
    m.msg_hdr.msg_namelen = sizeof(s.dst);
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  for (size_t f = 0; f < fds_.size(); ++f) Flush(static_cast<int>(f));
}

void RtpStreams::Flush(int fd_index) {
  size_t n = out_len_[fd_index], done = 0;
  mmsghdr* msgs = out_msgs_[fd_index].data();
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1024));
    int r = sendmmsg(fds_[fd_index], msgs + done, chunk, 0);
    if (r <= 0) {  // buffer full or error: count what is left as not sent
      send_errors_ += n - done;
      break;
    }
    done += static_cast<size_t>(r);
  }
  out_len_[fd_index] = 0;
}

void RtpStreams::Drain(int fd) {
  for (;;) {
    int n = recvmmsg(fd, rx_msg_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    uint64_t now = NowUs();
    for (int i = 0; i < n; ++i) OnPacket(rx_buf_[i].data(), rx_msg_[i].msg_len, now);
    if (n < kBatch) return;
  }
}

void RtpStreams::OnPacket(const uint8_t* data, size_t len, uint64_t now_us) {
  bool in_window = now_us >= win_start_us_ && (window_ == Window::kOpen || now_us < win_end_us_);
  if (window_ == Window::kBefore) return;
  if (in_window) ++received_;
  uint32_t id, counter, sent_us;
  // The tag follows the header and its CSRC list (anchord names the mixed party there).
  const size_t header = len > 0 ? 12 + 4u * (data[0] & 0x0F) : 12;
  const uint8_t* tag = data + header;
  if (len < header + kTagBytes || std::memcmp(tag, kMagic, 4) != 0 || !GetNibbles(tag + 4, &id) ||
      !GetNibbles(tag + 12, &counter) || !GetNibbles(tag + 20, &sent_us) || id >= streams_.size()) {
    if (in_window) ++fill_;
    return;
  }
  const Stream& s = streams_[id];
  uint32_t offset = counter - s.win_first;
  if (counter < s.win_first || offset >= win_cap_) return;  // not a window packet
  if (window_ == Window::kClosed && counter >= s.win_end) return;
  uint64_t& word = seen_[static_cast<size_t>(id) * words_per_stream_ + offset / 64];
  uint64_t bit = uint64_t{1} << (offset % 64);
  if (word & bit) {
    ++duplicates_;
    return;
  }
  word |= bit;
  uint32_t latency = static_cast<uint32_t>(now_us) - sent_us;
  ++latency_hist_[std::min(latency / kBinUs, kBins - 1)];
}

void RtpStreams::BeginWindow(uint32_t max_packets_per_stream) {
  win_cap_ = max_packets_per_stream;
  words_per_stream_ = (win_cap_ + 63) / 64;
  seen_.assign(streams_.size() * words_per_stream_, 0);
  for (Stream& s : streams_) s.win_first = s.win_end = s.counter;
  win_start_us_ = NowUs();
  window_ = Window::kOpen;
}

void RtpStreams::EndWindow() {
  for (Stream& s : streams_) s.win_end = std::min(s.counter, s.win_first + win_cap_);
  win_end_us_ = NowUs();
  window_ = Window::kClosed;
}

WindowResults RtpStreams::Results() const {
  WindowResults r;
  for (size_t id = 0; id < streams_.size(); ++id) {
    const Stream& s = streams_[id];
    uint32_t sent = s.win_end - s.win_first;
    uint64_t got = 0;
    for (uint32_t w = 0; w < words_per_stream_; ++w)
      got += static_cast<uint64_t>(std::popcount(seen_[id * words_per_stream_ + w]));
    r.sent += sent;
    r.delivered += got;
    if (sent > 0 && got == 0) ++r.silent_streams;
  }
  r.lost = r.sent - r.delivered;
  r.duplicates = duplicates_;
  r.received = received_;
  r.fill = fill_;
  r.send_errors = send_errors_;
  r.latency_p50_ms = Percentile(latency_hist_, 0.50);
  r.latency_p99_ms = Percentile(latency_hist_, 0.99);
  for (size_t i = latency_hist_.size(); i-- > 0;) {
    if (latency_hist_[i]) {
      r.latency_max_ms = (static_cast<double>(i) + 1) * kBinUs / 1000.0;
      break;
    }
  }
  return r;
}

}  // namespace anchord::bench
