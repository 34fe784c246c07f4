#include "media/internal/rtp_leg.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <ortp/ortp.h>

#include "media/internal/g711.h"

namespace anchord::media::internal {
namespace {

// Small on purpose: the tick pulls every 20 ms from a LAN/ESInet peer; adaptive lets oRTP grow
// it on a jittery path. (DESIGN: RTP latency on a 9-1-1 call is audible to the call-taker.)
constexpr int kJitterMs = 40;
// oRTP drops packets from a new SSRC until this many arrive in a row (default 50 = 1 s of a
// caller's audio lost when an SBC or phone restarts its stream). 3 keeps a single stray
// packet from switching the stream while losing only 60 ms on a genuine SSRC change.
constexpr int kSsrcChangedThreshold = 3;
constexpr int kRtcpIntervalMs = 5000;
constexpr size_t kRtpHeaderSize = 12;
constexpr size_t kMaxIov = 8;

}  // namespace

// The endpoint's `data` names the leg; the socket is read through the leg.
int RtpLeg::EndpointRecv(RtpTransport* t, mblk_t* msg, int, sockaddr* from, socklen_t* fromlen) {
  auto* self = static_cast<RtpLeg*>(t->data);
  const socklen_t capacity = fromlen ? *fromlen : 0;
  // Garbage is counted and skipped here rather than returned as 0: oRTP stops draining the
  // socket for this tick on a 0, so a flood of junk would starve the real stream.
  for (;;) {
    const size_t room = static_cast<size_t>(dblk_lim(msg->b_datap) - msg->b_wptr);
    socklen_t len = capacity;
    ssize_t n =
        recvfrom(self->rtp_fd_, msg->b_wptr, room, MSG_DONTWAIT, from, fromlen ? &len : nullptr);
    if (n < 0) return -1;  // errno (EAGAIN) tells oRTP the socket is drained
    if (!self->Acceptable(msg->b_wptr, static_cast<size_t>(n))) {
      Bump(self->counters_.rtp_garbage);
      continue;
    }
    if (fromlen) *fromlen = len;
    self->NoteSource(from, len);
    Bump(self->counters_.rtp_received);
    self->arrived_ = true;
    gettimeofday(&msg->timestamp, nullptr);
    return static_cast<int>(n);
  }
}

int RtpLeg::EndpointSend(RtpTransport* t, mblk_t* msg, int, const sockaddr*, socklen_t) {
  auto* self = static_cast<RtpLeg*>(t->data);
  if (!self->has_remote_) return 0;
  // oRTP's own destination is never set (it would bind random sockets to resolve it), so
  // `to` is ignored: RTP goes to the SDP address, RTCP to its port + 1.
  sockaddr_in to = self->remote_;
  return self->SendTo(self->rtp_fd_, msg, to);
}

int RtpLeg::RtcpSend(RtpTransport* t, mblk_t* msg, int, const sockaddr*, socklen_t) {
  auto* self = static_cast<RtpLeg*>(t->data);
  if (!self->has_remote_) return 0;
  sockaddr_in to = self->remote_;
  to.sin_port = htons(static_cast<uint16_t>(ntohs(to.sin_port) + 1));
  return self->SendTo(self->rtcp_fd_, msg, to);
}

int RtpLeg::RtcpRecv(RtpTransport* t, mblk_t* msg, int, sockaddr* from, socklen_t* fromlen) {
  auto* self = static_cast<RtpLeg*>(t->data);
  const size_t room = static_cast<size_t>(dblk_lim(msg->b_datap) - msg->b_wptr);
  return static_cast<int>(recvfrom(self->rtcp_fd_, msg->b_wptr, room, MSG_DONTWAIT, from, fromlen));
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

RtpLeg::RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters)
    : rtp_fd_(rtp_fd), rtcp_fd_(rtcp_fd), counters_(counters) {
  session_ = rtp_session_new(RTP_SESSION_SENDRECV);
  rtp_session_set_scheduling_mode(session_, 0);
  rtp_session_set_blocking_mode(session_, 0);
  // Our own profile: PT numbers are negotiated per call, and av_profile is a shared global.
  profile_ = rtp_profile_new("anchord");
  rtp_session_set_profile(session_, profile_);
  // Sockets reach oRTP only through endpoint transports, not rtp_session_set_sockets(): that
  // marks them connected, and on a connected socket oRTP bypasses the transports (our
  // receive filter) and sends without an address.
  // Send only to the SDP address; no latching onto whoever sends first (a stray packet must
  // never redirect a 9-1-1 caller's audio).
  rtp_session_set_symmetric_rtp(session_, FALSE);
  rtp_session_set_ssrc_changed_threshold(session_, kSsrcChangedThreshold);
  rtp_session_enable_jitter_buffer(session_, TRUE);
  rtp_session_set_jitter_compensation(session_, kJitterMs);
  rtp_session_enable_adaptive_jitter_compensation(session_, TRUE);
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
  if (remote.payload_type > 127) return false;
  if (payload_type_ >= 0 && payload_type_ != remote.payload_type) {
    rtp_profile_clear_payload(profile_, payload_type_);
  }
  rtp_profile_set_payload(
      profile_, remote.payload_type,
      remote.codec == Codec::kPcmu ? &payload_type_pcmu8000 : &payload_type_pcma8000);
  rtp_session_set_payload_type(session_, remote.payload_type);
  remote_ = addr;
  codec_ = remote.codec;
  payload_type_ = remote.payload_type;
  has_remote_ = true;
  return true;
}

bool RtpLeg::Acceptable(const uint8_t* data, size_t len) const {
  if (len < kRtpHeaderSize || (data[0] >> 6) != 2) return false;
  return payload_type_ >= 0 && (data[1] & 0x7F) == payload_type_;
}

void RtpLeg::NoteSource(const sockaddr* from, socklen_t len) {
  if (from == nullptr || len < sizeof(sockaddr_in) || from->sa_family != AF_INET) return;
  const auto* in = reinterpret_cast<const sockaddr_in*>(from);
  // Accepted (peers behind NAT or SBCs may send from another port), but counted.
  if (in->sin_addr.s_addr != remote_.sin_addr.s_addr || in->sin_port != remote_.sin_port) {
    Bump(counters_.rtp_foreign_source);
  }
}

bool RtpLeg::Pull(uint32_t user_ts, uint8_t* payload, size_t n) {
  mblk_t* m = rtp_session_recvm_with_ts(session_, user_ts);
  if (m == nullptr) return false;
  unsigned char* data = nullptr;
  int len = rtp_get_payload(m, &data);
  // The payload type may have been renegotiated while this packet sat in the jitter buffer.
  bool ok = len > 0 && rtp_get_payload_type(m) == payload_type_;
  if (ok) {
    size_t copy = std::min(n, static_cast<size_t>(len));
    std::memcpy(payload, data, copy);
    std::fill(payload + copy, payload + n, G711Silence(codec_));
  }
  freemsg(m);
  return ok;
}

void RtpLeg::Send(const uint8_t* payload, size_t n, uint32_t ts) {
  if (!has_remote_) return;
  int sent = rtp_session_send_with_ts(session_, payload, static_cast<int>(n), ts);
  if (sent > 0) {
    Bump(counters_.rtp_sent);
  } else {
    Bump(counters_.send_errors);
  }
}

bool RtpLeg::TakeArrivals() {
  bool arrived = arrived_;
  arrived_ = false;
  return arrived;
}

}  // namespace anchord::media::internal
