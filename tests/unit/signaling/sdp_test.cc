#include "signaling/sdp.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "signaling/internal/sdp_codec.h"

namespace anchord::signaling {
namespace {

using media::Codec;

// A caller's offer as an ESInet BCF relays it: session c=, a media c= override on video,
// G.729 first, dynamic PCMU, telephone-event.
const char kOffer[] =
    "v=0\r\n"
    "o=- 3803948 3803948 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 18 0 8 101\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "m=video 51372 RTP/AVP 96\r\n"
    "c=IN IP4 198.51.100.7\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=recvonly\r\n";

std::string Sdp(const std::string& media_lines,
                const std::string& session_c = "c=IN IP4 10.0.0.1\r\n") {
  return "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n" + session_c + "t=0 0\r\n" + media_lines;
}

SessionDescription MustParse(const std::string& text) {
  auto parsed = ParseSdp(text);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message << "\n" << text;
  return parsed.value_or(SessionDescription{});
}

TEST(ParseSdpTest, RealisticOffer) {
  auto sdp = MustParse(kOffer);
  ASSERT_EQ(sdp.media.size(), 2u);
  const SdpMediaLine& audio = sdp.media[0];
  EXPECT_EQ(audio.media, "audio");
  EXPECT_EQ(audio.port, 49170);
  EXPECT_EQ(audio.proto, "RTP/AVP");
  EXPECT_EQ(audio.formats, (std::vector<std::string>{"18", "0", "8", "101"}));
  EXPECT_EQ(audio.connection, "192.0.2.10");
  EXPECT_EQ(audio.direction, "sendrecv");
  const SdpMediaLine& video = sdp.media[1];
  EXPECT_EQ(video.media, "video");
  EXPECT_EQ(video.port, 51372);
  EXPECT_EQ(video.formats, (std::vector<std::string>{"96"}));
  EXPECT_EQ(video.connection, "198.51.100.7");
  EXPECT_EQ(video.direction, "recvonly");
}

TEST(ParseSdpTest, SessionDirectionIsTheDefaultAndMediaOverrides) {
  auto sdp =
      MustParse(Sdp("a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\n"
                    "a=inactive\r\n"));
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[0].direction, "sendonly");
  EXPECT_EQ(sdp.media[1].direction, "inactive");
}

TEST(ParseSdpTest, NotNulTerminatedInput) {
  std::string text = Sdp("m=audio 4000 RTP/AVP 0\r\n") + "garbage-after-the-view";
  std::string_view view(text.data(), text.size() - 22);
  auto sdp = ParseSdp(view);
  ASSERT_TRUE(sdp.has_value()) << sdp.error().message;
  EXPECT_EQ(sdp->media[0].formats, (std::vector<std::string>{"0"}));
}

TEST(ParseSdpTest, MalformedInputsAreErrors) {
  const std::string cases[] = {
      "",
      "garbage",
      "\x01\x02\xff\xfe",
      "v=0",
      "v=0\r\n",
      std::string("v=0\r\n\0o=x\r\n", 12),
      Sdp("m=audio 49170 RTP/AVP\n"),  // osip's over-read trigger (last line, bare LF)
      Sdp("m=audio 49170 RTP/AVP\n", ""),
      Sdp("m=audio 49170 RTP/AVP 0\r\n", ""),  // no c= anywhere
      Sdp("m=audio 99999 RTP/AVP 0\r\n"),
      Sdp("m=audio 4294967296 RTP/AVP 0\r\n"),
      Sdp("m=audio -1 RTP/AVP 0\r\n"),
      Sdp("m=audio x RTP/AVP 0\r\n"),
      Sdp(""),  // no m= line
      "m=audio 4000 RTP/AVP 0\r\n",
  };
  for (const auto& text : cases) {
    auto sdp = ParseSdp(text);
    EXPECT_FALSE(sdp.has_value()) << "accepted: " << text;
    if (!sdp) {
      EXPECT_FALSE(sdp.error().message.empty());
    }
  }
}

TEST(ParseSdpTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(ParseSdp("").error().message, "not SDP: does not start with v=");
  EXPECT_EQ(ParseSdp(Sdp("m=audio 49170 RTP/AVP 0\r\n", "")).error().message,
            "m=audio has no connection address");
  EXPECT_EQ(ParseSdp(Sdp("m=audio 70000 RTP/AVP 0\r\n")).error().message,
            "m=audio has a bad port \"70000\"");
}

TEST(ParseSdpTest, RejectedLineNeedsNoConnection) {
  auto sdp =
      MustParse(Sdp("m=video 0 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.1.1.1\r\n", ""));
  ASSERT_EQ(sdp.media.size(), 2u);
  EXPECT_EQ(sdp.media[1].connection, "10.1.1.1");
}

TEST(ChooseAudioTest, StaticPcmuAfterAnUnsupportedFormat) {
  auto chosen = ChooseAudio(MustParse(kOffer));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kPcmu);
  EXPECT_EQ(chosen->payload_type, 0);
  EXPECT_EQ(chosen->address, "192.0.2.10");
  EXPECT_EQ(chosen->rtp_port, 49170);
}

TEST(ChooseAudioTest, StaticPcmaWithoutRtpmap) {
  auto chosen = ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 8 0\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kPcma);
  EXPECT_EQ(chosen->payload_type, 8);
  EXPECT_EQ(chosen->address, "10.0.0.1");
}

TEST(ChooseAudioTest, DynamicPayloadTypesByRtpmap) {
  auto pcma =
      ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 18 97 0\r\na=rtpmap:97 pcma/8000\r\n")));
  ASSERT_TRUE(pcma.has_value());
  EXPECT_EQ(pcma->codec, Codec::kPcma);
  EXPECT_EQ(pcma->payload_type, 97);
}

TEST(ChooseAudioTest, TelephoneEventTypeIsRecorded) {
  auto chosen = ChooseAudio(MustParse(kOffer));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->telephone_event_pt, 101);
  // Listed before the codec, at another number, or absent.
  chosen = ChooseAudio(
      MustParse(Sdp("m=audio 4000 RTP/AVP 96 8\r\na=rtpmap:96 TELEPHONE-EVENT/8000\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kPcma);
  EXPECT_EQ(chosen->telephone_event_pt, 96);
  chosen = ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 0\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->telephone_event_pt, 0);
  // Only the 8000 Hz clock, and only on the chosen line.
  chosen = ChooseAudio(
      MustParse(Sdp("m=audio 4000 RTP/AVP 0 97\r\na=rtpmap:97 telephone-event/48000\r\n"
                    "m=audio 4002 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->telephone_event_pt, 0);
  // telephone-event alone is no audio codec.
  EXPECT_FALSE(ChooseAudio(
      MustParse(Sdp("m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n"))));
}

// Each codec anchord supports wins when the offer lists it first, by static type or rtpmap.
// R3264-6-a / RFC 3264 §6.1, §8.4: a peer that holds (sendonly, inactive, or c=0.0.0.0) is
// sent no RTP; sendrecv and recvonly peers are, and a session-level direction counts.
TEST(ChooseAudioTest, HoldingPeerIsSentNothing) {
  auto send = [](const std::string& text) { return ChooseAudio(MustParse(text))->send; };
  EXPECT_TRUE(send(Sdp("m=audio 4000 RTP/AVP 0\r\n")));
  EXPECT_TRUE(send(Sdp("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n")));
  EXPECT_FALSE(send(Sdp("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n")));
  EXPECT_FALSE(send(Sdp("m=audio 4000 RTP/AVP 0\r\na=inactive\r\n")));
  EXPECT_FALSE(send(Sdp("a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n")));
  EXPECT_FALSE(send(Sdp("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 0.0.0.0\r\n")));
}

TEST(ChooseAudioTest, EachCodecChosenByOfferOrder) {
  struct Case {
    const char* media;
    Codec codec;
    uint8_t payload_type;
  };
  const Case cases[] = {
      {"m=audio 4000 RTP/AVP 0 8 9 111\r\na=rtpmap:111 opus/48000/2\r\n", Codec::kPcmu, 0},
      {"m=audio 4000 RTP/AVP 8 0 9 111\r\na=rtpmap:111 opus/48000/2\r\n", Codec::kPcma, 8},
      {"m=audio 4000 RTP/AVP 9 0 8 111\r\na=rtpmap:111 opus/48000/2\r\n", Codec::kG722, 9},
      {"m=audio 4000 RTP/AVP 111 9 0 8\r\na=rtpmap:111 opus/48000/2\r\n", Codec::kOpus, 111},
      {"m=audio 4000 RTP/AVP 96 0\r\na=rtpmap:96 OPUS/48000/2\r\n", Codec::kOpus, 96},
      {"m=audio 4000 RTP/AVP 18 98 0\r\na=rtpmap:98 G722/8000\r\n", Codec::kG722, 98},
      {"m=audio 4000 RTP/AVP 120 8\r\na=rtpmap:120 PCMU/8000\r\n", Codec::kPcmu, 120},
      {"m=audio 4000 RTP/AVP 9\r\n", Codec::kG722, 9},  // static, no rtpmap
  };
  for (const Case& c : cases) {
    auto chosen = ChooseAudio(MustParse(Sdp(c.media)));
    ASSERT_TRUE(chosen.has_value()) << c.media;
    EXPECT_EQ(chosen->codec, c.codec) << c.media;
    EXPECT_EQ(chosen->payload_type, c.payload_type) << c.media;
  }
}

// R6881-ED-73: no silence suppression, so a peer's comfort noise is never the codec.
TEST(ChooseAudioTest, ComfortNoiseIsNeverChosen) {
  auto chosen = ChooseAudio(MustParse(
      Sdp("m=audio 4000 RTP/AVP 13 97 8\r\na=rtpmap:13 CN/8000\r\na=rtpmap:97 CN/16000\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kPcma);
  EXPECT_FALSE(ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 13\r\n"))));
  EXPECT_FALSE(ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 CN/8000\r\n"))));
}

// Opus must say 48000 (RFC 7587); a dynamic G722 or PCMU at another clock is not ours.
TEST(ChooseAudioTest, WrongClockRatesAreSkipped) {
  EXPECT_FALSE(
      ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 96 97 98\r\na=rtpmap:96 opus/16000/2\r\n"
                                "a=rtpmap:97 G722/16000\r\na=rtpmap:98 PCMU/16000\r\n"))));
}

TEST(ChooseAudioTest, SkipsPortZeroAndNonAudio) {
  auto chosen =
      ChooseAudio(MustParse(Sdp("m=video 5000 RTP/AVP 0\r\n"
                                "m=audio 0 RTP/AVP 0\r\n"
                                "m=audio 6000 RTP/AVP 8\r\n")));
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->rtp_port, 6000);
  EXPECT_EQ(chosen->codec, Codec::kPcma);
}

TEST(ChooseAudioTest, NoneForG729OnlyOrSecureProfileOrIpv6) {
  EXPECT_FALSE(ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"))));
  EXPECT_FALSE(ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/SAVP 0\r\n"))));
  EXPECT_FALSE(
      ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP6 2001:db8::1\r\n"))));
  // A dynamic type without an rtpmap names nothing.
  EXPECT_FALSE(ChooseAudio(MustParse(Sdp("m=audio 4000 RTP/AVP 97\r\n"))));
}

TEST(SdpCodecTest, AudioCodecByStaticTypeOrRtpmap) {
  using internal::AudioCodec;
  EXPECT_EQ(AudioCodec("0", ""), Codec::kPcmu);
  EXPECT_EQ(AudioCodec("8", "PCMU/8000"), Codec::kPcma);  // static types are fixed
  EXPECT_EQ(AudioCodec("9", ""), Codec::kG722);
  EXPECT_EQ(AudioCodec("96", "PCMU/8000"), Codec::kPcmu);
  EXPECT_EQ(AudioCodec("127", "pcma/8000/1"), Codec::kPcma);
  EXPECT_EQ(AudioCodec("101", "g722/8000"), Codec::kG722);
  EXPECT_EQ(AudioCodec("111", "opus/48000/2"), Codec::kOpus);
  EXPECT_EQ(AudioCodec("96", "PCMU/16000"), std::nullopt);
  EXPECT_EQ(AudioCodec("96", "telephone-event/8000"), std::nullopt);
  EXPECT_EQ(AudioCodec("96", "CN/8000"), std::nullopt);
  EXPECT_EQ(AudioCodec("96", ""), std::nullopt);
  EXPECT_EQ(AudioCodec("13", "CN/8000"), std::nullopt);
  EXPECT_EQ(AudioCodec("18", "PCMU/8000"), std::nullopt);  // static non-G.711
  EXPECT_EQ(AudioCodec("128", "PCMU/8000"), std::nullopt);
  EXPECT_EQ(AudioCodec("-1", "PCMU/8000"), std::nullopt);
  EXPECT_EQ(AudioCodec("265", ""), std::nullopt);  // 265 % 256 == 9
  EXPECT_EQ(AudioCodec("x", "PCMU/8000"), std::nullopt);
  using internal::TelephoneEventType;
  EXPECT_EQ(TelephoneEventType("101", "telephone-event/8000"), 101);
  EXPECT_EQ(TelephoneEventType("96", "telephone-event/8000/1"), 96);
  EXPECT_EQ(TelephoneEventType("101", "telephone-event/48000"), std::nullopt);
  EXPECT_EQ(TelephoneEventType("18", "telephone-event/8000"), std::nullopt);
  EXPECT_EQ(TelephoneEventType("101", "PCMU/8000"), std::nullopt);
  auto map = internal::ParseRtpMap("101  telephone-event/8000");
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(map->payload_type, "101");
  EXPECT_EQ(map->encoding, "telephone-event/8000");
  EXPECT_FALSE(internal::ParseRtpMap("PCMU/8000").has_value());
}

media::LocalMedia Local() { return {"203.0.113.5", 30000}; }

TEST(LocalSdpTest, OfferText) {
  LocalSdp sdp(42);
  EXPECT_EQ(sdp.Offer(Local()),
            "v=0\r\n"
            "o=anchord 42 1 IN IP4 203.0.113.5\r\n"
            "s=anchord\r\n"
            "c=IN IP4 203.0.113.5\r\n"
            "t=0 0\r\n"
            "m=audio 30000 RTP/AVP 0 8 9 111 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:9 G722/8000\r\n"
            "a=rtpmap:111 opus/48000/2\r\n"
            "a=fmtp:111 useinbandfec=1\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15\r\n"
            "a=ptime:20\r\n"
            "a=sendrecv\r\n");
}

// R6881-ED-72/73: G.711 first on every leg; no comfort noise, no Opus DTX.
TEST(LocalSdpTest, OfferHasG711FirstAndNoSilenceSuppression) {
  LocalSdp sdp(3);
  const std::string offer = sdp.Offer(Local());
  EXPECT_NE(offer.find("m=audio 30000 RTP/AVP 0 8 "), std::string::npos) << offer;
  EXPECT_EQ(offer.find("CN/"), std::string::npos) << offer;
  EXPECT_EQ(offer.find(" 13"), std::string::npos) << offer;
  EXPECT_EQ(offer.find("usedtx"), std::string::npos) << offer;
  EXPECT_EQ(offer.find("silenceSupp"), std::string::npos) << offer;
}

TEST(LocalSdpTest, VersionRisesByExactlyOnePerCall) {
  LocalSdp sdp(7);
  EXPECT_EQ(sdp.version(), 0u);
  auto offer = MustParse(kOffer);
  auto chosen = *ChooseAudio(offer);
  for (uint64_t expected = 1; expected <= 5; ++expected) {
    std::string text = expected % 2 ? sdp.Offer(Local()) : sdp.Answer(Local(), offer, chosen);
    EXPECT_EQ(sdp.version(), expected);
    EXPECT_NE(text.find("o=anchord 7 " + std::to_string(expected) + " IN IP4"), std::string::npos)
        << text;
  }
}

// R3264-8-a, R3264-6-a: a re-answer keeps the previous SDP (and its version) when nothing
// changed, and rises by exactly one when the direction (hold) or the leg's SDP did.
TEST(LocalSdpTest, ReanswerRisesOnlyWhenTheAnswerChanges) {
  LocalSdp sdp(7);
  auto offer = MustParse(Sdp("m=audio 6000 RTP/AVP 0\r\na=sendrecv\r\n"));
  auto hold = MustParse(Sdp("m=audio 6000 RTP/AVP 0\r\na=sendonly\r\n"));
  const std::string first = sdp.Answer(Local(), offer, *ChooseAudio(offer));
  EXPECT_EQ(sdp.Reanswer(Local(), offer, *ChooseAudio(offer), first), first);
  EXPECT_EQ(sdp.version(), 1u);
  const std::string held = sdp.Reanswer(Local(), hold, *ChooseAudio(hold), first);
  EXPECT_EQ(sdp.version(), 2u);
  EXPECT_NE(held.find("o=anchord 7 2 IN IP4"), std::string::npos) << held;
  EXPECT_NE(held.find("a=recvonly\r\n"), std::string::npos) << held;
  EXPECT_EQ(sdp.Reanswer(Local(), hold, *ChooseAudio(hold), held), held);
  // Our own offer as the previous SDP (a position's re-INVITE): the answer differs from it.
  const std::string own_offer = sdp.Offer(Local());
  const std::string answer = sdp.Reanswer(Local(), offer, *ChooseAudio(offer), own_offer);
  EXPECT_NE(answer.find("o=anchord 7 4 IN IP4"), std::string::npos) << answer;
}

TEST(LocalSdpTest, AnswerKeepsLineCountAndOrder) {
  const std::string offer_text =
      Sdp("m=video 5000 RTP/AVP 96 97\r\n"
          "m=audio 0 RTP/AVP 0\r\n"
          "m=audio 6000 RTP/AVP 18 8\r\n"
          "a=sendonly\r\n"
          "m=text 7000 RTP/AVP 98\r\n");
  auto offer = MustParse(offer_text);
  auto chosen = ChooseAudio(offer);
  ASSERT_TRUE(chosen.has_value());
  LocalSdp sdp(1);
  const std::string answer = sdp.Answer(Local(), offer, *chosen);
  EXPECT_NE(answer.find("m=video 0 RTP/AVP 96\r\n"
                        "m=audio 0 RTP/AVP 0\r\n"
                        "m=audio 30000 RTP/AVP 8\r\n"
                        "a=rtpmap:8 PCMA/8000\r\n"
                        "a=ptime:20\r\n"
                        "a=recvonly\r\n"
                        "m=text 0 RTP/AVP 98\r\n"),
            std::string::npos)
      << answer;

  auto reparsed = MustParse(answer);
  ASSERT_EQ(reparsed.media.size(), offer.media.size());
  for (size_t i = 0; i < offer.media.size(); ++i) {
    EXPECT_EQ(reparsed.media[i].media, offer.media[i].media) << i;
    EXPECT_EQ(reparsed.media[i].port, i == 2 ? 30000 : 0) << i;
  }
  auto back = ChooseAudio(reparsed);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->address, "203.0.113.5");
  EXPECT_EQ(back->codec, Codec::kPcma);
}

TEST(LocalSdpTest, OfferParsesBackToPcmu) {
  LocalSdp sdp(9);
  auto parsed = MustParse(sdp.Offer(Local()));
  ASSERT_EQ(parsed.media.size(), 1u);
  EXPECT_EQ(parsed.media[0].formats, (std::vector<std::string>{"0", "8", "9", "111", "101"}));
  EXPECT_EQ(parsed.media[0].direction, "sendrecv");
  auto chosen = ChooseAudio(parsed);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kPcmu);
  EXPECT_EQ(chosen->rtp_port, 30000);
  EXPECT_EQ(chosen->address, "203.0.113.5");
  EXPECT_EQ(chosen->telephone_event_pt, 101);
}

// A peer answering our offer with any one of its codecs: ChooseAudio reads the answer.
TEST(LocalSdpTest, OfferedCodecsAreReadBackFromAPeersAnswer) {
  const std::pair<const char*, Codec> answers[] = {
      {"m=audio 7000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n", Codec::kPcma},
      {"m=audio 7000 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\n", Codec::kG722},
      {"m=audio 7000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
       "a=rtpmap:101 telephone-event/8000\r\n",
       Codec::kOpus},
  };
  for (const auto& [media, codec] : answers) {
    auto chosen = ChooseAudio(MustParse(Sdp(media)));
    ASSERT_TRUE(chosen.has_value()) << media;
    EXPECT_EQ(chosen->codec, codec) << media;
    EXPECT_EQ(chosen->telephone_event_pt, 101) << media;
  }
}

// The answer uses the offer's numbers (stable mapping, R3264-8.3.2-a) and echoes
// telephone-event; it parses back to the same choice.
TEST(LocalSdpTest, AnswerEchoesCodecAndTelephoneEventNumbers) {
  auto offer = MustParse(
      Sdp("m=audio 6000 RTP/AVP 13 96 0 98\r\na=rtpmap:96 opus/48000/2\r\n"
          "a=fmtp:96 usedtx=1\r\na=rtpmap:98 telephone-event/8000\r\na=fmtp:98 0-16\r\n"));
  auto chosen = ChooseAudio(offer);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->codec, Codec::kOpus);
  EXPECT_EQ(chosen->payload_type, 96);
  EXPECT_EQ(chosen->telephone_event_pt, 98);
  LocalSdp sdp(5);
  const std::string answer = sdp.Answer(Local(), offer, *chosen);
  EXPECT_NE(answer.find("m=audio 30000 RTP/AVP 96 98\r\n"
                        "a=rtpmap:96 opus/48000/2\r\n"
                        "a=fmtp:96 useinbandfec=1\r\n"
                        "a=rtpmap:98 telephone-event/8000\r\n"
                        "a=fmtp:98 0-15\r\n"
                        "a=ptime:20\r\n"
                        "a=sendrecv\r\n"),
            std::string::npos)
      << answer;
  EXPECT_EQ(answer.find("CN"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("usedtx"), std::string::npos) << answer;
  auto back = ChooseAudio(MustParse(answer));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->codec, Codec::kOpus);
  EXPECT_EQ(back->payload_type, 96);
  EXPECT_EQ(back->telephone_event_pt, 98);
}

TEST(LocalSdpTest, AnswerWithoutTelephoneEventWhenNotOffered) {
  auto offer = MustParse(Sdp("m=audio 6000 RTP/AVP 9 0\r\n"));
  auto chosen = ChooseAudio(offer);
  ASSERT_TRUE(chosen.has_value());
  LocalSdp sdp(5);
  const std::string answer = sdp.Answer(Local(), offer, *chosen);
  EXPECT_NE(answer.find("m=audio 30000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\na=ptime:20\r\n"),
            std::string::npos)
      << answer;
  EXPECT_EQ(answer.find("telephone-event"), std::string::npos) << answer;
  // A telephone-event type that is not on the offer's line is not invented.
  media::RemoteMedia forged = *chosen;
  forged.telephone_event_pt = 101;
  EXPECT_EQ(sdp.Answer(Local(), offer, forged).find("101"), std::string::npos);
  auto back = ChooseAudio(MustParse(answer));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->codec, Codec::kG722);
  EXPECT_EQ(back->payload_type, 9);
}

}  // namespace
}  // namespace anchord::signaling
