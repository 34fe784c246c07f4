// sdp_relay: SDP as relayed by the 3pcc controller (black holes, o= per leg, m-line fitting,
// common-media detection).
#include "signaling/internal/sdp_relay.h"

#include <string>

#include <gtest/gtest.h>

namespace anchord::signaling::internal {
namespace {

RelaySdp Parse(const std::string& text) {
  auto sdp = ParseRelaySdp(text);
  EXPECT_TRUE(sdp.has_value()) << (sdp ? "" : sdp.error().message);
  return sdp ? *sdp : RelaySdp{};
}

const char kAudioVideo[] =
    "v=0\r\no=alice 10 5 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=sendrecv\r\n"
    "m=video 4002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e01f\r\n";

const char kVideoAudio[] =
    "v=0\r\no=bob 77 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n"
    "m=video 5002 RTP/AVP 98\r\na=rtpmap:98 h264/90000\r\n"
    "m=audio 5000 RTP/AVP 8 0\r\n";

const char kAudioOnly[] =
    "v=0\r\no=bob 77 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n"
    "m=audio 5000 RTP/AVP 0\r\n";

TEST(SdpRelayTest, ParsesAndSerializesLosslessly) {
  RelaySdp sdp = Parse(kAudioVideo);
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[1].media, "video");
  EXPECT_EQ(sdp.media[1].port, 4002);
  EXPECT_EQ(Serialize(sdp), kAudioVideo);
  auto origin = OriginOf(sdp);
  ASSERT_TRUE(origin.has_value());
  EXPECT_EQ(origin->username, "alice");
  EXPECT_EQ(origin->version, 5u);
}

TEST(SdpRelayTest, AcceptsNoMlinesRejectsGarbage) {
  EXPECT_TRUE(ParseRelaySdp("v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n").has_value());
  EXPECT_FALSE(ParseRelaySdp("hello").has_value());
  EXPECT_FALSE(ParseRelaySdp("v=0\r\ns=-\r\n").has_value());  // no o=
  EXPECT_FALSE(ParseRelaySdp("v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n"));
}

TEST(SdpRelayTest, BlackHoleOfferIpv4) {
  RelaySdp offer = BlackHoleOffer(false, 41234);
  const std::string text = Serialize(offer);
  ASSERT_EQ(offer.media.size(), 1u);
  EXPECT_EQ(offer.media[0].media, "audio");
  EXPECT_EQ(offer.media[0].port, 41234);
  EXPECT_EQ(offer.media[0].formats.size(), 1u);  // one codec
  EXPECT_NE(text.find("c=IN IP4 0.0.0.0\r\n"), std::string::npos);
  EXPECT_TRUE(ParseRelaySdp(text).has_value());
}

TEST(SdpRelayTest, BlackHoleOfferIpv6UsesInvalidDomain) {
  const std::string text = Serialize(BlackHoleOffer(true, 41234));
  EXPECT_NE(text.find("c=IN IP6 anchord.invalid\r\n"), std::string::npos);
  EXPECT_EQ(text.find("::"), std::string::npos);  // RFC 6157: not the unspecified address
}

TEST(SdpRelayTest, RandomBlackHolePortIsEvenAndNonZero) {
  for (int i = 0; i < 200; ++i) {
    uint16_t port = RandomBlackHolePort();
    EXPECT_GE(port, 1024);
    EXPECT_EQ(port % 2, 0);
  }
}

TEST(SdpRelayTest, BlackHoleAnswerKeepsMlinesAndMirrorsDirection) {
  RelaySdp offer = Parse(
      "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0 8\r\na=sendonly\r\n"
      "m=video 0 RTP/AVP 31\r\n"
      "m=audio 4004 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n");
  RelaySdp answer = BlackHoleAnswer(offer);
  ASSERT_EQ(answer.media.size(), 3u);
  EXPECT_NE(answer.media[0].port, 0);
  EXPECT_EQ(answer.media[1].port, 0);  // a rejected line stays rejected
  EXPECT_EQ(answer.media[1].media, "video");
  EXPECT_NE(answer.media[2].port, 0);
  EXPECT_EQ(answer.media[0].lines, std::vector<std::string>{"a=recvonly"});
  EXPECT_EQ(answer.media[2].lines, std::vector<std::string>{"a=rtpmap:96 opus/48000/2"});
  EXPECT_NE(Serialize(answer).find("c=IN IP4 0.0.0.0"), std::string::npos);
}

TEST(SdpRelayTest, LegOriginRewritesAndRisesByOnePerChange) {
  LegOrigin origin(4242, "127.0.0.1");
  RelaySdp sdp = Parse(kAudioOnly);
  std::string first = origin.Stamp(sdp);
  EXPECT_NE(first.find("o=anchord 4242 1 IN IP4 127.0.0.1\r\n"), std::string::npos) << first;
  EXPECT_EQ(first.find("o=bob"), std::string::npos);
  // The same SDP again (the peer bumped its own version only): same version.
  RelaySdp again = Parse(std::string(kAudioOnly).replace(11, 7, "77 9 IN"));
  EXPECT_NE(origin.Stamp(again).find("o=anchord 4242 1 "), std::string::npos);
  sdp.media[0].port = 6000;
  EXPECT_NE(origin.Stamp(sdp).find("o=anchord 4242 2 "), std::string::npos);
  EXPECT_NE(origin.Stamp(NoMediaSdp()).find("o=anchord 4242 3 "), std::string::npos);
  EXPECT_EQ(origin.version(), 3u);
}

TEST(SdpRelayTest, LegOriginIpv6Address) {
  LegOrigin origin(1, "::1");
  EXPECT_NE(origin.Stamp(NoMediaSdp()).find("o=anchord 1 1 IN IP6 ::1"), std::string::npos);
}

TEST(SdpRelayTest, FitReordersAndPadsToTheOtherLegsLayout) {
  LineMap map;
  map.SetLayout(LineMap::kA, Parse(kAudioVideo));  // A's offer1: audio, video
  // B's offer2 lists video first: offer2' must follow A's order.
  RelaySdp offer2 = Parse(kVideoAudio);
  RelaySdp to_a = map.Fit(LineMap::kB, offer2, true);
  ASSERT_EQ(to_a.media.size(), 2u);
  EXPECT_EQ(to_a.media[0].media, "audio");
  EXPECT_EQ(to_a.media[0].port, 5000);
  EXPECT_EQ(to_a.media[1].media, "video");
  EXPECT_EQ(to_a.media[1].port, 5002);
  // A's answer2' in A's order goes back to B in B's order.
  RelaySdp answer2p = Parse(std::string(kAudioVideo));
  RelaySdp to_b = map.Fit(LineMap::kA, answer2p, false);
  ASSERT_EQ(to_b.media.size(), 2u);
  EXPECT_EQ(to_b.media[0].media, "video");
  EXPECT_EQ(to_b.media[0].port, 4002);
  EXPECT_EQ(to_b.media[1].port, 4000);
}

TEST(SdpRelayTest, FitPadsMissingStreamWithPortZeroAndTrimsBack) {
  LineMap map;
  map.SetLayout(LineMap::kA, Parse(kAudioVideo));
  RelaySdp to_a = map.Fit(LineMap::kB, Parse(kAudioOnly), true);
  ASSERT_EQ(to_a.media.size(), 2u);  // never fewer m-lines than A has seen
  EXPECT_EQ(to_a.media[0].port, 5000);
  EXPECT_EQ(to_a.media[1].media, "video");
  EXPECT_EQ(to_a.media[1].port, 0);
  // A answers both lines (video rejected); B gets exactly its one line back.
  RelaySdp answer = Parse(
      "v=0\r\no=alice 10 6 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 97\r\n");
  RelaySdp to_b = map.Fit(LineMap::kA, answer, false);
  ASSERT_EQ(to_b.media.size(), 1u);
  EXPECT_EQ(to_b.media[0].port, 4000);
}

TEST(SdpRelayTest, FitAppendsNewStreamsAndNeverShrinks) {
  LineMap map;  // flow IV: A has seen no m-line
  map.SetLayout(LineMap::kA, NoMediaSdp());
  RelaySdp to_a = map.Fit(LineMap::kB, Parse(kAudioOnly), true);
  ASSERT_EQ(to_a.media.size(), 1u);
  // Later B adds video (appended, RFC 3264 §8.1): appended on A's side too.
  RelaySdp to_a2 =
      map.Fit(LineMap::kB, Parse(std::string(kAudioOnly) + "m=video 5002 RTP/AVP 98\r\n"), true);
  ASSERT_EQ(to_a2.media.size(), 2u);
  EXPECT_EQ(to_a2.media[0].media, "audio");
  EXPECT_EQ(to_a2.media[1].media, "video");
  EXPECT_EQ(map.slots(LineMap::kA), 2u);
  // A re-offer of only one line toward B still gives B both of its lines.
  RelaySdp to_b = map.Fit(LineMap::kA, Parse(kAudioOnly), true);
  EXPECT_EQ(to_b.media.size(), 2u);
  EXPECT_EQ(to_b.media[1].port, 0);
}

TEST(SdpRelayTest, NoCommonMediaDetected) {
  RelaySdp a = Parse(kAudioOnly);  // PCMU
  RelaySdp g729 = Parse(
      "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
      "m=audio 7000 RTP/AVP 18\r\n");
  EXPECT_FALSE(ShareMedia(a, g729));
  EXPECT_TRUE(ShareMedia(a, Parse(kVideoAudio)));  // PCMU in both
  // Dynamic types compare by encoding (case-insensitive), not by number.
  RelaySdp opus96 = Parse(kAudioVideo);
  RelaySdp opus111 = Parse(
      "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
      "m=audio 7000 RTP/AVP 111\r\na=rtpmap:111 OPUS/48000/2\r\n");
  EXPECT_TRUE(ShareMedia(opus96, opus111));
  // A port-0 line shares nothing.
  RelaySdp rejected = Parse(
      "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
      "m=audio 0 RTP/AVP 0\r\n");
  EXPECT_FALSE(ShareMedia(a, rejected));
  EXPECT_FALSE(HasLiveMedia(rejected));
}

TEST(SdpRelayTest, SameMediaIgnoresOriginOnly) {
  RelaySdp a = Parse(kAudioOnly);
  RelaySdp b = Parse(std::string(kAudioOnly).replace(11, 7, "99 9 IN"));
  EXPECT_TRUE(SameMedia(a, b));
  b.media[0].port = 5002;
  EXPECT_FALSE(SameMedia(a, b));
}

TEST(SdpRelayTest, PreconditionAttributesDetected) {
  EXPECT_FALSE(HasPreconditions(Parse(kAudioOnly)));
  EXPECT_TRUE(
      HasPreconditions(Parse(std::string(kAudioOnly) + "a=des:qos mandatory local sendrecv\r\n")));
  EXPECT_TRUE(HasPreconditions(Parse(std::string(kAudioOnly) + "a=curr:qos local none\r\n")));
}

}  // namespace
}  // namespace anchord::signaling::internal
