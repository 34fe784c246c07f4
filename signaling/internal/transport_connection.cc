#include "signaling/internal/transport_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <systemd/sd-event.h>

namespace anchord::signaling::internal {
namespace {

// Reads per readiness callback before yielding to other sources (level-triggered: the loop
// comes back if more is pending), so one busy peer cannot starve the others.
constexpr int kMaxReadsPerWakeup = 16;
constexpr size_t kReadChunk = 65536;

}  // namespace

TcpConnection::TcpConnection(core::EventLoop& loop, TcpConnectionOwner& owner, int fd,
                             PeerAddress peer, core::ListenAddress local, bool connecting)
    : loop_(loop),
      owner_(owner),
      fd_(fd),
      peer_(std::move(peer)),
      local_(std::move(local)),
      connecting_(connecting),
      framer_(kMaxMessageBytes) {}

TcpConnection::~TcpConnection() {
  source_ = core::EventSource();
  if (fd_ >= 0) close(fd_);
}

Status TcpConnection::Start() {
  watching_out_ = connecting_;
  auto source = loop_.WatchFd(fd_, EPOLLIN | (connecting_ ? EPOLLOUT : 0u),
                              [this](uint32_t revents) { OnIo(revents); });
  if (!source) return Fail(source.error().message);
  source_ = std::move(*source);
  return {};
}

void TcpConnection::WatchWritable(bool on) {
  if (on == watching_out_ || !source_) return;
  watching_out_ = on;
  sd_event_source_set_io_events(source_.get(), EPOLLIN | (on ? EPOLLOUT : 0u));
}

void TcpConnection::Close(CloseReason reason, std::string_view detail) {
  if (fd_ < 0) return;
  // sd-event defers freeing a source that is being dispatched, so this is safe from OnIo.
  source_ = core::EventSource();
  close(fd_);
  fd_ = -1;
  out_.clear();
  out_sent_ = 0;
  owner_.OnTcpClosed(*this, reason, detail);
}

Status TcpConnection::Send(std::string_view bytes) {
  if (closed()) return Fail("connection closed");
  size_t queued = out_.size() - out_sent_;
  if (queued + bytes.size() > kMaxQueuedBytes) {
    Close(CloseReason::kQueueOverflow, "send queue full");
    return Fail("TCP send queue to " + peer_.host + ":" + std::to_string(peer_.port) + " full");
  }
  if (out_sent_ > 0 && out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  out_.append(bytes);
  if (connecting_) return {};
  if (!Flush())
    return Fail("TCP send to " + peer_.host + ":" + std::to_string(peer_.port) + " failed");
  return {};
}

bool TcpConnection::Flush() {
  while (out_sent_ < out_.size()) {
    ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      WatchWritable(true);
      return true;
    }
    Close(CloseReason::kIoError, n < 0 ? std::strerror(errno) : "send returned 0");
    return false;
  }
  out_.clear();
  out_sent_ = 0;
  WatchWritable(false);
  return true;
}

void TcpConnection::OnConnected() {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
  if (error != 0) {
    Close(CloseReason::kConnectFailed, std::strerror(error));
    return;
  }
  connecting_ = false;
  Flush();
}

void TcpConnection::OnIo(uint32_t revents) {
  if (closed()) return;
  owner_.ReapClosed();
  if (connecting_) {
    if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    OnConnected();
    if (closed()) return;
  } else if (revents & EPOLLOUT) {
    if (!Flush()) return;
  }
  if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) ReadAll();
}

void TcpConnection::ReadAll() {
  char buffer[kReadChunk];
  for (int i = 0; i < kMaxReadsPerWakeup && !closed(); ++i) {
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
      Close(CloseReason::kIoError, std::strerror(errno));
      return;
    }
    if (n == 0) {
      Close(CloseReason::kPeerClosed, "closed by peer");
      return;
    }
    framer_.Append(std::string_view(buffer, static_cast<size_t>(n)));
    if (!Deliver()) return;
  }
}

bool TcpConnection::Deliver() {
  while (true) {
    auto next = framer_.Next();
    if (!next) {
      Close(CloseReason::kFraming, next.error().message);
      return false;
    }
    if (!*next) return true;
    owner_.OnTcpMessage(*this, **next);
    if (closed()) return false;
  }
}

}  // namespace anchord::signaling::internal
