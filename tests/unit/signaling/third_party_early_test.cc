// ThirdPartyController: early media from B (RFC 3725 §8, Fig. 8; R3725-8-a) with anchord as
// the UAC of RFC 3262 (R3262-a): B's offer in a reliable 183 reaches A in a re-INVITE, A's
// answer reaches B in the PRACK, B's 200 is ACKed without SDP.
#include "tests/unit/signaling/third_party_fixture.h"

namespace anchord::signaling::tpctest {
namespace {

class ThirdPartyEarlyTest : public ThirdPartyTest {
 protected:
  // B (or `who`) sends an 18x to `invite`: reliable (Require: 100rel, RSeq) when rseq != 0.
  void Provisional(const std::string& invite, int code, uint32_t rseq, const std::string& sdp,
                   char who = 'B') {
    std::string extra = "Contact: <" + Uri(who) + ">\r\n";
    if (rseq) extra += "Require: 100rel\r\nRSeq: " + std::to_string(rseq) + "\r\n";
    if (!sdp.empty()) extra += "Content-Type: application/sdp\r\n";
    const std::string tag = who == 'B' ? "b-tag" : "a-tag";
    const char* reason = code == 180 ? "Ringing" : "Session Progress";
    Peer(who).SendTo(StackPort(), ResponseTo(invite, code, reason, tag, extra, sdp));
  }
  // B (or `who`) answers a PRACK (or anything) 200 without a body.
  void Ok(const std::string& request, char who = 'B') {
    Peer(who).SendTo(StackPort(), ResponseTo(request, 200, "OK"));
  }
  // Flow IV until A is in an early dialog (reliable 183 answering the first offer, PRACKed)
  // and B is INVITEd; returns B's INVITE.
  std::string UpToEarlyA(std::string* a_invite) {
    Dial(4);
    *a_invite = ExpectRequest('A', "INVITE");
    EXPECT_EQ(HeaderValue(*a_invite, "Supported"), "100rel");
    Provisional(*a_invite, 183, 1, kNoMedia, 'A');
    std::string prack = ExpectRequest('A', "PRACK");
    EXPECT_EQ(HeaderValue(prack, "RAck"), "1 1 INVITE");
    EXPECT_TRUE(BodyOf(prack).empty());  // the 183 answered our offer: nothing to answer
    EXPECT_NE(HeaderValue(prack, "To").find("tag=a-tag"), std::string::npos);
    Ok(prack, 'A');
    return ExpectRequest('B', "INVITE");  // before A's 200
  }
  // Flow IV up to B's INVITE; returns it.
  std::string UpToInviteB(int flow, std::string* a_invite = nullptr) {
    Dial(flow);
    std::string invite = ExpectRequest('A', "INVITE");
    if (a_invite) *a_invite = invite;
    Answer('A', invite, flow == 0 ? PeerSdp(kARtp) : kNoMedia);
    ExpectRequest('A', "ACK");
    return ExpectRequest('B', "INVITE");
  }
  size_t Pracks() const { return b_.count(IsRequest("PRACK")); }
};

// R3725-8-a, R3262-a: the whole of RFC 3725 Fig. 8.
TEST_F(ThirdPartyEarlyTest, OfferInReliable183GoesToAAndTheAnswerToBInThePrack) {
  std::string a_invite;
  std::string b_invite = UpToInviteB(4, &a_invite);
  const uint64_t id = next_id_;
  EXPECT_EQ(HeaderValue(b_invite, "Supported"), "100rel");
  EXPECT_TRUE(BodyOf(b_invite).empty());
  const internal::Origin a_origin = OriginIn(a_invite);
  Provisional(b_invite, 183, 1, PeerSdp(kBRtp));  // offer2, reliably
  std::string reinvite = ExpectRequest('A', "INVITE");
  EXPECT_EQ(HeaderValue(reinvite, "Call-ID"), HeaderValue(a_invite, "Call-ID"));
  EXPECT_EQ(SdpOf(reinvite).media.at(0).port, kBRtp);  // offer2'
  EXPECT_EQ(OriginIn(reinvite).session_id, a_origin.session_id);
  EXPECT_EQ(OriginIn(reinvite).version, a_origin.version + 1);  // R3725-4.4-a
  EXPECT_EQ(Pracks(), 0u);                // the PRACK must carry the answer: it waits for A
  Answer('A', reinvite, PeerSdp(kARtp));  // answer2'
  std::string a_ack = ExpectRequest('A', "ACK");
  EXPECT_TRUE(BodyOf(a_ack).empty());
  std::string prack = ExpectRequest('B', "PRACK");
  EXPECT_EQ(HeaderValue(prack, "RAck"), "1 1 INVITE");  // RSeq, CSeq number, method
  EXPECT_EQ(HeaderValue(prack, "CSeq"), "2 PRACK");
  EXPECT_EQ(HeaderValue(prack, "Call-ID"), HeaderValue(b_invite, "Call-ID"));
  EXPECT_NE(HeaderValue(prack, "To").find("tag=b-tag"), std::string::npos);  // early dialog
  EXPECT_EQ(prack.find("PRACK " + Uri('B') + " SIP/2.0"), 0u);               // the 183's Contact
  internal::RelaySdp answer2 = SdpOf(prack);
  ASSERT_EQ(answer2.media.size(), 1u);
  EXPECT_EQ(answer2.media[0].port, kARtp);
  EXPECT_EQ(OriginIn(prack).username, "anchord");
  EXPECT_EQ(OriginIn(prack).version, 1u);  // B's leg: its first SDP from us
  EXPECT_NE(OriginIn(prack).session_id, a_origin.session_id);
  Ok(prack);
  EXPECT_EQ(tpc_->GetCall(id)->state, "connecting");  // B still rings, with early media
  Answer('B', b_invite, PeerSdp(kBRtp));              // B's 200 repeats offer2: no session change
  std::string b_ack = ExpectRequest('B', "ACK");
  EXPECT_TRUE(BodyOf(b_ack).empty());
  EXPECT_EQ(HeaderValue(b_ack, "CSeq"), "1 ACK");
  driver_->RunFor(100'000);
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 2u);  // no further re-INVITE
  EXPECT_EQ(Pracks(), 1u);
  EXPECT_EQ(tpc_->GetCall(id)->state, "answered");
  ASSERT_TRUE(tpc_->Hangup(id).has_value());
  ExpectRequest('A', "BYE");
  ExpectRequest('B', "BYE");
}

// RFC 3262 §4: a repeated reliable 183 (same RSeq) is discarded: one re-INVITE, one PRACK.
TEST_F(ThirdPartyEarlyTest, RetransmittedReliable183IsNotTakenTwice) {
  std::string b_invite = UpToInviteB(4);
  Provisional(b_invite, 183, 7, PeerSdp(kBRtp));
  std::string reinvite = ExpectRequest('A', "INVITE");
  Provisional(b_invite, 183, 7, PeerSdp(kBRtp));  // B re-sends at T1: no PRACK yet
  driver_->RunFor(50'000);
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 2u);
  Answer('A', reinvite, PeerSdp(kARtp));
  std::string prack = ExpectRequest('B', "PRACK");
  EXPECT_EQ(HeaderValue(prack, "RAck"), "7 1 INVITE");
  Provisional(b_invite, 183, 7, PeerSdp(kBRtp));  // crossed our PRACK
  Ok(prack);
  driver_->RunFor(100'000);
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 2u);  // no new re-INVITE
  EXPECT_EQ(Pracks(), 1u);                       // no new PRACK transaction
  Answer('B', b_invite, "");                     // a 200 without SDP
  EXPECT_TRUE(BodyOf(ExpectRequest('B', "ACK")).empty());
}

// R3262-a: a reliable 180 without SDP is PRACKed at once, without a body; the unreliable 183's
// SDP is not an offer anchord takes (the 200's is used, as in plain flow IV).
TEST_F(ThirdPartyEarlyTest, Reliable180IsPrackedAtOnceAndUnreliable183SdpIgnored) {
  std::string b_invite = UpToInviteB(4);
  Provisional(b_invite, 180, 42, "");
  std::string prack = ExpectRequest('B', "PRACK");
  EXPECT_EQ(HeaderValue(prack, "RAck"), "42 1 INVITE");
  EXPECT_TRUE(BodyOf(prack).empty());
  Ok(prack);
  Provisional(b_invite, 183, 0, PeerSdp(kBRtp + 50));  // unreliable, with SDP
  driver_->RunFor(100'000);
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 1u);  // no re-INVITE for it
  EXPECT_EQ(Pracks(), 1u);
  Answer('B', b_invite, PeerSdp(kBRtp));  // offer2 in the 200
  std::string reinvite = ExpectRequest('A', "INVITE");
  EXPECT_EQ(SdpOf(reinvite).media.at(0).port, kBRtp);
  Answer('A', reinvite, PeerSdp(kARtp));
  std::string b_ack = ExpectRequest('B', "ACK");  // answer2 in the ACK, as in Fig. 4
  EXPECT_EQ(SdpOf(b_ack).media.at(0).port, kARtp);
  EXPECT_EQ(Pracks(), 1u);
}

// R3725-6-a/b: A refusing offer2' ends the attempt: CANCEL to ringing B, BYE to A with Reason.
TEST_F(ThirdPartyEarlyTest, ReInviteFailureCancelsBAndByesA) {
  uint64_t id = next_id_ + 1;
  std::string b_invite = UpToInviteB(4);
  Provisional(b_invite, 183, 1, PeerSdp(kBRtp));
  std::string reinvite = ExpectRequest('A', "INVITE");
  Answer('A', reinvite, "", 488);
  std::string cancel = ExpectRequest('B', "CANCEL");
  EXPECT_EQ(HeaderValue(cancel, "CSeq"), "1 CANCEL");
  std::string bye = ExpectRequest('A', "BYE");
  EXPECT_EQ(HeaderValue(bye, "Reason").rfind("SIP;cause=488", 0), 0u);
  EXPECT_EQ(Pracks(), 0u);  // the offer was never answered
  b_.SendTo(StackPort(), ResponseTo(cancel, 200, "OK", "b-tag"));
  Answer('B', b_invite, "", 487);
  driver_->RunUntil([&] { return !tpc_->GetCall(id).has_value(); });
  EXPECT_FALSE(tpc_->GetCall(id).has_value());
}

// Auto (flow IV with ringback): the server's tone leg to A goes when A gets B's early media.
TEST_F(ThirdPartyEarlyTest, RingbackStopsWhenBsEarlyMediaReachesA) {
  std::string b_invite = UpToInviteB(0);
  EXPECT_EQ(HeaderValue(b_invite, "Supported"), "100rel");
  ASSERT_EQ(media_.tone.size(), 1u);
  EXPECT_EQ(media_.tone[0].second, media::Tone::kRingback);
  Provisional(b_invite, 183, 1, PeerSdp(kBRtp));
  std::string reinvite = ExpectRequest('A', "INVITE");
  EXPECT_TRUE(media_.destroyed.empty());  // A still hears ringback until it takes offer2'
  Answer('A', reinvite, PeerSdp(kARtp));
  std::string prack = ExpectRequest('B', "PRACK");
  EXPECT_EQ(media_.destroyed.size(), 1u);  // before B's 200
  Ok(prack);
  Answer('B', b_invite, PeerSdp(kBRtp));
  ExpectRequest('B', "ACK");
  EXPECT_EQ(media_.destroyed.size(), 1u);
}

// Flows other than IV do not offer 100rel to B (B then sends nothing reliably).
TEST_F(ThirdPartyEarlyTest, OnlyFlowFourOffers100rel) {
  Dial(3);
  std::string a_invite = ExpectRequest('A', "INVITE");
  Answer('A', a_invite, PeerSdp(kARtp));
  ExpectRequest('A', "ACK");
  EXPECT_TRUE(HeaderValue(ExpectRequest('B', "INVITE"), "Supported").empty());
}

// R3725-8-b, R3311-5: A in an early dialog gets offer2' in an UPDATE, not a re-INVITE; A's
// answer in the UPDATE's 200 goes to B's ACK; A's 200 later is ACKed without SDP.
TEST_F(ThirdPartyEarlyTest, AInEarlyDialogGetsBsOfferInAnUpdate) {
  const uint64_t id = next_id_ + 1;
  std::string a_invite;
  std::string b_invite = UpToEarlyA(&a_invite);
  EXPECT_EQ(a_.count(IsRequest("ACK")), 0u);
  Answer('B', b_invite, PeerSdp(kBRtp));  // offer2 in B's 200
  std::string update = ExpectRequest('A', "UPDATE");
  EXPECT_EQ(HeaderValue(update, "CSeq"), "3 UPDATE");
  EXPECT_EQ(HeaderValue(update, "Call-ID"), HeaderValue(a_invite, "Call-ID"));
  EXPECT_NE(HeaderValue(update, "To").find("tag=a-tag"), std::string::npos);
  EXPECT_EQ(SdpOf(update).media.at(0).port, kBRtp);
  EXPECT_EQ(OriginIn(update).session_id, OriginIn(a_invite).session_id);
  EXPECT_EQ(OriginIn(update).version, OriginIn(a_invite).version + 1);
  Answer('A', update, PeerSdp(kARtp));  // answer2' in the UPDATE's 200
  std::string b_ack = ExpectRequest('B', "ACK");
  EXPECT_EQ(SdpOf(b_ack).media.at(0).port, kARtp);
  EXPECT_EQ(OriginIn(b_ack).username, "anchord");
  EXPECT_EQ(tpc_->GetCall(id)->state, "connecting");  // A has not answered yet
  Answer('A', a_invite, kNoMedia);                    // A's 200 at last
  std::string a_ack = ExpectRequest('A', "ACK");
  EXPECT_TRUE(BodyOf(a_ack).empty());
  EXPECT_EQ(HeaderValue(a_ack, "CSeq"), "1 ACK");
  EXPECT_EQ(tpc_->GetCall(id)->state, "answered");
  driver_->RunFor(50'000);
  EXPECT_EQ(a_.count(IsRequest("INVITE")), 1u);  // never a re-INVITE on the early dialog
  EXPECT_EQ(b_.count(IsRequest("INVITE")), 1u);
}

// R3725-8-a and -8-b together: B's early offer goes to early A in an UPDATE, A's answer to B
// in the PRACK; both 200s are ACKed without SDP.
TEST_F(ThirdPartyEarlyTest, BothEarlyUpdateThenPrack) {
  const uint64_t id = next_id_ + 1;
  std::string a_invite;
  std::string b_invite = UpToEarlyA(&a_invite);
  Provisional(b_invite, 183, 9, PeerSdp(kBRtp));
  std::string update = ExpectRequest('A', "UPDATE");
  EXPECT_EQ(SdpOf(update).media.at(0).port, kBRtp);
  Answer('A', update, PeerSdp(kARtp));
  std::string prack = ExpectRequest('B', "PRACK");
  EXPECT_EQ(HeaderValue(prack, "RAck"), "9 1 INVITE");
  EXPECT_EQ(SdpOf(prack).media.at(0).port, kARtp);
  Ok(prack);
  Answer('B', b_invite, PeerSdp(kBRtp));
  EXPECT_TRUE(BodyOf(ExpectRequest('B', "ACK")).empty());
  EXPECT_EQ(tpc_->GetCall(id)->state, "connecting");
  Answer('A', a_invite, kNoMedia);
  EXPECT_TRUE(BodyOf(ExpectRequest('A', "ACK")).empty());
  EXPECT_EQ(tpc_->GetCall(id)->state, "answered");
}

// R3725-6-a/b: A's INVITE failing after its early dialog (busy after early media) ends B.
TEST_F(ThirdPartyEarlyTest, EarlyAFailingLaterByesBWithReason) {
  const uint64_t id = next_id_ + 1;
  std::string a_invite;
  std::string b_invite = UpToEarlyA(&a_invite);
  std::string b_ok = Answer('B', b_invite, PeerSdp(kBRtp));
  Answer('A', ExpectRequest('A', "UPDATE"), PeerSdp(kARtp));
  ExpectRequest('B', "ACK");
  // A re-INVITE from B while A is early: 491 (A cannot take a re-INVITE yet).
  PartyRequest('B', "INVITE", 2, b_invite, b_ok, PeerSdp(kBRtp + 2));
  Expect('B', IsResponse(491, "INVITE"), "491 while A is early");
  Answer('A', a_invite, "", 486);
  std::string bye = ExpectRequest('B', "BYE");
  EXPECT_EQ(HeaderValue(bye, "Reason"), "SIP;cause=486");
  driver_->RunUntil([&] { return !tpc_->GetCall(id).has_value(); });
  EXPECT_FALSE(tpc_->GetCall(id).has_value());
}

}  // namespace
}  // namespace anchord::signaling::tpctest
