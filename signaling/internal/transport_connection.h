// TcpConnection: one SIP-over-TCP connection (accepted or outgoing) of SipTransportImpl.
//
// Reads until EAGAIN and hands whole messages (StreamFramer) to its owner; writes at once when
// it can and queues the rest (bounded by kMaxQueuedBytes). EPOLLOUT is watched only while
// connecting or while bytes are queued, so an idle connection never wakes the loop.
//
// Closing: Close() releases the socket at once and tells the owner, which keeps the object
// alive until the current dispatch is over (a handler may close the connection it is being
// called from). Threading: signaling thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/event_loop.h"
#include "core/result.h"
#include "signaling/internal/stream_framer.h"
#include "signaling/transport.h"

namespace anchord::signaling::internal {

inline constexpr size_t kMaxQueuedBytes = 1 << 20;

enum class CloseReason { kPeerClosed, kFraming, kQueueOverflow, kIoError, kConnectFailed, kOwner };

class TcpConnection;

class TcpConnectionOwner {
 public:
  virtual ~TcpConnectionOwner() = default;
  // Called before IO on any connection, so the owner can free connections closed earlier.
  virtual void ReapClosed() = 0;
  virtual void OnTcpMessage(TcpConnection& connection, std::string_view message) = 0;
  // The socket is already closed; `detail` is the errno text or the framing error.
  virtual void OnTcpClosed(TcpConnection& connection, CloseReason reason,
                           std::string_view detail) = 0;
};

class TcpConnection {
 public:
  // Takes ownership of `fd` (non-blocking). `connecting`: a connect() is in progress.
  TcpConnection(core::EventLoop& loop, TcpConnectionOwner& owner, int fd, PeerAddress peer,
                core::ListenAddress local, bool connecting);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Registers with the loop; on error the connection is unusable (and not yet reported closed).
  Status Start();
  // Writes or queues `bytes`. On overflow or a write error the connection is closed (owner told)
  // and an error returned.
  Status Send(std::string_view bytes);
  // Closes the socket and tells the owner (once).
  void Close(CloseReason reason, std::string_view detail);

  const PeerAddress& peer() const { return peer_; }
  const core::ListenAddress& local() const { return local_; }
  bool closed() const { return fd_ < 0; }

 private:
  void OnIo(uint32_t revents);
  void OnConnected();
  void ReadAll();
  bool Deliver();  // false when the connection was closed meanwhile
  bool Flush();    // false when the connection was closed
  void WatchWritable(bool on);

  core::EventLoop& loop_;
  TcpConnectionOwner& owner_;
  int fd_;
  PeerAddress peer_;
  core::ListenAddress local_;
  bool connecting_;
  bool watching_out_ = false;
  core::EventSource source_;
  StreamFramer framer_;
  std::string out_;  // queued bytes; out_[out_sent_..] still to be written
  size_t out_sent_ = 0;
};

}  // namespace anchord::signaling::internal
