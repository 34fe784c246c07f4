#include "media/internal/tone_generator.h"

#include <gtest/gtest.h>

#include <vector>

#include "audio_test_util.h"

namespace anchord::media::internal {
namespace {

using testing::ToneLevel;

TEST(ToneGeneratorTest, HoldIs440HzAndNot1000Hz) {
  ToneGenerator tone(Tone::kHold);
  std::vector<int16_t> pcm(8000);
  tone.Generate(pcm.data(), pcm.size());
  double at440 = ToneLevel(pcm, 440);
  EXPECT_GT(at440, 3000.0);  // -13 dBm0 on spandsp's scale: about 5100 peak
  EXPECT_LT(at440, 6500.0);
  EXPECT_LT(ToneLevel(pcm, 1000), at440 / 100);
}

// DESIGN: no silent cadence while it plays, so every 20 ms frame carries the tone, across the
// generator's internal 1 s segments.
TEST(ToneGeneratorTest, HoldEveryFrameForThreeSecondsCarriesTheTone) {
  ToneGenerator tone(Tone::kHold);
  for (int frame = 0; frame < 150; ++frame) {
    std::vector<int16_t> pcm(160);
    tone.Generate(pcm.data(), pcm.size());
    ASSERT_GT(ToneLevel(pcm, 440), 1000.0) << "frame " << frame;
  }
}

TEST(ToneGeneratorTest, HoldAddToMixesAndSaturates) {
  ToneGenerator tone(Tone::kHold);
  std::vector<int16_t> pcm(160, 32000);
  tone.AddTo(pcm.data(), pcm.size());
  int16_t max = 0;
  for (int16_t v : pcm) max = std::max(max, v);
  EXPECT_EQ(max, 32767);  // saturated, not wrapped to negative
  for (int16_t v : pcm) EXPECT_GT(v, 32000 - 6000);
}

// Ringback: 440 + 480 Hz for 2 s, then 4 s of silence, repeating.
TEST(ToneGeneratorTest, RingbackIs440Plus480WithItsCadence) {
  ToneGenerator tone(Tone::kRingback);
  std::vector<int16_t> on(160 * 100);  // 2 s
  tone.Generate(on.data(), on.size());
  EXPECT_GT(ToneLevel(on, 440), 1000.0);
  EXPECT_GT(ToneLevel(on, 480), 1000.0);
  EXPECT_LT(ToneLevel(on, 1000), ToneLevel(on, 440) / 100);
  std::vector<int16_t> off(160 * 190);  // the next 3.8 s
  tone.Generate(off.data(), off.size());
  for (int16_t v : off) ASSERT_EQ(v, 0);
  std::vector<int16_t> again(160 * 50);  // from 6 s: on again
  std::vector<int16_t> skip(160 * 10);
  tone.Generate(skip.data(), skip.size());
  tone.Generate(again.data(), again.size());
  EXPECT_GT(ToneLevel(again, 440), 1000.0);
}

}  // namespace
}  // namespace anchord::media::internal
