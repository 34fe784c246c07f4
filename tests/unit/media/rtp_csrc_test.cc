// The CSRC list of a bridge's packets (R3550-7.3): a listener hearing two parties gets both
// parties' SSRCs; a leg hearing only a tone gets none. Real sockets, ticks driven by hand.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "media/internal/bridge.h"
#include "media/internal/port_allocator.h"

namespace anchord::media::internal {
namespace {

class NoEvents : public BridgeEvents {
 public:
  void LegSilent(CallId, LegId) override {}
  void GapMeasured(CallId, LegId, uint32_t) override {}
  void Dtmf(CallId, LegId, char, uint32_t) override {}
  void TtyText(CallId, LegId, const char*, size_t) override {}
};

struct Phone {
  explicit Phone(PortAllocator& ports, uint32_t ssrc_in) : ssrc(ssrc_in) {
    auto pair = ports.Allocate();
    EXPECT_TRUE(pair);
    fd = pair->rtp_fd;
    rtcp = pair->rtcp_fd;
    port = pair->rtp_port;
  }
  ~Phone() {
    close(fd);
    close(rtcp);
  }
  void Send(uint16_t to_port) {
    uint8_t p[12 + 160] = {0x80, 0};
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    const uint32_t ts = seq * 160u;
    for (int i = 0; i < 4; ++i) {
      p[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
      p[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
    }
    std::memset(p + 12, 0x95, 160);  // a quiet but non-silent mu-law level
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(to_port);
    sendto(fd, p, sizeof p, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ++seq;
  }
  // The CSRC lists of every packet waiting.
  std::vector<std::vector<uint32_t>> Csrcs() {
    std::vector<std::vector<uint32_t>> out;
    uint8_t b[2048];
    for (ssize_t n; (n = recv(fd, b, sizeof b, MSG_DONTWAIT)) >= 12;) {
      std::vector<uint32_t> list;
      for (int i = 0; i < (b[0] & 0x0F); ++i) {
        const uint8_t* c = b + 12 + 4 * i;
        list.push_back(uint32_t{c[0]} << 24 | uint32_t{c[1]} << 16 | uint32_t{c[2]} << 8 | c[3]);
      }
      out.push_back(list);
    }
    return out;
  }
  uint32_t ssrc;
  uint16_t seq = 100;
  int fd = -1;
  int rtcp = -1;
  uint16_t port = 0;
};

class CsrcTest : public ::testing::Test {
 protected:
  LegState& Add(uint32_t id, Phone& phone) {
    auto pair = ports_.Allocate();
    EXPECT_TRUE(pair);
    ports_of_[id] = pair->rtp_port;
    LegState& leg = bridge_.AddLeg(
        LegId{id}, std::make_unique<RtpLeg>(pair->rtp_fd, pair->rtcp_fd, counters_), 0);
    EXPECT_TRUE(bridge_.SetRemote(leg, RemoteMedia{"127.0.0.1", phone.port, Codec::kPcmu, 0}));
    bridge_.Connect(leg, id);
    return leg;
  }
  void Tick() {
    bridge_.Tick(tick_, 1, now_);
    ++tick_;
    now_ += 20'000;
  }

  PortAllocator ports_{"127.0.0.1", 45000, 45999};
  WorkerCounters counters_;
  NoEvents events_;
  Bridge bridge_{CallId{1}, mixer::BestKernels(), counters_, events_};
  uint16_t ports_of_[8] = {};
  uint64_t tick_ = 1;
  uint64_t now_ = 1'000'000;
};

TEST_F(CsrcTest, AListenerHearingTwoPartiesNamesBoth) {
  Phone a(ports_, 0xA0A0A0A0), b(ports_, 0xB0B0B0B0), listener(ports_, 0xC0C0C0C0);
  Add(1, a);
  Add(2, b);
  Add(3, listener);
  for (int i = 0; i < 8; ++i) {
    a.Send(ports_of_[1]);
    b.Send(ports_of_[2]);
    Tick();
  }
  auto lists = listener.Csrcs();
  ASSERT_FALSE(lists.empty());
  EXPECT_EQ(lists.back(), (std::vector<uint32_t>{0xA0A0A0A0, 0xB0B0B0B0}));
  // a hears b only (mix-minus): one contributor, b.
  auto to_a = a.Csrcs();
  ASSERT_FALSE(to_a.empty());
  EXPECT_EQ(to_a.back(), (std::vector<uint32_t>{0xB0B0B0B0}));
}

TEST_F(CsrcTest, ALegHearingOnlyAToneHasNoCsrc) {
  Phone caller(ports_, 0xA0A0A0A0);
  LegState& leg = Add(1, caller);
  bridge_.SetTone(leg, Tone::kHold);
  for (int i = 0; i < 5; ++i) {
    caller.Send(ports_of_[1]);
    Tick();
  }
  auto lists = caller.Csrcs();
  ASSERT_EQ(lists.size(), 5u);
  for (const auto& l : lists) EXPECT_TRUE(l.empty());
}

}  // namespace
}  // namespace anchord::media::internal
