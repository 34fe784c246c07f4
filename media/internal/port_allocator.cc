#include "media/internal/port_allocator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace anchord::media::internal {
namespace {

// DSCP EF (46): lets the PSAP LAN prioritize voice over everything else on the wire.
constexpr int kTosExpedited = 46 << 2;

// Returns the fd, -EADDRINUSE when the port is taken, or another -errno.
int BindUdp(const in_addr& ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr = ip;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  setsockopt(fd, IPPROTO_IP, IP_TOS, &kTosExpedited, sizeof kTosExpedited);
  return fd;
}

}  // namespace

PortAllocator::PortAllocator(std::string address, uint16_t port_min, uint16_t port_max)
    : address_(std::move(address)), first_(static_cast<uint16_t>((port_min + 1u) & ~1u)) {
  // Pairs [p, p+1] with p even and p+1 <= port_max.
  pairs_ = (port_max >= first_ + 1u) ? (port_max - first_ + 1u) / 2u : 0u;
}

Status PortAllocator::Validate() const {
  in_addr ip{};
  if (inet_pton(AF_INET, address_.c_str(), &ip) != 1) {
    return Fail("media.address '" + address_ + "' is not a numeric IPv4 address");
  }
  if (pairs_ == 0) return Fail("media port range holds no even/odd RTP/RTCP pair");
  return {};
}

Result<SocketPair> PortAllocator::Allocate() {
  in_addr ip{};
  if (inet_pton(AF_INET, address_.c_str(), &ip) != 1) {
    return Fail("media.address '" + address_ + "' is not a numeric IPv4 address");
  }
  for (uint32_t tried = 0; tried < pairs_; ++tried) {
    uint32_t index = cursor_;
    cursor_ = (cursor_ + 1) % pairs_;
    auto port = static_cast<uint16_t>(first_ + 2 * index);
    int rtp = BindUdp(ip, port);
    if (rtp == -EADDRINUSE) continue;
    if (rtp < 0)
      return Fail("bind RTP " + address_ + ":" + std::to_string(port) + ": " + std::strerror(-rtp));
    int rtcp = BindUdp(ip, static_cast<uint16_t>(port + 1));
    if (rtcp == -EADDRINUSE) {
      close(rtp);
      continue;
    }
    if (rtcp < 0) {
      close(rtp);
      return Fail("bind RTCP " + address_ + ":" + std::to_string(port + 1) + ": " +
                  std::strerror(-rtcp));
    }
    return SocketPair{rtp, rtcp, port};
  }
  return Fail("no free RTP/RTCP port pair on " + address_ + " in [" + std::to_string(first_) +
              ", " + std::to_string(first_ + 2 * pairs_ - 1) + "]: range exhausted");
}

}  // namespace anchord::media::internal
