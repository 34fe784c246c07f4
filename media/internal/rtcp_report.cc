#include "media/internal/rtcp_report.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>

#include "media/internal/byte_order.h"

namespace anchord::media::internal {
namespace {

constexpr uint8_t kSr = 200;
constexpr uint8_t kRr = 201;
constexpr uint8_t kSdes = 202;
constexpr uint8_t kCname = 1;
constexpr size_t kBlockBytes = 24;
constexpr uint64_t kNtpUnixOffset = 2'208'988'800u;  // 1900-01-01 to 1970-01-01, seconds
constexpr int32_t kMaxLost = 0x7FFFFF;
constexpr int32_t kMinLost = -0x800000;

size_t PutBlock(const ReportInput& in, uint8_t* p) {
  Put32(p, in.source);
  const int32_t lost = std::clamp(in.cumulative_lost, kMinLost, kMaxLost);
  Put32(p + 4, uint32_t{in.fraction_lost} << 24 | (static_cast<uint32_t>(lost) & 0xFFFFFF));
  Put32(p + 8, in.extended_max);
  Put32(p + 12, in.jitter);
  Put32(p + 16, in.lsr);
  Put32(p + 20, in.lsr == 0 ? 0 : in.dlsr);
  return kBlockBytes;
}

// SDES with one chunk (our SSRC, CNAME), null-terminated and padded to 32 bits (6.5).
size_t PutSdes(uint32_t ssrc, std::string_view cname, uint8_t* p) {
  const size_t name = std::min<size_t>(cname.size(), 255);
  const size_t chunk = (4 + 2 + name + 1 + 3) & ~size_t{3};
  p[0] = 0x81;
  p[1] = kSdes;
  Put16(p + 2, static_cast<uint16_t>(chunk / 4));
  std::memset(p + 4, 0, chunk);
  Put32(p + 4, ssrc);
  p[8] = kCname;
  p[9] = static_cast<uint8_t>(name);
  std::memcpy(p + 10, cname.data(), name);
  return 4 + chunk;
}

// One block about our SSRC (6.4.1); RTT = A - LSR - DLSR when the peer echoed an SR of ours.
void ReadBlock(const uint8_t* b, uint64_t arrival_ntp, PeerReport* out) {
  const int fraction = b[4];
  uint32_t lost24 = Be32(b + 4) & 0xFFFFFF;
  const int32_t lost = (lost24 & 0x800000) != 0 ? static_cast<int32_t>(lost24 | 0xFF000000u)
                                                : static_cast<int32_t>(lost24);
  if (fraction >= out->fraction_lost) {
    out->fraction_lost = fraction;
    out->cumulative_lost = lost;
    out->jitter = Be32(b + 12);
  }
  const uint32_t lsr = Be32(b + 16);
  if (lsr == 0) return;
  const uint32_t rtt = NtpMiddle(arrival_ntp) - lsr - Be32(b + 20);
  // A clock step or a forged LSR gives a "negative" (huge) value: not a round trip.
  if (rtt < 0x80000000u) out->rtt_short = rtt;
}

}  // namespace

void ReceptionStats::OnPacket(uint16_t seq) {
  if (received_ == 0) {
    base_seq_ = seq;
    max_seq_ = seq;
  } else {
    const uint16_t delta = static_cast<uint16_t>(seq - max_seq_);
    if (delta != 0 && delta < 0x8000) {
      if (seq < max_seq_) cycles_ += 0x10000;  // wrapped forward
      max_seq_ = seq;
    }
  }
  ++received_;
}

int32_t ReceptionStats::cumulative_lost() const {
  if (received_ == 0) return 0;
  const int64_t expected = int64_t{extended_max()} - base_seq_ + 1;
  return static_cast<int32_t>(
      std::clamp<int64_t>(expected - static_cast<int64_t>(received_), kMinLost, kMaxLost));
}

uint8_t ReceptionStats::TakeFractionLost() {
  if (received_ == 0) return 0;
  const uint64_t expected = uint64_t{extended_max()} - base_seq_ + 1;
  const int64_t expected_interval = static_cast<int64_t>(expected - expected_prior_);
  const int64_t received_interval = static_cast<int64_t>(received_ - received_prior_);
  expected_prior_ = expected;
  received_prior_ = received_;
  const int64_t lost_interval = expected_interval - received_interval;
  if (expected_interval <= 0 || lost_interval <= 0) return 0;
  return static_cast<uint8_t>(std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
}

size_t BuildReport(const ReportInput& in, uint8_t* out) {
  const uint8_t count = in.block ? 1 : 0;
  size_t n = 8;
  out[0] = static_cast<uint8_t>(0x80 | count);
  out[1] = in.sender ? kSr : kRr;
  Put32(out + 4, in.ssrc);
  if (in.sender) {
    Put32(out + 8, static_cast<uint32_t>(in.ntp >> 32));
    Put32(out + 12, static_cast<uint32_t>(in.ntp));
    Put32(out + 16, in.rtp_ts);
    Put32(out + 20, in.packets_sent);
    Put32(out + 24, in.octets_sent);
    n = 28;
  }
  if (in.block) n += PutBlock(in, out + n);
  Put16(out + 2, static_cast<uint16_t>(n / 4 - 1));
  return n + PutSdes(in.ssrc, in.cname, out + n);
}

bool ParseRtcp(const uint8_t* data, size_t len, uint32_t our_ssrc, uint64_t arrival_ntp,
               PeerReport* out) {
  bool any = false;
  size_t at = 0;
  while (at + 8 <= len) {
    const uint8_t count = data[at] & 0x1F;
    const uint8_t type = data[at + 1];
    const size_t length = 4u * (Be16(data + at + 2) + 1u);
    if ((data[at] >> 6) != 2 || at + length > len) break;
    any = true;
    size_t block = at + 8;
    if (type == kSr && length >= 28) {
      out->sr = true;
      out->sr_ntp_mid = NtpMiddle(uint64_t{Be32(data + at + 8)} << 32 | Be32(data + at + 12));
      block += 20;
    }
    if (type == kSr || type == kRr) {
      for (uint8_t b = 0; b < count && block + kBlockBytes <= at + length; ++b) {
        if (Be32(data + block) == our_ssrc) ReadBlock(data + block, arrival_ntp, out);
        block += kBlockBytes;
      }
    }
    at += length;
  }
  return any;
}

uint64_t NtpFromRealtime(int64_t sec, int64_t nsec) {
  const uint64_t frac = (static_cast<uint64_t>(nsec) << 32) / 1'000'000'000u;
  return (static_cast<uint64_t>(sec) + kNtpUnixOffset) << 32 | frac;
}

uint64_t NtpNow() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return NtpFromRealtime(now.tv_sec, now.tv_nsec);
}

std::string_view ProcessCname() {
  static const std::string cname = [] {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
    return "anchord@" + std::string(host);
  }();
  return cname;
}

}  // namespace anchord::media::internal
