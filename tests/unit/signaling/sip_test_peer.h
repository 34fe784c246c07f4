// Test helpers for the SIP stack and controller tests: SipTestPeer, a plain UDP socket on
// 127.0.0.1 that plays a caller or a position with hand-written SIP text and keeps every
// datagram that reaches it; LoopDriver, which runs the signaling loop until a condition holds
// or a deadline passes (no sleep-and-hope); and small readers and writers of SIP text.
//
// Header-only; signaling-thread (test-thread) use only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <osipparser2/osip_parser.h>
#include <systemd/sd-event.h>

#include "core/clock.h"
#include "core/event_loop.h"
#include "signaling/sip_message.h"

namespace anchord::signaling::testutil {

inline constexpr uint64_t kDefaultDeadlineUs = 5'000'000;

// ---------------------------------------------------------------------------------------------
// Reading SIP text (as osip serializes it: full header names, CRLF line ends).

// Every value of header `name` (case-insensitive) in the head of `message`, in order.
inline std::vector<std::string> HeaderValues(std::string_view message, std::string_view name) {
  std::vector<std::string> values;
  size_t end_of_head = message.find("\r\n\r\n");
  std::string_view head = message.substr(0, end_of_head);
  size_t pos = head.find("\r\n");  // skip the start line
  while (pos != std::string_view::npos) {
    size_t start = pos + 2;
    size_t next = head.find("\r\n", start);
    std::string_view line =
        head.substr(start, next == std::string_view::npos ? std::string_view::npos : next - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view key = line.substr(0, colon);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
      if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        values.emplace_back(value);
      }
    }
    pos = next;
  }
  return values;
}

// The first value of header `name`, or empty.
inline std::string HeaderValue(std::string_view message, std::string_view name) {
  std::vector<std::string> values = HeaderValues(message, name);
  return values.empty() ? std::string() : values.front();
}

inline std::string BodyOf(std::string_view message) {
  size_t end_of_head = message.find("\r\n\r\n");
  return end_of_head == std::string_view::npos ? std::string()
                                               : std::string(message.substr(end_of_head + 4));
}

// The value of parameter `name` (";name=value") in a header value, or empty.
inline std::string ParamOf(std::string_view header, std::string_view name) {
  std::string needle = ";" + std::string(name) + "=";
  size_t at = header.find(needle);
  if (at == std::string_view::npos) return {};
  size_t start = at + needle.size();
  size_t end = header.find_first_of(";>, \r\n", start);
  return std::string(header.substr(start, end == std::string_view::npos ? end : end - start));
}

// "SIP/2.0 180 Ringing ..." -> 180; a request -> 0.
inline int StatusOf(std::string_view message) {
  if (message.rfind("SIP/2.0 ", 0) != 0 || message.size() < 11) return 0;
  return std::stoi(std::string(message.substr(8, 3)));
}

inline std::string CseqMethodOf(std::string_view message) {
  std::string cseq = HeaderValue(message, "CSeq");
  size_t space = cseq.find(' ');
  return space == std::string::npos ? std::string() : cseq.substr(space + 1);
}

using Predicate = std::function<bool(const std::string&)>;

inline Predicate IsResponse(int code, std::string method = "") {
  return [code, method](const std::string& m) {
    return StatusOf(m) == code && (method.empty() || CseqMethodOf(m) == method);
  };
}

inline Predicate IsRequest(std::string method) {
  return [method](const std::string& m) { return m.rfind(method + " ", 0) == 0; };
}

// Parses SIP text with osip (for assertions that want structure); nullptr if it does not parse.
inline MessagePtr ParseSip(std::string_view text) {
  parser_init();  // reference-counted in osip 5; harmless when the stack already did it
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return nullptr;
  MessagePtr owned(m);
  if (osip_message_parse(m, text.data(), text.size()) != 0) return nullptr;
  return owned;
}

// ---------------------------------------------------------------------------------------------
// Writing SIP text.

// `head` is the start line and headers, each ending in CRLF, without Content-Length.
inline std::string WithBody(const std::string& head, const std::string& body = "") {
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A response to `request` as a UAS writes it (RFC 3261 §8.2.6): every Via in order, From,
// To (with `to_tag` added when it has none and `to_tag` is non-empty), Call-ID and CSeq, then
// `extra` headers (each ending in CRLF) and the body.
inline std::string ResponseTo(const std::string& request, int code, const std::string& reason,
                              const std::string& to_tag = "", const std::string& extra = "",
                              const std::string& body = "") {
  std::string head = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
  for (const std::string& via : HeaderValues(request, "Via")) head += "Via: " + via + "\r\n";
  head += "From: " + HeaderValue(request, "From") + "\r\n";
  std::string to = HeaderValue(request, "To");
  if (!to_tag.empty() && to.find(";tag=") == std::string::npos) to += ";tag=" + to_tag;
  head += "To: " + to + "\r\n";
  head += "Call-ID: " + HeaderValue(request, "Call-ID") + "\r\n";
  head += "CSeq: " + HeaderValue(request, "CSeq") + "\r\n";
  head += extra;
  return WithBody(head, body);
}

// A plain audio SDP as a caller or position would send it.
inline std::string PeerSdp(uint16_t rtp_port, const std::string& formats = "0 8") {
  std::string rtpmaps;
  std::string padded = " " + formats + " ";
  if (padded.find(" 0 ") != std::string::npos) rtpmaps += "a=rtpmap:0 PCMU/8000\r\n";
  if (padded.find(" 8 ") != std::string::npos) rtpmaps += "a=rtpmap:8 PCMA/8000\r\n";
  if (padded.find(" 18 ") != std::string::npos) rtpmaps += "a=rtpmap:18 G729/8000\r\n";
  return "v=0\r\n"
         "o=peer 1 1 IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "c=IN IP4 127.0.0.1\r\n"
         "t=0 0\r\n"
         "m=audio " +
         std::to_string(rtp_port) + " RTP/AVP " + formats + "\r\n" + rtpmaps + "a=sendrecv\r\n";
}

// ---------------------------------------------------------------------------------------------
// SipTestPeer

class SipTestPeer {
 public:
  SipTestPeer() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr = Loopback(0);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SipTestPeer() {
    if (fd_ >= 0) close(fd_);
  }
  SipTestPeer(const SipTestPeer&) = delete;
  SipTestPeer& operator=(const SipTestPeer&) = delete;

  uint16_t port() const { return port_; }
  std::string uri(const std::string& user) const {
    return "sip:" + user + "@127.0.0.1:" + std::to_string(port_);
  }
  // "SIP/2.0/UDP 127.0.0.1:<port>;branch=<branch>"
  std::string via(const std::string& branch) const {
    return "SIP/2.0/UDP 127.0.0.1:" + std::to_string(port_) + ";branch=" + branch;
  }

  void SendTo(uint16_t port, const std::string& text) {
    sockaddr_in addr = Loopback(port);
    ssize_t n = sendto(fd_, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&addr),
                       sizeof addr);
    EXPECT_EQ(n, static_cast<ssize_t>(text.size()));
  }

  // Reads every datagram waiting now.
  void Poll() {
    char buffer[65536];
    while (true) {
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0) return;
      received_.emplace_back(buffer, static_cast<size_t>(n));
      taken_.push_back(false);
    }
  }

  const std::vector<std::string>& received() const { return received_; }
  size_t count(const Predicate& matches) const {
    size_t n = 0;
    for (const std::string& m : received_) n += matches(m) ? 1 : 0;
    return n;
  }

  // The first datagram not taken yet that `matches`; marks it taken.
  std::optional<std::string> Take(const Predicate& matches) {
    for (size_t i = 0; i < received_.size(); ++i) {
      if (!taken_[i] && matches(received_[i])) {
        taken_[i] = true;
        return received_[i];
      }
    }
    return std::nullopt;
  }

 private:
  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  int fd_;
  uint16_t port_ = 0;
  std::vector<std::string> received_;
  std::vector<bool> taken_;
};

// ---------------------------------------------------------------------------------------------
// LoopDriver

class LoopDriver {
 public:
  explicit LoopDriver(core::EventLoop& loop) : loop_(loop) {}

  void Watch(SipTestPeer* peer) { peers_.push_back(peer); }

  // Runs the loop (and polls the peers) until `done` holds or `timeout_us` passes.
  bool RunUntil(const std::function<bool()>& done, uint64_t timeout_us = kDefaultDeadlineUs) {
    uint64_t deadline = core::MonotonicUs() + timeout_us;
    while (true) {
      PollPeers();
      if (done()) return true;
      if (core::MonotonicUs() > deadline) return false;
      sd_event_run(loop_.raw(), 2'000);
    }
  }

  // Runs the loop for `us`; only for showing that something does NOT happen.
  void RunFor(uint64_t us) {
    uint64_t end = core::MonotonicUs() + us;
    while (core::MonotonicUs() < end) {
      sd_event_run(loop_.raw(), 2'000);
      PollPeers();
    }
  }

  // Runs until `peer` got a datagram that `matches` (and takes it); nullopt at the deadline.
  std::optional<std::string> WaitFor(SipTestPeer& peer, const Predicate& matches,
                                     uint64_t timeout_us = kDefaultDeadlineUs) {
    std::optional<std::string> got;
    RunUntil([&] { return (got = peer.Take(matches)).has_value(); }, timeout_us);
    return got;
  }

 private:
  void PollPeers() {
    for (SipTestPeer* peer : peers_) peer->Poll();
  }

  core::EventLoop& loop_;
  std::vector<SipTestPeer*> peers_;
};

}  // namespace anchord::signaling::testutil
