#include "media/internal/port_allocator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "audio_test_util.h"

namespace anchord::media::internal {
namespace {

// Binds 127.0.0.1:port so the allocator finds it in use.
int Occupy(uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST(PortAllocatorTest, EvenPairsSkipPortsInUseAndReportExhaustion) {
  const uint16_t base = 47110;  // 3 pairs: 47110, 47112, 47114
  int busy = Occupy(base + 3);  // the RTCP half of the second pair
  PortAllocator ports("127.0.0.1", base, base + 5);
  ASSERT_TRUE(ports.Validate());
  auto a = ports.Allocate();
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->rtp_port, base);
  auto b = ports.Allocate();
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->rtp_port, base + 4);  // base + 2 skipped: its RTCP port is taken
  auto c = ports.Allocate();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("exhausted"), std::string::npos) << c.error().message;
  for (int fd : {a->rtp_fd, a->rtcp_fd, b->rtp_fd, b->rtcp_fd, busy}) close(fd);
}

TEST(PortAllocatorTest, CursorRotatesPastFreedPairs) {
  const uint16_t base = 47130;
  PortAllocator ports("127.0.0.1", base, base + 7);
  auto a = ports.Allocate();
  ASSERT_TRUE(a);
  close(a->rtp_fd);
  close(a->rtcp_fd);
  auto b = ports.Allocate();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rtp_port, base + 2);  // not the pair just freed
  close(b->rtp_fd);
  close(b->rtcp_fd);
}

TEST(PortAllocatorTest, RejectsNamesAndEmptyRanges) {
  EXPECT_FALSE(PortAllocator("localhost", 30000, 30010).Validate());
  EXPECT_FALSE(PortAllocator("127.0.0.1", 30001, 30001).Validate());
}

}  // namespace
}  // namespace anchord::media::internal
