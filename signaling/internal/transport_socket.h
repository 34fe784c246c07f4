// Socket helpers for SipTransportImpl: IPv4 addresses, and listening sockets that report the
// port actually bound (port 0 in the config means "any", used by tests).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/result.h"

namespace anchord::signaling::internal {

// A file descriptor that is closed on destruction unless released.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

Result<sockaddr_in> MakeSockaddr(const std::string& host, uint16_t port);
std::string HostOf(const sockaddr_in& address);
uint16_t PortOf(const sockaddr_in& address);
std::string ErrnoText(const std::string& what, int error);

// A bound non-blocking socket (SO_REUSEADDR), listening if TCP. `address.port` is updated to
// the bound port. Errors name the address.
Result<UniqueFd> OpenListenSocket(core::ListenAddress& address);

}  // namespace anchord::signaling::internal
