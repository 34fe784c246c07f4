#include "signaling/internal/stream_framer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "signaling/transport.h"

namespace anchord::signaling::internal {
namespace {

const std::string kInvite =
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 10\r\n"
    "\r\n"
    "0123456789";
const std::string kOptions =
    "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    "l:0\r\n"
    "\r\n";

// Feeds `chunks` one by one and collects every message; stops at the first error.
struct Collected {
  std::vector<std::string> messages;
  std::string error;
};

Collected Feed(StreamFramer& framer, const std::vector<std::string>& chunks) {
  Collected out;
  for (const auto& chunk : chunks) {
    framer.Append(chunk);
    while (true) {
      auto next = framer.Next();
      if (!next) {
        out.error = next.error().message;
        return out;
      }
      if (!*next) break;
      out.messages.emplace_back(**next);
    }
  }
  return out;
}

TEST(StreamFramerTest, TwoMessagesInOneChunk) {
  StreamFramer framer(kMaxMessageBytes);
  auto got = Feed(framer, {kInvite + kOptions});
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.messages, (std::vector<std::string>{kInvite, kOptions}));
  EXPECT_EQ(framer.buffered(), 0u);
}

TEST(StreamFramerTest, EverySplitPointGivesTheSameMessages) {
  const std::string both = kInvite + kOptions;
  for (size_t cut = 0; cut <= both.size(); ++cut) {
    StreamFramer framer(kMaxMessageBytes);
    auto got = Feed(framer, {both.substr(0, cut), both.substr(cut)});
    ASSERT_EQ(got.error, "") << "cut at " << cut;
    ASSERT_EQ(got.messages, (std::vector<std::string>{kInvite, kOptions})) << "cut at " << cut;
  }
}

TEST(StreamFramerTest, EveryPairOfSplitPointsGivesTheSameMessages) {
  const std::string both = "\r\n\r\n" + kOptions + "\r\n" + kInvite;
  for (size_t a = 0; a <= both.size(); ++a) {
    for (size_t b = a; b <= both.size(); ++b) {
      StreamFramer framer(kMaxMessageBytes);
      auto got = Feed(framer, {both.substr(0, a), both.substr(a, b - a), both.substr(b)});
      ASSERT_EQ(got.error, "") << a << "," << b;
      ASSERT_EQ(got.messages, (std::vector<std::string>{kOptions, kInvite})) << a << "," << b;
    }
  }
}

TEST(StreamFramerTest, ByteByByte) {
  StreamFramer framer(kMaxMessageBytes);
  std::vector<std::string> chunks;
  for (char c : kInvite + kOptions) chunks.emplace_back(1, c);
  auto got = Feed(framer, chunks);
  EXPECT_EQ(got.messages, (std::vector<std::string>{kInvite, kOptions}));
}

TEST(StreamFramerTest, KeepAlivesAreSkipped) {
  StreamFramer framer(kMaxMessageBytes);
  auto got = Feed(framer, {"\r\n\r\n", "\r\n", kOptions, "\r\n\r\n"});
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.messages, (std::vector<std::string>{kOptions}));
  EXPECT_EQ(framer.buffered(), 0u);
}

TEST(StreamFramerTest, HeaderNamesAreCaseInsensitiveAndWhitespaceTolerant) {
  for (std::string header :
       {"content-length: 3", "CONTENT-LENGTH:3", "Content-Length \t:  3 ", "L : 3", "l:\t3"}) {
    StreamFramer framer(kMaxMessageBytes);
    const std::string message = "MESSAGE sip:a@b SIP/2.0\r\n" + header + "\r\n\r\nabc";
    auto got = Feed(framer, {message + kOptions});
    EXPECT_EQ(got.error, "") << header;
    EXPECT_EQ(got.messages, (std::vector<std::string>{message, kOptions})) << header;
  }
}

TEST(StreamFramerTest, OtherHeadersEndingInLAreNotContentLength) {
  StreamFramer framer(kMaxMessageBytes);
  auto got = Feed(framer, {"OPTIONS sip:a@b SIP/2.0\r\nUrl: 5\r\nCall-ID: l: 7\r\n\r\n"});
  EXPECT_EQ(got.error, "no Content-Length on a stream transport");
}

TEST(StreamFramerTest, MissingContentLengthIsAnErrorAndSticky) {
  StreamFramer framer(kMaxMessageBytes);
  auto got = Feed(framer, {"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"});
  EXPECT_EQ(got.error, "no Content-Length on a stream transport");
  framer.Append(kOptions);
  EXPECT_FALSE(framer.Next().has_value());
}

TEST(StreamFramerTest, BadOrConflictingContentLength) {
  for (std::string header : {"Content-Length: -1", "Content-Length: 1x",
                             "Content-Length:", "Content-Length: 99999999999999999999999",
                             "Content-Length: 1\r\nl: 2"}) {
    StreamFramer framer(kMaxMessageBytes);
    auto got = Feed(framer, {"INFO sip:a@b SIP/2.0\r\n" + header + "\r\n\r\n"});
    EXPECT_NE(got.error, "") << header;
    EXPECT_TRUE(got.messages.empty()) << header;
  }
}

TEST(StreamFramerTest, OversizeBodyIsAnError) {
  StreamFramer framer(kMaxMessageBytes);
  auto got = Feed(framer, {"INFO sip:a@b SIP/2.0\r\nContent-Length: 65536\r\n\r\n"});
  EXPECT_EQ(got.error, "SIP message over the size limit");
}

TEST(StreamFramerTest, HeaderThatNeverEndsIsAnError) {
  StreamFramer framer(100);
  auto got = Feed(framer, {"INFO sip:a@b SIP/2.0\r\n", std::string(100, 'x')});
  EXPECT_EQ(got.error, "SIP header over the size limit");
}

TEST(StreamFramerTest, MessageExactlyAtTheLimitPasses) {
  const std::string head = "INFO sip:a@b SIP/2.0\r\nl: 10\r\n\r\n";
  StreamFramer framer(head.size() + 10);
  auto got = Feed(framer, {head + "0123456789"});
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.messages.size(), 1u);
  StreamFramer small(head.size() + 9);
  EXPECT_EQ(Feed(small, {head + "0123456789"}).error, "SIP message over the size limit");
}

}  // namespace
}  // namespace anchord::signaling::internal
