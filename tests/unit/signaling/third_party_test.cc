// ThirdPartyController: RFC 3725 flows I-IV, failures, and continued processing (fixture in
// third_party_fixture.h).
#include "tests/unit/signaling/third_party_fixture.h"

namespace anchord::signaling::tpctest {
namespace {

TEST_F(ThirdPartyTest, FlowOneRelaysOffer1AndHoldsAsAckUntilBAnswers) {
  uint64_t id = Dial(1);
  std::string a_invite = ExpectRequest('A', "INVITE");
  EXPECT_TRUE(BodyOf(a_invite).empty());  // (1) no SDP
  Answer('A', a_invite, PeerSdp(kARtp));  // (2) offer1
  std::string b_invite = ExpectRequest('B', "INVITE");
  EXPECT_EQ(a_.count(IsRequest("ACK")), 0u);    // A's 200 waits for B (R3725-4.1-b)
  internal::RelaySdp offer1 = SdpOf(b_invite);  // (3) offer1, o= rewritten for B
  ASSERT_EQ(offer1.media.size(), 1u);
  EXPECT_EQ(offer1.media[0].port, kARtp);
  EXPECT_EQ(OriginIn(b_invite).username, "anchord");
  EXPECT_EQ(OriginIn(b_invite).version, 1u);
  Answer('B', b_invite, PeerSdp(kBRtp, "0"));     // (4) answer1
  std::string b_ack = ExpectRequest('B', "ACK");  // (5)
  EXPECT_TRUE(BodyOf(b_ack).empty());
  std::string a_ack = ExpectRequest('A', "ACK");  // (6) answer1
  internal::RelaySdp answer1 = SdpOf(a_ack);
  ASSERT_EQ(answer1.media.size(), 1u);
  EXPECT_EQ(answer1.media[0].port, kBRtp);
  EXPECT_EQ(OriginIn(a_ack).version, 1u);
  EXPECT_NE(OriginIn(a_ack).session_id, OriginIn(b_invite).session_id);  // one o= per leg
  auto summary = tpc_->GetCall(id);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->state, "answered");
  EXPECT_EQ(summary->media, "direct");
  EXPECT_EQ(summary->flow, 1);
}

TEST_F(ThirdPartyTest, FlowTwoBlackHoleOfferThenReInviteA) {
  Dial(2);
  std::string a_invite = ExpectRequest('A', "INVITE");
  internal::RelaySdp sdp1 = SdpOf(a_invite);
  ASSERT_EQ(sdp1.media.size(), 1u);  // one audio m-line, one codec, non-zero port
  EXPECT_EQ(sdp1.media[0].media, "audio");
  EXPECT_EQ(sdp1.media[0].formats.size(), 1u);
  EXPECT_NE(sdp1.media[0].port, 0);
  EXPECT_NE(BodyOf(a_invite).find("c=IN IP4 0.0.0.0"), std::string::npos);
  const internal::Origin a_origin = OriginIn(a_invite);
  Answer('A', a_invite, PeerSdp(kARtp, "0"));  // sdp2
  ExpectRequest('A', "ACK");                   // at once, before B is called
  std::string b_invite = ExpectRequest('B', "INVITE");
  EXPECT_EQ(SdpOf(b_invite).media.at(0).port, kARtp);  // sdp2 as the offer
  Answer('B', b_invite, PeerSdp(kBRtp, "0"));          // sdp3
  ExpectRequest('B', "ACK");
  std::string reinvite = ExpectRequest('A', "INVITE");
  EXPECT_EQ(SdpOf(reinvite).media.at(0).port, kBRtp);
  EXPECT_EQ(OriginIn(reinvite).session_id, a_origin.session_id);
  EXPECT_EQ(OriginIn(reinvite).version, a_origin.version + 1);
  EXPECT_EQ(HeaderValue(reinvite, "Call-ID"), HeaderValue(a_invite, "Call-ID"));
  Answer('A', reinvite, PeerSdp(kARtp, "0"));  // the same sdp2: done
  ExpectRequest('A', "ACK");
  driver_->RunFor(100'000);
  EXPECT_EQ(b_.count(IsRequest("INVITE")), 1u);  // no ping-pong
}

TEST_F(ThirdPartyTest, FlowTwoReInviteLoopIsBounded) {
  Dial(2);
  std::string invite = ExpectRequest('A', "INVITE");
  Answer('A', invite, PeerSdp(kARtp, "0"));
  std::string b_invite = ExpectRequest('B', "INVITE");
  Answer('B', b_invite, PeerSdp(kBRtp, "0"));
  // A answers every re-INVITE with a new port, B every re-INVITE with a new port.
  for (uint16_t round = 1; round <= 6; ++round) {
    auto a_re = driver_->WaitFor(a_, IsRequest("INVITE"), 300'000);
    if (!a_re) break;
    Answer('A', *a_re, PeerSdp(kARtp + 2 * round, "0"));
    auto b_re = driver_->WaitFor(b_, IsRequest("INVITE"), 300'000);
    if (!b_re) break;
    Answer('B', *b_re, PeerSdp(kBRtp + 2 * round, "0"));
  }
  EXPECT_EQ(b_.count(IsRequest("INVITE")), 1u + 2u);  // max_flow2_rounds = 2
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 1u + 3u);
}

TEST_F(ThirdPartyTest, FlowThreeBlackHoleAnswerAndMlineFitting) {
  Dial(3);
  std::string a_invite = ExpectRequest('A', "INVITE");
  EXPECT_TRUE(BodyOf(a_invite).empty());
  const std::string offer1 = PeerSdp(kARtp, "0") + "m=video 20002 RTP/AVP 31\r\n";
  Answer('A', a_invite, offer1);
  std::string a_ack = ExpectRequest('A', "ACK");  // at once, with a black-hole answer
  internal::RelaySdp hole = SdpOf(a_ack);
  ASSERT_EQ(hole.media.size(), 2u);
  EXPECT_NE(BodyOf(a_ack).find("c=IN IP4 0.0.0.0"), std::string::npos);
  EXPECT_EQ(OriginIn(a_ack).version, 1u);
  std::string b_invite = ExpectRequest('B', "INVITE");
  EXPECT_TRUE(BodyOf(b_invite).empty());
  Answer('B', b_invite, PeerSdp(kBRtp, "0 8"));  // offer2: audio only
  std::string reinvite = ExpectRequest('A', "INVITE");
  internal::RelaySdp offer2p = SdpOf(reinvite);
  ASSERT_EQ(offer2p.media.size(), 2u);  // padded to offer1's m-lines
  EXPECT_EQ(offer2p.media[0].port, kBRtp);
  EXPECT_EQ(offer2p.media[1].media, "video");
  EXPECT_EQ(offer2p.media[1].port, 0);
  EXPECT_EQ(OriginIn(reinvite).version, 2u);
  EXPECT_EQ(OriginIn(reinvite).session_id, OriginIn(a_ack).session_id);
  Answer('A', reinvite, PeerSdp(kARtp, "0") + "m=video 0 RTP/AVP 31\r\n");  // answer2'
  std::string b_ack = ExpectRequest('B', "ACK");
  internal::RelaySdp answer2 = SdpOf(b_ack);
  ASSERT_EQ(answer2.media.size(), 1u);  // trimmed back to offer2's m-lines
  EXPECT_EQ(answer2.media[0].port, kARtp);
  EXPECT_EQ(OriginIn(b_ack).username, "anchord");
  ExpectRequest('A', "ACK");
}

TEST_F(ThirdPartyTest, FlowFourNoMlinesThenOffer2WithRewrittenOrigin) {
  uint64_t id = Dial(4, /*callback=*/true);
  std::string a_invite = ExpectRequest('A', "INVITE");
  EXPECT_EQ(HeaderValue(a_invite, "Priority"), "psap-callback");
  internal::RelaySdp first = SdpOf(a_invite);
  EXPECT_TRUE(first.media.empty());  // SDP with no m-lines
  const internal::Origin origin = OriginIn(a_invite);
  Answer('A', a_invite, kNoMedia);
  ExpectRequest('A', "ACK");
  std::string b_invite = ExpectRequest('B', "INVITE");
  EXPECT_EQ(HeaderValue(b_invite, "Priority"), "psap-callback");
  EXPECT_TRUE(BodyOf(b_invite).empty());
  EXPECT_EQ(tpc_->GetCall(id)->state, "connecting");
  Answer('B', b_invite, PeerSdp(kBRtp));
  std::string reinvite = ExpectRequest('A', "INVITE");
  internal::Origin o2 = OriginIn(reinvite);
  EXPECT_EQ(o2.username, origin.username);
  EXPECT_EQ(o2.session_id, origin.session_id);
  EXPECT_EQ(o2.address, origin.address);
  EXPECT_EQ(o2.version, origin.version + 1);
  EXPECT_EQ(SdpOf(reinvite).media.at(0).port, kBRtp);
  Answer('A', reinvite, PeerSdp(kARtp));
  std::string b_ack = ExpectRequest('B', "ACK");
  EXPECT_EQ(SdpOf(b_ack).media.at(0).port, kARtp);
  ExpectRequest('A', "ACK");
  EXPECT_EQ(tpc_->GetCall(id)->state, "answered");
  EXPECT_TRUE(media_.created.empty());  // an explicit flow 4: no server media
}

TEST_F(ThirdPartyTest, AutoPicksFlowOneForAutomatonAndRingbackFlowFourOtherwise) {
  automaton_ = Uri('B');
  uint64_t first = Dial(0);
  EXPECT_EQ(tpc_->GetCall(first)->flow, 1);
  EXPECT_TRUE(BodyOf(ExpectRequest('A', "INVITE")).empty());
  ASSERT_TRUE(tpc_->Hangup(first).has_value());

  automaton_ = "none";
  uint64_t second = Dial(0);
  EXPECT_EQ(tpc_->GetCall(second)->flow, 4);
  std::string a_invite = ExpectRequest('A', "INVITE");
  internal::RelaySdp tone = SdpOf(a_invite);
  ASSERT_EQ(tone.media.size(), 1u);  // the server's own leg plays the hold tone
  EXPECT_EQ(tone.media[0].port, 40000);
  Answer('A', a_invite, PeerSdp(kARtp));
  ExpectRequest('A', "ACK");
  ASSERT_EQ(media_.tone.size(), 1u);
  EXPECT_EQ(media_.tone[0].second, media::Tone::kRingback);
  EXPECT_EQ(media_.remotes.at(0).rtp_port, kARtp);
  std::string b_invite = ExpectRequest('B', "INVITE");
  Answer('B', b_invite, PeerSdp(kBRtp));
  std::string reinvite = ExpectRequest('A', "INVITE");
  ASSERT_EQ(SdpOf(reinvite).media.size(), 1u);  // B's audio on A's one m-line
  EXPECT_EQ(SdpOf(reinvite).media[0].port, kBRtp);
  EXPECT_EQ(OriginIn(reinvite).version, OriginIn(a_invite).version + 1);
  Answer('A', reinvite, PeerSdp(kARtp));
  ExpectRequest('A', "ACK");
  ASSERT_EQ(media_.destroyed.size(), 1u);  // the tone leg goes once A has B's media
}

TEST_F(ThirdPartyTest, BBusyEndsAWithReason) {
  uint64_t id = Dial(4);
  std::string a_invite = ExpectRequest('A', "INVITE");
  Answer('A', a_invite, kNoMedia);
  std::string b_invite = ExpectRequest('B', "INVITE");
  Answer('B', b_invite, "", 486);
  std::string bye = ExpectRequest('A', "BYE");
  EXPECT_EQ(HeaderValue(bye, "Reason"), "SIP;cause=486");
  EXPECT_EQ(HeaderValue(bye, "Call-ID"), HeaderValue(a_invite, "Call-ID"));
  EXPECT_FALSE(tpc_->GetCall(id).has_value());
}

TEST_F(ThirdPartyTest, NoCommonCodecEndsBothWithReason) {
  Dial(3);
  std::string a_invite = ExpectRequest('A', "INVITE");
  Answer('A', a_invite, PeerSdp(kARtp, "0"));  // PCMU only
  ExpectRequest('A', "ACK");
  std::string b_invite = ExpectRequest('B', "INVITE");
  Answer('B', b_invite, PeerSdp(kBRtp, "18"));    // G.729 only
  std::string b_ack = ExpectRequest('B', "ACK");  // its offer is answered before the BYE
  EXPECT_NE(BodyOf(b_ack).find("0.0.0.0"), std::string::npos);
  for (char who : {'A', 'B'}) {
    std::string bye = ExpectRequest(who, "BYE");
    EXPECT_NE(HeaderValue(bye, "Reason").find("SIP;cause=488"), std::string::npos) << who;
  }
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 1u);  // A was never re-INVITEd
}

TEST_F(ThirdPartyTest, HoldReInviteIsMediatedWithPerLegOrigins) {
  Setup s = ConnectFlow4();
  std::string held = PeerSdp(kARtp);
  held.replace(held.find("a=sendrecv"), 10, "a=sendonly");
  PartyRequest('A', "INVITE", 2, s.a_invite, s.a_ok, held);
  std::string b_re = ExpectRequest('B', "INVITE");
  EXPECT_NE(BodyOf(b_re).find("a=sendonly"), std::string::npos);
  EXPECT_EQ(OriginIn(b_re).version, 2u);  // B's leg: answer2 was 1
  std::string b_answer = PeerSdp(kBRtp);
  b_answer.replace(b_answer.find("a=sendrecv"), 10, "a=recvonly");
  Answer('B', b_re, b_answer);
  std::string ok = Expect('A', IsResponse(200, "INVITE"), "200 to the hold re-INVITE");
  EXPECT_NE(BodyOf(ok).find("a=recvonly"), std::string::npos);
  EXPECT_EQ(OriginIn(ok).version, 3u);  // A's leg: 1 no m-lines, 2 offer2', 3 this answer
  ExpectRequest('B', "ACK");
  // BYE from B: 200, and BYE to A (R3725-7-a).
  PartyRequest('B', "BYE", 2, s.b_invite, s.b_ok);
  Expect('B', IsResponse(200, "BYE"), "200 to BYE");
  std::string bye = ExpectRequest('A', "BYE");
  EXPECT_FALSE(HeaderValue(bye, "Reason").empty());
  EXPECT_FALSE(tpc_->GetCall(s.id).has_value());
}

TEST_F(ThirdPartyTest, ReInviteWhileOtherLegPendingGets491) {
  Setup s = ConnectFlow4();
  PartyRequest('A', "INVITE", 2, s.a_invite, s.a_ok, PeerSdp(kARtp + 10));
  std::string b_re = ExpectRequest('B', "INVITE");  // pending: B does not answer yet
  PartyRequest('B', "INVITE", 2, s.b_invite, s.b_ok, PeerSdp(kBRtp + 10));
  Expect('B', IsResponse(491, "INVITE"), "491");
  PartyRequest('A', "INVITE", 3, s.a_invite, s.a_ok, PeerSdp(kARtp + 20));
  Expect('A', IsResponse(491, "INVITE"), "491");
  Answer('B', b_re, PeerSdp(kBRtp));
  std::string ok = Expect('A', IsResponse(200, "INVITE"), "200");
  EXPECT_EQ(HeaderValue(ok, "CSeq"), "2 INVITE");
}

TEST_F(ThirdPartyTest, PreconditionReInviteGets420) {
  Setup s = ConnectFlow4();
  PartyRequest('A', "INVITE", 2, s.a_invite, s.a_ok, PeerSdp(kARtp), "Require: precondition\r\n");
  std::string r = Expect('A', IsResponse(420, "INVITE"), "420");
  EXPECT_EQ(HeaderValue(r, "Unsupported"), "precondition");
  PartyRequest('A', "INVITE", 3, s.a_invite, s.a_ok,
               PeerSdp(kARtp) + "a=des:qos mandatory local sendrecv\r\n");
  Expect('A', IsResponse(488, "INVITE"), "488");
  EXPECT_EQ(b_.count(IsRequest("INVITE")), 1u);
}

TEST_F(ThirdPartyTest, HangupByesBothAndListsNothing) {
  Setup s = ConnectFlow4();
  ASSERT_EQ(tpc_->ListCalls().size(), 1u);
  ASSERT_TRUE(tpc_->Hangup(s.id).has_value());
  ExpectRequest('A', "BYE");
  ExpectRequest('B', "BYE");
  EXPECT_TRUE(tpc_->ListCalls().empty());
  EXPECT_FALSE(tpc_->Hangup(s.id).has_value());
}

}  // namespace
}  // namespace anchord::signaling::tpctest
