#include "media/internal/rtp_leg.h"

#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "media/internal/byte_order.h"
#include "media/internal/uring_ring.h"

namespace anchord::media::internal {
namespace {

bool SameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

}  // namespace

RtpLeg::RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters, JitterOptions jitter,
               UringRing* ring)
    : rtp_fd_(rtp_fd), rtcp_fd_(rtcp_fd), counters_(counters), ring_(ring), jitter_(jitter) {
  uint32_t random[3] = {};
  if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    // Only without a kernel RNG: distinct per leg still (address and time).
    random[0] = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(this)) ^
                static_cast<uint32_t>(time(nullptr));
    random[1] = random[0] * 2654435761u;
    random[2] = random[1] | 1;
  }
  ssrc_ = random[0];
  seq_ = static_cast<uint16_t>(random[1]);
  rand_state_ = random[2] | 1;
  const int on = 1;
  setsockopt(rtcp_fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  (void)ProcessCname();  // built here, on the control path, not at the first report
  send_iov_ = {packet_, 0};
  send_msg_.msg_name = &send_to_;
  send_msg_.msg_namelen = sizeof send_to_;
  send_msg_.msg_iov = &send_iov_;
  send_msg_.msg_iovlen = 1;
  if (ring_ != nullptr) (void)ring_->ArmRecv(*this, rtp_fd_);
}

RtpLeg::~RtpLeg() {
  // The kernel may still hold our buffer or have a receive armed for us: not before it is done.
  if (ring_ != nullptr) ring_->Detach(*this);
  close(rtp_fd_);
  close(rtcp_fd_);
}

bool RtpLeg::SetRemote(const RemoteMedia& remote) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(remote.rtp_port);
  // Numeric only: resolving would block the worker.
  if (inet_pton(AF_INET, remote.address.c_str(), &addr.sin_addr) != 1) return false;
  if (remote.payload_type > 127 || remote.telephone_event_pt > 127) return false;
  if (!has_remote_ || !SameAddress(addr, remote_)) {
    // R3264-8: until the new address is heard, the old source still plays.
    previous_ok_ = has_remote_ && !SameAddress(addr, current_);
    previous_ = current_;
    current_ = addr;
    latched_ = false;
    candidate_ = {};
    last_current_us_ = 0;
  }
  if (codec_ != remote.codec) jitter_.Reset();
  remote_ = addr;
  codec_ = remote.codec;
  payload_type_ = remote.payload_type;
  te_pt_ = remote.telephone_event_pt;
  sending_ = remote.send;
  ts_step_ = remote.codec == Codec::kOpus ? 960 : 160;
  jitter_.set_clock_hz(ts_step_ * 50);
  has_remote_ = true;
  return true;
}

bool RtpLeg::Accepted(const sockaddr_in& from) {
  if (!has_remote_) return false;
  if (SameAddress(from, current_)) {
    previous_ok_ = false;  // the new address is heard: the old one is done
    return true;
  }
  return previous_ok_ && SameAddress(from, previous_);
}

bool RtpLeg::ConsiderLatch(const sockaddr_in& from, uint32_t ssrc, uint16_t seq, uint64_t now_us) {
  Candidate& c = candidate_;
  if (c.count > 0 && SameAddress(c.from, from) && c.ssrc == ssrc &&
      static_cast<uint16_t>(c.seq + 1) == seq) {
    ++c.count;
  } else {
    c = {from, ssrc, seq, 1};
  }
  c.seq = seq;
  // Never heard from the current source: it has been quiet since forever.
  const uint64_t quiet = now_us > last_current_us_ ? now_us - last_current_us_ : 0;
  const bool ssrc_ok = !have_ssrc_ || ssrc == ssrc_in_ || quiet >= kLatchAnySsrcUs;
  if (c.count < kLatchPackets || quiet < kLatchQuietUs || !ssrc_ok) return false;
  current_ = from;
  previous_ok_ = false;
  latched_ = true;
  c = {};
  Bump(counters_.latches);
  return true;
}

bool RtpLeg::OnDatagram(const uint8_t* data, size_t len, const sockaddr_in& from, uint64_t now_us) {
  if (len < kRtpHeaderSize || (data[0] >> 6) != 2 || payload_type_ < 0) {
    Bump(counters_.rtp_garbage);
    return false;
  }
  const int pt = data[1] & 0x7F;
  const bool audio = pt == payload_type_;
  if (!audio && (te_pt_ == 0 || pt != te_pt_)) {
    Bump(counters_.rtp_garbage);
    return false;
  }
  size_t header = kRtpHeaderSize + 4u * (data[0] & 0x0F);
  if ((data[0] & 0x10) != 0 && len >= header + 4) header += 4 + 4u * Be16(data + header + 2);
  size_t end = len;
  if ((data[0] & 0x20) != 0 && len > header) end -= std::min<size_t>(data[len - 1], len - header);
  if (header > end) {
    Bump(counters_.rtp_garbage);
    return false;
  }
  const uint16_t seq = Be16(data + 2);
  const uint32_t ts = Be32(data + 4);
  const uint32_t ssrc = Be32(data + 8);
  if (!Accepted(from)) {
    Bump(counters_.rtp_foreign_source);
    if (!ConsiderLatch(from, ssrc, seq, now_us)) return false;
  }
  last_current_us_ = now_us;
  if (have_ssrc_ && ssrc != ssrc_in_) {
    // Same source, new stream: at once; its statistics and our LSR start over too.
    jitter_.Reset();
    reception_.Reset();
    peer_lsr_ = 0;
  }
  have_ssrc_ = true;
  ssrc_in_ = ssrc;
  Bump(counters_.rtp_received);
  reception_.OnPacket(seq);
  if (audio) {
    jitter_.Put(seq, ts, {data + header, end - header}, now_us);
  } else {
    events_in_.OnPacket(ts, data + header, end - header);
  }
  return true;
}

bool RtpLeg::Receive(uint64_t now_us) {
  now_us_ = now_us;
  bool arrived = ring_arrived_;  // what the ring handed over at the tick's start
  ring_arrived_ = false;
  ring_reads_ = 0;
  if (!ring_recv_) {
    ReceiveSyscalls(now_us);
    arrived |= ring_arrived_;
    ring_arrived_ = false;
    ring_reads_ = 0;
    // Re-armed after draining: a receive that ended (no buffer was free) or was never armed.
    if (ring_ != nullptr) (void)ring_->ArmRecv(*this, rtp_fd_);
  }
  MaybeSendReport(now_us);
  return arrived;
}

void RtpLeg::OnRingDatagram(const uint8_t* data, size_t len, const sockaddr_in& from,
                            uint64_t now_us) {
  if (data == nullptr) {  // truncated, or not IPv4
    Bump(counters_.rtp_garbage);
    return;
  }
  // kMaxReadsPerTick as without the ring; the kernel already took the surplus off the socket,
  // so it cannot wait there for the next tick: counted and dropped.
  if (ring_reads_ >= kMaxReadsPerTick) {
    Bump(counters_.rtp_flood_dropped);
    return;
  }
  ++ring_reads_;
  ring_arrived_ |= OnDatagram(data, len, from, now_us);
}

void RtpLeg::ReceiveSyscalls(uint64_t now_us) {
  uint8_t bufs[kRecvBatch][kMaxDatagram];
  sockaddr_in from[kRecvBatch];
  iovec iov[kRecvBatch];
  mmsghdr msgs[kRecvBatch];
  for (int read = 0; read < kMaxReadsPerTick;) {
    for (unsigned i = 0; i < kRecvBatch; ++i) {
      iov[i] = {bufs[i], kMaxDatagram};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(rtp_fd_, msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;  // EAGAIN: drained
    for (int i = 0; i < n; ++i) {
      const msghdr& h = msgs[i].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0 || from[i].sin_family != AF_INET) {
        Bump(counters_.rtp_garbage);
        continue;
      }
      ring_arrived_ |= OnDatagram(bufs[i], msgs[i].msg_len, from[i], now_us);
    }
    read += n;
    if (static_cast<unsigned>(n) < kRecvBatch) break;  // a short batch: nothing more queued
  }
}

void RtpLeg::SetContributors(const uint32_t* ssrcs, size_t n) {
  n_csrc_ = std::min(n, kMaxCsrc);
  std::copy(ssrcs, ssrcs + n_csrc_, csrc_);
}

void RtpLeg::SendPacket(uint8_t pt, bool marker, const uint8_t* payload, size_t n, uint32_t ts) {
  if (!has_remote_) return;
  // packet_ is still the kernel's until the last send completed (two packets in one tick).
  if (send_queued_) ring_->WaitSend(*this);
  const size_t header = kRtpHeaderSize + 4 * n_csrc_;
  n = std::min(n, kMaxPayload);
  packet_[0] = static_cast<uint8_t>(0x80 | n_csrc_);
  packet_[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | pt);
  Put16(packet_ + 2, seq_);
  Put32(packet_ + 4, ts);
  Put32(packet_ + 8, ssrc_);
  for (size_t i = 0; i < n_csrc_; ++i) Put32(packet_ + kRtpHeaderSize + 4 * i, csrc_[i]);
  std::memcpy(packet_ + header, payload, n);
  // The sequence advances whether or not the kernel took the packet: a gap is what it was.
  ++seq_;
  if (ring_ != nullptr && !send_queued_) {
    send_to_ = current_;
    send_iov_.iov_len = header + n;
    if (ring_->QueueSend(*this, rtp_fd_, send_msg_)) {
      send_queued_ = true;
      queued_payload_ = n;
      queued_ts_ = ts;
      queued_us_ = now_us_;
      return;
    }
  }
  const ssize_t sent = sendto(rtp_fd_, packet_, header + n, MSG_DONTWAIT,
                              reinterpret_cast<const sockaddr*>(&current_), sizeof current_);
  if (sent < 0) {
    Bump(counters_.send_errors);
    return;
  }
  CountSent(n, ts, now_us_);
}

void RtpLeg::OnSendComplete(int res) {
  send_queued_ = false;
  if (res < 0) {
    Bump(counters_.send_errors);
    return;
  }
  CountSent(queued_payload_, queued_ts_, queued_us_);
}

void RtpLeg::CountSent(size_t payload, uint32_t ts, uint64_t at_us) {
  Bump(counters_.rtp_sent);
  ++packets_sent_;
  octets_sent_ += static_cast<uint32_t>(payload);
  sent_since_report_ = true;
  last_sent_ts_ = ts;
  last_sent_us_ = at_us;
}

void RtpLeg::Send(const uint8_t* payload, size_t n, uint32_t ts) {
  if (payload_type_ < 0) return;
  SendPacket(static_cast<uint8_t>(payload_type_), false, payload, n, ts);
}

void RtpLeg::SendEvent(const uint8_t* payload, uint32_t ts, bool marker) {
  if (te_pt_ == 0) return;
  SendPacket(te_pt_, marker, payload, kTelephoneEventBytes, ts);
}

}  // namespace anchord::media::internal
