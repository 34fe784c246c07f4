// RtpLeg over real loopback sockets: our RTP header (SSRC, sequence, CSRC list), the RTCP
// reports we send (parsed by a tiny parser here, checked against a known loss pattern), the
// peer's SR/RR (LSR/DLSR, RTT, fraction lost), and the re-point rule of R3264-8.
#include "media/internal/rtp_leg.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "media/internal/port_allocator.h"

namespace anchord::media::internal {
namespace {

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Waits up to 2 s for one datagram on `fd`.
std::optional<std::vector<uint8_t>> RecvOne(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return std::nullopt;
  uint8_t buf[2048];
  const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  return std::vector<uint8_t>(buf, buf + n);
}

bool Nothing(int fd) {
  uint8_t buf[2048];
  return recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0;
}

// A phone: an RTP/RTCP port pair on 127.0.0.1.
struct Peer {
  explicit Peer(PortAllocator& ports) {
    auto pair = ports.Allocate();
    EXPECT_TRUE(pair);
    rtp = pair->rtp_fd;
    rtcp = pair->rtcp_fd;
    port = pair->rtp_port;
  }
  ~Peer() {
    close(rtp);
    close(rtcp);
  }
  void SendTo(int fd, uint16_t to_port, const uint8_t* data, size_t n) const {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(to_port);
    sendto(fd, data, n, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  void SendRtp(uint16_t to_port, uint16_t seq, uint32_t ssrc = 0xAABBCCDD) const {
    uint8_t p[12 + 160] = {0x80, 0};
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    Put32(p + 4, seq * 160u);
    Put32(p + 8, ssrc);
    std::memset(p + 12, 0xFF, 160);
    SendTo(rtp, to_port, p, sizeof p);
  }
  int rtp = -1;
  int rtcp = -1;
  uint16_t port = 0;
};

// What the tests read out of one of our compound reports.
struct Report {
  uint8_t type = 0;  // 200 SR, 201 RR
  uint32_t ssrc = 0;
  uint64_t ntp = 0;
  uint32_t packets = 0;
  int blocks = 0;
  uint32_t source = 0;
  uint8_t fraction = 0;
  int32_t lost = 0;
  uint32_t ext_max = 0;
  uint32_t lsr = 0;
  uint32_t dlsr = 0;
  std::string cname;
};

std::optional<Report> ParseOurs(const std::vector<uint8_t>& d) {
  if (d.size() < 8 || (d[0] >> 6) != 2) return std::nullopt;
  Report r;
  r.type = d[1];
  r.blocks = d[0] & 0x1F;
  r.ssrc = Be32(&d[4]);
  const size_t first_len = 4u * ((d[2] << 8 | d[3]) + 1u);
  size_t at = 8;
  if (r.type == 200) {
    r.ntp = uint64_t{Be32(&d[8])} << 32 | Be32(&d[12]);
    r.packets = Be32(&d[20]);
    at = 28;
  }
  if (r.blocks > 0) {
    r.source = Be32(&d[at]);
    r.fraction = d[at + 4];
    uint32_t lost = Be32(&d[at + 4]) & 0xFFFFFF;
    r.lost = (lost & 0x800000) ? static_cast<int32_t>(lost | 0xFF000000u) : int32_t(lost);
    r.ext_max = Be32(&d[at + 8]);
    r.lsr = Be32(&d[at + 16]);
    r.dlsr = Be32(&d[at + 20]);
  }
  const size_t sdes = first_len;
  if (d.size() < sdes + 10 || d[sdes + 1] != 202 || d[sdes + 8] != 1) return std::nullopt;
  r.cname.assign(reinterpret_cast<const char*>(&d[sdes + 10]), d[sdes + 9]);
  return r;
}

class RtpLegTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = ports_.Allocate();
    ASSERT_TRUE(pair);
    leg_port_ = pair->rtp_port;
    leg_.emplace(pair->rtp_fd, pair->rtcp_fd, counters_);
    leg_->set_rtcp_interval_us(20'000);
    ASSERT_TRUE(leg_->SetRemote(RemoteMedia{"127.0.0.1", a_.port, Codec::kPcmu, 0, 101}));
  }
  // Drives ticks on a fake clock until a report reaches `peer` (nominal interval 20 ms).
  std::optional<Report> NextReport(const Peer& peer) {
    for (int i = 0; i < 10; ++i) {
      now_ += 20'000;
      leg_->Receive(now_);
    }
    auto d = RecvOne(peer.rtcp);
    if (!d) return std::nullopt;
    while (!Nothing(peer.rtcp)) {
    }
    return ParseOurs(*d);
  }

  PortAllocator ports_{"127.0.0.1", 44000, 44999};
  WorkerCounters counters_;
  Peer a_{ports_};
  Peer b_{ports_};
  uint16_t leg_port_ = 0;
  std::optional<RtpLeg> leg_;
  uint64_t now_ = 1'000'000;
};

TEST_F(RtpLegTest, HeaderSsrcSequenceAndCsrc) {
  const uint8_t payload[160] = {1, 2, 3};
  leg_->Send(payload, sizeof payload, 1000);
  const uint32_t two[2] = {0x11111111, 0x22222222};
  leg_->SetContributors(two, 2);
  uint8_t event[4] = {5, 0x0A, 0, 160};
  leg_->SendEvent(event, 1160, true);
  leg_->Send(payload, sizeof payload, 1320);
  leg_->SetContributors(nullptr, 0);  // a tone alone: no contributors
  leg_->Send(payload, sizeof payload, 1480);

  std::vector<std::vector<uint8_t>> got;
  for (int i = 0; i < 4; ++i) {
    auto d = RecvOne(a_.rtp);
    ASSERT_TRUE(d) << "packet " << i;
    got.push_back(*d);
  }
  const uint16_t seq0 = static_cast<uint16_t>(got[0][2] << 8 | got[0][3]);
  const uint32_t ts[4] = {1000, 1160, 1320, 1480};
  const size_t cc[4] = {0, 2, 2, 0};
  for (size_t i = 0; i < 4; ++i) {
    const auto& p = got[i];
    EXPECT_EQ(p[0] >> 6, 2);
    EXPECT_EQ(p[0] & 0x0F, cc[i]) << i;
    EXPECT_EQ(static_cast<uint16_t>(p[2] << 8 | p[3]), static_cast<uint16_t>(seq0 + i));
    EXPECT_EQ(Be32(&p[4]), ts[i]);
    EXPECT_EQ(Be32(&p[8]), leg_->ssrc());
    const size_t header = 12 + 4 * cc[i];
    if (cc[i] == 2) {
      EXPECT_EQ(Be32(&p[12]), two[0]);
      EXPECT_EQ(Be32(&p[16]), two[1]);
    }
    if (i == 1) {
      EXPECT_EQ(p[1], 0x80 | 101);  // telephone-event, marker
      ASSERT_EQ(p.size(), header + 4);
      EXPECT_EQ(0, std::memcmp(&p[header], event, 4));
    } else {
      EXPECT_EQ(p[1], 0);
      ASSERT_EQ(p.size(), header + 160);
      EXPECT_EQ(0, std::memcmp(&p[header], payload, 160));
    }
  }
  EXPECT_EQ(counters_.rtp_sent.load(), 4u);
}

TEST_F(RtpLegTest, EachLegHasItsOwnRandomSsrc) {
  auto pair = ports_.Allocate();
  ASSERT_TRUE(pair);
  RtpLeg other(pair->rtp_fd, pair->rtcp_fd, counters_);
  EXPECT_NE(other.ssrc(), leg_->ssrc());
}

// 100 packets, every 10th missing (i % 10 == 3): 10 lost, fraction 10/100 = 25/256.
TEST_F(RtpLegTest, ReceiverReportCountsAKnownLossPattern) {
  for (uint16_t i = 0; i < 100; ++i) {
    const uint16_t seq = static_cast<uint16_t>(65500 + i);  // wraps: extended max has a cycle
    if (i % 10 != 3) a_.SendRtp(leg_port_, seq);
  }
  auto r = NextReport(a_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, 201);  // nothing sent: RR
  EXPECT_EQ(r->ssrc, leg_->ssrc());
  ASSERT_EQ(r->blocks, 1);
  EXPECT_EQ(r->source, 0xAABBCCDDu);
  EXPECT_EQ(r->lost, 10);
  EXPECT_EQ(r->fraction, 25);
  EXPECT_EQ(r->ext_max, 0x10000u + static_cast<uint16_t>(65500 + 99));
  EXPECT_EQ(r->lsr, 0u);
  EXPECT_EQ(r->cname.rfind("anchord@", 0), 0u) << r->cname;
  // The next interval lost nothing; the cumulative count stays.
  a_.SendRtp(leg_port_, static_cast<uint16_t>(65500 + 100));
  r = NextReport(a_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fraction, 0);
  EXPECT_EQ(r->lost, 10);
  EXPECT_GE(counters_.rtcp_sent.load(), 2u);
}

TEST_F(RtpLegTest, SenderReportAfterSendingAndNoBlockBeforeAnyRtp) {
  const uint8_t payload[160] = {};
  leg_->Send(payload, sizeof payload, 0);
  leg_->Send(payload, sizeof payload, 160);
  auto r = NextReport(a_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, 200);
  EXPECT_EQ(r->packets, 2u);
  EXPECT_EQ(r->blocks, 0);
  EXPECT_NE(r->ntp, 0u);
  r = NextReport(a_);  // nothing sent since: RR
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, 201);
}

// The peer's SR becomes our LSR; its RR about our SR gives the RTT and the fraction lost.
TEST_F(RtpLegTest, LsrDlsrRoundTripAndPeerLoss) {
  a_.SendRtp(leg_port_, 1);
  uint8_t sr[28] = {0x80, 200, 0, 6};
  Put32(sr + 4, 0xAABBCCDD);
  const uint64_t peer_ntp = NtpNow();
  Put32(sr + 8, static_cast<uint32_t>(peer_ntp >> 32));
  Put32(sr + 12, static_cast<uint32_t>(peer_ntp));
  a_.SendTo(a_.rtcp, static_cast<uint16_t>(leg_port_ + 1), sr, sizeof sr);
  // Our SR, so that the peer can echo it.
  const uint8_t payload[160] = {};
  leg_->Send(payload, sizeof payload, 0);
  for (int i = 0; i < 200 && leg_->rtcp_stats().reports_received == 0; ++i) {
    leg_->ReceiveRtcp();
    if (leg_->rtcp_stats().reports_received == 0) usleep(1000);
  }
  ASSERT_EQ(leg_->rtcp_stats().reports_received, 1u);
  auto ours = NextReport(a_);
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->type, 200);
  EXPECT_EQ(ours->lsr, NtpMiddle(peer_ntp));
  EXPECT_LT(ours->dlsr, 65536u * 5);  // under 5 s since the peer's SR

  // The peer's RR: 64/256 lost, our SR echoed, held 0.25 s before answering (DLSR).
  uint8_t rr[32] = {0x81, 201, 0, 7};
  Put32(rr + 4, 0xAABBCCDD);
  Put32(rr + 8, leg_->ssrc());
  Put32(rr + 12, 64u << 24 | 3);
  Put32(rr + 24, NtpMiddle(ours->ntp));
  const uint32_t held = NtpMiddle(NtpNow()) - NtpMiddle(ours->ntp) + 16384;
  Put32(rr + 28, held);
  a_.SendTo(a_.rtcp, static_cast<uint16_t>(leg_port_ + 1), rr, sizeof rr);
  int loss = -1;
  for (int i = 0; i < 200 && loss < 0; ++i) {
    loss = leg_->ReceiveRtcp();
    if (loss < 0) usleep(1000);
  }
  EXPECT_EQ(loss, 25);  // percent
  EXPECT_EQ(leg_->rtcp_stats().fraction_lost, 64);
  EXPECT_EQ(leg_->rtcp_stats().cumulative_lost, 3);
  // DLSR claims 0.25 s more than the time since our SR: the "RTT" is negative, not reported;
  // a truthful DLSR gives a small positive one.
  EXPECT_EQ(leg_->rtcp_stats().rtt_us, -1);
  Put32(rr + 28, NtpMiddle(NtpNow()) - NtpMiddle(ours->ntp) - 655);  // 10 ms of transit
  a_.SendTo(a_.rtcp, static_cast<uint16_t>(leg_port_ + 1), rr, sizeof rr);
  for (int i = 0; i < 200 && leg_->rtcp_stats().rtt_us < 0; ++i) {
    leg_->ReceiveRtcp();
    if (leg_->rtcp_stats().rtt_us < 0) usleep(1000);
  }
  EXPECT_GE(leg_->rtcp_stats().rtt_us, 9'000);
  EXPECT_LT(leg_->rtcp_stats().rtt_us, 500'000);
}

// R3264-8: after a re-point the old source still plays until the new one is heard.
TEST_F(RtpLegTest, RepointAcceptsTheOldSourceUntilTheNewOneIsHeard) {
  a_.SendRtp(leg_port_, 1);
  EXPECT_TRUE(leg_->Receive(now_ += 20'000));
  ASSERT_TRUE(leg_->SetRemote(RemoteMedia{"127.0.0.1", b_.port, Codec::kPcmu, 0, 101}));
  a_.SendRtp(leg_port_, 2);
  EXPECT_TRUE(leg_->Receive(now_ += 20'000)) << "old source dropped during the re-point";
  EXPECT_EQ(counters_.rtp_foreign_source.load(), 0u);
  // We already send to the new address.
  const uint8_t payload[160] = {};
  leg_->Send(payload, sizeof payload, 0);
  EXPECT_TRUE(RecvOne(b_.rtp));
  EXPECT_TRUE(Nothing(a_.rtp));
  // The new address is heard: from now on only it plays.
  b_.SendRtp(leg_port_, 100, 0x12345678);
  EXPECT_TRUE(leg_->Receive(now_ += 20'000));
  a_.SendRtp(leg_port_, 3);
  EXPECT_FALSE(leg_->Receive(now_ += 20'000));
  EXPECT_EQ(counters_.rtp_foreign_source.load(), 1u);
  EXPECT_EQ(leg_->incoming_ssrc(), 0x12345678u);
}

TEST_F(RtpLegTest, WithoutARepointAForeignSourceIsCountedNotPlayed) {
  b_.SendRtp(leg_port_, 1);
  EXPECT_FALSE(leg_->Receive(now_ += 20'000));
  EXPECT_EQ(counters_.rtp_foreign_source.load(), 1u);
}

// recvmmsg batches: more than one batch of packets in a tick all arrive, in order.
TEST_F(RtpLegTest, DrainsMoreThanOneBatchPerTick) {
  for (uint16_t s = 10; s < 10 + 3 * RtpLeg::kRecvBatch + 1; ++s) a_.SendRtp(leg_port_, s);
  EXPECT_TRUE(leg_->Receive(now_ += 20'000));
  EXPECT_EQ(counters_.rtp_received.load(), 3 * RtpLeg::kRecvBatch + 1);
}

}  // namespace
}  // namespace anchord::media::internal
