// Controller: the B2BUA against a fake media plane. Real UDP transport and SipStack on
// 127.0.0.1 port 0, a real PositionRegistry and HeartbeatMonitor (never started: health is set
// by the test), and plain UDP sockets as the caller and the positions, speaking hand-written SIP.
#include "signaling/controller.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "failover/heartbeat.h"
#include "failover/position_registry.h"
#include "media/media_plane.h"
#include "signaling/sip_stack.h"
#include "signaling/transport.h"
#include "tests/unit/signaling/sip_test_peer.h"

namespace anchord::signaling {
namespace {

using core::LocationMode;
using core::Transport;
using failover::Activity;
using failover::Health;
using testutil::BodyOf;
using testutil::CseqMethodOf;
using testutil::HeaderValue;
using testutil::HeaderValues;
using testutil::IsRequest;
using testutil::IsResponse;
using testutil::LoopDriver;
using testutil::ParamOf;
using testutil::PeerSdp;
using testutil::ResponseTo;
using testutil::SipTestPeer;
using testutil::StatusOf;
using testutil::WithBody;

// Records every call; CreateLeg hands out 127.0.0.1 and even ports from 40000 up.
class FakeMediaPlane : public media::MediaPlane {
 public:
  Result<media::LocalMedia> CreateLeg(CallId call, LegId leg) override {
    media::LocalMedia local{"127.0.0.1", next_port_};
    next_port_ += 2;
    created.emplace_back(call, leg);
    locals[leg.value] = local;
    return local;
  }
  void SetRemote(LegId leg, const media::RemoteMedia& remote) override {
    remotes[leg.value].push_back(remote);
  }
  void Connect(LegId leg) override { connected.push_back(leg); }
  void Disconnect(LegId leg) override { disconnected.push_back(leg); }
  void SetTone(LegId leg, media::Tone tone) override { tones.emplace_back(leg, tone); }
  void WatchSilence(LegId leg, uint32_t timeout_ms) override {
    watched.emplace_back(leg, timeout_ms);
  }
  void MarkGap(LegId listener) override { gaps.push_back(listener); }
  void DestroyLeg(LegId leg) override { destroyed.push_back(leg); }

  bool WasConnected(LegId leg) const {
    return std::find(connected.begin(), connected.end(), leg) != connected.end();
  }
  bool WasDestroyed(LegId leg) const {
    return std::find(destroyed.begin(), destroyed.end(), leg) != destroyed.end();
  }

  std::vector<std::pair<CallId, LegId>> created;
  std::map<uint64_t, media::LocalMedia> locals;
  std::map<uint64_t, std::vector<media::RemoteMedia>> remotes;
  std::vector<LegId> connected;
  std::vector<LegId> disconnected;
  std::vector<std::pair<LegId, media::Tone>> tones;
  std::vector<std::pair<LegId, uint32_t>> watched;
  std::vector<LegId> gaps;
  std::vector<LegId> destroyed;

 private:
  uint16_t next_port_ = 40000;
};

constexpr uint16_t kCallerRtpPort = 20000;
constexpr uint16_t kPositionRtpPort = 22000;
constexpr size_t kPositions = 3;

const char kPidf[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
    "  xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\"\r\n"
    "  xmlns:gml=\"http://www.opengis.net/gml\" entity=\"sip:+15555550100@carrier.example\">\r\n"
    " <tuple id=\"t1\"><status><gp:geopriv><gp:location-info>\r\n"
    "  <gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>30.2672 -97.7431</gml:pos>\r\n"
    "  </gml:Point></gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple>\r\n"
    "</presence>";

// What an answered call left behind, for the tests that go on from there.
struct Answered {
  std::string caller_invite;
  std::string caller_ok;  // the 200 the caller got
  std::string position_invite;
  std::string position_ok;  // the 200 the position sent
  CallId call;
  LegId caller_leg;
  LegId position_leg;
};

class ControllerTest : public ::testing::Test {
 protected:
  // pos1's standby is pos3, so a failover that picks pos3 over pos2 (idle as long, earlier in
  // the config) shows the standby policy at work.
  static std::vector<core::PositionConfig> DefaultPositions() {
    return {{"pos1", "", "pos3", LocationMode::kMultipart},
            {"pos2", "", "", LocationMode::kMultipart},
            {"pos3", "", "pos1", LocationMode::kMultipart}};
  }

  void Start(ControllerOptions options = {},
             std::vector<core::PositionConfig> configs = DefaultPositions(), bool all_up = true,
             bool with_tcp = false) {
    options_ = options;
    auto loop = core::EventLoop::Create();
    ASSERT_TRUE(loop.has_value()) << loop.error().message;
    loop_ = std::move(*loop);
    std::vector<core::ListenAddress> listen = {{Transport::kUdp, "127.0.0.1", 0}};
    if (with_tcp) listen.push_back({Transport::kTcp, "127.0.0.1", 0});
    auto transport = SipTransport::Create(*loop_, listen,
                                          [this](const InboundMessage& m) { stack_->Receive(m); });
    ASSERT_TRUE(transport.has_value()) << transport.error().message;
    transport_ = std::move(*transport);
    for (size_t i = 0; i < configs.size(); ++i) configs[i].uri = pos_[i].uri(configs[i].name);
    registry_ = std::make_unique<failover::PositionRegistry>(configs);
    controller_ = std::make_unique<Controller>(*loop_, media_, *registry_, options);
    auto stack = SipStack::Create(*loop_, *transport_, *controller_);
    ASSERT_TRUE(stack.has_value()) << stack.error().message;
    stack_ = std::move(*stack);
    transport_->SetFailureHandler(
        [this](const PeerAddress& peer) { stack_->OnTransportFailure(peer); });
    heartbeat_ = std::make_unique<failover::HeartbeatMonitor>(*loop_, *registry_, *controller_,
                                                              *controller_, 60'000, 3);
    controller_->Attach(stack_.get(), heartbeat_.get());
    if (all_up) {
      for (failover::Position& p : registry_->all()) registry_->SetHealth(p.id, Health::kUp);
    }
    driver_ = std::make_unique<LoopDriver>(*loop_);
    driver_->Watch(&caller_);
    for (SipTestPeer& p : pos_) driver_->Watch(&p);
  }

  void TearDown() override {
    if (!loop_) return;
    driver_->RunFor(5'000);  // posted work (legs and calls freed "on the next turn") runs now
    heartbeat_.reset();
    stack_.reset();
    controller_.reset();
    driver_->RunFor(5'000);
  }

  uint16_t StackPort() const { return transport_->LocalAddress(Transport::kUdp)->port; }
  LegId CallerLeg() const { return media_.created.at(0).second; }
  CallId CallOf() const { return media_.created.at(0).first; }

  // `extra` headers end in CRLF; `content_type` empty means no body.
  std::string CallerInvite(const std::string& call_id, const std::string& extra = "",
                           const std::string& content_type = "application/sdp",
                           const std::string& body = PeerSdp(kCallerRtpPort)) const {
    std::string head = "INVITE sip:sos@127.0.0.1:" + std::to_string(StackPort()) +
                       " SIP/2.0\r\n"
                       "Via: " +
                       caller_.via("z9hG4bK-" + call_id) +
                       "\r\n"
                       "From: \"Caller\" <sip:+15555550100@carrier.example>;tag=caller-tag\r\n"
                       "To: <sip:sos@127.0.0.1>\r\n"
                       "Call-ID: " +
                       call_id +
                       "\r\n"
                       "CSeq: 1 INVITE\r\n"
                       "Contact: <" +
                       caller_.uri("caller") +
                       ">\r\n"
                       "Max-Forwards: 70\r\n" +
                       extra;
    if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
    return WithBody(head, body);
  }

  // An in-dialog request from the caller (ACK, BYE) after our 200 `ok`.
  // With an `sdp` body (re-INVITE, UPDATE) it has Content-Type application/sdp and a Contact.
  std::string CallerRequest(const std::string& method, uint32_t cseq, const std::string& invite,
                            const std::string& ok, const std::string& branch,
                            const std::string& sdp = "") const {
    std::string contact = HeaderValue(ok, "Contact");
    std::string target = contact.substr(1, contact.find('>') - 1);
    std::string head =
        method + " " + target + " SIP/2.0\r\n" + "Via: " + caller_.via(branch) +
        "\r\nFrom: " + HeaderValue(invite, "From") + "\r\nTo: " + HeaderValue(ok, "To") +
        "\r\nCall-ID: " + HeaderValue(invite, "Call-ID") + "\r\nCSeq: " + std::to_string(cseq) +
        " " + method + "\r\nMax-Forwards: 70\r\n";
    if (!sdp.empty()) {
      head += "Contact: <" + caller_.uri("caller") + ">\r\nContent-Type: application/sdp\r\n";
    }
    return WithBody(head, sdp);
  }

  // The CANCEL a caller sends for `invite` (same Via branch, R3261-9.1).
  std::string CallerCancel(const std::string& invite) const {
    return WithBody("CANCEL " + invite.substr(7, invite.find(" SIP/2.0") - 7) +
                    " SIP/2.0\r\nVia: " + HeaderValue(invite, "Via") + "\r\nFrom: " +
                    HeaderValue(invite, "From") + "\r\nTo: " + HeaderValue(invite, "To") +
                    "\r\nCall-ID: " + HeaderValue(invite, "Call-ID") +
                    "\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\n");
  }

  // Position `i` answers `invite`: 200 with SDP and a Contact at its own socket.
  std::string PositionOk(size_t i, const std::string& invite, uint16_t rtp_port) {
    return ResponseTo(invite, 200, "OK", PositionTag(i),
                      "Contact: <" + pos_[i].uri("pos" + std::to_string(i + 1)) +
                          ">\r\nContent-Type: application/sdp\r\n",
                      PeerSdp(rtp_port, "0"));
  }
  static std::string PositionTag(size_t i) { return "pos-tag-" + std::to_string(i + 1); }

  // Position `i` rings and answers `invite`; waits for its ACK.
  void PositionAnswers(size_t i, const std::string& invite, std::string* ok) {
    pos_[i].SendTo(StackPort(), ResponseTo(invite, 180, "Ringing", PositionTag(i)));
    *ok = PositionOk(i, invite, kPositionRtpPort + 2 * i);
    pos_[i].SendTo(StackPort(), *ok);
    auto ack = driver_->WaitFor(pos_[i], IsRequest("ACK"));
    ASSERT_TRUE(ack) << "position " << i + 1 << " got no ACK for its 200";
    EXPECT_EQ(HeaderValue(*ack, "Call-ID"), HeaderValue(invite, "Call-ID"));
    EXPECT_EQ(HeaderValue(*ack, "CSeq"), "1 ACK");
    EXPECT_EQ(ParamOf(HeaderValue(*ack, "To"), "tag"), PositionTag(i));
  }

  // A caller INVITE answered by pos1 and the 200 ACKed by the caller.
  void AnswerCall(Answered* out, const std::string& extra = "") {
    out->caller_invite = CallerInvite("answered-call", extra);
    caller_.SendTo(StackPort(), out->caller_invite);
    ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(100, "INVITE")));
    auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
    ASSERT_TRUE(invite) << "pos1 got no INVITE";
    out->position_invite = *invite;
    ASSERT_NO_FATAL_FAILURE(PositionAnswers(0, *invite, &out->position_ok));
    ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(180, "INVITE")));
    auto ok = driver_->WaitFor(caller_, IsResponse(200, "INVITE"));
    ASSERT_TRUE(ok) << "the caller got no 200";
    out->caller_ok = *ok;
    caller_.SendTo(StackPort(), CallerRequest("ACK", 1, out->caller_invite, *ok, "z9hG4bK-ack"));
    ASSERT_EQ(media_.created.size(), 2u);
    out->call = media_.created[0].first;
    out->caller_leg = media_.created[0].second;
    out->position_leg = media_.created[1].second;
  }

  failover::Position& Pos(size_t i) { return registry_->all().at(i); }

  ControllerOptions options_;
  std::unique_ptr<core::EventLoop> loop_;
  std::unique_ptr<SipTransport> transport_;
  FakeMediaPlane media_;
  std::unique_ptr<failover::PositionRegistry> registry_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<SipStack> stack_;
  std::unique_ptr<failover::HeartbeatMonitor> heartbeat_;
  SipTestPeer caller_;
  SipTestPeer pos_[kPositions];
  std::unique_ptr<LoopDriver> driver_;
};

// Statuses of the responses a peer got for `method`, in order, each counted once.
std::vector<int> DistinctStatuses(const SipTestPeer& peer, const std::string& method) {
  std::vector<int> statuses;
  for (const std::string& m : peer.received()) {
    int status = StatusOf(m);
    if (status && testutil::CseqMethodOf(m) == method &&
        std::find(statuses.begin(), statuses.end(), status) == statuses.end()) {
      statuses.push_back(status);
    }
  }
  return statuses;
}

// (1) RFC 3725 Flow IV with anchored media: the caller gets 100, 180, then 200 with the
// server's SDP; the position is offered the server's SDP (PCMU and PCMA first, R6881-ED-72) and
// ACKed (R3261-13.2.2.4); the media plane binds, points and connects both legs.
TEST_F(ControllerTest, AnsweredCallConnectsCallerAndPosition) {
  ControllerOptions options;
  options.rtp_timeout_ms = 250;
  Start(options);
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));

  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100, 180, 200}));
  const media::LocalMedia caller_local = media_.locals.at(call.caller_leg.value);
  const media::LocalMedia position_local = media_.locals.at(call.position_leg.value);
  EXPECT_NE(caller_local.rtp_port, position_local.rtp_port);

  // The caller's 200: application/sdp pointing at the caller leg's local media.
  EXPECT_EQ(HeaderValue(call.caller_ok, "Content-Type"), "application/sdp");
  const std::string answer = BodyOf(call.caller_ok);
  EXPECT_NE(answer.find("c=IN IP4 " + caller_local.address), std::string::npos) << answer;
  EXPECT_NE(answer.find("m=audio " + std::to_string(caller_local.rtp_port) + " RTP/AVP 0"),
            std::string::npos)
      << answer;
  EXPECT_FALSE(ParamOf(HeaderValue(call.caller_ok, "To"), "tag").empty());
  EXPECT_FALSE(HeaderValue(call.caller_ok, "Contact").empty());

  // The position's INVITE: the server's own offer for the position leg.
  EXPECT_EQ(HeaderValue(call.position_invite, "Content-Type"), "application/sdp");
  const std::string offer = BodyOf(call.position_invite);
  EXPECT_NE(offer.find("c=IN IP4 " + position_local.address), std::string::npos) << offer;
  EXPECT_NE(offer.find("m=audio " + std::to_string(position_local.rtp_port) + " RTP/AVP 0 8"),
            std::string::npos)
      << offer;
  EXPECT_NE(offer.find("a=rtpmap:0 PCMU/8000"), std::string::npos);
  EXPECT_NE(offer.find("a=rtpmap:8 PCMA/8000"), std::string::npos);
  EXPECT_EQ(offer.find(std::to_string(kCallerRtpPort)), std::string::npos)
      << "the caller's SDP leaked to the position";
  EXPECT_NE(HeaderValue(call.position_invite, "From").find("+15555550100"), std::string::npos);
  EXPECT_NE(HeaderValue(call.position_invite, "Call-ID"), "answered-call");  // its own dialog

  // Media: two legs of one call, each pointed at its peer's SDP address, both connected, the
  // position watched for silence.
  ASSERT_EQ(media_.created.size(), 2u);
  EXPECT_EQ(media_.created[0].first, media_.created[1].first);
  ASSERT_EQ(media_.remotes[call.caller_leg.value].size(), 1u);
  const media::RemoteMedia& caller_remote = media_.remotes[call.caller_leg.value][0];
  EXPECT_EQ(caller_remote.address, "127.0.0.1");
  EXPECT_EQ(caller_remote.rtp_port, kCallerRtpPort);
  EXPECT_EQ(caller_remote.codec, media::Codec::kPcmu);
  EXPECT_EQ(caller_remote.payload_type, 0);
  ASSERT_EQ(media_.remotes[call.position_leg.value].size(), 1u);
  const media::RemoteMedia& position_remote = media_.remotes[call.position_leg.value][0];
  EXPECT_EQ(position_remote.address, "127.0.0.1");
  EXPECT_EQ(position_remote.rtp_port, kPositionRtpPort);
  EXPECT_TRUE(media_.WasConnected(call.caller_leg));
  EXPECT_TRUE(media_.WasConnected(call.position_leg));
  EXPECT_EQ(media_.watched, (std::vector<std::pair<LegId, uint32_t>>{{call.position_leg, 250}}));
  EXPECT_TRUE(media_.tones.empty());
  EXPECT_TRUE(media_.destroyed.empty());

  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(Pos(0).activity, Activity::kBusy);
  EXPECT_EQ(Pos(1).activity, Activity::kIdle);
  EXPECT_TRUE(pos_[1].received().empty());
  EXPECT_TRUE(pos_[2].received().empty());
}

// R3261-13.2.2.4: a 2xx retransmitted by the answering position gets our ACK again; a 2xx
// from another fork (another To tag) is ACKed with that To tag and its dialog ended with BYE,
// while the call goes on with the first dialog.
TEST_F(ControllerTest, RetransmittedAndForked2xxAreAcked) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  pos_[0].SendTo(StackPort(), call.position_ok);
  auto again = driver_->WaitFor(pos_[0], IsRequest("ACK"));
  ASSERT_TRUE(again) << "a retransmitted 2xx was not ACKed";
  EXPECT_EQ(ParamOf(HeaderValue(*again, "To"), "tag"), PositionTag(0));

  std::string fork =
      ResponseTo(call.position_invite, 200, "OK", "fork-tag-2",
                 "Contact: <" + pos_[0].uri("fork2") + ">\r\nContent-Type: application/sdp\r\n",
                 PeerSdp(kPositionRtpPort + 40, "0"));
  pos_[0].SendTo(StackPort(), fork);
  auto fork_ack = driver_->WaitFor(pos_[0], [](const std::string& m) {
    return IsRequest("ACK")(m) && ParamOf(HeaderValue(m, "To"), "tag") == "fork-tag-2";
  });
  ASSERT_TRUE(fork_ack) << "the forked 2xx was not ACKed with its own To tag";
  EXPECT_EQ(HeaderValue(*fork_ack, "CSeq"), "1 ACK");
  auto fork_bye = driver_->WaitFor(pos_[0], IsRequest("BYE"));
  ASSERT_TRUE(fork_bye) << "the forked dialog was not ended";
  EXPECT_EQ(ParamOf(HeaderValue(*fork_bye, "To"), "tag"), "fork-tag-2");
  EXPECT_NE(fork_bye->find("sip:fork2@"), std::string::npos) << "BYE goes to the fork's Contact";
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_TRUE(media_.destroyed.empty()) << "the call's legs stay";
}

// (2) NENA-3.1.13-a, R6442, R4412, R7852, DESIGN invariant 6: the emergency headers and the
// PIDF-LO of a multipart INVITE reach a by-value position unchanged, behind the server's SDP.
class ControllerNg911Test : public ControllerTest {
 protected:
  static constexpr char kBoundary[] = "ng911-boundary-7";

  static std::string EmergencyHeaders() {
    return "Geolocation: <cid:loc-7@bcf.example>\r\n"
           "Geolocation-Routing: no\r\n"
           "Resource-Priority: esnet.1\r\n"
           "Call-Info: <urn:emergency:uid:callid:a1b2c3:bcf.example>;purpose=emergency-CallId\r\n"
           "Call-Info: <urn:emergency:uid:incidentid:d4e5f6:psap.example>"
           ";purpose=emergency-IncidentId\r\n"
           "History-Info: <sip:sos@esrp.example>;index=1\r\n"
           "P-Asserted-Identity: <sip:+15555550100@carrier.example>\r\n";
  }

  static std::string MultipartBody() {
    return std::string("--") + kBoundary +
           "\r\n"
           "Content-Type: application/sdp\r\n\r\n" +
           PeerSdp(kCallerRtpPort) + "\r\n--" + kBoundary +
           "\r\n"
           "Content-Type: application/pidf+xml\r\n"
           "Content-ID: <loc-7@bcf.example>\r\n\r\n" +
           kPidf + "\r\n--" + kBoundary + "--\r\n";
  }

  // Sends the NG9-1-1 INVITE and returns what pos1 got.
  std::string Ng911InviteAtPosition() {
    caller_.SendTo(StackPort(), CallerInvite("ng911-call", EmergencyHeaders(),
                                             std::string("multipart/mixed;boundary=") + kBoundary,
                                             MultipartBody()));
    auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
    EXPECT_TRUE(invite) << "pos1 got no INVITE";
    return invite.value_or("");
  }

  static void ExpectNonLocationHeadersCopied(const std::string& invite) {
    EXPECT_EQ(HeaderValue(invite, "Resource-Priority"), "esnet.1");
    EXPECT_EQ(HeaderValue(invite, "History-Info"), "<sip:sos@esrp.example>;index=1");
    EXPECT_EQ(HeaderValue(invite, "P-Asserted-Identity"), "<sip:+15555550100@carrier.example>");
    std::vector<std::string> call_info = HeaderValues(invite, "Call-Info");
    ASSERT_EQ(call_info.size(), 2u) << invite;
    EXPECT_EQ(call_info[0],
              "<urn:emergency:uid:callid:a1b2c3:bcf.example>;purpose=emergency-CallId");
    EXPECT_EQ(call_info[1],
              "<urn:emergency:uid:incidentid:d4e5f6:psap.example>;purpose=emergency-IncidentId");
  }
};

TEST_F(ControllerNg911Test, ByValuePositionGetsPidfBytesAndHeadersUnchanged) {
  Start();
  const std::string invite = Ng911InviteAtPosition();
  ASSERT_FALSE(invite.empty());
  EXPECT_EQ(HeaderValue(invite, "Content-Type").rfind("multipart/mixed", 0), 0u) << invite;
  EXPECT_EQ(HeaderValue(invite, "Geolocation"), "<cid:loc-7@bcf.example>");
  EXPECT_EQ(HeaderValue(invite, "Geolocation-Routing"), "no");
  ExpectNonLocationHeadersCopied(invite);
  const std::string body = BodyOf(invite);
  EXPECT_NE(body.find(kPidf), std::string::npos) << "PIDF-LO not byte-identical:\n" << body;
  EXPECT_NE(body.find("Content-ID: <loc-7@bcf.example>"), std::string::npos) << body;
  EXPECT_NE(body.find("application/pidf+xml"), std::string::npos);
  // The SDP part is the server's own offer, not the caller's.
  const media::LocalMedia local = media_.locals.at(media_.created.at(1).second.value);
  EXPECT_NE(body.find("m=audio " + std::to_string(local.rtp_port) + " RTP/AVP 0 8"),
            std::string::npos);
  EXPECT_EQ(body.find("m=audio " + std::to_string(kCallerRtpPort)), std::string::npos);
  // And the caller's SDP was still read out of the multipart body.
  ASSERT_EQ(media_.remotes[CallerLeg().value].size(), 1u);
  EXPECT_EQ(media_.remotes[CallerLeg().value][0].rtp_port, kCallerRtpPort);
}

TEST_F(ControllerNg911Test, ByReferencePositionGetsGeolocationAndPlainSdp) {
  std::vector<core::PositionConfig> configs = DefaultPositions();
  configs[0].location = LocationMode::kReference;
  Start({}, configs);
  const std::string invite = Ng911InviteAtPosition();
  ASSERT_FALSE(invite.empty());
  EXPECT_EQ(HeaderValue(invite, "Content-Type"), "application/sdp");
  EXPECT_EQ(HeaderValue(invite, "Geolocation"), "<cid:loc-7@bcf.example>");
  ExpectNonLocationHeadersCopied(invite);
  EXPECT_EQ(BodyOf(invite).find("presence"), std::string::npos);
}

TEST_F(ControllerNg911Test, NoLocationPositionGetsNoGeolocationAndPlainSdp) {
  std::vector<core::PositionConfig> configs = DefaultPositions();
  configs[0].location = LocationMode::kNone;
  Start({}, configs);
  const std::string invite = Ng911InviteAtPosition();
  ASSERT_FALSE(invite.empty());
  EXPECT_EQ(HeaderValue(invite, "Content-Type"), "application/sdp");
  EXPECT_TRUE(HeaderValues(invite, "Geolocation").empty()) << invite;
  EXPECT_TRUE(HeaderValues(invite, "Geolocation-Routing").empty()) << invite;
  ExpectNonLocationHeadersCopied(invite);
  const std::string body = BodyOf(invite);
  EXPECT_EQ(body.find("presence"), std::string::npos);
  EXPECT_EQ(body.rfind("v=0", 0), 0u) << body;
}

// (3) NENA-4.2.1.3-a: no healthy idle position → 486 so the ESRP reroutes; nothing is offered
// and the caller's media port is given back.
TEST_F(ControllerTest, NoHealthyPositionRejectsWith486) {
  ControllerOptions no_queue;
  no_queue.queue_max_calls = 0;
  Start(no_queue, DefaultPositions(), /*all_up=*/false);
  caller_.SendTo(StackPort(), CallerInvite("nobody-home"));
  auto busy = driver_->WaitFor(caller_, IsResponse(486, "INVITE"));
  ASSERT_TRUE(busy);
  EXPECT_FALSE(ParamOf(HeaderValue(*busy, "To"), "tag").empty());
  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100, 486}));
  driver_->RunFor(100'000);
  for (const SipTestPeer& p : pos_) EXPECT_TRUE(p.received().empty());
  EXPECT_EQ(controller_->active_calls(), 0u);
  for (const auto& [call, leg] : media_.created) EXPECT_TRUE(media_.WasDestroyed(leg));
}

// (4) A position that rejects (486) is ACKed by its transaction and the call goes to the next
// position; the caller sees no final response meanwhile.
TEST_F(ControllerTest, RejectingPositionPassesTheCallToTheNext) {
  Start();
  caller_.SendTo(StackPort(), CallerInvite("reject-call"));
  auto invite_1 = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite_1);
  pos_[0].SendTo(StackPort(), ResponseTo(*invite_1, 486, "Busy Here", PositionTag(0)));
  auto ack = driver_->WaitFor(pos_[0], IsRequest("ACK"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ParamOf(HeaderValue(*ack, "Via"), "branch"),
            ParamOf(HeaderValue(*invite_1, "Via"), "branch"));  // R3261-17.1.1.3
  auto invite_2 = driver_->WaitFor(pos_[1], IsRequest("INVITE"));
  ASSERT_TRUE(invite_2) << "the next position was not offered the call";
  EXPECT_NE(HeaderValue(*invite_2, "Call-ID"), HeaderValue(*invite_1, "Call-ID"));
  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100}));
  ASSERT_EQ(media_.created.size(), 3u);
  EXPECT_TRUE(media_.WasDestroyed(media_.created[1].second));
  EXPECT_EQ(Pos(0).activity, Activity::kIdle);
  EXPECT_EQ(Pos(1).activity, Activity::kRinging);
  EXPECT_TRUE(pos_[2].received().empty());
}

// (5) Ring timeout after a 180: CANCEL to the ringing position (allowed: it sent a 1xx,
// R3261-9.1) and INVITE to the next; the next one's answer answers the caller.
TEST_F(ControllerTest, RingTimeoutCancelsAndOffersTheNextPosition) {
  ControllerOptions options;
  options.ring_timeout_ms = 200;
  Start(options);
  caller_.SendTo(StackPort(), CallerInvite("ring-timeout"));
  auto invite_1 = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite_1);
  const uint64_t offered_at = core::MonotonicUs();
  pos_[0].SendTo(StackPort(), ResponseTo(*invite_1, 180, "Ringing", PositionTag(0)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(180, "INVITE")));

  auto cancel = driver_->WaitFor(pos_[0], IsRequest("CANCEL"));
  ASSERT_TRUE(cancel) << "no CANCEL after the ring timeout";
  EXPECT_GE(core::MonotonicUs() - offered_at, 150'000u);
  EXPECT_EQ(ParamOf(HeaderValue(*cancel, "Via"), "branch"),
            ParamOf(HeaderValue(*invite_1, "Via"), "branch"));
  EXPECT_EQ(HeaderValue(*cancel, "CSeq"), "1 CANCEL");
  EXPECT_EQ(HeaderValue(*cancel, "Call-ID"), HeaderValue(*invite_1, "Call-ID"));
  auto invite_2 = driver_->WaitFor(pos_[1], IsRequest("INVITE"));
  ASSERT_TRUE(invite_2) << "the next position was not offered the call";

  // pos1 completes the cancellation; pos2 answers.
  pos_[0].SendTo(StackPort(), ResponseTo(*cancel, 200, "OK", PositionTag(0)));
  pos_[0].SendTo(StackPort(), ResponseTo(*invite_1, 487, "Request Terminated", PositionTag(0)));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsRequest("ACK")));
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(1, *invite_2, &ok));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "INVITE")));
  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100, 180, 200}));
  EXPECT_EQ(Pos(0).activity, Activity::kIdle);
  EXPECT_EQ(Pos(1).activity, Activity::kBusy);
}

// (6) R3261-9.2, B2B-CANCEL-a: the caller's CANCEL after a 180 gets 200, its INVITE 487, and
// the ringing position is CANCELled.
TEST_F(ControllerTest, CallerCancelAfterRingingCancelsThePosition) {
  Start();
  const std::string invite = CallerInvite("caller-cancel");
  caller_.SendTo(StackPort(), invite);
  auto pos_invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(pos_invite);
  pos_[0].SendTo(StackPort(), ResponseTo(*pos_invite, 180, "Ringing", PositionTag(0)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(180, "INVITE")));

  caller_.SendTo(StackPort(), CallerCancel(invite));
  auto cancel_ok = driver_->WaitFor(caller_, IsResponse(200, "CANCEL"));
  ASSERT_TRUE(cancel_ok) << "no 200 for the CANCEL";
  EXPECT_EQ(ParamOf(HeaderValue(*cancel_ok, "Via"), "branch"), "z9hG4bK-caller-cancel");
  auto terminated = driver_->WaitFor(caller_, IsResponse(487, "INVITE"));
  ASSERT_TRUE(terminated) << "no 487 for the INVITE";
  auto cancel = driver_->WaitFor(pos_[0], IsRequest("CANCEL"));
  ASSERT_TRUE(cancel) << "the position was not CANCELled";
  EXPECT_EQ(ParamOf(HeaderValue(*cancel, "Via"), "branch"),
            ParamOf(HeaderValue(*pos_invite, "Via"), "branch"));
  EXPECT_EQ(controller_->active_calls(), 0u);
  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100, 180, 487}));
  EXPECT_EQ(Pos(0).activity, Activity::kIdle);
  EXPECT_TRUE(pos_[1].received().empty());
}

// R3261-9.2-a, R6026-a: a CANCEL that crosses our 200 matches an INVITE transaction in the
// Accepted state (64*T1 after the 2xx, past the ACK too): 200 with our To tag and nothing
// else (no 487, nothing to the position, the call goes on). A CANCEL of an unknown branch, or
// one after 64*T1 (T1 = 20 ms here), gets 481.
TEST_F(ControllerTest, CancelAfterOur200Gets200AndChangesNothing) {
  ControllerOptions options;
  options.t1_ms = 20;
  Start(options);
  stack_->SetT1(options.t1_ms);  // the stack's cache of the CANCEL's answer lasts 64*T1 too
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  const size_t position_seen = pos_[0].received().size();

  caller_.SendTo(StackPort(), CallerCancel(call.caller_invite));
  auto cancel_ok = driver_->WaitFor(caller_, [](const std::string& m) {
    return StatusOf(m) >= 200 && CseqMethodOf(m) == "CANCEL";
  });
  ASSERT_TRUE(cancel_ok) << "no answer to the CANCEL";
  EXPECT_EQ(StatusOf(*cancel_ok), 200) << *cancel_ok;
  EXPECT_EQ(ParamOf(HeaderValue(*cancel_ok, "To"), "tag"),
            ParamOf(HeaderValue(call.caller_ok, "To"), "tag"));
  driver_->RunFor(100'000);
  EXPECT_EQ(caller_.count(IsResponse(487, "INVITE")), 0u);
  EXPECT_EQ(pos_[0].received().size(), position_seen) << pos_[0].received().back();
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(Pos(0).activity, Activity::kBusy);

  std::string other = call.caller_invite;
  other.replace(other.find("z9hG4bK-answered-call"), 21, "z9hG4bK-never-invited");
  caller_.SendTo(StackPort(), CallerCancel(other));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "CANCEL")))
      << "a CANCEL that matches nothing must get 481";

  // After 64*T1 (and the stack's own 64*T1 cache of the first CANCEL's answer) nothing matches.
  driver_->RunFor(2 * 64 * 20'000 + 300'000);
  caller_.SendTo(StackPort(), CallerCancel(call.caller_invite));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "CANCEL")))
      << "a CANCEL 64*T1 after the 2xx must get 481";
  EXPECT_EQ(controller_->active_calls(), 1u);
}

// The o= version of an SDP body ("o=user session version ..."), or -1.
long long OriginVersion(const std::string& sdp) {
  const size_t o = sdp.find("o=");
  if (o == std::string::npos) return -1;
  const size_t session = sdp.find(' ', o);
  const size_t version = session == std::string::npos ? session : sdp.find(' ', session + 1);
  return version == std::string::npos ? -1 : std::atoll(sdp.c_str() + version + 1);
}

// The caller's SDP with direction `direction` and o= version `version`.
std::string CallerSdp(const std::string& direction, int version) {
  std::string sdp = PeerSdp(kCallerRtpPort);
  sdp.replace(sdp.find("a=sendrecv"), 10, "a=" + direction);
  sdp.replace(sdp.find("o=peer 1 1"), 10, "o=peer 1 " + std::to_string(version));
  return sdp;
}

// R3264-6-a, R3264-8-a, R3261-14.2-a: anchord answers the caller's re-INVITEs itself and at
// once. Hold (a=sendonly) gets a=recvonly with o= version + 1; the same offer again, sent
// before the first 200 is ACKed (a new transaction: the first has its final response) gets 200
// with the SDP unchanged (same version); inactive gets inactive, resuming (sendrecv) sendrecv,
// each + 1; an UPDATE is answered the same way; the late ACKs change nothing and no re-INVITE
// reaches the position.
TEST_F(ControllerTest, CallerReInviteDirectionsAreMirroredAndVersionRisesOnlyOnChange) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  const long long v0 = OriginVersion(BodyOf(call.caller_ok));
  ASSERT_GT(v0, 0) << call.caller_ok;
  const size_t position_seen = pos_[0].received().size();
  auto reinvite = [&](uint32_t cseq, const std::string& direction,
                      const std::string& method = "INVITE") {
    caller_.SendTo(StackPort(), CallerRequest(method, cseq, call.caller_invite, call.caller_ok,
                                              "z9hG4bK-re" + std::to_string(cseq),
                                              CallerSdp(direction, static_cast<int>(cseq))));
    return driver_->WaitFor(caller_, IsResponse(200, method));
  };
  struct Step {
    std::string offered, method, answered;
    long long version;
  };
  const Step steps[] = {{"sendonly", "INVITE", "recvonly", v0 + 1},
                        {"sendonly", "INVITE", "recvonly", v0 + 1},
                        {"inactive", "UPDATE", "inactive", v0 + 2},
                        {"recvonly", "INVITE", "sendonly", v0 + 3},
                        {"sendrecv", "INVITE", "sendrecv", v0 + 4}};
  uint32_t cseq = 2;
  for (const Step& step : steps) {
    SCOPED_TRACE(step.method + " " + step.offered + ", CSeq " + std::to_string(cseq));
    auto ok = reinvite(cseq, step.offered, step.method);
    ASSERT_TRUE(ok) << "no 200";
    const std::string sdp = BodyOf(*ok);
    EXPECT_NE(sdp.find("a=" + step.answered + "\r\n"), std::string::npos) << sdp;
    EXPECT_EQ(OriginVersion(sdp), step.version) << sdp;
    if (step.method == "INVITE" && cseq == 3) {  // the late ACKs: CSeq 3, then CSeq 2
      caller_.SendTo(StackPort(),
                     CallerRequest("ACK", 3, call.caller_invite, call.caller_ok, "z9hG4bK-ack3"));
      caller_.SendTo(StackPort(),
                     CallerRequest("ACK", 2, call.caller_invite, call.caller_ok, "z9hG4bK-ack2"));
    }
    ++cseq;
  }
  driver_->RunFor(50'000);
  EXPECT_EQ(pos_[0].received().size(), position_seen) << pos_[0].received().back();
  EXPECT_EQ(caller_.count([](const std::string& m) { return StatusOf(m) == 0; }), 0u)
      << "anchord sent the caller a request";
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(media_.remotes[call.caller_leg.value].size(), 1u + std::size(steps));
}

// (7a) BYE from the caller ends the call: 200 to the caller, BYE to the position.
TEST_F(ControllerTest, ByeFromCallerIsPassedToThePosition) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  caller_.SendTo(StackPort(),
                 CallerRequest("BYE", 2, call.caller_invite, call.caller_ok, "z9hG4bK-bye"));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "BYE")));
  auto bye = driver_->WaitFor(pos_[0], IsRequest("BYE"));
  ASSERT_TRUE(bye) << "the position got no BYE";
  EXPECT_EQ(HeaderValue(*bye, "Call-ID"), HeaderValue(call.position_invite, "Call-ID"));
  EXPECT_EQ(ParamOf(HeaderValue(*bye, "To"), "tag"), PositionTag(0));
  EXPECT_EQ(ParamOf(HeaderValue(*bye, "From"), "tag"),
            ParamOf(HeaderValue(call.position_invite, "From"), "tag"));
  EXPECT_FALSE(HeaderValue(*bye, "Reason").empty());  // R3725-6
  pos_[0].SendTo(StackPort(), ResponseTo(*bye, 200, "OK"));
  EXPECT_EQ(controller_->active_calls(), 0u);
  EXPECT_TRUE(media_.WasDestroyed(call.caller_leg));
  EXPECT_TRUE(media_.WasDestroyed(call.position_leg));
  EXPECT_EQ(Pos(0).activity, Activity::kIdle);
  EXPECT_EQ(caller_.count(IsRequest("BYE")), 0u);
}

// (7b) BYE from the position ends the call: 200 to the position, BYE to the caller in the
// caller's dialog.
TEST_F(ControllerTest, ByeFromPositionIsPassedToTheCaller) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  const std::string& inv = call.position_invite;
  std::string contact = HeaderValue(inv, "Contact");
  pos_[0].SendTo(StackPort(), WithBody("BYE " + contact.substr(1, contact.find('>') - 1) +
                                       " SIP/2.0\r\nVia: " + pos_[0].via("z9hG4bK-pos-bye") +
                                       "\r\nFrom: " + HeaderValue(call.position_ok, "To") +
                                       "\r\nTo: " + HeaderValue(inv, "From") +
                                       "\r\nCall-ID: " + HeaderValue(inv, "Call-ID") +
                                       "\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\n"));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsResponse(200, "BYE")));
  auto bye = driver_->WaitFor(caller_, IsRequest("BYE"));
  ASSERT_TRUE(bye) << "the caller got no BYE";
  EXPECT_EQ(bye->rfind("BYE " + caller_.uri("caller") + " ", 0), 0u) << *bye;
  EXPECT_EQ(HeaderValue(*bye, "Call-ID"), "answered-call");
  EXPECT_EQ(ParamOf(HeaderValue(*bye, "To"), "tag"), "caller-tag");
  EXPECT_EQ(ParamOf(HeaderValue(*bye, "From"), "tag"),
            ParamOf(HeaderValue(call.caller_ok, "To"), "tag"));
  caller_.SendTo(StackPort(), ResponseTo(*bye, 200, "OK"));
  EXPECT_EQ(controller_->active_calls(), 0u);
  EXPECT_EQ(pos_[0].count(IsRequest("BYE")), 0u);
}

// (8) DESIGN "Failover", invariant 1, B2B-4028-a: a position going down after answer is
// BYEd and replaced by its standby while the caller hears the hold tone; the caller's leg gets
// no SIP message at all; the measured gap ends the hold tone.
TEST_F(ControllerTest, FailoverRepointsToStandbyWithoutTouchingTheCaller) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  driver_->RunFor(20'000);  // the caller's ACK is in
  const size_t caller_seen = caller_.received().size();

  heartbeat_->MarkDown(Pos(0).id);  // → OnPositionDown(pos1)
  EXPECT_EQ(Pos(0).health, Health::kDown);
  auto bye = driver_->WaitFor(pos_[0], IsRequest("BYE"));
  ASSERT_TRUE(bye) << "the dead position got no BYE";
  EXPECT_EQ(HeaderValue(*bye, "Call-ID"), HeaderValue(call.position_invite, "Call-ID"));
  auto standby_invite = driver_->WaitFor(pos_[2], IsRequest("INVITE"));
  ASSERT_TRUE(standby_invite) << "the standby (pos3) got no INVITE";
  EXPECT_TRUE(pos_[1].received().empty()) << "a non-standby position was offered the call";
  EXPECT_EQ(media_.tones, (std::vector<std::pair<LegId, media::Tone>>{
                              {call.caller_leg, media::Tone::kFailoverAnnouncement}}));
  EXPECT_EQ(media_.gaps, std::vector<LegId>{call.caller_leg});
  EXPECT_TRUE(media_.WasDestroyed(call.position_leg));
  pos_[0].SendTo(StackPort(), ResponseTo(*bye, 200, "OK"));

  // The standby is offered the server's SDP and answers; its leg joins the bridge.
  ASSERT_EQ(media_.created.size(), 3u);
  const LegId standby_leg = media_.created[2].second;
  EXPECT_EQ(media_.created[2].first, call.call);
  EXPECT_NE(BodyOf(*standby_invite)
                .find("m=audio " + std::to_string(media_.locals.at(standby_leg.value).rtp_port)),
            std::string::npos);
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(2, *standby_invite, &ok));
  EXPECT_TRUE(media_.WasConnected(standby_leg));
  EXPECT_EQ(media_.watched.back(), std::make_pair(standby_leg, options_.rtp_timeout_ms));
  EXPECT_EQ(Pos(2).activity, Activity::kBusy);

  testing::internal::CaptureStderr();
  controller_->OnGapMeasured(call.call, call.caller_leg, 120);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(media_.tones.back(), std::make_pair(call.caller_leg, media::Tone::kNone));
  EXPECT_NE(log.find("failover"), std::string::npos) << log;
  EXPECT_NE(log.find("GAP_MS=120"), std::string::npos) << log;

  // Past T1 and more: not a 200 retransmission, not a re-INVITE, not a BYE reached the caller.
  driver_->RunFor(700'000);
  EXPECT_EQ(caller_.received().size(), caller_seen) << caller_.received().back();
  EXPECT_FALSE(media_.WasDestroyed(call.caller_leg));
  EXPECT_TRUE(media_.disconnected.empty());
  EXPECT_EQ(media_.remotes[call.caller_leg.value].size(), 1u);
  EXPECT_EQ(controller_->active_calls(), 1u);
}

// (9) DESIGN invariant 1: a silent caller is logged, never hung up on or sent anything.
TEST_F(ControllerTest, SilentCallerLegSendsNothingToAnyone) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  driver_->RunFor(20'000);
  const size_t caller_seen = caller_.received().size();
  const size_t position_seen = pos_[0].received().size();
  const size_t media_calls = media_.tones.size() + media_.gaps.size() + media_.destroyed.size();

  controller_->OnLegSilent(call.call, call.caller_leg);
  driver_->RunFor(200'000);
  EXPECT_EQ(caller_.received().size(), caller_seen);
  EXPECT_EQ(pos_[0].received().size(), position_seen);
  EXPECT_EQ(media_.tones.size() + media_.gaps.size() + media_.destroyed.size(), media_calls);
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(Pos(0).health, Health::kUp);
  EXPECT_EQ(Pos(0).activity, Activity::kBusy);
}

// HB-RTP: a silent position in a call is marked down and its call fails over to the standby.
TEST_F(ControllerTest, SilentPositionLegStartsFailover) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  driver_->RunFor(20'000);
  const size_t caller_seen = caller_.received().size();

  controller_->OnLegSilent(call.call, call.position_leg);
  EXPECT_EQ(Pos(0).health, Health::kDown);
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsRequest("BYE")));
  ASSERT_TRUE(driver_->WaitFor(pos_[2], IsRequest("INVITE")));
  EXPECT_EQ(media_.tones, (std::vector<std::pair<LegId, media::Tone>>{
                              {call.caller_leg, media::Tone::kFailoverAnnouncement}}));
  EXPECT_EQ(media_.gaps, std::vector<LegId>{call.caller_leg});
  driver_->RunFor(50'000);
  EXPECT_EQ(caller_.received().size(), caller_seen);
}

// (10) R3264 / DESIGN invariant 5: an offer that is not SDP, or has no G.711, gets 488; no
// position is bothered and no media port is taken.
TEST_F(ControllerTest, UnusableCallerSdpIsRejectedWith488) {
  Start();
  caller_.SendTo(StackPort(), CallerInvite("bad-sdp", "", "application/sdp",
                                           "this is not a session description\r\n"));
  auto rejected = driver_->WaitFor(caller_, IsResponse(488, "INVITE"));
  ASSERT_TRUE(rejected) << "no 488 for a malformed SDP offer";
  EXPECT_EQ(HeaderValue(*rejected, "Call-ID"), "bad-sdp");

  caller_.SendTo(StackPort(),
                 CallerInvite("g729-only", "", "application/sdp", PeerSdp(kCallerRtpPort, "18")));
  rejected = driver_->WaitFor(caller_, IsResponse(488, "INVITE"));
  ASSERT_TRUE(rejected) << "no 488 for an offer without PCMU or PCMA";
  EXPECT_EQ(HeaderValue(*rejected, "Call-ID"), "g729-only");

  driver_->RunFor(50'000);
  for (const SipTestPeer& p : pos_) EXPECT_TRUE(p.received().empty());
  EXPECT_TRUE(media_.created.empty());
  EXPECT_EQ(controller_->active_calls(), 0u);
}

// NENA-4.2.1.3 / R3725-5-e: with no idle position the call waits: 180, then a 183 with the
// server's SDP and ringback; when a position comes up it gets the call, and the caller's 200
// repeats the 183's SDP unchanged (same o= version, R3264-8).
TEST_F(ControllerTest, QueuedCallHearsRingbackAndIsAnsweredWhenAPositionComesUp) {
  Start({}, DefaultPositions(), /*all_up=*/false);
  std::string invite = CallerInvite("queued-call");
  caller_.SendTo(StackPort(), invite);
  auto early = driver_->WaitFor(caller_, IsResponse(183, "INVITE"));
  ASSERT_TRUE(early) << "no 183 with early media";
  EXPECT_EQ(DistinctStatuses(caller_, "INVITE"), (std::vector<int>{100, 180, 183}));
  EXPECT_NE(BodyOf(*early).find("m=audio"), std::string::npos);
  EXPECT_TRUE(media_.WasConnected(CallerLeg()));
  EXPECT_EQ(
      media_.tones,
      (std::vector<std::pair<LegId, media::Tone>>{{CallerLeg(), media::Tone::kQueueAnnouncement}}));
  auto summary = controller_->GetCall(CallOf().value);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->state, "queued");

  registry_->SetHealth(Pos(1).id, Health::kUp);
  controller_->OnPositionUp(Pos(1).id);
  auto offer = driver_->WaitFor(pos_[1], IsRequest("INVITE"));
  ASSERT_TRUE(offer) << "pos2 was not offered the queued call";
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(1, *offer, &ok));
  auto answer = driver_->WaitFor(caller_, IsResponse(200, "INVITE"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(BodyOf(*answer), BodyOf(*early));
  EXPECT_EQ(media_.tones.back(), std::make_pair(CallerLeg(), media::Tone::kNone));
}

// Over queue.max_calls the overflow answer goes out at once so the ESRP reroutes
// (NENA-4.2.1.3); the queued call is left alone.
TEST_F(ControllerTest, QueueOverflowGetsTheOverflowStatus) {
  ControllerOptions options;
  options.queue_max_calls = 1;
  options.overflow_status = 503;
  Start(options, DefaultPositions(), /*all_up=*/false);
  caller_.SendTo(StackPort(), CallerInvite("first"));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(183, "INVITE")));
  SipTestPeer second;
  driver_->Watch(&second);
  std::string invite = CallerInvite("second");
  second.SendTo(StackPort(), invite);
  EXPECT_TRUE(driver_->WaitFor(second, IsResponse(503, "INVITE")));
  EXPECT_EQ(controller_->active_calls(), 1u);
}

TEST_F(ControllerTest, QueueWaitLimitGetsTheOverflowStatus) {
  ControllerOptions options;
  options.queue_max_wait_s = 1;
  Start(options, DefaultPositions(), /*all_up=*/false);
  caller_.SendTo(StackPort(), CallerInvite("waits-too-long"));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(183, "INVITE")));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(486, "INVITE"), 3'000'000));
  EXPECT_EQ(controller_->active_calls(), 0u);
}

// NENA-4.6.8-a: a caller who hangs up while queued is an abandoned call, kept for callback
// with its identity, Call-Info ids and location reference.
TEST_F(ControllerTest, CallerWhoHangsUpWhileQueuedIsListedAsAbandoned) {
  Start({}, DefaultPositions(), /*all_up=*/false);
  std::string invite = CallerInvite(
      "abandoned",
      "Call-Info: <urn:emergency:uid:callid:abc:bcf.example>;purpose=emergency-CallId\r\n"
      "Geolocation: <https://lis.example/loc/1>\r\n"
      "P-Asserted-Identity: <sip:+15555550100@carrier.example>\r\n");
  caller_.SendTo(StackPort(), invite);
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(183, "INVITE")));
  caller_.SendTo(StackPort(), CallerCancel(invite));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(487, "INVITE")));
  std::vector<AbandonedCall> abandoned = controller_->ListAbandoned();
  ASSERT_EQ(abandoned.size(), 1u);
  EXPECT_EQ(abandoned[0].stage, "queued");
  EXPECT_EQ(abandoned[0].sip_call_id, "abandoned");
  EXPECT_EQ(abandoned[0].ng911_call_id, "urn:emergency:uid:callid:abc:bcf.example");
  EXPECT_EQ(abandoned[0].location, "<https://lis.example/loc/1>");
  EXPECT_EQ(abandoned[0].caller_identity, "<sip:+15555550100@carrier.example>");
  EXPECT_EQ(abandoned[0].caller, "sip:+15555550100@carrier.example");
}

// The control API's view and an operator's hang-up (DESIGN invariant 1 allows the operator).
TEST_F(ControllerTest, ControlHandlerListsAndHangsUp) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  std::vector<CallSummary> calls = controller_->ListCalls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].state, "answered");
  EXPECT_EQ(calls[0].position, "pos1");
  EXPECT_EQ(calls[0].media, "anchored");
  ASSERT_EQ(calls[0].parties.size(), 2u);
  EXPECT_EQ(calls[0].parties[0].kind, "caller");
  EXPECT_EQ(calls[0].parties[1].kind, "position");
  std::vector<PositionSummary> positions = controller_->ListPositions();
  ASSERT_EQ(positions.size(), 3u);
  EXPECT_EQ(positions[0].activity, "busy");
  EXPECT_EQ(positions[0].standby, "pos3");
  EXPECT_EQ(positions[0].call, calls[0].id);
  EXPECT_FALSE(controller_->Hangup(999'999).has_value());
  ASSERT_TRUE(controller_->Hangup(calls[0].id).has_value());
  EXPECT_TRUE(driver_->WaitFor(caller_, IsRequest("BYE")));
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("BYE")));
  EXPECT_EQ(controller_->active_calls(), 0u);
}

// R7332-5-a: Max-Forwards is copied and decremented across the B2BUA; at 0 the call gets 483.
TEST_F(ControllerTest, MaxForwardsIsDecrementedAndZeroGets483) {
  Start();
  std::string twelve = CallerInvite("hops-left");
  twelve.replace(twelve.find("Max-Forwards: 70"), 16, "Max-Forwards: 12");
  caller_.SendTo(StackPort(), twelve);
  auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite);
  EXPECT_EQ(HeaderValue(*invite, "Max-Forwards"), "11");
  SipTestPeer looping;
  driver_->Watch(&looping);
  std::string zero = CallerInvite("no-hops-left");
  zero.replace(zero.find("Max-Forwards: 70"), 16, "Max-Forwards: 0");
  looping.SendTo(StackPort(), zero);
  EXPECT_TRUE(driver_->WaitFor(looping, IsResponse(483, "INVITE")));
}

// R3261-12.2.2: an in-dialog request whose CSeq is not above the last one gets 500.
TEST_F(ControllerTest, OutOfOrderCseqGets500) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  caller_.SendTo(StackPort(),
                 CallerRequest("BYE", 1, call.caller_invite, call.caller_ok, "z9hG4bK-stale-bye"));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(500, "BYE")));
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(pos_[0].count(IsRequest("BYE")), 0u);
}

// R3261-13.3.1.4: the 200 is retransmitted until the ACK; with no ACK within 64*T1 the caller
// gets a BYE with a Reason, and the position too (T1 shortened to 20 ms: 1.28 s).
TEST_F(ControllerTest, MissingAckRetransmitsThe200ThenByes) {
  ControllerOptions options;
  options.t1_ms = 20;
  Start(options);
  std::string invite = CallerInvite("never-acks");
  caller_.SendTo(StackPort(), invite);
  auto offer = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(offer);
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(0, *offer, &ok));
  auto bye = driver_->WaitFor(caller_, IsRequest("BYE"), 4'000'000);
  ASSERT_TRUE(bye) << "no BYE after 64*T1 without ACK";
  EXPECT_NE(HeaderValue(*bye, "Reason").find("cause=408"), std::string::npos);
  EXPECT_GE(caller_.count(IsResponse(200, "INVITE")), 4u);  // the 200 and its retransmissions
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("BYE")));
}

// R3261-11.2-a: OPTIONS gets the status an INVITE would get.
TEST_F(ControllerTest, OptionsAnswersWhatAnInviteWouldGet) {
  ControllerOptions no_queue;
  no_queue.queue_max_calls = 0;
  Start(no_queue, DefaultPositions(), /*all_up=*/false);
  auto options = [&](const std::string& id) {
    std::string text = CallerInvite(id, "", "");
    text.replace(0, 6, "OPTIONS");
    text.replace(text.find("CSeq: 1 INVITE"), 14, "CSeq: 1 OPTIONS");
    caller_.SendTo(StackPort(), text);
  };
  options("options-none-up");
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(486, "OPTIONS")));
  registry_->SetHealth(Pos(0).id, Health::kUp);
  options("options-one-up");
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "OPTIONS")));
}

// An in-dialog request from position `i` on the call it answered (`invite` was the server's
// INVITE to it, `ok` its 200).
std::string PositionRequest(const SipTestPeer& pos, const std::string& method, uint32_t cseq,
                            const std::string& invite, const std::string& ok,
                            const std::string& extra, const std::string& branch) {
  std::string contact = HeaderValue(invite, "Contact");
  std::string target = contact.substr(1, contact.find('>') - 1);
  return WithBody(method + " " + target + " SIP/2.0\r\nVia: " + pos.via(branch) +
                  "\r\nFrom: " + HeaderValue(ok, "To") + "\r\nTo: " + HeaderValue(invite, "From") +
                  "\r\nCall-ID: " + HeaderValue(invite, "Call-ID") +
                  "\r\nCSeq: " + std::to_string(cseq) + " " + method + "\r\nContact: <" +
                  pos.uri("pos") + ">\r\nMax-Forwards: 70\r\n" + extra);
}

// NENA-4.7 (RFC 3515, RFC 3892): a blind transfer. pos1 REFERs the call to a target; the server
// answers 202, INVITEs the target with Referred-By, NOTIFYs pos1 (100, then 200), connects the
// target; pos1's BYE then ends only its own leg: the caller gets no SIP message and the call
// goes on with the target.
TEST_F(ControllerTest, BlindTransferKeepsTheCaller) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  SipTestPeer target;
  driver_->Watch(&target);
  const size_t caller_had = caller_.received().size();
  pos_[0].SendTo(StackPort(),
                 PositionRequest(pos_[0], "REFER", 2, call.position_invite, call.position_ok,
                                 "Refer-To: <" + target.uri("dispatch") +
                                     ">\r\nReferred-By: <sip:pos1@psap.example>\r\n",
                                 "z9hG4bK-refer"));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsResponse(202, "REFER")));
  auto invite = driver_->WaitFor(target, IsRequest("INVITE"));
  ASSERT_TRUE(invite) << "the transfer target got no INVITE";
  EXPECT_EQ(HeaderValue(*invite, "Referred-By"), "<sip:pos1@psap.example>");
  auto trying = driver_->WaitFor(pos_[0], IsRequest("NOTIFY"));
  ASSERT_TRUE(trying);
  EXPECT_EQ(HeaderValue(*trying, "Event"), "refer");
  EXPECT_EQ(BodyOf(*trying).rfind("SIP/2.0 100", 0), 0u);
  target.SendTo(StackPort(), ResponseTo(*invite, 200, "OK", "target-tag",
                                        "Contact: <" + target.uri("dispatch") +
                                            ">\r\nContent-Type: application/sdp\r\n",
                                        PeerSdp(40100, "0")));
  ASSERT_TRUE(driver_->WaitFor(target, IsRequest("ACK")));
  ASSERT_TRUE(
      driver_->RunUntil([&] { return pos_[0].count(IsRequest("NOTIFY")) >= 2; }, 2'000'000));
  EXPECT_TRUE(media_.WasConnected(media_.created.back().second));
  pos_[0].SendTo(StackPort(), PositionRequest(pos_[0], "BYE", 3, call.position_invite,
                                              call.position_ok, "", "z9hG4bK-pos-bye"));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsResponse(200, "BYE")));
  driver_->RunFor(200'000);
  EXPECT_EQ(caller_.received().size(), caller_had) << "the caller's leg got a SIP message";
  EXPECT_EQ(controller_->active_calls(), 1u);
  EXPECT_EQ(Pos(0).activity, failover::Activity::kIdle);
  EXPECT_FALSE(media_.WasDestroyed(call.caller_leg));
}

// Attended transfer (RFC 3891): Refer-To carries ?Replaces=...; the server's INVITE to the
// target carries the decoded Replaces header, and Referred-By even though the REFER had none.
TEST_F(ControllerTest, AttendedTransferCarriesReplaces) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  SipTestPeer target;
  driver_->Watch(&target);
  pos_[0].SendTo(StackPort(),
                 PositionRequest(pos_[0], "REFER", 2, call.position_invite, call.position_ok,
                                 "Refer-To: <" + target.uri("dispatch") +
                                     "?Replaces=consult%40pos1%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>\r\n",
                                 "z9hG4bK-refer-2"));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsResponse(202, "REFER")));
  auto invite = driver_->WaitFor(target, IsRequest("INVITE"));
  ASSERT_TRUE(invite);
  EXPECT_EQ(HeaderValue(*invite, "Replaces"), "consult@pos1;to-tag=t1;from-tag=f1");
  // NENA-4.7.1-b: this REFER had no Referred-By; the transferring position's URI is sent.
  EXPECT_EQ(HeaderValue(*invite, "Referred-By"), "<" + Pos(0).uri + ">");
  EXPECT_EQ(invite->substr(0, invite->find("\r\n")).find("Replaces"), std::string::npos);
}

// Nothing of an ended call stays behind (the call-setup soak's memory must stay flat).
TEST_F(ControllerTest, AnEndedCallLeavesNothingTracked) {
  Start();
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  caller_.SendTo(StackPort(),
                 CallerRequest("BYE", 2, call.caller_invite, call.caller_ok, "z9hG4bK-bye-all"));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "BYE")));
  driver_->RunFor(50'000);
  Controller::Sizes sizes = controller_->sizes();
  EXPECT_EQ(sizes.calls, 0u);
  EXPECT_EQ(sizes.legs, 0u);
  EXPECT_EQ(sizes.dialogs, 0u);
  EXPECT_EQ(sizes.invite_transactions, 0u);
}

// RFC 4028 toward a position (B2B-4028-a): anchord asks to refresh, and refreshes with UPDATE
// every half interval while the position answers (interval shortened to 1 s for the test).
TEST_F(ControllerTest, SessionTimerRefreshesThePositionLeg) {
  ControllerOptions options;
  options.session_expires_s = 1;
  Start(options);
  caller_.SendTo(StackPort(), CallerInvite("timed"));
  auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite);
  EXPECT_EQ(HeaderValue(*invite, "Session-Expires"), "1;refresher=uac");
  std::string ok = ResponseTo(*invite, 200, "OK", PositionTag(0),
                              "Contact: <" + pos_[0].uri("pos1") +
                                  ">\r\nSession-Expires: 1;refresher=uac\r\nRequire: timer\r\n"
                                  "Content-Type: application/sdp\r\n",
                              PeerSdp(kPositionRtpPort, "0"));
  pos_[0].SendTo(StackPort(), ok);
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsRequest("ACK")));
  for (int i = 0; i < 2; ++i) {
    const uint64_t before = core::MonotonicUs();
    auto update = driver_->WaitFor(pos_[0], IsRequest("UPDATE"), 2'000'000);
    ASSERT_TRUE(update) << "refresh " << i;
    EXPECT_LE(core::MonotonicUs() - before, 800'000u);
    pos_[0].SendTo(StackPort(), ResponseTo(*update, 200, "OK", ""));
  }
  EXPECT_EQ(Pos(0).health, Health::kUp);
}

// A refresh the position refuses (481: it lost the dialog) means failover to the standby; the
// caller gets no SIP message.
TEST_F(ControllerTest, FailedSessionRefreshMeansFailoverNotCallerBye) {
  ControllerOptions options;
  options.session_expires_s = 1;
  Start(options);
  const std::string caller_invite = CallerInvite("refresh-fails");
  caller_.SendTo(StackPort(), caller_invite);
  auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite);
  pos_[0].SendTo(StackPort(), ResponseTo(*invite, 200, "OK", PositionTag(0),
                                         "Contact: <" + pos_[0].uri("pos1") +
                                             ">\r\nSession-Expires: 1;refresher=uac\r\n"
                                             "Content-Type: application/sdp\r\n",
                                         PeerSdp(kPositionRtpPort, "0")));
  auto caller_ok = driver_->WaitFor(caller_, IsResponse(200, "INVITE"));
  ASSERT_TRUE(caller_ok);
  caller_.SendTo(StackPort(),
                 CallerRequest("ACK", 1, caller_invite, *caller_ok, "z9hG4bK-ack-timed"));
  driver_->RunFor(20'000);
  const size_t caller_had = caller_.received().size();
  auto update = driver_->WaitFor(pos_[0], IsRequest("UPDATE"), 2'000'000);
  ASSERT_TRUE(update);
  pos_[0].SendTo(StackPort(), ResponseTo(*update, 481, "Call/Transaction Does Not Exist", ""));
  EXPECT_TRUE(driver_->WaitFor(pos_[2], IsRequest("INVITE"))) << "the standby was not INVITEd";
  EXPECT_EQ(Pos(0).health, Health::kDown);
  EXPECT_EQ(caller_.received().size(), caller_had) << "the caller's leg got a SIP message";
}

// The position takes the refresher role and then never refreshes: failover when the interval
// runs out (RFC 4028 §10: interval - min(32 s, interval/3)), not a BYE to the caller.
TEST_F(ControllerTest, MissingRefreshFromThePositionMeansFailover) {
  ControllerOptions options;
  options.session_expires_s = 1;
  Start(options);
  caller_.SendTo(StackPort(), CallerInvite("position-refreshes"));
  auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite);
  pos_[0].SendTo(StackPort(), ResponseTo(*invite, 200, "OK", PositionTag(0),
                                         "Contact: <" + pos_[0].uri("pos1") +
                                             ">\r\nSession-Expires: 1;refresher=uas\r\n"
                                             "Content-Type: application/sdp\r\n",
                                         PeerSdp(kPositionRtpPort, "0")));
  ASSERT_TRUE(driver_->WaitFor(pos_[0], IsRequest("ACK")));
  const uint64_t answered = core::MonotonicUs();
  EXPECT_TRUE(driver_->WaitFor(pos_[2], IsRequest("INVITE"), 2'000'000));
  EXPECT_GE(core::MonotonicUs() - answered, 600'000u);  // 1 s - 333 ms
  EXPECT_EQ(pos_[0].count(IsRequest("UPDATE")), 0u);    // the position was the refresher
  EXPECT_EQ(caller_.count(IsRequest("BYE")), 0u);
}

// A position that does not do session timers (no Session-Expires in its 200) is left alone.
TEST_F(ControllerTest, PositionWithoutSessionTimerIsLeftAlone) {
  ControllerOptions options;
  options.session_expires_s = 1;
  Start(options);
  Answered call;
  ASSERT_NO_FATAL_FAILURE(AnswerCall(&call));
  driver_->RunFor(1'500'000);
  EXPECT_EQ(pos_[0].count(IsRequest("UPDATE")), 0u);
  EXPECT_EQ(Pos(0).health, Health::kUp);
  EXPECT_EQ(controller_->active_calls(), 1u);
}

// R3261-8.2.2.3: a required extension anchord does not do gets 420 with Unsupported (the ESRP
// retries without it); "timer" and "100rel" (R3262-a) are supported.
TEST_F(ControllerTest, UnsupportedRequireGets420) {
  Start();
  caller_.SendTo(StackPort(),
                 CallerInvite("needs-precondition", "Require: precondition, timer\r\n"));
  auto bad = driver_->WaitFor(caller_, IsResponse(420, "INVITE"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(HeaderValue(*bad, "Unsupported"), "precondition");
  EXPECT_EQ(pos_[0].count(IsRequest("INVITE")), 0u);
  SipTestPeer timed;
  driver_->Watch(&timed);
  timed.SendTo(StackPort(), CallerInvite("needs-timer", "Require: timer\r\n"));
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("INVITE")));
}

// R3261-18.1.1: an INVITE over 1300 bytes (the caller's PIDF-LO by value) goes over TCP; a
// position that takes no TCP connection gets it again over UDP at once, Via saying UDP.
TEST_F(ControllerTest, LargeInviteTriesTcpThenUdp) {
  Start({}, DefaultPositions(), /*all_up=*/true, /*with_tcp=*/true);
  const std::string pidf(1500, 'x');
  const std::string boundary = "b1";
  const std::string body = "--b1\r\nContent-Type: application/sdp\r\n\r\n" +
                           PeerSdp(kCallerRtpPort) +
                           "\r\n--b1\r\nContent-Type: "
                           "application/pidf+xml\r\nContent-ID: <loc@x>\r\n\r\n" +
                           pidf + "\r\n--b1--\r\n";
  caller_.SendTo(StackPort(), CallerInvite("big-invite", "Geolocation: <cid:loc@x>\r\n",
                                           "multipart/mixed;boundary=" + boundary, body));
  const uint64_t sent = core::MonotonicUs();
  auto invite = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(invite) << "the position never got the INVITE";
  EXPECT_LT(core::MonotonicUs() - sent, 1'000'000u) << "the UDP fallback waited for a timer";
  EXPECT_GT(invite->size(), 1300u);
  EXPECT_NE(HeaderValue(*invite, "Via").find("SIP/2.0/UDP"), std::string::npos);
  EXPECT_NE(invite->find(pidf), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Reliable provisionals toward the caller (RFC 3262, R3262-a, NENA-3.1.2-a).

std::string RAckFor(const std::string& provisional) {
  return HeaderValue(provisional, "RSeq") + " 1 INVITE";
}

uint64_t RSeqOf(const std::string& response) {
  std::string rseq = HeaderValue(response, "RSeq");
  return rseq.empty() ? 0 : std::stoull(rseq);
}

class ControllerPrackTest : public ControllerTest {
 protected:
  // The caller's PRACK (RAck `rack`, SDP body `sdp` if any) in the early dialog that
  // `provisional` created.
  std::string Prack(const std::string& invite, const std::string& provisional, uint32_t cseq,
                    const std::string& rack, const std::string& sdp = "") {
    const std::string plain =
        CallerRequest("PRACK", cseq, invite, provisional, "z9hG4bK-prack-" + std::to_string(cseq));
    std::string head = plain.substr(0, plain.find("Content-Length:")) + "RAck: " + rack + "\r\n";
    if (!sdp.empty()) head += "Content-Type: application/sdp\r\n";
    return WithBody(head, sdp);
  }
  static constexpr char kRequire[] = "Require: 100rel\r\n";
  static constexpr char kSupported[] = "Supported: 100rel, timer\r\n";
};

// R3262-a: with Require: 100rel every provisional goes reliably. Queued: the 180 has Require:
// 100rel and an RSeq in 1..2^31-1; the 183 waits until the 180 is PRACKed (one unacknowledged
// at a time), then carries RSeq + 1 and the early-media SDP (NENA-4.2.1.3); each matching PRACK
// gets 200.
TEST_F(ControllerPrackTest, RequiredReliabilityQueues183BehindThePrackedRinging) {
  Start({}, DefaultPositions(), /*all_up=*/false);
  const std::string invite = CallerInvite("rel-queued", kRequire);
  caller_.SendTo(StackPort(), invite);
  auto ringing = driver_->WaitFor(caller_, IsResponse(180, "INVITE"));
  ASSERT_TRUE(ringing) << "a Require: 100rel INVITE got no 180";
  EXPECT_EQ(caller_.count(IsResponse(420, "INVITE")), 0u);
  EXPECT_EQ(HeaderValue(*ringing, "Require"), "100rel");
  const uint64_t rseq = RSeqOf(*ringing);
  EXPECT_GE(rseq, 1u);
  EXPECT_LE(rseq, 0x7FFFFFFFu);
  driver_->RunFor(100'000);
  EXPECT_EQ(caller_.count(IsResponse(183, "INVITE")), 0u) << "a 2nd reliable 1xx before PRACK";

  caller_.SendTo(StackPort(), Prack(invite, *ringing, 2, RAckFor(*ringing)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  auto early = driver_->WaitFor(caller_, IsResponse(183, "INVITE"));
  ASSERT_TRUE(early) << "no 183 after the 180's PRACK";
  EXPECT_EQ(HeaderValue(*early, "Require"), "100rel");
  EXPECT_EQ(RSeqOf(*early), rseq + 1);
  EXPECT_NE(BodyOf(*early).find("m=audio"), std::string::npos);
  EXPECT_EQ(ParamOf(HeaderValue(*early, "To"), "tag"), ParamOf(HeaderValue(*ringing, "To"), "tag"));
  caller_.SendTo(StackPort(), Prack(invite, *early, 3, RAckFor(*early)));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  EXPECT_EQ(controller_->active_calls(), 1u);
}

// R3262-a: an unacknowledged reliable provisional is re-sent at T1, 2*T1, 4*T1 ... (no T2 cap,
// RFC 3262 §3) and no more once PRACKed. Supported: 100rel only: the 180 (no SDP) goes
// unreliably, the 183 with SDP reliably (anchord's choice). T1 = 40 ms.
TEST_F(ControllerPrackTest, ReliableProvisionalIsResentAtDoublingIntervalsUntilPrack) {
  ControllerOptions options;
  options.t1_ms = 40;
  Start(options, DefaultPositions(), /*all_up=*/false);
  const std::string invite = CallerInvite("rel-retransmit", kSupported);
  caller_.SendTo(StackPort(), invite);
  auto early = driver_->WaitFor(caller_, IsResponse(183, "INVITE"));
  ASSERT_TRUE(early);
  const uint64_t first = core::MonotonicUs();
  auto ringing = caller_.Take(IsResponse(180, "INVITE"));
  ASSERT_TRUE(ringing);
  EXPECT_TRUE(HeaderValue(*ringing, "RSeq").empty()) << "a 180 without SDP went reliably";
  EXPECT_TRUE(HeaderValue(*ringing, "Require").empty());
  EXPECT_NE(RSeqOf(*early), 0u);
  // Gaps between arrivals, not times since the first: each retransmission is timed from the
  // one before, so a late wakeup under load delays the rest but does not shorten a gap.
  std::vector<uint64_t> gaps_ms;
  uint64_t last = first;
  for (size_t n = 2; n <= 5; ++n) {
    ASSERT_TRUE(driver_->RunUntil([&] { return caller_.count(IsResponse(183, "INVITE")) >= n; },
                                  2'000'000));
    const uint64_t now = core::MonotonicUs();
    gaps_ms.push_back((now - last) / 1000);
    last = now;
  }
  const std::vector<uint64_t> expected = {40, 80, 160, 320};  // T1, 2*T1, 4*T1, 8*T1
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_GE(gaps_ms[i] + 5, expected[i]) << "retransmission " << i + 1;
    EXPECT_LE(gaps_ms[i], expected[i] + 60) << "retransmission " << i + 1;
  }
  for (const std::string& m : caller_.received()) {
    if (StatusOf(m) == 183) {
      EXPECT_EQ(RSeqOf(m), RSeqOf(*early)) << "a retransmission's RSeq";
    }
  }
  caller_.SendTo(StackPort(), Prack(invite, *early, 2, RAckFor(*early)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  const size_t sent = caller_.count(IsResponse(183, "INVITE"));
  driver_->RunFor(1'000'000);  // the next one was due 640 ms after the 4th
  EXPECT_EQ(caller_.count(IsResponse(183, "INVITE")), sent) << "re-sent after its PRACK";
}

// R3262-a: a PRACK that matches no unacknowledged reliable provisional (wrong RSeq, wrong CSeq
// method, unknown dialog) gets 481 and the provisional stays unacknowledged; the matching one
// then gets 200, and its retransmission the same 200 (the stack's transaction layer).
TEST_F(ControllerPrackTest, PrackWithAWrongRAckGets481) {
  Start({}, DefaultPositions(), /*all_up=*/false);
  const std::string invite = CallerInvite("rel-wrong-rack", kSupported);
  caller_.SendTo(StackPort(), invite);
  auto early = driver_->WaitFor(caller_, IsResponse(183, "INVITE"));
  ASSERT_TRUE(early);
  const std::string rseq = HeaderValue(*early, "RSeq");
  caller_.SendTo(StackPort(),
                 Prack(invite, *early, 2, std::to_string(RSeqOf(*early) + 1) + " 1 INVITE"));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "PRACK")));
  caller_.SendTo(StackPort(), Prack(invite, *early, 3, rseq + " 1 UPDATE"));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "PRACK")));
  std::string stranger = Prack(invite, *early, 4, RAckFor(*early));
  stranger.replace(stranger.find("Call-ID: rel-wrong-rack"), 23, "Call-ID: no-such-dialog");
  caller_.SendTo(StackPort(), stranger);
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "PRACK")));

  const std::string prack = Prack(invite, *early, 5, RAckFor(*early));
  caller_.SendTo(StackPort(), prack);
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  caller_.SendTo(StackPort(), prack);  // retransmitted: same transaction, same answer
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  caller_.SendTo(StackPort(), Prack(invite, *early, 6, RAckFor(*early)));  // already PRACKed
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "PRACK")));
}

// A PRACK with SDP would be a new offer (our reliable 183 answered the caller's): 488, the 183
// stays unacknowledged (still re-sent), the caller leg's media untouched; a PRACK without SDP
// then gets 200.
TEST_F(ControllerPrackTest, PrackWithSdpGets488AndChangesNothing) {
  ControllerOptions options;
  options.t1_ms = 50;
  Start(options, DefaultPositions(), /*all_up=*/false);
  const std::string invite = CallerInvite("rel-prack-sdp", kRequire);
  caller_.SendTo(StackPort(), invite);
  auto ringing = driver_->WaitFor(caller_, IsResponse(180, "INVITE"));
  ASSERT_TRUE(ringing);
  caller_.SendTo(StackPort(), Prack(invite, *ringing, 2, RAckFor(*ringing), PeerSdp(20400)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(488, "PRACK")));
  const size_t before = caller_.count(IsResponse(180, "INVITE"));
  EXPECT_TRUE(driver_->RunUntil([&] { return caller_.count(IsResponse(180, "INVITE")) > before; },
                                1'000'000))
      << "the 180 stopped being re-sent after a refused PRACK";
  EXPECT_EQ(caller_.count(IsResponse(183, "INVITE")), 0u);
  EXPECT_EQ(media_.remotes[CallerLeg().value].size(), 1u) << "the PRACK's SDP was used";
  caller_.SendTo(StackPort(), Prack(invite, *ringing, 3, RAckFor(*ringing)));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(183, "INVITE")));
}

// R3262-a (RFC 3262 §3: no 2xx while an unacknowledged reliable 1xx is outstanding, kept simple:
// any): the position answers while the caller's reliable 180 is unacknowledged; the caller's
// 200 waits for the PRACK, then goes out with the SDP answer and Supported: 100rel.
TEST_F(ControllerPrackTest, AnswerWaitsForThePrack) {
  Start();
  const std::string invite = CallerInvite("rel-held-200", kRequire);
  caller_.SendTo(StackPort(), invite);
  auto offer = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(offer);
  EXPECT_EQ(HeaderValue(*offer, "Require"), "") << "100rel went on to the position";
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(0, *offer, &ok));
  auto ringing = driver_->WaitFor(caller_, IsResponse(180, "INVITE"));
  ASSERT_TRUE(ringing);
  EXPECT_NE(RSeqOf(*ringing), 0u);
  driver_->RunFor(200'000);
  EXPECT_EQ(caller_.count(IsResponse(200, "INVITE")), 0u) << "200 before the PRACK";
  caller_.SendTo(StackPort(), Prack(invite, *ringing, 2, RAckFor(*ringing)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "PRACK")));
  auto answer = driver_->WaitFor(caller_, IsResponse(200, "INVITE"));
  ASSERT_TRUE(answer) << "no 200 after the PRACK";
  EXPECT_NE(BodyOf(*answer).find("m=audio"), std::string::npos);
  EXPECT_TRUE(HeaderValue(*answer, "RSeq").empty());
  EXPECT_NE(HeaderValue(*answer, "Supported").find("100rel"), std::string::npos);
  caller_.SendTo(StackPort(), CallerRequest("ACK", 1, invite, *answer, "z9hG4bK-rel-ack"));
  caller_.SendTo(StackPort(), CallerRequest("BYE", 3, invite, *answer, "z9hG4bK-rel-bye"));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "BYE")));
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("BYE")));
}

// R3262-a: 64*T1 without a PRACK (T1 = 20 ms: 1.28 s): the INVITE gets 500, the 180 was re-sent
// meanwhile, the ringing position is CANCELled and the call is gone (no BYE to the caller).
TEST_F(ControllerPrackTest, NoPrackWithin64T1Gets500AndCancelsThePosition) {
  ControllerOptions options;
  options.t1_ms = 20;
  Start(options);
  caller_.SendTo(StackPort(), CallerInvite("rel-no-prack", kRequire));
  auto offer = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(offer);
  pos_[0].SendTo(StackPort(), ResponseTo(*offer, 180, "Ringing", PositionTag(0)));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(180, "INVITE")));
  const uint64_t first = core::MonotonicUs();
  auto failed = driver_->WaitFor(caller_, IsResponse(500, "INVITE"), 4'000'000);
  ASSERT_TRUE(failed) << "no 5xx after 64*T1 without PRACK";
  EXPECT_GE(core::MonotonicUs() - first, 1'200'000u);
  EXPECT_GE(caller_.count(IsResponse(180, "INVITE")), 6u);  // at 20, 60, 140, 300, 620, 1260 ms
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("CANCEL")));
  const size_t ringing = caller_.count(IsResponse(180, "INVITE"));
  driver_->RunFor(200'000);
  EXPECT_EQ(caller_.count(IsResponse(180, "INVITE")), ringing) << "re-sent after the final";
  EXPECT_EQ(caller_.count(IsRequest("BYE")), 0u);
  EXPECT_EQ(controller_->active_calls(), 0u);
  EXPECT_EQ(Pos(0).activity, Activity::kIdle);
}

// The same while queued (Supported only: the reliable 183) and with the 200 held: the queue
// forgets the call; a position that answered meanwhile gets a BYE, the caller only the 500.
TEST_F(ControllerPrackTest, NoPrackForTheQueued183Gets500AndLeavesTheQueue) {
  ControllerOptions options;
  options.t1_ms = 20;
  Start(options, DefaultPositions(), /*all_up=*/false);
  caller_.SendTo(StackPort(), CallerInvite("rel-queued-no-prack", kSupported));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(183, "INVITE")));
  ASSERT_EQ(controller_->GetCall(CallOf().value)->state, "queued");
  registry_->SetHealth(Pos(1).id, Health::kUp);
  controller_->OnPositionUp(Pos(1).id);
  auto offer = driver_->WaitFor(pos_[1], IsRequest("INVITE"));
  ASSERT_TRUE(offer);
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(1, *offer, &ok));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(500, "INVITE"), 4'000'000));
  EXPECT_TRUE(driver_->WaitFor(pos_[1], IsRequest("BYE")));
  driver_->RunFor(100'000);
  EXPECT_EQ(caller_.count(IsResponse(200, "INVITE")), 0u);
  EXPECT_EQ(caller_.count(IsRequest("BYE")), 0u);
  EXPECT_EQ(controller_->active_calls(), 0u);
  EXPECT_TRUE(controller_->ListCalls().empty());
}

// A CANCEL while the 200 waits for a PRACK: 200 + 487 (the INVITE had no final answer yet) and
// a BYE to the position that answered.
TEST_F(ControllerPrackTest, CancelWhileTheAnswerWaitsGets487) {
  Start();
  const std::string invite = CallerInvite("rel-cancel", kRequire);
  caller_.SendTo(StackPort(), invite);
  auto offer = driver_->WaitFor(pos_[0], IsRequest("INVITE"));
  ASSERT_TRUE(offer);
  std::string ok;
  ASSERT_NO_FATAL_FAILURE(PositionAnswers(0, *offer, &ok));
  ASSERT_TRUE(driver_->WaitFor(caller_, IsResponse(180, "INVITE")));
  caller_.SendTo(StackPort(), CallerCancel(invite));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(200, "CANCEL")));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(487, "INVITE")));
  EXPECT_TRUE(driver_->WaitFor(pos_[0], IsRequest("BYE")));
  EXPECT_EQ(caller_.count(IsResponse(200, "INVITE")), 0u);
  EXPECT_EQ(controller_->active_calls(), 0u);
}

// Without 100rel in Supported or Require nothing changes: 180 and 183 unreliable (no RSeq, no
// Require), sent once, and a PRACK gets 481 (RFC 3262 §3: MUST NOT send reliably).
TEST_F(ControllerPrackTest, WithoutHundredRelProvisionalsStayUnreliable) {
  ControllerOptions options;
  options.t1_ms = 20;
  Start(options, DefaultPositions(), /*all_up=*/false);
  const std::string invite = CallerInvite("no-100rel");
  caller_.SendTo(StackPort(), invite);
  auto early = driver_->WaitFor(caller_, IsResponse(183, "INVITE"));
  ASSERT_TRUE(early);
  driver_->RunFor(300'000);
  EXPECT_EQ(caller_.count(IsResponse(183, "INVITE")), 1u);
  EXPECT_EQ(caller_.count(IsResponse(180, "INVITE")), 1u);
  for (const std::string& m : caller_.received()) {
    EXPECT_TRUE(HeaderValue(m, "RSeq").empty()) << m;
    EXPECT_TRUE(HeaderValue(m, "Require").empty()) << m;
  }
  caller_.SendTo(StackPort(), Prack(invite, *early, 2, "1 1 INVITE"));
  EXPECT_TRUE(driver_->WaitFor(caller_, IsResponse(481, "PRACK")));
}

// OPTIONS lists what anchord supports (100rel, timer) and allows (PRACK among them).
TEST_F(ControllerPrackTest, OptionsAdvertisesHundredRelAndPrack) {
  Start();
  std::string text = CallerInvite("options-100rel", "", "");
  text.replace(0, 6, "OPTIONS");
  text.replace(text.find("CSeq: 1 INVITE"), 14, "CSeq: 1 OPTIONS");
  caller_.SendTo(StackPort(), text);
  auto ok = driver_->WaitFor(caller_, IsResponse(200, "OPTIONS"));
  ASSERT_TRUE(ok);
  EXPECT_NE(HeaderValue(*ok, "Supported").find("100rel"), std::string::npos) << *ok;
  EXPECT_NE(HeaderValue(*ok, "Allow").find("PRACK"), std::string::npos) << *ok;
}

}  // namespace
}  // namespace anchord::signaling
