// SipTransport: SIP over UDP and TCP on the signaling thread.
//
// UDP: one socket per listen address; a datagram is one message. TCP: a listening socket per
// listen address, accepted and outgoing connections, stream framing by the blank line and
// Content-Length (or compact "l:") as RFC 3261 §18.3 requires; CRLF keep-alives are skipped.
// A connection whose framing is broken or whose message exceeds kMaxMessageBytes is closed and
// counted. Nothing here parses SIP beyond framing.
//
// Threading: signaling thread only. Never blocks: sends that cannot complete are queued per
// TCP connection (bounded; a connection whose queue overflows is closed and counted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/event_loop.h"
#include "core/result.h"

namespace anchord::signaling {

inline constexpr size_t kMaxMessageBytes = 65535;

struct PeerAddress {
  core::Transport transport = core::Transport::kUdp;
  std::string host;  // numeric IPv4
  uint16_t port = 0;
};

struct InboundMessage {
  std::string_view data;      // one whole SIP message (valid during the callback only)
  PeerAddress source;         // where it came from
  core::ListenAddress local;  // the listen address it arrived on
};

struct TransportCounters {
  uint64_t udp_received = 0;
  uint64_t tcp_received = 0;
  uint64_t framing_errors = 0;  // TCP streams closed for bad framing or oversize messages
  uint64_t send_errors = 0;
  uint64_t tcp_connections = 0;  // currently open
};

class SipTransport {
 public:
  using MessageHandler = std::function<void(const InboundMessage&)>;

  // Binds every listen address (fails with a message naming the address if one cannot be bound).
  static Result<std::unique_ptr<SipTransport>> Create(
      core::EventLoop& loop, const std::vector<core::ListenAddress>& listen,
      MessageHandler on_message);
  virtual ~SipTransport() = default;

  // Sends one whole message. UDP: from the socket listening on that transport. TCP: on an open
  // connection to exactly that host:port (accepted or outgoing) if there is one, else a new
  // non-blocking connection; bytes are queued until it connects. Errors that are known at once
  // (no socket for that transport, connect() refused immediately) are returned.
  virtual Status Send(const PeerAddress& destination, std::string_view bytes) = 0;

  // The address to put in Via/Contact for messages sent over `transport` (the first listen
  // address of that transport); nullptr if anchord does not listen on it.
  virtual const core::ListenAddress* LocalAddress(core::Transport transport) const = 0;

  virtual TransportCounters Counters() const = 0;

  // Called (signaling thread) when an outgoing TCP connection could not be made or broke with
  // bytes still queued: what was sent to `peer` over TCP may not have arrived.
  using FailureHandler = std::function<void(const PeerAddress& peer)>;
  virtual void SetFailureHandler(FailureHandler on_failure) = 0;
};

}  // namespace anchord::signaling
