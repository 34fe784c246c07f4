#include "signaling/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <systemd/sd-event.h>

#include "core/clock.h"

namespace anchord::signaling {
namespace {

using core::Transport;

constexpr uint64_t kDeadlineUs = 5'000'000;

std::string Message(const std::string& method, const std::string& body = "") {
  return method + " sip:pos1@127.0.0.1 SIP/2.0\r\nCall-ID: " + method +
         "@test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Received {
  std::string data;
  PeerAddress source;
  core::ListenAddress local;
};

// A plain blocking test socket, closed on destruction.
class Socket {
 public:
  explicit Socket(int type) : fd_(socket(AF_INET, type, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

  void Bind(uint16_t port = 0) { ASSERT_EQ(bind(fd_, Addr(port), sizeof addr_), 0); }
  void Connect(uint16_t port) {
    ASSERT_EQ(connect(fd_, Addr(port), sizeof addr_), 0) << strerror(errno);
    int one = 1;  // so that separate writes leave as separate segments
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  void Write(const std::string& bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  void SendTo(uint16_t port, const std::string& bytes) {
    ASSERT_EQ(sendto(fd_, bytes.data(), bytes.size(), 0, Addr(port), sizeof addr_),
              static_cast<ssize_t>(bytes.size()));
  }
  uint16_t LocalPort() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
  // Appends whatever is readable now to `into`; false once the peer has closed.
  bool ReadAvailable(std::string& into) {
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return true;
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      into.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  const sockaddr* Addr(uint16_t port) {
    addr_ = sockaddr_in{};
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(port);
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return reinterpret_cast<const sockaddr*>(&addr_);
  }
  int fd_;
  sockaddr_in addr_{};
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = core::EventLoop::Create();
    ASSERT_TRUE(loop.has_value()) << loop.error().message;
    loop_ = std::move(*loop);
    auto transport = SipTransport::Create(
        *loop_, {{Transport::kUdp, "127.0.0.1", 0}, {Transport::kTcp, "127.0.0.1", 0}},
        [this](const InboundMessage& m) {
          received_.push_back({std::string(m.data), m.source, m.local});
        });
    ASSERT_TRUE(transport.has_value()) << transport.error().message;
    transport_ = std::move(*transport);
  }

  uint16_t Port(Transport t) const { return transport_->LocalAddress(t)->port; }

  // Runs the loop until `done` holds or the deadline passes; returns `done()`.
  bool RunUntil(const std::function<bool()>& done) {
    uint64_t deadline = core::MonotonicUs() + kDeadlineUs;
    while (!done()) {
      if (core::MonotonicUs() > deadline) return false;
      sd_event_run(loop_->raw(), 10'000);
    }
    return true;
  }
  // Runs the loop for `us` (used only to show that something does NOT happen).
  void RunFor(uint64_t us) {
    uint64_t end = core::MonotonicUs() + us;
    while (core::MonotonicUs() < end) sd_event_run(loop_->raw(), 5'000);
  }

  std::unique_ptr<core::EventLoop> loop_;
  std::unique_ptr<SipTransport> transport_;
  std::vector<Received> received_;
};

TEST_F(TransportTest, PortZeroReportsTheBoundPorts) {
  ASSERT_NE(transport_->LocalAddress(Transport::kUdp), nullptr);
  ASSERT_NE(transport_->LocalAddress(Transport::kTcp), nullptr);
  EXPECT_NE(Port(Transport::kUdp), 0);
  EXPECT_NE(Port(Transport::kTcp), 0);
  EXPECT_EQ(transport_->LocalAddress(Transport::kTcp)->host, "127.0.0.1");
}

TEST_F(TransportTest, UdpRoundTrip) {
  Socket client(SOCK_DGRAM);
  client.Bind();
  client.SendTo(Port(Transport::kUdp), Message("OPTIONS"));
  client.SendTo(Port(Transport::kUdp), Message("INFO", "abc"));
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 2; }));
  EXPECT_EQ(received_[0].data, Message("OPTIONS"));
  EXPECT_EQ(received_[1].data, Message("INFO", "abc"));
  EXPECT_EQ(received_[0].source.transport, Transport::kUdp);
  EXPECT_EQ(received_[0].source.host, "127.0.0.1");
  EXPECT_EQ(received_[0].source.port, client.LocalPort());
  EXPECT_EQ(received_[0].local.port, Port(Transport::kUdp));
  EXPECT_EQ(transport_->Counters().udp_received, 2u);

  ASSERT_TRUE(transport_->Send(received_[0].source, "SIP/2.0 200 OK\r\n\r\n"));
  std::string reply;
  ASSERT_TRUE(RunUntil([&] { return client.ReadAvailable(reply) && !reply.empty(); }));
  EXPECT_EQ(reply, "SIP/2.0 200 OK\r\n\r\n");
}

TEST_F(TransportTest, TcpFramesCoalescedAndSplitWrites) {
  Socket client(SOCK_STREAM);
  client.Connect(Port(Transport::kTcp));
  const std::string a = Message("INVITE", "v=0\r\n");
  const std::string b = Message("ACK");
  const std::string c = Message("BYE", "0123456789");
  client.Write(a + b);
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 2; }));
  client.Write(c.substr(0, 7));
  RunFor(20'000);
  client.Write(c.substr(7, 50));
  RunFor(20'000);
  EXPECT_EQ(received_.size(), 2u);
  client.Write(c.substr(57));
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 3; }));
  RunFor(20'000);
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(received_[0].data, a);
  EXPECT_EQ(received_[1].data, b);
  EXPECT_EQ(received_[2].data, c);
  EXPECT_EQ(received_[2].source.transport, Transport::kTcp);
  EXPECT_EQ(received_[2].source.port, client.LocalPort());
  EXPECT_EQ(received_[2].local.port, Port(Transport::kTcp));
  auto counters = transport_->Counters();
  EXPECT_EQ(counters.tcp_received, 3u);
  EXPECT_EQ(counters.tcp_connections, 1u);
  EXPECT_EQ(counters.framing_errors, 0u);
}

TEST_F(TransportTest, TcpKeepAliveIsSkipped) {
  Socket client(SOCK_STREAM);
  client.Connect(Port(Transport::kTcp));
  client.Write("\r\n\r\n");
  client.Write("\r\n\r\n" + Message("OPTIONS") + "\r\n");
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 1; }));
  EXPECT_EQ(received_[0].data, Message("OPTIONS"));
  client.Write(Message("INFO"));
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 2; }));
  EXPECT_EQ(transport_->Counters().framing_errors, 0u);
  EXPECT_EQ(transport_->Counters().tcp_connections, 1u);
}

TEST_F(TransportTest, TcpWithoutContentLengthClosesAndCounts) {
  Socket client(SOCK_STREAM);
  client.Connect(Port(Transport::kTcp));
  client.Write("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\n");
  std::string ignored;
  ASSERT_TRUE(RunUntil([&] { return !client.ReadAvailable(ignored); }));  // closed by the server
  auto counters = transport_->Counters();
  EXPECT_EQ(counters.framing_errors, 1u);
  EXPECT_EQ(counters.tcp_connections, 0u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(TransportTest, TcpOversizeMessageClosesAndCounts) {
  Socket client(SOCK_STREAM);
  client.Connect(Port(Transport::kTcp));
  client.Write("MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 70000\r\n\r\n");
  std::string ignored;
  ASSERT_TRUE(RunUntil([&] { return !client.ReadAvailable(ignored); }));
  EXPECT_EQ(transport_->Counters().framing_errors, 1u);
  EXPECT_EQ(transport_->Counters().tcp_connections, 0u);
}

TEST_F(TransportTest, TcpSendReusesTheAcceptedConnection) {
  Socket client(SOCK_STREAM);
  client.Connect(Port(Transport::kTcp));
  client.Write(Message("INVITE"));
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 1; }));
  const std::string reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(transport_->Send(received_[0].source, reply));
  std::string got;
  ASSERT_TRUE(RunUntil([&] { return client.ReadAvailable(got) && got.size() >= reply.size(); }));
  EXPECT_EQ(got, reply);
  EXPECT_EQ(transport_->Counters().tcp_connections, 1u);
}

TEST_F(TransportTest, TcpSendToANewPeerConnectsAndDelivers) {
  Socket server(SOCK_STREAM);
  server.Bind();
  ASSERT_EQ(listen(server.fd(), 4), 0);
  PeerAddress peer{Transport::kTcp, "127.0.0.1", server.LocalPort()};
  ASSERT_TRUE(transport_->Send(peer, Message("INVITE", "x")));
  ASSERT_TRUE(transport_->Send(peer, Message("CANCEL")));  // queued or sent on the same connection
  EXPECT_EQ(transport_->Counters().tcp_connections, 1u);

  int accepted = -1;
  ASSERT_TRUE(RunUntil([&] {
    pollfd p{server.fd(), POLLIN, 0};
    if (poll(&p, 1, 0) == 1) accepted = accept(server.fd(), nullptr, nullptr);
    return accepted >= 0;
  }));
  std::string got;
  const std::string want = Message("INVITE", "x") + Message("CANCEL");
  pollfd p{accepted, POLLIN, 0};
  ASSERT_TRUE(RunUntil([&] {
    char buffer[4096];
    if (poll(&p, 1, 0) == 1) {
      ssize_t n = recv(accepted, buffer, sizeof buffer, 0);
      if (n > 0) got.append(buffer, static_cast<size_t>(n));
    }
    return got.size() >= want.size();
  }));
  EXPECT_EQ(got, want);

  // The peer answers on the same connection; it arrives keyed by that peer.
  const std::string reply = "SIP/2.0 100 Trying\r\nl: 0\r\n\r\n";
  ASSERT_EQ(send(accepted, reply.data(), reply.size(), 0), static_cast<ssize_t>(reply.size()));
  ASSERT_TRUE(RunUntil([&] { return received_.size() == 1; }));
  EXPECT_EQ(received_[0].data, reply);
  EXPECT_EQ(received_[0].source.port, server.LocalPort());
  close(accepted);
  ASSERT_TRUE(RunUntil([&] { return transport_->Counters().tcp_connections == 0; }));
}

TEST_F(TransportTest, TcpSendToAClosedPortIsAnError) {
  uint16_t port;
  {
    Socket gone(SOCK_STREAM);
    gone.Bind();
    port = gone.LocalPort();
  }
  auto sent = transport_->Send({Transport::kTcp, "127.0.0.1", port}, Message("OPTIONS"));
  // Refused at once or when the connect completes: either way it is counted.
  ASSERT_TRUE(RunUntil([&] { return transport_->Counters().send_errors == 1; }));
  EXPECT_EQ(transport_->Counters().tcp_connections, 0u);
  (void)sent;
}

TEST_F(TransportTest, BadDestinationsAreErrors) {
  EXPECT_FALSE(transport_->Send({Transport::kUdp, "not-an-ip", 5060}, "x"));
  EXPECT_FALSE(transport_->Send({Transport::kTcp, "example.com", 5060}, "x"));
  EXPECT_FALSE(transport_->Send({Transport::kUdp, "127.0.0.1", 5060},
                                std::string(kMaxMessageBytes + 1, 'x')));
  EXPECT_EQ(transport_->Counters().send_errors, 3u);
}

TEST(TransportCreateTest, BindFailureNamesTheAddress) {
  auto loop = core::EventLoop::Create();
  ASSERT_TRUE(loop.has_value());
  Socket taken(SOCK_STREAM);
  taken.Bind();
  ASSERT_EQ(listen(taken.fd(), 1), 0);
  auto transport = SipTransport::Create(**loop, {{Transport::kTcp, "127.0.0.1", taken.LocalPort()}},
                                        [](const InboundMessage&) {});
  ASSERT_FALSE(transport.has_value());
  EXPECT_NE(transport.error().message.find("127.0.0.1:" + std::to_string(taken.LocalPort())),
            std::string::npos)
      << transport.error().message;

  auto bad = SipTransport::Create(**loop, {{Transport::kUdp, "localhost", 0}},
                                  [](const InboundMessage&) {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("localhost"), std::string::npos);
}

TEST(TransportCreateTest, NoListenerForATransport) {
  auto loop = core::EventLoop::Create();
  ASSERT_TRUE(loop.has_value());
  auto transport = SipTransport::Create(**loop, {{Transport::kUdp, "127.0.0.1", 0}},
                                        [](const InboundMessage&) {});
  ASSERT_TRUE(transport.has_value());
  EXPECT_EQ((*transport)->LocalAddress(Transport::kTcp), nullptr);
  EXPECT_FALSE((*transport)->Send({Transport::kTcp, "127.0.0.1", 5060}, "x"));
}

}  // namespace
}  // namespace anchord::signaling
