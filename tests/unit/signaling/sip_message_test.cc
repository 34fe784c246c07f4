// sip_message helpers used by RFC 3262 support: option tags of Require/Supported headers
// (however the peer splits them) and the random first RSeq (R3262-a: 1 .. 2^31-1).
#include "signaling/sip_message.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/signaling/sip_test_peer.h"

namespace anchord::signaling {
namespace {

using testutil::ParseSip;

std::string Invite(const std::string& extra) {
  return "INVITE sip:sos@127.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-tags\r\n"
         "From: <sip:caller@127.0.0.1>;tag=a\r\n"
         "To: <sip:sos@127.0.0.1>\r\n"
         "Call-ID: tags\r\n"
         "CSeq: 1 INVITE\r\n" +
         extra + "Content-Length: 0\r\n\r\n";
}

// Comma lists and repeated headers both count; blanks are trimmed; case is ignored for the
// header name (osip lower-cases it) and by HasOptionTag for the tag.
TEST(SipMessageTest, OptionTagsSplitListsAndRepeatedHeaders) {
  MessagePtr m =
      ParseSip(Invite("Require: 100rel ,timer\r\nREQUIRE: precondition\r\nSupported: 100REL\r\n"));
  ASSERT_TRUE(m);
  EXPECT_EQ(OptionTags(m.get(), "require"),
            (std::vector<std::string>{"100rel", "timer", "precondition"}));
  EXPECT_TRUE(HasOptionTag(m.get(), "supported", "100rel"));
  EXPECT_TRUE(HasOptionTag(m.get(), "require", "precondition"));
  EXPECT_FALSE(HasOptionTag(m.get(), "supported", "timer"));
  MessagePtr none = ParseSip(Invite(""));
  ASSERT_TRUE(none);
  EXPECT_TRUE(OptionTags(none.get(), "require").empty());
  EXPECT_FALSE(HasOptionTag(none.get(), "supported", "100rel"));
}

// R3262-a: the first RSeq lies in 1 .. 2^31-1 (so +1 per provisional never wraps) and is
// random, not a constant.
TEST(SipMessageTest, RandomRSeqStaysInRangeAndVaries) {
  std::set<uint32_t> seen;
  bool high_half = false;
  for (int i = 0; i < 1000; ++i) {
    uint32_t rseq = RandomRSeq();
    EXPECT_GE(rseq, 1u);
    EXPECT_LE(rseq, 0x7FFFFFFFu);
    high_half |= rseq > 0x3FFFFFFFu;
    seen.insert(rseq);
  }
  EXPECT_GT(seen.size(), 990u);
  EXPECT_TRUE(high_half);
}

}  // namespace
}  // namespace anchord::signaling
