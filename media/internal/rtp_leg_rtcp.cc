// RtpLeg's RTCP (RFC 3550 6): when to report, what the report says, what the peer's reports
// tell us. The packet formats are in rtcp_report.cc.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "media/internal/rtp_leg.h"

namespace anchord::media::internal {
namespace {

// One NTP "short" unit is 1/65536 s.
constexpr int64_t ShortToUs(int64_t v) { return v * 1'000'000 / 65'536; }

// The kernel's arrival time of a datagram (SO_TIMESTAMPNS), as NTP; now if there is none.
uint64_t ArrivalNtp(msghdr& hdr) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return NtpFromRealtime(ts.tv_sec, ts.tv_nsec);
    }
  }
  return NtpNow();
}

}  // namespace

uint64_t RtpLeg::NextReportDelay() {
  // xorshift32: spreads the legs' reports over time (6.2: 0.5 to 1.5 x the interval).
  rand_state_ ^= rand_state_ << 13;
  rand_state_ ^= rand_state_ >> 17;
  rand_state_ ^= rand_state_ << 5;
  return rtcp_interval_us_ / 2 + rand_state_ % (rtcp_interval_us_ + 1);
}

void RtpLeg::MaybeSendReport(uint64_t now_us) {
  if (!has_remote_) return;
  if (next_report_us_ == 0) {
    next_report_us_ = now_us + NextReportDelay();
    return;
  }
  if (now_us < next_report_us_) return;
  next_report_us_ = now_us + NextReportDelay();
  SendReport(now_us);
}

void RtpLeg::SendReport(uint64_t now_us) {
  ReportInput in;
  in.ssrc = ssrc_;
  in.sender = sent_since_report_;
  in.cname = ProcessCname();
  const uint64_t ntp = NtpNow();
  if (in.sender) {
    in.ntp = ntp;
    // The RTP time of "now" on our stream: the last packet's timestamp + the time since.
    const uint64_t since = now_us > last_sent_us_ ? now_us - last_sent_us_ : 0;
    in.rtp_ts = last_sent_ts_ + static_cast<uint32_t>(since * ts_step_ / 20'000u);
    in.packets_sent = packets_sent_;
    in.octets_sent = octets_sent_;
  }
  if (reception_.active()) {
    in.block = true;
    in.source = ssrc_in_;
    in.fraction_lost = reception_.TakeFractionLost();
    in.cumulative_lost = reception_.cumulative_lost();
    in.extended_max = reception_.extended_max();
    in.jitter = static_cast<uint32_t>(uint64_t{jitter_.stats().jitter_us} * ts_step_ / 20'000u);
    if (peer_lsr_ != 0) {
      in.lsr = peer_lsr_;
      in.dlsr = NtpMiddle(ntp - peer_sr_arrival_ntp_);
    }
  }
  sent_since_report_ = false;
  uint8_t out[kMaxRtcpReport];
  const size_t n = BuildReport(in, out);
  sockaddr_in to = current_;
  to.sin_port = htons(static_cast<uint16_t>(ntohs(to.sin_port) + 1));
  if (sendto(rtcp_fd_, out, n, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to) <
      0) {
    Bump(counters_.send_errors);
    return;
  }
  Bump(counters_.rtcp_sent);
  ++peer_.reports_sent;
}

int RtpLeg::ReceiveRtcp() {
  uint8_t buf[kMaxDatagram];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(timespec)) + 64];
  int worst = -1;
  for (int i = 0; i < kMaxReadsPerTick; ++i) {
    iovec iov{buf, sizeof buf};
    msghdr hdr{};
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = control;
    hdr.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(rtcp_fd_, &hdr, MSG_DONTWAIT);
    if (n < 0) break;
    const uint64_t arrival = ArrivalNtp(hdr);
    PeerReport report;
    if (!ParseRtcp(buf, static_cast<size_t>(n), ssrc_, arrival, &report)) {
      Bump(counters_.rtp_garbage);
      continue;
    }
    Bump(counters_.rtcp_received);
    ++peer_.reports_received;
    if (report.sr) {
      peer_lsr_ = report.sr_ntp_mid;
      peer_sr_arrival_ntp_ = arrival;
    }
    if (report.fraction_lost >= 0) {
      peer_.fraction_lost = report.fraction_lost;
      peer_.cumulative_lost = report.cumulative_lost;
      peer_.jitter_us = static_cast<uint32_t>(uint64_t{report.jitter} * 20'000u / ts_step_);
      worst = std::max(worst, report.fraction_lost * 100 / 256);
    }
    if (report.rtt_short >= 0) peer_.rtt_us = ShortToUs(report.rtt_short);
  }
  return worst;
}

}  // namespace anchord::media::internal
