// The ThirdPartyController test fixture: a real UDP SipTransport and SipStack on 127.0.0.1
// port 0, plain UDP sockets playing parties A and B with hand-written SIP, and a small router
// that hands the controller what it claims, by the same rules as Controller (DialogOwner), so
// the tests do not depend on the anchored B2BUA. Shared by third_party_test.cc (flows I-IV,
// failures, continued processing) and third_party_early_test.cc (RFC 3725 §8 early media).
#pragma once

#include "signaling/third_party.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "media/media_plane.h"
#include "signaling/internal/sdp_relay.h"
#include "signaling/sip_stack.h"
#include "signaling/transport.h"
#include "tests/unit/signaling/sip_test_peer.h"

namespace anchord::signaling::tpctest {

using core::Transport;
using testutil::BodyOf;
using testutil::HeaderValue;
using testutil::IsRequest;
using testutil::IsResponse;
using testutil::LoopDriver;
using testutil::PeerSdp;
using testutil::ResponseTo;
using testutil::SipTestPeer;
using testutil::WithBody;

class FakeMedia : public media::MediaPlane {
 public:
  Result<media::LocalMedia> CreateLeg(CallId, LegId leg) override {
    created.push_back(leg);
    return media::LocalMedia{"127.0.0.1", 40000};
  }
  void SetRemote(LegId, const media::RemoteMedia& remote) override { remotes.push_back(remote); }
  void Connect(LegId leg) override { connected.push_back(leg); }
  void Disconnect(LegId) override {}
  void SetTone(LegId leg, media::Tone t) override { tone.emplace_back(leg, t); }
  void WatchSilence(LegId, uint32_t) override {}
  void MarkGap(LegId) override {}
  void DestroyLeg(LegId leg) override { destroyed.push_back(leg); }

  std::vector<LegId> created, connected, destroyed;
  std::vector<media::RemoteMedia> remotes;
  std::vector<std::pair<LegId, media::Tone>> tone;
};

// What Controller does for a DialogOwner, nothing else.
class Router : public SipStackHandler {
 public:
  explicit Router(DialogOwner& owner) : owner_(owner) {}
  void OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) override {
    if (owner_.OwnsDialog(CallIdOf(request), ToTag(request))) {
      owner_.OnRequest(tx, request, source);
    } else {
      ++unrouted;
    }
  }
  void OnAck(const osip_message_t* ack) override {
    if (owner_.OwnsDialog(CallIdOf(ack), ToTag(ack))) owner_.OnAck(ack);
  }
  void OnResponse(TxId tx, const osip_message_t* response) override {
    if (owner_.OwnsTransaction(tx)) owner_.OnResponse(tx, response);
  }
  void OnStrayResponse(const osip_message_t* response) override {
    if (owner_.OwnsDialog(CallIdOf(response), FromTag(response))) {
      owner_.OnStrayResponse(response);
    }
  }
  void OnClientFailure(TxId tx, int code) override {
    if (owner_.OwnsTransaction(tx)) owner_.OnClientFailure(tx, code);
  }
  int unrouted = 0;

 private:
  DialogOwner& owner_;
};

inline internal::RelaySdp SdpOf(const std::string& message) {
  auto sdp = internal::ParseRelaySdp(BodyOf(message));
  EXPECT_TRUE(sdp.has_value()) << message;
  return sdp ? *sdp : internal::RelaySdp{};
}

inline internal::Origin OriginIn(const std::string& message) {
  auto origin = internal::OriginOf(SdpOf(message));
  EXPECT_TRUE(origin.has_value());
  return origin.value_or(internal::Origin{});
}

inline const std::string kNoMedia = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
constexpr uint16_t kARtp = 20000;
constexpr uint16_t kBRtp = 22000;

class ThirdPartyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = core::EventLoop::Create();
    ASSERT_TRUE(loop.has_value());
    loop_ = std::move(*loop);
    auto transport = SipTransport::Create(*loop_, {{Transport::kUdp, "127.0.0.1", 0}},
                                          [this](const InboundMessage& m) { stack_->Receive(m); });
    ASSERT_TRUE(transport.has_value());
    transport_ = std::move(*transport);
    tpc_ = std::make_unique<ThirdPartyController>(
        *loop_, media_, [this](const std::string& uri) { return uri == automaton_; },
        ThirdPartyOptions{"127.0.0.1", 60000, 2});
    router_ = std::make_unique<Router>(*tpc_);
    auto stack = SipStack::Create(*loop_, *transport_, *router_);
    ASSERT_TRUE(stack.has_value());
    stack_ = std::move(*stack);
    tpc_->Attach(stack_.get());
    driver_ = std::make_unique<LoopDriver>(*loop_);
    driver_->Watch(&a_);
    driver_->Watch(&b_);
  }
  void TearDown() override {
    driver_->RunFor(5'000);
    stack_.reset();
    tpc_.reset();
    driver_->RunFor(5'000);
  }

  uint16_t StackPort() const { return transport_->LocalAddress(Transport::kUdp)->port; }
  SipTestPeer& Peer(char who) { return who == 'A' ? a_ : b_; }
  std::string Uri(char who) { return Peer(who).uri(who == 'A' ? "alice" : "bob"); }

  uint64_t Dial(int flow, bool callback = false) {
    NewCallRequest request{Uri('A'), Uri('B'), flow, false, callback};
    auto id = tpc_->Start(++next_id_, request);
    EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message);
    return id.value_or(0);
  }

  std::string Expect(char who, const testutil::Predicate& what, const char* label) {
    auto got = driver_->WaitFor(Peer(who), what);
    EXPECT_TRUE(got.has_value()) << who << " got no " << label;
    return got.value_or("");
  }
  std::string ExpectRequest(char who, const std::string& method) {
    return Expect(who, IsRequest(method), method.c_str());
  }

  // The party answers `invite` (initial or re-INVITE) with 200 and `sdp` (none if empty).
  std::string Answer(char who, const std::string& invite, const std::string& sdp, int code = 200) {
    std::string extra = "Contact: <" + Uri(who) + ">\r\n";
    if (!sdp.empty()) extra += "Content-Type: application/sdp\r\n";
    std::string ok =
        ResponseTo(invite, code, code == 200 ? "OK" : "Failed",
                   std::string(1, static_cast<char>(tolower(who))) + "-tag", extra, sdp);
    Peer(who).SendTo(StackPort(), ok);
    return ok;
  }

  // An in-dialog request from the party after the server's `invite` and the party's `ok`.
  std::string PartyRequest(char who, const std::string& method, uint32_t cseq,
                           const std::string& invite, const std::string& ok,
                           const std::string& sdp = "", const std::string& extra = "") {
    std::string contact = HeaderValue(invite, "Contact");
    std::string target = contact.substr(1, contact.find('>') - 1);
    std::string head =
        method + " " + target +
        " SIP/2.0\r\nVia: " + Peer(who).via("z9hG4bK-" + method + std::to_string(cseq) + who) +
        "\r\nFrom: " + HeaderValue(ok, "To") + "\r\nTo: " + HeaderValue(invite, "From") +
        "\r\nCall-ID: " + HeaderValue(invite, "Call-ID") + "\r\nCSeq: " + std::to_string(cseq) +
        " " + method + "\r\nContact: <" + Uri(who) + ">\r\nMax-Forwards: 70\r\n" + extra;
    if (!sdp.empty()) head += "Content-Type: application/sdp\r\n";
    std::string text = WithBody(head, sdp);
    Peer(who).SendTo(StackPort(), text);
    return text;
  }

  struct Setup {
    uint64_t id = 0;
    std::string a_invite, a_ok, b_invite, b_ok;
  };
  // Flow IV up to connected, as RFC 3725 Fig. 4.
  Setup ConnectFlow4(bool callback = false) {
    Setup s;
    s.id = Dial(4, callback);
    s.a_invite = ExpectRequest('A', "INVITE");
    s.a_ok = Answer('A', s.a_invite, kNoMedia);
    ExpectRequest('A', "ACK");
    s.b_invite = ExpectRequest('B', "INVITE");
    s.b_ok = Answer('B', s.b_invite, PeerSdp(kBRtp));
    std::string reinvite = ExpectRequest('A', "INVITE");
    Answer('A', reinvite, PeerSdp(kARtp));
    ExpectRequest('B', "ACK");
    ExpectRequest('A', "ACK");
    return s;
  }

  FakeMedia media_;
  std::string automaton_ = "none";
  std::unique_ptr<core::EventLoop> loop_;
  std::unique_ptr<SipTransport> transport_;
  std::unique_ptr<ThirdPartyController> tpc_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<SipStack> stack_;
  std::unique_ptr<LoopDriver> driver_;
  SipTestPeer a_, b_;
  uint64_t next_id_ = 100;
};

}  // namespace anchord::signaling::tpctest
