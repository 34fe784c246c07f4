// JitterBuffer: prefill, in-order playout, loss, late packets growing the delay, the 200 ms
// bound under a burst (a stalled worker), shrinking back, restarts.
#include "media/internal/jitter_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace anchord::media::internal {
namespace {

using Kind = JitterBuffer::Kind;

std::vector<uint8_t> Payload(uint16_t seq) { return std::vector<uint8_t>(160, seq & 0xFF); }

void Put(JitterBuffer& jb, uint16_t seq, uint64_t now_us) {
  auto p = Payload(seq);
  jb.Put(seq, 160u * seq, p, now_us);
}

TEST(JitterBufferTest, PrefillsThenPlaysInOrder) {
  JitterBuffer jb;  // start at 2 frames
  Put(jb, 100, 0);
  EXPECT_EQ(jb.Pop().kind, Kind::kIdle);  // prefilling
  Put(jb, 101, 20'000);
  for (uint16_t seq = 100; seq < 150; ++seq) {
    auto f = jb.Pop();
    ASSERT_EQ(f.kind, Kind::kPacket) << seq;
    EXPECT_EQ(f.payload[0], seq & 0xFF);
    Put(jb, static_cast<uint16_t>(seq + 2), 20'000u * (seq - 98));
  }
  EXPECT_EQ(jb.stats().lost, 0u);
  EXPECT_EQ(jb.stats().late, 0u);
  EXPECT_LE(jb.depth(), 2u);
}

TEST(JitterBufferTest, MissingFrameIsReportedWithTheNextForFec) {
  JitterBuffer jb;
  Put(jb, 10, 0);
  Put(jb, 11, 0);
  Put(jb, 13, 0);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);  // 10
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);  // 11
  auto f = jb.Pop();                        // 12 lost
  EXPECT_EQ(f.kind, Kind::kMissing);
  ASSERT_FALSE(f.next.empty());
  EXPECT_EQ(f.next[0], 13);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);  // 13
  EXPECT_EQ(jb.stats().lost, 1u);
}

TEST(JitterBufferTest, LatePacketGrowsTheDelayByOneStall) {
  JitterBuffer jb;
  Put(jb, 0, 0);
  Put(jb, 1, 0);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);
  EXPECT_EQ(jb.Pop().kind, Kind::kMissing);  // 2 not there yet
  const uint32_t target = jb.target();
  Put(jb, 2, 80'000);  // arrives after its playout time
  EXPECT_EQ(jb.stats().late, 1u);
  EXPECT_EQ(jb.target(), target + 1);
  Put(jb, 3, 80'000);
  EXPECT_EQ(jb.Pop().kind, Kind::kMissing);  // the stall: the delay grows now
  EXPECT_EQ(jb.stats().stalls, 1u);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);  // 3
}

TEST(JitterBufferTest, DepthNeverExceedsTheBound) {
  JitterOptions options;
  options.max_frames = 10;
  JitterBuffer jb(options);
  // A burst of 2 s of packets at once (a stalled worker, a network burst).
  for (uint16_t seq = 0; seq < 100; ++seq) Put(jb, seq, 0);
  EXPECT_LE(jb.depth(), 10u);
  EXPECT_EQ(jb.stats().dropped, 90u);
  // What plays next is the newest 200 ms, not 2 s old audio.
  auto f = jb.Pop();
  ASSERT_EQ(f.kind, Kind::kPacket);
  EXPECT_EQ(f.payload[0], 90);
}

TEST(JitterBufferTest, SurplusShrinksBackToTheTarget) {
  JitterBuffer jb;
  uint16_t seq = 0;
  for (; seq < 8; ++seq) Put(jb, seq, 0);  // 8 frames queued at start: 160 ms
  for (int tick = 0; tick < 400; ++tick) {
    jb.Pop();
    Put(jb, seq++, 0);
  }
  EXPECT_LE(jb.depth(), jb.target() + 1);
  EXPECT_GE(jb.stats().dropped, 5u);
  EXPECT_EQ(jb.stats().lost, 0u);
}

TEST(JitterBufferTest, SequenceJumpRestarts) {
  JitterBuffer jb;
  Put(jb, 0, 0);
  Put(jb, 1, 0);
  jb.Pop();
  Put(jb, 30'000, 0);
  EXPECT_EQ(jb.stats().restarts, 2u);
  Put(jb, 30'001, 0);
  auto f = jb.Pop();
  ASSERT_EQ(f.kind, Kind::kPacket);
  EXPECT_EQ(f.payload[0], 30'000 & 0xFF);
}

TEST(JitterBufferTest, StreamThatRanDryGoesIdleAndRestarts) {
  JitterBuffer jb;
  Put(jb, 0, 0);
  Put(jb, 1, 0);
  jb.Pop();
  jb.Pop();
  for (int i = 0; i < 20; ++i) jb.Pop();
  EXPECT_EQ(jb.Pop().kind, Kind::kIdle);
  // The peer resumes 2 s later with continuing sequence numbers: played, not counted late.
  Put(jb, 100, 2'000'000);
  Put(jb, 101, 2'020'000);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);
  EXPECT_EQ(jb.stats().late, 0u);
}

TEST(JitterBufferTest, JitterEstimateFollowsRfc3550) {
  JitterBuffer jb;
  // Arrivals alternate 0 and 10 ms off the 20 ms grid: |D| = 10 ms each time, J -> 10 ms.
  for (uint16_t seq = 0; seq < 200; ++seq) {
    Put(jb, seq, 20'000u * seq + (seq % 2 ? 10'000u : 0u));
    jb.Pop();
  }
  EXPECT_NEAR(jb.stats().jitter_us, 10'000, 500);
}

}  // namespace
}  // namespace anchord::media::internal
