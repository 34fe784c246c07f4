#include "media/internal/rtp_leg.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <ortp/ortp.h>

namespace anchord::media::internal {
namespace {

constexpr int kRtcpIntervalMs = 5000;
constexpr size_t kRtpHeaderSize = 12;
constexpr size_t kMaxIov = 8;
// oRTP's receive blocks (only RTCP could still use them): one MTU, not its 64 KiB default.
constexpr int kRecvBufSize = 1500;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
bool SameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

PayloadType* OrtpPayload(Codec codec) {
  switch (codec) {
    case Codec::kPcmu:
      return &payload_type_pcmu8000;
    case Codec::kPcma:
      return &payload_type_pcma8000;
    case Codec::kG722:
      return &payload_type_g722;
    case Codec::kOpus:
      return &payload_type_opus;
  }
  return &payload_type_pcmu8000;
}

}  // namespace

// Only reached if oRTP itself reads (it does not: Receive() reads the socket); kept so that a
// stray oRTP read sees nothing rather than our audio.
int RtpLeg::EndpointRecv(RtpTransport*, mblk_t*, int, sockaddr*, socklen_t*) {
  errno = EAGAIN;
  return -1;
}

int RtpLeg::EndpointSend(RtpTransport* t, mblk_t* msg, int, const sockaddr*, socklen_t) {
  auto* self = static_cast<RtpLeg*>(t->data);
  if (!self->has_remote_) return 0;
  // oRTP's own destination is never set (it would bind random sockets to resolve it), so
  // `to` is ignored: RTP goes to the current address, RTCP to its port + 1.
  return self->SendTo(self->rtp_fd_, msg, self->current_);
}

int RtpLeg::RtcpSend(RtpTransport* t, mblk_t* msg, int, const sockaddr*, socklen_t) {
  auto* self = static_cast<RtpLeg*>(t->data);
  if (!self->has_remote_) return 0;
  sockaddr_in to = self->current_;
  to.sin_port = htons(static_cast<uint16_t>(ntohs(to.sin_port) + 1));
  return self->SendTo(self->rtcp_fd_, msg, to);
}

int RtpLeg::RtcpRecv(RtpTransport*, mblk_t*, int, sockaddr*, socklen_t*) {
  errno = EAGAIN;
  return -1;
}

int RtpLeg::SendTo(int fd, mblk_t* msg, const sockaddr_in& to) {
  iovec iov[kMaxIov];
  size_t count = 0;
  for (mblk_t* m = msg; m != nullptr && count < kMaxIov; m = m->b_cont) {
    iov[count].iov_base = m->b_rptr;
    iov[count].iov_len = static_cast<size_t>(m->b_wptr - m->b_rptr);
    ++count;
  }
  msghdr hdr{};
  hdr.msg_name = const_cast<sockaddr_in*>(&to);
  hdr.msg_namelen = sizeof to;
  hdr.msg_iov = iov;
  hdr.msg_iovlen = count;
  return static_cast<int>(sendmsg(fd, &hdr, MSG_DONTWAIT));
}

namespace {

RtpTransport* NewEndpoint(RtpLeg* leg,
                          int (*send)(RtpTransport*, mblk_t*, int, const sockaddr*, socklen_t),
                          int (*recv)(RtpTransport*, mblk_t*, int, sockaddr*, socklen_t*),
                          int (*socket)(RtpTransport*)) {
  auto* endpoint = new RtpTransport{};
  endpoint->data = leg;
  endpoint->t_getsocket = socket;
  endpoint->t_sendto = send;
  endpoint->t_recvfrom = recv;
  endpoint->t_close = [](RtpTransport*) {};  // the leg closes its sockets
  endpoint->t_destroy = [](RtpTransport* t) { delete t; };
  return endpoint;
}

}  // namespace

RtpLeg::RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters, JitterOptions jitter)
    : rtp_fd_(rtp_fd), rtcp_fd_(rtcp_fd), counters_(counters), jitter_(jitter) {
  session_ = rtp_session_new(RTP_SESSION_SENDRECV);
  rtp_session_set_scheduling_mode(session_, 0);
  rtp_session_set_blocking_mode(session_, 0);
  rtp_session_set_recv_buf_size(session_, kRecvBufSize);
  // Our own profile: PT numbers are negotiated per call, and av_profile is a shared global.
  profile_ = rtp_profile_new("anchord");
  rtp_session_set_profile(session_, profile_);
  // Sockets reach oRTP only through endpoint transports, not rtp_session_set_sockets(): that
  // marks them connected, and oRTP then bypasses the transports and sends without an address.
  rtp_session_set_symmetric_rtp(session_, FALSE);
  rtp_session_enable_rtcp(session_, TRUE);
  rtp_session_set_rtcp_report_interval(session_, kRtcpIntervalMs);

  RtpTransport* rtp_meta = nullptr;
  RtpTransport* rtcp_meta = nullptr;
  rtp_session_get_transports(session_, &rtp_meta, &rtcp_meta);
  meta_rtp_transport_set_endpoint(
      rtp_meta,
      NewEndpoint(this, &RtpLeg::EndpointSend, &RtpLeg::EndpointRecv,
                  [](RtpTransport* t) { return static_cast<RtpLeg*>(t->data)->rtp_fd_; }));
  meta_rtp_transport_set_endpoint(
      rtcp_meta, NewEndpoint(this, &RtpLeg::RtcpSend, &RtpLeg::RtcpRecv, [](RtpTransport* t) {
        return static_cast<RtpLeg*>(t->data)->rtcp_fd_;
      }));
}

RtpLeg::~RtpLeg() {
  rtp_session_destroy(session_);
  rtp_profile_destroy(profile_);
  close(rtp_fd_);
  close(rtcp_fd_);
}

uint32_t RtpLeg::ssrc() const { return rtp_session_get_send_ssrc(session_); }

bool RtpLeg::SetRemote(const RemoteMedia& remote) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(remote.rtp_port);
  // Numeric only: oRTP resolves names with a blocking getaddrinfo.
  if (inet_pton(AF_INET, remote.address.c_str(), &addr.sin_addr) != 1) return false;
  if (remote.payload_type > 127 || remote.telephone_event_pt > 127) return false;
  if (payload_type_ >= 0 && payload_type_ != remote.payload_type) {
    rtp_profile_clear_payload(profile_, payload_type_);
  }
  rtp_profile_set_payload(profile_, remote.payload_type, OrtpPayload(remote.codec));
  if (remote.telephone_event_pt != 0) {
    rtp_profile_set_payload(profile_, remote.telephone_event_pt, &payload_type_telephone_event);
  }
  rtp_session_set_payload_type(session_, remote.payload_type);
  if (!has_remote_ || !SameAddress(addr, remote_)) {
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
  ts_step_ = remote.codec == Codec::kOpus ? 960 : 160;
  jitter_.set_clock_hz(ts_step_ * 50);
  has_remote_ = true;
  return true;
}

bool RtpLeg::FromCurrent(const sockaddr_in& from) const {
  return has_remote_ && SameAddress(from, current_);
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
  if (!FromCurrent(from)) {
    Bump(counters_.rtp_foreign_source);
    if (!ConsiderLatch(from, ssrc, seq, now_us)) return false;
  }
  last_current_us_ = now_us;
  if (have_ssrc_ && ssrc != ssrc_in_) jitter_.Reset();  // same source, new stream: at once
  have_ssrc_ = true;
  ssrc_in_ = ssrc;
  Bump(counters_.rtp_received);
  if (audio) {
    jitter_.Put(seq, ts, {data + header, end - header}, now_us);
  } else {
    events_in_.OnPacket(ts, data + header, end - header);
  }
  return true;
}

bool RtpLeg::Receive(uint64_t now_us) {
  uint8_t buf[kMaxDatagram];
  bool arrived = false;
  for (int i = 0; i < kMaxReadsPerTick; ++i) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(rtp_fd_, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC,
                         reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) break;  // EAGAIN: drained
    if (static_cast<size_t>(n) > sizeof buf || from.sin_family != AF_INET) {
      Bump(counters_.rtp_garbage);
      continue;
    }
    arrived |= OnDatagram(buf, static_cast<size_t>(n), from, now_us);
  }
  return arrived;
}

int RtpLeg::ReceiveRtcp() {
  uint8_t buf[kMaxDatagram];
  int worst = -1;
  for (int i = 0; i < kMaxReadsPerTick; ++i) {
    ssize_t n = recv(rtcp_fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) break;
    // Walk the compound packet: SR (200) and RR (201) carry report blocks whose second word
    // starts with the fraction lost (RFC 3550 6.4.1), in 1/256.
    size_t at = 0;
    while (at + 8 <= static_cast<size_t>(n)) {
      const uint8_t count = buf[at] & 0x1F;
      const uint8_t type = buf[at + 1];
      const size_t length = 4u * (Be16(buf + at + 2) + 1u);
      if ((buf[at] >> 6) != 2 || at + length > static_cast<size_t>(n)) break;
      size_t block = at + 8 + (type == 200 ? 20 : 0);
      if (type == 200 || type == 201) {
        for (uint8_t b = 0; b < count && block + 24 <= at + length; ++b, block += 24) {
          worst = std::max(worst, buf[block + 4] * 100 / 256);
        }
      }
      at += length;
    }
  }
  return worst;
}

void RtpLeg::SendMessage(mblk_t* m, uint32_t ts) {
  int sent = rtp_session_sendm_with_ts(session_, m, ts);
  if (sent > 0) {
    Bump(counters_.rtp_sent);
  } else {
    Bump(counters_.send_errors);
  }
}

void RtpLeg::Send(const uint8_t* payload, size_t n, uint32_t ts) {
  if (!has_remote_) return;
  SendMessage(rtp_session_create_packet(session_, kRtpHeaderSize, payload, n), ts);
}

void RtpLeg::SendEvent(const uint8_t* payload, uint32_t ts, bool marker) {
  if (!has_remote_ || te_pt_ == 0) return;
  mblk_t* m = rtp_session_create_packet(session_, kRtpHeaderSize, payload, kTelephoneEventBytes);
  rtp_set_payload_type(m, te_pt_);
  rtp_set_markbit(m, marker ? 1 : 0);
  SendMessage(m, ts);
}

}  // namespace anchord::media::internal
