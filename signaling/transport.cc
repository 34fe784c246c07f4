#include "signaling/transport.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "signaling/internal/transport_connection.h"
#include "signaling/internal/transport_socket.h"

namespace anchord::signaling {
namespace {

using internal::CloseReason;
using internal::TcpConnection;
using internal::UniqueFd;

// More open TCP connections than this are refused at accept (a flood must not exhaust fds).
constexpr size_t kMaxTcpConnections = 4096;
constexpr int kMaxAcceptsPerWakeup = 64;

std::string Key(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// Connection trouble is peer-driven and can come in floods: log the first event, then at most
// one summary per interval with the number of events in between (DESIGN invariant 4).
class RareLog {
 public:
  void Report(std::string_view what, std::string_view peer) {
    uint64_t now = core::MonotonicUs();
    if (last_us_ != 0 && now - last_us_ < kIntervalUs) {
      ++suppressed_;
      return;
    }
    std::string message(what);
    if (suppressed_ > 0) message += " (" + std::to_string(suppressed_) + " more since last report)";
    core::Log(core::Level::kWarning, core::Subsys::kSip, message, {{"PEER", peer}});
    last_us_ = now;
    suppressed_ = 0;
  }

 private:
  static constexpr uint64_t kIntervalUs = 10'000'000;
  uint64_t last_us_ = 0;
  uint64_t suppressed_ = 0;
};

struct Endpoint {
  core::ListenAddress local;  // with the bound port
  UniqueFd fd;
  core::EventSource source;
};

class SipTransportImpl final : public SipTransport, public internal::TcpConnectionOwner {
 public:
  SipTransportImpl(core::EventLoop& loop, MessageHandler on_message)
      : loop_(loop), on_message_(std::move(on_message)) {}
  ~SipTransportImpl() override;

  Status Open(const std::vector<core::ListenAddress>& listen);

  Status Send(const PeerAddress& destination, std::string_view bytes) override;
  const core::ListenAddress* LocalAddress(core::Transport transport) const override;
  TransportCounters Counters() const override;

 private:
  Status AddEndpoint(core::ListenAddress address);
  void OnUdpReadable(Endpoint& endpoint);
  void OnAcceptable(Endpoint& endpoint);
  void Accept(Endpoint& endpoint, UniqueFd fd, const sockaddr_in& peer);
  Status SendUdp(const PeerAddress& destination, std::string_view bytes);
  Status SendTcp(const PeerAddress& destination, std::string_view bytes);
  Result<TcpConnection*> Connect(const PeerAddress& destination);
  TcpConnection* Adopt(std::unique_ptr<TcpConnection> connection);

  void ReapClosed() override { closed_.clear(); }
  void OnTcpMessage(TcpConnection& connection, std::string_view message) override;
  void OnTcpClosed(TcpConnection& connection, CloseReason reason, std::string_view detail) override;
  void SetFailureHandler(FailureHandler on_failure) override {
    on_failure_ = std::move(on_failure);
  }

  core::EventLoop& loop_;
  MessageHandler on_message_;
  // unique_ptr: the sources' callbacks hold the Endpoint's address.
  std::vector<std::unique_ptr<Endpoint>> udp_;
  std::vector<std::unique_ptr<Endpoint>> tcp_;
  std::unordered_map<std::string, std::unique_ptr<TcpConnection>> connections_;  // by peer
  FailureHandler on_failure_;
  std::vector<std::unique_ptr<TcpConnection>> closed_;  // freed at the next dispatch
  // One datagram at a time (an IPv4 UDP payload is at most 65507 bytes, so nothing is cut).
  std::vector<char> udp_buffer_ = std::vector<char>(kMaxMessageBytes);
  TransportCounters counters_;
  RareLog rare_log_;
};

SipTransportImpl::~SipTransportImpl() {
  // Sockets close without telling anyone; the owner callbacks must not run during destruction.
  closed_.clear();
  connections_.clear();
}

Status SipTransportImpl::Open(const std::vector<core::ListenAddress>& listen) {
  for (const auto& address : listen) {
    if (auto added = AddEndpoint(address); !added) return added;
  }
  return {};
}

Status SipTransportImpl::AddEndpoint(core::ListenAddress address) {
  auto fd = internal::OpenListenSocket(address);
  if (!fd) return Fail(fd.error().message);
  auto endpoint = std::make_unique<Endpoint>(Endpoint{std::move(address), std::move(*fd), {}});
  Endpoint* raw = endpoint.get();
  bool tcp = raw->local.transport == core::Transport::kTcp;
  auto source = loop_.WatchFd(raw->fd.get(), EPOLLIN, [this, raw, tcp](uint32_t) {
    ReapClosed();
    if (tcp) {
      OnAcceptable(*raw);
    } else {
      OnUdpReadable(*raw);
    }
  });
  if (!source) return Fail(source.error().message);
  raw->source = std::move(*source);
  (tcp ? tcp_ : udp_).push_back(std::move(endpoint));
  return {};
}

void SipTransportImpl::OnUdpReadable(Endpoint& endpoint) {
  char* buffer = udp_buffer_.data();
  while (true) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(endpoint.fd.get(), buffer, udp_buffer_.size(), 0,
                         reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or an ICMP error queued on the socket: nothing to read now
    }
    ++counters_.udp_received;
    InboundMessage message{
        std::string_view(buffer, static_cast<size_t>(n)),
        PeerAddress{core::Transport::kUdp, internal::HostOf(peer), internal::PortOf(peer)},
        endpoint.local};
    on_message_(message);
  }
}

void SipTransportImpl::OnAcceptable(Endpoint& endpoint) {
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    UniqueFd fd(accept4(endpoint.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        rare_log_.Report(internal::ErrnoText("TCP accept failed", errno), endpoint.local.host);
      }
      return;
    }
    Accept(endpoint, std::move(fd), peer);
  }
}

void SipTransportImpl::Accept(Endpoint& endpoint, UniqueFd fd, const sockaddr_in& peer) {
  PeerAddress source{core::Transport::kTcp, internal::HostOf(peer), internal::PortOf(peer)};
  if (connections_.size() >= kMaxTcpConnections) {
    rare_log_.Report("TCP connection refused: too many open connections",
                     Key(source.host, source.port));
    return;
  }
  auto connection = std::make_unique<TcpConnection>(loop_, *this, fd.release(), std::move(source),
                                                    endpoint.local, /*connecting=*/false);
  if (auto started = connection->Start(); !started) {
    rare_log_.Report("TCP accept: " + started.error().message, endpoint.local.host);
    return;
  }
  Adopt(std::move(connection));
}

TcpConnection* SipTransportImpl::Adopt(std::unique_ptr<TcpConnection> connection) {
  const PeerAddress& peer = connection->peer();
  auto& slot = connections_[Key(peer.host, peer.port)];
  // The same peer address from another local address: the newer connection wins the key.
  if (slot) slot->Close(CloseReason::kOwner, "replaced by a new connection from the same peer");
  TcpConnection* raw = connection.get();
  connections_[Key(peer.host, peer.port)] = std::move(connection);
  counters_.tcp_connections = connections_.size();
  return raw;
}

void SipTransportImpl::OnTcpMessage(TcpConnection& connection, std::string_view message) {
  ++counters_.tcp_received;
  on_message_(InboundMessage{message, connection.peer(), connection.local()});
}

void SipTransportImpl::OnTcpClosed(TcpConnection& connection, CloseReason reason,
                                   std::string_view detail) {
  const PeerAddress& peer = connection.peer();
  std::string key = Key(peer.host, peer.port);
  switch (reason) {
    case CloseReason::kFraming:
      ++counters_.framing_errors;
      rare_log_.Report("TCP connection closed: " + std::string(detail), key);
      break;
    case CloseReason::kQueueOverflow:
    case CloseReason::kConnectFailed:
    case CloseReason::kIoError:
      ++counters_.send_errors;
      rare_log_.Report("TCP connection closed: " + std::string(detail), key);
      if (on_failure_) on_failure_(peer);
      break;
    case CloseReason::kPeerClosed:
    case CloseReason::kOwner:
      break;
  }
  auto it = connections_.find(key);
  if (it != connections_.end() && it->second.get() == &connection) {
    closed_.push_back(std::move(it->second));
    connections_.erase(it);
  }
  counters_.tcp_connections = connections_.size();
}

Status SipTransportImpl::Send(const PeerAddress& destination, std::string_view bytes) {
  if (bytes.size() > kMaxMessageBytes) {
    ++counters_.send_errors;
    return Fail("SIP message of " + std::to_string(bytes.size()) + " bytes is over the limit");
  }
  Status sent = destination.transport == core::Transport::kTcp ? SendTcp(destination, bytes)
                                                               : SendUdp(destination, bytes);
  return sent;
}

Status SipTransportImpl::SendUdp(const PeerAddress& destination, std::string_view bytes) {
  if (udp_.empty()) {
    ++counters_.send_errors;
    return Fail("no UDP listen address to send from");
  }
  auto address = internal::MakeSockaddr(destination.host, destination.port);
  if (!address) {
    ++counters_.send_errors;
    return Fail(address.error().message);
  }
  ssize_t n;
  do {
    n = sendto(udp_.front()->fd.get(), bytes.data(), bytes.size(), 0,
               reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ++counters_.send_errors;
    return Fail(
        internal::ErrnoText("UDP send to " + Key(destination.host, destination.port), errno));
  }
  return {};
}

Status SipTransportImpl::SendTcp(const PeerAddress& destination, std::string_view bytes) {
  TcpConnection* connection = nullptr;
  auto it = connections_.find(Key(destination.host, destination.port));
  if (it != connections_.end()) {
    connection = it->second.get();
  } else {
    auto connected = Connect(destination);
    if (!connected) {
      ++counters_.send_errors;
      return Fail(connected.error().message);
    }
    connection = *connected;
  }
  // A failing Send closes the connection, and OnTcpClosed counts it.
  return connection->Send(bytes);
}

Result<TcpConnection*> SipTransportImpl::Connect(const PeerAddress& destination) {
  if (tcp_.empty()) return Fail("no TCP listen address to send from");
  const std::string key = Key(destination.host, destination.port);
  if (connections_.size() >= kMaxTcpConnections) {
    return Fail("TCP connect to " + key + ": too many open connections");
  }
  auto address = internal::MakeSockaddr(destination.host, destination.port);
  if (!address) return Fail(address.error().message);
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Fail(internal::ErrnoText("TCP socket", errno));
  int r = connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
  if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
    return Fail(internal::ErrnoText("TCP connect to " + key, errno));
  }
  PeerAddress peer{core::Transport::kTcp, destination.host, destination.port};
  auto connection = std::make_unique<TcpConnection>(loop_, *this, fd.release(), std::move(peer),
                                                    tcp_.front()->local, /*connecting=*/r < 0);
  if (auto started = connection->Start(); !started) return Fail(started.error().message);
  return Adopt(std::move(connection));
}

const core::ListenAddress* SipTransportImpl::LocalAddress(core::Transport transport) const {
  const auto& endpoints = transport == core::Transport::kTcp ? tcp_ : udp_;
  return endpoints.empty() ? nullptr : &endpoints.front()->local;
}

TransportCounters SipTransportImpl::Counters() const { return counters_; }

}  // namespace

Result<std::unique_ptr<SipTransport>> SipTransport::Create(
    core::EventLoop& loop, const std::vector<core::ListenAddress>& listen,
    MessageHandler on_message) {
  auto transport = std::make_unique<SipTransportImpl>(loop, std::move(on_message));
  if (auto opened = transport->Open(listen); !opened) return Fail(opened.error().message);
  return std::unique_ptr<SipTransport>(std::move(transport));
}

}  // namespace anchord::signaling
