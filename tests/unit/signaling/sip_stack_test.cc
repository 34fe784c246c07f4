// SipStack: osip2 transactions driven from the event loop, found through our own branch index.
// A real UDP transport on 127.0.0.1 port 0 and a plain UDP socket as the peer; the handler
// records every callback.
#include "signaling/sip_stack.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "signaling/sip_message.h"
#include "signaling/transport.h"
#include "tests/unit/signaling/sip_test_peer.h"

namespace anchord::signaling {
namespace {

using core::Transport;
using testutil::HeaderValue;
using testutil::IsRequest;
using testutil::IsResponse;
using testutil::LoopDriver;
using testutil::ParamOf;
using testutil::ParseSip;
using testutil::ResponseTo;
using testutil::SipTestPeer;
using testutil::WithBody;

class RecordingHandler : public SipStackHandler {
 public:
  struct Request {
    TxId tx = 0;
    std::string method;
    std::string branch;
    PeerAddress source;
    TxId cancelled_invite = 0;  // CANCEL: what FindInviteServerTx found
  };
  struct Failure {
    TxId tx = 0;
    int status = 0;
    uint64_t at_us = 0;
  };

  void OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) override {
    Request r{tx, request->sip_method, TopBranch(request), source, 0};
    if (r.method == "CANCEL") r.cancelled_invite = stack->FindInviteServerTx(request);
    requests.push_back(r);
    if (on_request) on_request(r, request);
  }
  void OnAck(const osip_message_t* ack) override { acks.push_back(TopBranch(ack)); }
  void OnResponse(TxId tx, const osip_message_t* response) override {
    responses.emplace_back(tx, response->status_code);
  }
  void OnStrayResponse(const osip_message_t* response) override {
    stray.push_back(response->status_code);
  }
  void OnClientFailure(TxId tx, int status_code) override {
    failures.push_back({tx, status_code, core::MonotonicUs()});
  }

  SipStack* stack = nullptr;
  // Optional TU behaviour, run inside the callback (as the controller does).
  std::function<void(const Request&, const osip_message_t*)> on_request;
  std::vector<Request> requests;
  std::vector<std::string> acks;
  std::vector<std::pair<TxId, int>> responses;
  std::vector<int> stray;
  std::vector<Failure> failures;
};

class SipStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = core::EventLoop::Create();
    ASSERT_TRUE(loop.has_value()) << loop.error().message;
    loop_ = std::move(*loop);
    auto transport = SipTransport::Create(*loop_, {{Transport::kUdp, "127.0.0.1", 0}},
                                          [this](const InboundMessage& m) { stack_->Receive(m); });
    ASSERT_TRUE(transport.has_value()) << transport.error().message;
    transport_ = std::move(*transport);
    auto stack = SipStack::Create(*loop_, *transport_, handler_);
    ASSERT_TRUE(stack.has_value()) << stack.error().message;
    stack_ = std::move(*stack);
    handler_.stack = stack_.get();
    driver_ = std::make_unique<LoopDriver>(*loop_);
    driver_->Watch(&peer_);
  }

  uint16_t StackPort() const { return transport_->LocalAddress(Transport::kUdp)->port; }

  std::string Invite(const std::string& branch, const std::string& call_id) const {
    return WithBody(
        "INVITE sip:sos@127.0.0.1 SIP/2.0\r\n"
        "Via: " +
        peer_.via(branch) +
        "\r\n"
        "From: <sip:caller@127.0.0.1>;tag=ft-" +
        call_id +
        "\r\n"
        "To: <sip:sos@127.0.0.1>\r\n"
        "Call-ID: " +
        call_id +
        "\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <" +
        peer_.uri("caller") +
        ">\r\n"
        "Max-Forwards: 70\r\n");
  }

  // A CANCEL or ACK for the INVITE above, with its own top Via branch.
  std::string InviteCompanion(const std::string& method, const std::string& branch,
                              const std::string& call_id, const std::string& to_tag = "") const {
    return WithBody(method + " sip:sos@127.0.0.1 SIP/2.0\r\n" + "Via: " + peer_.via(branch) +
                    "\r\n"
                    "From: <sip:caller@127.0.0.1>;tag=ft-" +
                    call_id +
                    "\r\n"
                    "To: <sip:sos@127.0.0.1>" +
                    (to_tag.empty() ? "" : ";tag=" + to_tag) +
                    "\r\n"
                    "Call-ID: " +
                    call_id + "\r\n" + "CSeq: 1 " + method +
                    "\r\n"
                    "Max-Forwards: 70\r\n");
  }

  // An OPTIONS from the stack to `to`, with the stack's own Via (branch in `branch`).
  MessagePtr Options(const SipTestPeer& to, std::string* branch) const {
    std::string text = WithBody("OPTIONS " + to.uri("pos") +
                                " SIP/2.0\r\n"
                                "Via: " +
                                stack_->NewVia(Transport::kUdp, branch) +
                                "\r\n"
                                "From: <sip:anchord@127.0.0.1>;tag=probe\r\n"
                                "To: <" +
                                to.uri("pos") +
                                ">\r\n"
                                "Call-ID: probe-" +
                                *branch +
                                "\r\n"
                                "CSeq: 1 OPTIONS\r\n"
                                "Max-Forwards: 70\r\n");
    return ParseSip(text);
  }

  PeerAddress AddressOf(const SipTestPeer& peer) const {
    return PeerAddress{Transport::kUdp, "127.0.0.1", peer.port()};
  }

  std::unique_ptr<core::EventLoop> loop_;
  std::unique_ptr<SipTransport> transport_;
  RecordingHandler handler_;
  std::unique_ptr<SipStack> stack_;
  SipTestPeer peer_;
  std::unique_ptr<LoopDriver> driver_;
};

// R3261-17.2.1: a retransmitted INVITE is absorbed by its server transaction, which re-sends
// the last provisional response; the TU sees the request once.
TEST_F(SipStackTest, RetransmittedInviteReachesHandlerOnceAndLastResponseIsResent) {
  const std::string invite = Invite("z9hG4bK-retx-1", "retx-1");
  peer_.SendTo(StackPort(), invite);
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 1; }));
  const RecordingHandler::Request& request = handler_.requests[0];
  EXPECT_EQ(request.method, "INVITE");
  EXPECT_EQ(request.source.host, "127.0.0.1");
  EXPECT_EQ(request.source.port, peer_.port());
  ASSERT_NE(stack_->RequestOf(request.tx), nullptr);

  ASSERT_TRUE(stack_->Respond(request.tx, MakeResponse(stack_->RequestOf(request.tx), 180, "t1")));
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(180, "INVITE")));

  peer_.SendTo(StackPort(), invite);
  auto again = driver_->WaitFor(peer_, IsResponse(180, "INVITE"));
  ASSERT_TRUE(again) << "the IST did not re-send its last response";
  EXPECT_EQ(ParamOf(HeaderValue(*again, "Via"), "branch"), "z9hG4bK-retx-1");
  EXPECT_EQ(ParamOf(HeaderValue(*again, "To"), "tag"), "t1");

  driver_->RunFor(50'000);
  EXPECT_EQ(handler_.requests.size(), 1u);
  EXPECT_EQ(stack_->counters().requests, 2u);
  EXPECT_EQ(stack_->live_transactions(), 1u);
}

// R3261-9.2: a CANCEL is matched to the INVITE server transaction by the top Via branch (and
// sent-by), not to another INVITE of the same peer.
TEST_F(SipStackTest, CancelFindsTheInviteWithItsBranchOnly) {
  peer_.SendTo(StackPort(), Invite("z9hG4bK-inv-a", "call-a"));
  peer_.SendTo(StackPort(), Invite("z9hG4bK-inv-b", "call-b"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 2; }));
  const TxId tx_a = handler_.requests[0].branch == "z9hG4bK-inv-a" ? handler_.requests[0].tx
                                                                   : handler_.requests[1].tx;
  const TxId tx_b = handler_.requests[0].branch == "z9hG4bK-inv-b" ? handler_.requests[0].tx
                                                                   : handler_.requests[1].tx;
  ASSERT_NE(tx_a, tx_b);

  peer_.SendTo(StackPort(), InviteCompanion("CANCEL", "z9hG4bK-inv-a", "call-a"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 3; }));
  EXPECT_EQ(handler_.requests[2].method, "CANCEL");
  EXPECT_NE(handler_.requests[2].tx, tx_a);  // its own (non-INVITE) server transaction
  EXPECT_EQ(handler_.requests[2].cancelled_invite, tx_a);

  peer_.SendTo(StackPort(), InviteCompanion("CANCEL", "z9hG4bK-unknown", "call-b"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 4; }));
  EXPECT_EQ(handler_.requests[3].method, "CANCEL");
  EXPECT_EQ(handler_.requests[3].cancelled_invite, 0);
}

// R3261-13.2.2.4 / 17.2.1: the ACK to a 2xx has a new branch and is not part of the INVITE
// transaction; it reaches the TU through OnAck.
TEST_F(SipStackTest, AckWithNewBranchGoesToOnAck) {
  peer_.SendTo(StackPort(), Invite("z9hG4bK-ack-inv", "ack-1"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 1; }));
  TxId tx = handler_.requests[0].tx;
  ASSERT_TRUE(stack_->Respond(tx, MakeResponse(stack_->RequestOf(tx), 200, "uas")));
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "INVITE")));

  peer_.SendTo(StackPort(), InviteCompanion("ACK", "z9hG4bK-ack-new", "ack-1", "uas"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.acks.size() == 1; }));
  EXPECT_EQ(handler_.acks[0], "z9hG4bK-ack-new");
  EXPECT_EQ(handler_.requests.size(), 1u);
}

// R3261-17.2.1: the ACK to a non-2xx final response carries the INVITE's branch and is absorbed
// by the server transaction; the TU never sees it.
TEST_F(SipStackTest, AckToNon2xxIsAbsorbedByTheTransaction) {
  peer_.SendTo(StackPort(), Invite("z9hG4bK-busy", "busy-1"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 1; }));
  TxId tx = handler_.requests[0].tx;
  ASSERT_TRUE(stack_->Respond(tx, MakeResponse(stack_->RequestOf(tx), 486, "uas")));
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(486, "INVITE")));

  peer_.SendTo(StackPort(), InviteCompanion("ACK", "z9hG4bK-busy", "busy-1", "uas"));
  ASSERT_TRUE(driver_->RunUntil([&] { return stack_->counters().requests == 2; }));
  driver_->RunFor(50'000);
  EXPECT_TRUE(handler_.acks.empty());
  EXPECT_EQ(handler_.requests.size(), 1u);
}

// R3261-17.1.3: a response matches the client transaction whose branch is in its top Via; one
// with a branch we never sent is stray.
TEST_F(SipStackTest, ResponsesAreMatchedByBranchAndUnknownBranchesAreStray) {
  std::string branch_1, branch_2;
  TxId tx_1 = stack_->SendRequest(Options(peer_, &branch_1), AddressOf(peer_));
  TxId tx_2 = stack_->SendRequest(Options(peer_, &branch_2), AddressOf(peer_));
  ASSERT_NE(tx_1, 0);
  ASSERT_NE(tx_2, 0);
  ASSERT_NE(tx_1, tx_2);
  ASSERT_TRUE(driver_->RunUntil([&] { return peer_.count(IsRequest("OPTIONS")) == 2; }));
  std::string first = *peer_.Take(IsRequest("OPTIONS"));
  std::string second = *peer_.Take(IsRequest("OPTIONS"));
  if (ParamOf(HeaderValue(first, "Via"), "branch") != branch_1) std::swap(first, second);
  ASSERT_EQ(ParamOf(HeaderValue(first, "Via"), "branch"), branch_1);
  ASSERT_EQ(ParamOf(HeaderValue(second, "Via"), "branch"), branch_2);

  // Answer the second request first: each response must reach its own transaction.
  peer_.SendTo(StackPort(), ResponseTo(second, 486, "Busy Here", "p2"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.responses.size() == 1; }));
  EXPECT_EQ(handler_.responses[0], std::make_pair(tx_2, 486));
  peer_.SendTo(StackPort(), ResponseTo(first, 200, "OK", "p1"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.responses.size() == 2; }));
  EXPECT_EQ(handler_.responses[1], std::make_pair(tx_1, 200));

  std::string forged = ResponseTo(first, 200, "OK", "p1");
  forged.replace(forged.find(branch_1), branch_1.size(), "z9hG4bK-never-sent");
  peer_.SendTo(StackPort(), forged);
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.stray.size() == 1; }));
  EXPECT_EQ(handler_.stray[0], 200);
  EXPECT_EQ(stack_->counters().stray, 1u);
  EXPECT_EQ(handler_.responses.size(), 2u);
}

// R3261-8.2 / DESIGN invariant 5: a request without Call-ID gets a 400 that copies its Via (so
// it reaches the sender) and is counted; the TU never sees it.
TEST_F(SipStackTest, RequestWithoutCallIdGets400WithViaCopied) {
  peer_.SendTo(StackPort(), WithBody("INVITE sip:sos@127.0.0.1 SIP/2.0\r\n"
                                     "Via: " +
                                     peer_.via("z9hG4bK-nocallid") +
                                     "\r\n"
                                     "From: <sip:caller@127.0.0.1>;tag=f\r\n"
                                     "To: <sip:sos@127.0.0.1>\r\n"
                                     "CSeq: 1 INVITE\r\n"
                                     "Max-Forwards: 70\r\n"));
  auto reply = driver_->WaitFor(peer_, IsResponse(400));
  ASSERT_TRUE(reply);
  EXPECT_EQ(ParamOf(HeaderValue(*reply, "Via"), "branch"), "z9hG4bK-nocallid");
  EXPECT_NE(HeaderValue(*reply, "Via").find("127.0.0.1:" + std::to_string(peer_.port())),
            std::string::npos);
  EXPECT_EQ(HeaderValue(*reply, "CSeq"), "1 INVITE");
  EXPECT_EQ(stack_->counters().malformed, 1u);
  EXPECT_EQ(stack_->counters().bad_request_sent, 1u);
  EXPECT_TRUE(handler_.requests.empty());
}

// DESIGN invariant 5: garbage, and a response missing Call-ID, are counted and dropped without
// an answer.
TEST_F(SipStackTest, GarbageAndMalformedResponsesAreCountedWithoutAnswer) {
  peer_.SendTo(StackPort(), std::string("\x01\x02garbage\r\n\r\n\xff", 14));
  peer_.SendTo(StackPort(), WithBody("SIP/2.0 200 OK\r\n"
                                     "Via: " +
                                     peer_.via("z9hG4bK-x") +
                                     "\r\n"
                                     "From: <sip:a@127.0.0.1>;tag=a\r\n"
                                     "To: <sip:b@127.0.0.1>;tag=b\r\n"
                                     "CSeq: 1 OPTIONS\r\n"));
  ASSERT_TRUE(driver_->RunUntil([&] { return stack_->counters().malformed == 2; }));
  driver_->RunFor(100'000);
  EXPECT_TRUE(peer_.received().empty());
  EXPECT_EQ(stack_->counters().bad_request_sent, 0u);
  EXPECT_TRUE(handler_.requests.empty());
  EXPECT_TRUE(handler_.stray.empty());
  EXPECT_TRUE(handler_.responses.empty());
}

// SipStack contract: handlers may send requests and responses; they go out "in the same or the
// next pump", not when some unrelated osip timer fires. Here a non-INVITE request's handler
// (NIST callback) answers it and sends a new request, as the controller does on a BYE.
TEST_F(SipStackTest, RequestSentFromNonInviteHandlerGoesOutAtOnce) {
  SipTestPeer other;
  driver_->Watch(&other);
  handler_.on_request = [&](const RecordingHandler::Request& r, const osip_message_t* request) {
    if (r.method != "BYE") return;
    stack_->Respond(r.tx, MakeResponse(request, 200));
    std::string branch;
    stack_->SendRequest(Options(other, &branch), AddressOf(other));
  };
  peer_.SendTo(StackPort(), InviteCompanion("BYE", "z9hG4bK-bye-1", "bye-1", "uas"));
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "BYE")));
  EXPECT_TRUE(driver_->WaitFor(other, IsRequest("OPTIONS"), 1'000'000))
      << "a request sent from a NIST callback waited for an unrelated timer";
}

// R3261-9.2 as the controller does it: the CANCEL's handler answers 200 and then 487 to the
// INVITE's server transaction; the 487 must go out at once.
TEST_F(SipStackTest, InviteResponseSentFromCancelHandlerGoesOutAtOnce) {
  handler_.on_request = [&](const RecordingHandler::Request& r, const osip_message_t* request) {
    if (r.method != "CANCEL" || !r.cancelled_invite) return;
    stack_->Respond(r.tx, MakeResponse(request, 200, "uas"));
    stack_->Respond(r.cancelled_invite,
                    MakeResponse(stack_->RequestOf(r.cancelled_invite), 487, "uas"));
  };
  peer_.SendTo(StackPort(), Invite("z9hG4bK-c487", "c487"));
  ASSERT_TRUE(driver_->RunUntil([&] { return handler_.requests.size() == 1; }));
  peer_.SendTo(StackPort(), InviteCompanion("CANCEL", "z9hG4bK-c487", "c487"));
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "CANCEL")));
  EXPECT_TRUE(driver_->WaitFor(peer_, IsResponse(487, "INVITE"), 1'000'000))
      << "a response queued on the IST from a NIST callback waited for an unrelated timer";
}

// HB-OPT-1: a NICT with an application timeout reports 408 after that timeout, not after
// Timer F's 32 s.
TEST_F(SipStackTest, NictWithShortTimeoutReports408Quickly) {
  SipTestPeer silent;
  driver_->Watch(&silent);
  std::string branch;
  const uint64_t sent_at = core::MonotonicUs();
  TxId tx = stack_->SendRequest(Options(silent, &branch), AddressOf(silent), 100);
  ASSERT_NE(tx, 0);
  ASSERT_TRUE(driver_->RunUntil([&] { return !handler_.failures.empty(); }, 2'000'000));
  const uint64_t elapsed_ms = (handler_.failures[0].at_us - sent_at) / 1000;
  EXPECT_EQ(handler_.failures[0].tx, tx);
  EXPECT_EQ(handler_.failures[0].status, 408);
  EXPECT_GE(elapsed_ms, 90u);
  EXPECT_LE(elapsed_ms, 400u);
  EXPECT_GE(silent.count(IsRequest("OPTIONS")), 1u);  // it was sent, just never answered
  ASSERT_TRUE(driver_->RunUntil([&] { return stack_->live_transactions() == 0; }, 1'000'000));
  EXPECT_TRUE(handler_.responses.empty());
}

// Issue 3: T1 is configurable (osip's is a compile-time 500 ms). With T1 = 20 ms a NICT to a
// silent peer retransmits from 20 ms on (timer E) and times out at 64*T1 = 1.28 s
// (timer F), not 32 s.
TEST_F(SipStackTest, ConfiguredT1DrivesRetransmissionAndTimeout) {
  stack_->SetT1(20);
  SipTestPeer silent;
  driver_->Watch(&silent);
  std::string branch;
  const uint64_t sent_at = core::MonotonicUs();
  TxId tx = stack_->SendRequest(Options(silent, &branch), AddressOf(silent));
  ASSERT_NE(tx, 0);
  ASSERT_TRUE(driver_->RunUntil([&] { return !handler_.failures.empty(); }, 5'000'000));
  const uint64_t elapsed_ms = (handler_.failures[0].at_us - sent_at) / 1000;
  EXPECT_EQ(handler_.failures[0].status, 408);
  EXPECT_GE(elapsed_ms, 1200u);
  EXPECT_LE(elapsed_ms, 2000u);
  // With osip's own T1 (500 ms) only 0 and 500 ms fit before 1.28 s; T1 = 20 ms sends more.
  EXPECT_GE(silent.count(IsRequest("OPTIONS")), 3u);
}

// Issue 3: T2 is configurable downward (osip caps timer E at a compile-time 4 s). With T1 =
// 20 ms and T2 = 40 ms a NICT to a silent peer retransmits every 40 ms once past 40 ms: about
// 32 sends in 64*T1 = 1.28 s, where the uncapped doubling (20, 40, 80 ... 640) gives 7.
TEST_F(SipStackTest, ConfiguredT2CapsRetransmissionInterval) {
  stack_->SetT1(20);
  stack_->SetT2(40);
  SipTestPeer silent;
  driver_->Watch(&silent);
  std::string branch;
  ASSERT_NE(stack_->SendRequest(Options(silent, &branch), AddressOf(silent)), 0);
  ASSERT_TRUE(driver_->RunUntil([&] { return !handler_.failures.empty(); }, 5'000'000));
  EXPECT_EQ(handler_.failures[0].status, 408);
  EXPECT_GE(silent.count(IsRequest("OPTIONS")), 20u);
  EXPECT_LE(silent.count(IsRequest("OPTIONS")), 40u);
}

// RFC 3261 §17.2.2: a completed non-INVITE server transaction answers a retransmitted request
// with its final response until timer J (64*T1) and is then forgotten; it no longer sits in
// osip's lists meanwhile.
TEST_F(SipStackTest, CompletedNistAnswersRetransmissionsThenExpires) {
  stack_->SetT1(10);  // timer J = 640 ms
  handler_.on_request = [&](const RecordingHandler::Request& r, const osip_message_t* request) {
    if (r.method == "BYE") stack_->Respond(r.tx, MakeResponse(request, 200));
  };
  const std::string bye = InviteCompanion("BYE", "z9hG4bK-bye-j", "bye-j", "uas");
  peer_.SendTo(StackPort(), bye);
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "BYE")));
  ASSERT_TRUE(driver_->RunUntil([&] { return stack_->live_transactions() == 0; }, 1'000'000));
  EXPECT_EQ(stack_->completed_transactions(), 1u);
  peer_.SendTo(StackPort(), bye);  // a retransmission: the same 200 again, no new request
  ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "BYE")));
  EXPECT_EQ(handler_.requests.size(), 1u);
  EXPECT_EQ(stack_->counters().retransmissions_answered, 1u);
  ASSERT_TRUE(driver_->RunUntil([&] { return stack_->completed_transactions() == 0; }, 2'000'000))
      << "the completed transaction outlived timer J";
}

// Under steady traffic the cache holds about timer J's worth of transactions, not all of them.
TEST_F(SipStackTest, CompletedCacheStaysBoundedUnderTraffic) {
  stack_->SetT1(10);  // timer J = 640 ms
  handler_.on_request = [&](const RecordingHandler::Request& r, const osip_message_t* request) {
    if (r.method == "BYE") stack_->Respond(r.tx, MakeResponse(request, 200));
  };
  size_t most = 0;
  for (int i = 0; i < 30; ++i) {  // one BYE every 50 ms for 1.5 s
    std::string id = "bye-load-" + std::to_string(i);
    peer_.SendTo(StackPort(), InviteCompanion("BYE", "z9hG4bK-" + id, id, "uas"));
    ASSERT_TRUE(driver_->WaitFor(peer_, IsResponse(200, "BYE")));
    driver_->RunFor(50'000);
    most = std::max(most, stack_->completed_transactions());
  }
  EXPECT_LE(most, 16u);  // 640 ms / 50 ms = 13, and a little slack
  EXPECT_GE(most, 8u);
}

}  // namespace
}  // namespace anchord::signaling
