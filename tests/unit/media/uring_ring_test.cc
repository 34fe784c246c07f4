// UringRing with RtpLeg over real loopback sockets: a tick's sends leave in order with one
// SSRC and sequence +1 and are counted at the next Poll(); two sends in one tick do not
// overwrite each other; the multishot receive routes datagrams exactly as recvmmsg did
// (garbage, truncation, kMaxReadsPerTick); a leg with a receive armed and datagrams pending
// can be destroyed; and with io_uring refused the leg falls back to sendto/recvmmsg.
#include "media/internal/uring_ring.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "media/internal/port_allocator.h"
#include "media/internal/rtp_leg.h"

namespace anchord::media::internal {
namespace {

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

std::optional<std::vector<uint8_t>> RecvOne(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return std::nullopt;
  uint8_t buf[2048];
  const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  return std::vector<uint8_t>(buf, buf + n);
}

void SendTo(int fd, uint16_t port, const uint8_t* data, size_t n) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  ASSERT_EQ(sendto(fd, data, n, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(n));
}

void SendRtp(int fd, uint16_t port, uint16_t seq) {
  uint8_t p[12 + 160] = {0x80, 0};
  p[2] = static_cast<uint8_t>(seq >> 8);
  p[3] = static_cast<uint8_t>(seq);
  p[11] = 0x55;
  std::memset(p + 12, 0xFF, 160);
  SendTo(fd, port, p, sizeof p);
}

// Parameter: sends as IORING_OP_SENDMSG (true, kernels before 6.0) or IORING_OP_SEND with an
// address (false, what the probe picks on 6.0+).
class UringRingTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string why;
    UringRing::ForceSendmsgForTesting(GetParam());
    ring_ = UringRing::Create(true, &why);
    UringRing::ForceSendmsgForTesting(false);
    if (ring_ == nullptr) GTEST_SKIP() << "no io_uring here: " << why;
    ASSERT_TRUE(ports_.Validate());
    auto peer = ports_.Allocate();
    ASSERT_TRUE(peer);
    peer_ = *peer;
    auto pair = ports_.Allocate();
    ASSERT_TRUE(pair);
    leg_port_ = pair->rtp_port;
    leg_ = std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_, JitterOptions{},
                                    ring_.get());
    ASSERT_TRUE(leg_->SetRemote(RemoteMedia{"127.0.0.1", peer_.rtp_port, Codec::kPcmu, 0, 101}));
  }
  void TearDown() override {
    leg_.reset();  // before the ring
    if (peer_.rtp_fd >= 0) close(peer_.rtp_fd);
    if (peer_.rtcp_fd >= 0) close(peer_.rtcp_fd);
  }
  // Ticks (Poll, Receive) until `done` or 2 s.
  template <typename Done>
  bool TickUntil(Done done) {
    for (int i = 0; i < 200 && !done(); ++i) {
      now_ += 20'000;
      ring_->Poll(now_);
      arrived_ |= leg_->Receive(now_);
      ring_->Submit();
      if (!done()) {
        pollfd p{-1, 0, 0};
        poll(&p, 0, 10);
      }
    }
    return done();
  }

  PortAllocator ports_{"127.0.0.1", 47000, 47999};
  WorkerCounters counters_;
  std::unique_ptr<UringRing> ring_;
  std::unique_ptr<RtpLeg> leg_;
  SocketPair peer_{-1, -1, 0};
  uint16_t leg_port_ = 0;
  uint64_t now_ = 1'000'000;
  bool arrived_ = false;
};

TEST_P(UringRingTest, TickSendsLeaveInOrderAndAreCountedAtTheNextPoll) {
  const uint8_t payload[160] = {1, 2, 3};
  for (uint32_t i = 0; i < 3; ++i) {
    ring_->Poll(now_);
    leg_->Send(payload, sizeof payload, 1000 + 160 * i);
    EXPECT_EQ(counters_.rtp_sent.load(), i);  // counted from the completion, not before
    ring_->Submit();
  }
  ring_->Poll(now_);
  EXPECT_EQ(counters_.rtp_sent.load(), 3u);
  EXPECT_EQ(counters_.send_errors.load(), 0u);
  uint16_t first_seq = 0;
  for (uint32_t i = 0; i < 3; ++i) {
    auto d = RecvOne(peer_.rtp_fd);
    ASSERT_TRUE(d);
    ASSERT_EQ(d->size(), 12u + 160u);
    const uint16_t seq = static_cast<uint16_t>((*d)[2] << 8 | (*d)[3]);
    if (i == 0) first_seq = seq;
    EXPECT_EQ(seq, static_cast<uint16_t>(first_seq + i));
    EXPECT_EQ(Be32(d->data() + 4), 1000 + 160 * i);
    EXPECT_EQ(Be32(d->data() + 8), leg_->ssrc());
    EXPECT_EQ((*d)[12], 1);
  }
}

TEST_P(UringRingTest, TwoSendsInOneTickDoNotOverwriteEachOther) {
  uint8_t a[160];
  uint8_t b[160];
  std::memset(a, 0xAA, sizeof a);
  std::memset(b, 0xBB, sizeof b);
  leg_->Send(a, sizeof a, 0);
  leg_->Send(b, sizeof b, 160);  // the first is still queued: it goes out first, intact
  ring_->Submit();
  ring_->Poll(now_);
  auto first = RecvOne(peer_.rtp_fd);
  auto second = RecvOne(peer_.rtp_fd);
  ASSERT_TRUE(first && second);
  EXPECT_EQ((*first)[12], 0xAA);
  EXPECT_EQ((*first)[171], 0xAA);
  EXPECT_EQ((*second)[12], 0xBB);
  EXPECT_EQ(counters_.rtp_sent.load(), 2u);
}

TEST_P(UringRingTest, MultishotReceiveRoutesLikeRecvmmsg) {
  ASSERT_TRUE(leg_->ring_receives());
  ring_->Submit();  // arms the receive
  for (uint16_t s = 0; s < 3; ++s) SendRtp(peer_.rtp_fd, leg_port_, s);
  const uint8_t junk[5] = {1, 2, 3, 4, 5};
  SendTo(peer_.rtp_fd, leg_port_, junk, sizeof junk);
  std::vector<uint8_t> big(1600, 0x80);  // over kMaxDatagram: truncated -> garbage
  SendTo(peer_.rtp_fd, leg_port_, big.data(), big.size());
  ASSERT_TRUE(TickUntil([&] {
    return counters_.rtp_received.load() == 3 && counters_.rtp_garbage.load() == 2;
  })) << counters_.rtp_received.load()
      << " " << counters_.rtp_garbage.load();
  EXPECT_TRUE(arrived_);
  EXPECT_TRUE(leg_->ring_receives());  // still armed: no syscall per tick
  EXPECT_EQ(leg_->incoming_ssrc(), 0x55u);
}

TEST_P(UringRingTest, AFloodIsCappedAtMaxReadsPerTick) {
  ring_->Submit();
  constexpr int kFlood = RtpLeg::kMaxReadsPerTick + 36;
  for (int s = 0; s < kFlood; ++s) SendRtp(peer_.rtp_fd, leg_port_, static_cast<uint16_t>(s));
  // Without Receive() in between everything belongs to one tick.
  for (int i = 0; i < 200 && counters_.rtp_received.load() + counters_.rtp_flood_dropped.load() <
                                 static_cast<uint64_t>(kFlood);
       ++i) {
    ring_->Poll(now_);
    ring_->Submit();
    pollfd p{-1, 0, 0};
    poll(&p, 0, 5);
  }
  EXPECT_EQ(counters_.rtp_received.load(), static_cast<uint64_t>(RtpLeg::kMaxReadsPerTick));
  EXPECT_EQ(counters_.rtp_flood_dropped.load(), 36u);
  EXPECT_EQ(counters_.rtp_garbage.load(), 0u);  // a flood of valid RTP is not garbage
}

TEST_P(UringRingTest, ALegWithPendingDatagramsCanGo) {
  ring_->Submit();
  for (uint16_t s = 0; s < 5; ++s) SendRtp(peer_.rtp_fd, leg_port_, s);
  const uint8_t payload[160] = {};
  leg_->Send(payload, sizeof payload, 0);  // queued, not submitted
  leg_.reset();                            // detaches: cancel, last completions
  ring_->Poll(now_);                       // nothing left that names the freed leg
  ring_->Submit();
  EXPECT_EQ(counters_.rtp_received.load(), 0u);
  EXPECT_TRUE(RecvOne(peer_.rtp_fd));  // the queued send still went out
  // Its port is free again: neither an armed receive nor the registered-file table holds it.
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  at.sin_port = htons(leg_port_);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at), 0) << strerror(errno);
  close(fd);
}

// Every leg's datagrams of a tick come out of one Poll(): the kernel (6.13+) runs at most 20
// deferred receives per plain io_uring_get_events(); the rest would wait a tick each.
TEST_P(UringRingTest, OnePollReceivesForHundredsOfLegs) {
  constexpr int kLegs = 300;
  std::vector<std::unique_ptr<RtpLeg>> legs;
  std::vector<uint16_t> ports;
  for (int i = 0; i < kLegs; ++i) {
    auto pair = ports_.Allocate();
    ASSERT_TRUE(pair);
    legs.push_back(std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_, JitterOptions{},
                                            ring_.get()));
    ASSERT_TRUE(
        legs.back()->SetRemote(RemoteMedia{"127.0.0.1", peer_.rtp_port, Codec::kPcmu, 0, 101}));
    ports.push_back(pair->rtp_port);
  }
  ring_->Submit();  // arms them all
  ring_->Poll(now_);
  for (int i = 0; i < kLegs; ++i) SendRtp(peer_.rtp_fd, ports[i], 1);
  ring_->Poll(now_ + 20'000);
  EXPECT_EQ(counters_.rtp_received.load(), static_cast<uint64_t>(kLegs));
  for (auto& leg : legs) EXPECT_TRUE(leg->Receive(now_ + 20'000));
  legs.clear();
}

INSTANTIATE_TEST_SUITE_P(SendOp, UringRingTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "Sendmsg" : "SendTo";
                         });

TEST_P(UringRingTest, SendOpIsTheOneAsked) {
  if (GetParam()) {
    EXPECT_FALSE(ring_->sends_with_address());
    return;
  }
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  // IORING_OP_SEND takes a destination address from Linux 6.0 on.
  if (std::atoi(u.release) >= 6) {
    EXPECT_TRUE(ring_->sends_with_address()) << u.release;
  }
}

TEST(UringRingFallbackTest, RefusedRingMeansSendtoAndRecvmmsg) {
  UringRing::ForceUnavailableForTesting(true);
  std::string why;
  auto ring = UringRing::Create(true, &why);
  UringRing::ForceUnavailableForTesting(false);
  EXPECT_EQ(ring, nullptr);
  EXPECT_FALSE(why.empty());
  PortAllocator ports{"127.0.0.1", 47000, 47999};
  ASSERT_TRUE(ports.Validate());
  auto peer = ports.Allocate();
  auto pair = ports.Allocate();
  ASSERT_TRUE(peer && pair);
  WorkerCounters counters;
  RtpLeg leg(pair->rtp_fd, pair->rtcp_fd, counters, JitterOptions{}, ring.get());
  ASSERT_TRUE(leg.SetRemote(RemoteMedia{"127.0.0.1", peer->rtp_port, Codec::kPcmu, 0, 101}));
  EXPECT_FALSE(leg.ring_receives());
  const uint8_t payload[160] = {};
  leg.Send(payload, sizeof payload, 0);
  EXPECT_EQ(counters.rtp_sent.load(), 1u);  // sendto: counted at once
  EXPECT_TRUE(RecvOne(peer->rtp_fd));
  SendRtp(peer->rtp_fd, pair->rtp_port, 7);
  pollfd p{pair->rtp_fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_TRUE(leg.Receive(1'000'000));  // recvmmsg
  EXPECT_EQ(counters.rtp_received.load(), 1u);
  close(peer->rtp_fd);
  close(peer->rtcp_fd);
}

}  // namespace
}  // namespace anchord::media::internal
