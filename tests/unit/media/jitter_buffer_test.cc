// JitterBuffer: prefill, in-order playout, loss, late packets growing the delay, the 200 ms
// bound under a burst (a stalled worker), shrinking back only on near-silent frames (issue 4),
// a steady stream with scheduling wobble never dropping or oscillating, restarts.
#include "media/internal/jitter_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

// A stalled worker's skipped ticks: the frames that were due go, and are counted (issue 4).
TEST(JitterBufferTest, FramesDueInSkippedTicksAreCountedAsDroppedOrLost) {
  JitterBuffer jb;
  for (uint16_t seq = 10; seq < 16; ++seq) {
    if (seq != 13) Put(jb, seq, 0);
  }
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);  // 10
  jb.DropDue();                             // 11: buffered, thrown away
  jb.DropDue();                             // 12: buffered, thrown away
  jb.DropDue();                             // 13: never arrived
  EXPECT_EQ(jb.stats().dropped, 2u);
  EXPECT_EQ(jb.stats().lost, 1u);
  auto f = jb.Pop();  // playout goes on where the grid is
  ASSERT_EQ(f.kind, Kind::kPacket);
  EXPECT_EQ(f.payload[0], 14);
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

TEST(JitterBufferTest, OneFrameBoundStillPlays) {
  JitterOptions options;
  options.start_frames = options.min_frames = options.max_frames = 1;
  JitterBuffer jb(options);  // the 2-frame prefill minimum cannot exceed the bound
  Put(jb, 0, 0);
  EXPECT_EQ(jb.Pop().kind, Kind::kPacket);
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

// --- shrinking only in silence (issue 4), with a bridge-like playout loop --------------------

// A frame's payload carries its index (bytes 0-3) and whether it is speech (byte 4); "decoding"
// gives a loud frame for speech and low noise (RMS 20, under the -50 dBm0 threshold) otherwise.
struct Stream {
  uint32_t packets = 0;
  uint16_t first_seq = 65'000;       // the sequence wraps inside every scenario
  std::vector<uint64_t> arrival_us;  // per packet index
  std::vector<bool> speech;          // per packet index
};

struct Playout {
  std::vector<uint32_t> played;   // packet indexes, in playout order
  std::vector<uint32_t> skipped;  // packet indexes skipped to shrink
  std::vector<uint32_t> skip_ticks;
  std::vector<uint32_t> depth_at_pop;  // per tick, before the pop
  uint32_t max_depth = 0;
  uint32_t max_target = 0;
  uint32_t target_rises_after_start = 0;  // times the target went up once playing
  JitterStats stats;
  uint32_t final_target = 0;
};

std::vector<uint8_t> FramePayload(uint32_t index, bool speech) {
  std::vector<uint8_t> p(160, 0xFF);
  for (int b = 0; b < 4; ++b) p[b] = static_cast<uint8_t>(index >> (8 * b));
  p[4] = speech ? 1 : 0;
  return p;
}

uint32_t IndexOf(std::span<const uint8_t> p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void DecodeForTest(std::span<const uint8_t> p, std::vector<int16_t>& pcm) {
  const int16_t amplitude = p[4] ? 3000 : 20;
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = (i / 4) % 2 ? amplitude : -amplitude;
}

// The bridge's tick: put what arrived by `tick_us(n)`, pop, decode, offer the frame for a
// shrink, and pop again when the buffer skipped it.
template <typename TickUs>
Playout Play(const Stream& stream, uint32_t ticks, TickUs tick_us, JitterOptions options = {}) {
  JitterBuffer jb(options);
  Playout out;
  std::vector<uint32_t> order(stream.packets);
  for (uint32_t i = 0; i < stream.packets; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return stream.arrival_us[a] < stream.arrival_us[b];
  });
  std::vector<int16_t> pcm(160);
  size_t next = 0;
  uint32_t last_target = jb.target();
  for (uint32_t n = 0; n < ticks; ++n) {
    const uint64_t now = tick_us(n);
    for (; next < order.size() && stream.arrival_us[order[next]] <= now; ++next) {
      const uint32_t i = order[next];
      jb.Put(static_cast<uint16_t>(stream.first_seq + i), 160u * i,
             FramePayload(i, stream.speech[i]), stream.arrival_us[i]);
    }
    out.max_depth = std::max(out.max_depth, jb.depth());
    out.depth_at_pop.push_back(jb.depth());
    JitterBuffer::Frame f = jb.Pop();
    if (jb.target() > last_target && jb.stats().received > 0) ++out.target_rises_after_start;
    last_target = jb.target();
    out.max_target = std::max(out.max_target, jb.target());
    if (f.kind != Kind::kPacket) continue;
    DecodeForTest(f.payload, pcm);
    if (jb.SkipIfSilent(pcm)) {
      out.skipped.push_back(IndexOf(f.payload));
      out.skip_ticks.push_back(n);
      EXPECT_FALSE(jb.SkipIfSilent(pcm)) << "two skips in one tick";
      f = jb.Pop();
      EXPECT_EQ(f.kind, Kind::kPacket) << "the replacement pop must be a packet";
      if (f.kind != Kind::kPacket) continue;
    }
    out.played.push_back(IndexOf(f.payload));
  }
  out.stats = jb.stats();
  out.final_target = jb.target();
  return out;
}

// Deterministic uniform integers in [lo, hi] (a 64-bit LCG; the test must not depend on the
// standard library's distributions).
struct Lcg {
  uint64_t state;
  int64_t Uniform(int64_t lo, int64_t hi) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(hi - lo + 1));
  }
};

// The benchmark's case: a steady 20 ms stream whose packets wobble +-3 ms, a worker whose tick
// (and the bridge's place in it) lands 0-4 ms after the grid, at every phase between the two
// clocks (0.5 ms steps), 10 minutes each, speech and silence: nothing dropped, lost or late,
// the target never rises (no grow/shrink oscillation), and in silence at most one skip (after
// the 5 s decay) and none after the first 30 s.
TEST(JitterBufferTest, SteadyStreamWithWobbleNeverDropsOrOscillates) {
  constexpr uint32_t kTicks = 30'000;  // 10 min
  for (bool speech : {true, false}) {
    for (uint64_t phase_us = 0; phase_us < 20'000; phase_us += 500) {
      Lcg rng{phase_us * 7 + (speech ? 1 : 2)};
      Stream s;
      s.packets = kTicks + 10;  // the stream outlasts the run: no dry tail counted lost
      for (uint32_t i = 0; i < s.packets; ++i) {
        s.arrival_us.push_back(1'000'000 + phase_us + 20'000ull * i +
                               static_cast<uint64_t>(3'000 + rng.Uniform(-3'000, 3'000)));
        s.speech.push_back(speech);
      }
      // A sender starting up hands over its first three packets at once: the buffer starts
      // 20 ms deeper than it needs (before issue 4 this cost one speech frame per stream
      // once the target decayed: the benchmark's JITTER_DROPPED with 0 late).
      s.arrival_us[0] = s.arrival_us[1] = s.arrival_us[2];
      Lcg tick_rng{phase_us + 99};
      Playout p = Play(s, kTicks, [&](uint32_t n) {
        return 1'000'000 + 20'000ull * n + static_cast<uint64_t>(tick_rng.Uniform(0, 4'000));
      });
      SCOPED_TRACE(testing::Message() << "phase " << phase_us << " us, speech " << speech);
      EXPECT_EQ(p.stats.late, 0u);
      EXPECT_EQ(p.stats.lost, 0u);
      EXPECT_EQ(p.stats.dropped, 0u);
      EXPECT_EQ(p.stats.stalls, 0u);
      EXPECT_EQ(p.stats.restarts, 1u);
      EXPECT_EQ(p.target_rises_after_start, 0u);
      // Every tick after the prefill (the third packet is due 40-66 ms after tick 0) played a
      // packet, in order.
      EXPECT_GE(p.played.size(), kTicks - 4);
      EXPECT_EQ(p.played.front() + p.played.size() + p.skipped.size(), p.played.back() + 1);
      EXPECT_TRUE(std::is_sorted(p.played.begin(), p.played.end()));
      if (speech) {
        EXPECT_TRUE(p.skipped.empty());
      } else {
        EXPECT_LE(p.skipped.size(), 1u);
        for (uint32_t t : p.skip_ticks) EXPECT_LT(t, 1'500u);
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// A sender that pauses (silence suppression, hold): 4 s talk spurts, 1 s without packets,
// sequence continuous, +-3 ms wobble, 10 min at every phase. The 5 s decay brings the target
// to 1, but each spurt still prefills 2 frames: no packet is ever late.
TEST(JitterBufferTest, TalkSpurtsAfterTheDecayAreNeverLate) {
  constexpr uint32_t kTicks = 30'000;
  for (uint64_t phase_us = 0; phase_us < 20'000; phase_us += 500) {
    Lcg rng{phase_us * 3 + 5};
    Stream s;
    for (uint32_t i = 0; i < kTicks + 10; ++i) {
      if (i % 250 >= 200) continue;
      s.arrival_us.push_back(1'000'000 + phase_us + 20'000ull * i +
                             static_cast<uint64_t>(3'000 + rng.Uniform(-3'000, 3'000)));
      s.speech.push_back(true);
    }
    s.packets = static_cast<uint32_t>(s.arrival_us.size());
    Lcg tick_rng{phase_us + 11};
    Playout p = Play(s, kTicks, [&](uint32_t n) {
      return 1'000'000 + 20'000ull * n + static_cast<uint64_t>(tick_rng.Uniform(0, 1'000));
    });
    SCOPED_TRACE(testing::Message() << "phase " << phase_us << " us");
    EXPECT_EQ(p.stats.late, 0u);
    EXPECT_EQ(p.stats.dropped, 0u);
    EXPECT_EQ(p.stats.restarts, 120u);  // the first packet and every spurt after a pause
    EXPECT_EQ(p.played.size(), 120u * 200u);
    if (::testing::Test::HasFailure()) return;
  }
}

// A delay ramp on the network (packets 500-509 arrive 12..120 ms later, then 50 more 120 ms
// late, then on time again at once) makes packets late: the target and the delay grow. Talk
// spurts of 3 s with 1 s pauses follow for 2 minutes. The surplus the ramp left is given back
// only by skipping near-silent frames: no speech frame is skipped or dropped, every speech
// frame outside the ramp is played, and the delay ends no deeper than before the ramp + 1.
TEST(JitterBufferTest, BurstRaisesTheDelayThatShrinksBackOnlyInSilence) {
  constexpr uint32_t kTicks = 6'000;
  Stream s;
  s.packets = kTicks;
  Lcg rng{7};
  for (uint32_t i = 0; i < s.packets; ++i) {
    uint64_t extra = 0;
    if (i >= 500 && i < 510) extra = 12'000ull * (i - 499);
    if (i >= 510 && i < 560) extra = 120'000;
    s.arrival_us.push_back(1'005'000 + 20'000ull * i + extra +
                           static_cast<uint64_t>(1'000 + rng.Uniform(-1'000, 1'000)));
    s.speech.push_back((i / 50) % 4 != 3);
  }
  Playout p = Play(s, kTicks, [](uint32_t n) { return 1'000'000 + 20'000ull * n; });
  EXPECT_GT(p.stats.late, 0u);
  EXPECT_GT(p.max_target, 2u);
  EXPECT_EQ(p.stats.dropped, 0u);
  EXPECT_GE(p.stats.skipped_silent, 3u);
  EXPECT_EQ(p.skipped.size(), p.stats.skipped_silent);
  for (uint32_t i : p.skipped) EXPECT_FALSE(s.speech[i]) << "speech frame " << i << " skipped";
  std::vector<bool> played(s.packets, false);
  for (uint32_t i : p.played) played[i] = true;
  for (uint32_t i = 0; i + 20 < s.packets; ++i) {
    if (s.speech[i] && (i < 500 || i >= 560)) {
      EXPECT_TRUE(played[i]) << "speech frame " << i;
    }
  }
  EXPECT_TRUE(std::is_sorted(p.played.begin(), p.played.end()));
  const uint32_t before = p.depth_at_pop[490];
  const uint32_t peak = *std::max_element(p.depth_at_pop.begin() + 560, p.depth_at_pop.end());
  EXPECT_GE(peak, before + 3) << "the ramp should have grown the delay";
  const uint32_t end = *std::max_element(p.depth_at_pop.end() - 200, p.depth_at_pop.end());
  EXPECT_LE(end, before + 1) << "the surplus was not given back";
  RecordProperty("depth_before", static_cast<int>(before));
  RecordProperty("depth_peak", static_cast<int>(peak));
  RecordProperty("depth_end", static_cast<int>(end));
  RecordProperty("skipped", static_cast<int>(p.stats.skipped_silent));
}

// The same surplus during continuous speech is kept (no skip, no drop): the delay stays under
// the bound instead of losing audio.
TEST(JitterBufferTest, SurplusDuringSpeechIsKeptNotDropped) {
  Stream s;
  s.packets = 1'000;
  for (uint32_t i = 0; i < s.packets; ++i) {
    s.arrival_us.push_back(i < 8 ? 0 : 20'000ull * (i - 7));  // 8 frames queued at start
    s.speech.push_back(true);
  }
  Playout p = Play(s, 990, [](uint32_t n) { return 1'000 + 20'000ull * n; });
  EXPECT_EQ(p.stats.dropped, 0u);
  EXPECT_EQ(p.stats.skipped_silent, 0u);
  EXPECT_EQ(p.stats.lost, 0u);
  EXPECT_EQ(p.played.size(), 990u);
  EXPECT_LE(p.max_depth, 10u);
}

// The same start in silence shrinks back toward the target, one frame per second, no loss.
TEST(JitterBufferTest, SurplusInSilenceShrinksBackToTheTarget) {
  Stream s;
  s.packets = 1'000;
  for (uint32_t i = 0; i < s.packets; ++i) {
    s.arrival_us.push_back(i < 8 ? 0 : 20'000ull * (i - 7));
    s.speech.push_back(false);
  }
  Playout p = Play(s, 990, [](uint32_t n) { return 1'000 + 20'000ull * n; });
  EXPECT_EQ(p.stats.dropped, 0u);
  EXPECT_EQ(p.stats.lost, 0u);
  EXPECT_GE(p.stats.skipped_silent, 5u);
  EXPECT_LE(p.depth_at_pop.back(), p.final_target + 1);
  // One skip per second at most.
  for (size_t k = 1; k < p.skip_ticks.size(); ++k) {
    // (the replacement pop of a skip counts in the next window)
    EXPECT_GE(p.skip_ticks[k] - p.skip_ticks[k - 1], JitterBuffer::kShrinkWindow - 1);
  }
}

// Over the bound the oldest frames go, speech or not: a sender bursting 30 frames ahead.
TEST(JitterBufferTest, BoundDropsTheOldestEvenDuringSpeech) {
  Stream s;
  s.packets = 600;
  for (uint32_t i = 0; i < s.packets; ++i) {
    const uint32_t sent = i >= 300 && i < 330 ? 300 : i;
    s.arrival_us.push_back(5'000 + 20'000ull * sent);
    s.speech.push_back(true);
  }
  Playout p = Play(s, 590, [](uint32_t n) { return 10'000 + 20'000ull * n; });
  EXPECT_LE(p.max_depth, 10u);
  EXPECT_GE(p.stats.dropped, 20u);
  EXPECT_EQ(p.stats.skipped_silent, 0u);
  EXPECT_TRUE(std::is_sorted(p.played.begin(), p.played.end()));
}

TEST(JitterBufferTest, NearSilenceThresholdIsMinus50Dbm0) {
  // 0 dBm0 = RMS 15 770 (16-bit linear, G.711 scale).
  auto sine = [](double dbm0) {
    std::vector<int16_t> pcm(160);
    const double peak = 15'770.0 * std::sqrt(2.0) * std::pow(10.0, dbm0 / 20.0);
    for (size_t i = 0; i < pcm.size(); ++i) {
      pcm[i] = static_cast<int16_t>(std::lround(peak * std::sin(2 * M_PI * 1000.0 * i / 8000.0)));
    }
    return pcm;
  };
  EXPECT_TRUE(JitterBuffer::IsNearSilent(std::vector<int16_t>(320, 0)));
  EXPECT_TRUE(JitterBuffer::IsNearSilent(sine(-55)));
  EXPECT_FALSE(JitterBuffer::IsNearSilent(sine(-45)));
  EXPECT_FALSE(JitterBuffer::IsNearSilent(sine(-20)));
}

TEST(JitterBufferTest, SkipIfSilentNeedsAnArmedShrinkAndAPacket) {
  JitterBuffer jb;
  std::vector<int16_t> silence(160, 0);
  EXPECT_FALSE(jb.SkipIfSilent(silence));  // nothing popped
  for (uint16_t seq = 0; seq < 6; ++seq) Put(jb, seq, 0);
  ASSERT_EQ(jb.Pop().kind, Kind::kPacket);
  EXPECT_FALSE(jb.shrink_armed());
  EXPECT_FALSE(jb.SkipIfSilent(silence));  // surplus, but not for a whole second yet
  EXPECT_EQ(jb.stats().skipped_silent, 0u);
}

}  // namespace
}  // namespace anchord::media::internal
