#include "media/internal/gap_meter.h"

#include <gtest/gtest.h>

namespace anchord::media::internal {
namespace {

// Runs ticks [from, to] with the same hearing state; returns the first completed gap.
std::optional<uint64_t> Feed(GapMeter& m, uint64_t from, uint64_t to, bool heard, bool fresh) {
  std::optional<uint64_t> gap;
  for (uint64_t t = from; t <= to; ++t) {
    auto g = m.OnTick(t, heard, fresh);
    if (g && !gap) gap = g;
  }
  return gap;
}

TEST(GapMeterTest, SilenceBeforeMarkThenHoldToneThenNewParty) {
  GapMeter m;
  EXPECT_FALSE(Feed(m, 1, 100, true, false));     // hears the position
  EXPECT_FALSE(Feed(m, 101, 110, false, false));  // position died: 10 silent ticks
  m.Mark(110, 7);
  EXPECT_FALSE(Feed(m, 111, 111, false, false));  // tone starts on the next tick
  EXPECT_FALSE(Feed(m, 112, 200, true, false));   // hold tone
  EXPECT_EQ(Feed(m, 201, 201, true, true), 11u);  // standby heard: gap = 11 ticks
  EXPECT_FALSE(m.armed());
}

TEST(GapMeterTest, LongestStretchAfterMarkWins) {
  GapMeter m;
  Feed(m, 1, 10, true, false);
  m.Mark(10, 0);                  // no silence in progress
  Feed(m, 11, 13, false, false);  // 3
  Feed(m, 14, 20, true, false);
  Feed(m, 21, 25, false, false);  // 5
  EXPECT_EQ(Feed(m, 26, 26, true, true), 5u);
}

TEST(GapMeterTest, NotArmedReportsNothing) {
  GapMeter m;
  EXPECT_FALSE(Feed(m, 1, 50, false, false));
  EXPECT_FALSE(Feed(m, 51, 60, true, true));
}

}  // namespace
}  // namespace anchord::media::internal
