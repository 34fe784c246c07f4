#include "signaling/internal/transport_socket.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace anchord::signaling::internal {
namespace {

constexpr int kListenBacklog = 128;

std::string Describe(const core::ListenAddress& address) {
  return std::string(address.transport == core::Transport::kTcp ? "tcp:" : "udp:") + address.host +
         ":" + std::to_string(address.port);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

Result<sockaddr_in> MakeSockaddr(const std::string& host, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return Fail("not a numeric IPv4 address: \"" + host + "\"");
  }
  return address;
}

std::string HostOf(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

uint16_t PortOf(const sockaddr_in& address) { return ntohs(address.sin_port); }

std::string ErrnoText(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

Result<UniqueFd> OpenListenSocket(core::ListenAddress& address) {
  const std::string name = Describe(address);
  auto requested = MakeSockaddr(address.host, address.port);
  if (!requested) return Fail(name + ": " + requested.error().message);
  bool tcp = address.transport == core::Transport::kTcp;
  UniqueFd fd(socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Fail(ErrnoText(name + ": socket", errno));
  int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    return Fail(ErrnoText(name + ": SO_REUSEADDR", errno));
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&*requested), sizeof *requested) < 0) {
    return Fail(ErrnoText(name + ": bind", errno));
  }
  if (tcp && listen(fd.get(), kListenBacklog) < 0) {
    return Fail(ErrnoText(name + ": listen", errno));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) < 0) {
    return Fail(ErrnoText(name + ": getsockname", errno));
  }
  address.port = PortOf(bound);
  return fd;
}

}  // namespace anchord::signaling::internal
