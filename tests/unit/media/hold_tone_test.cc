#include "media/internal/hold_tone.h"

#include <gtest/gtest.h>

#include <vector>

#include "audio_test_util.h"

namespace anchord::media::internal {
namespace {

using testing::ToneLevel;

TEST(HoldToneTest, Is440HzAndNot1000Hz) {
  HoldTone tone;
  std::vector<int16_t> pcm(8000);
  tone.Generate(pcm.data(), pcm.size());
  double at440 = ToneLevel(pcm, 440);
  EXPECT_GT(at440, 3000.0);  // -13 dBm0 on spandsp's scale: about 5100 peak
  EXPECT_LT(at440, 6500.0);
  EXPECT_LT(ToneLevel(pcm, 1000), at440 / 100);
}

// DESIGN: no silent cadence while it plays, so every 20 ms frame carries the tone, across the
// generator's internal 1 s segments.
TEST(HoldToneTest, EveryFrameForThreeSecondsCarriesTheTone) {
  HoldTone tone;
  for (int frame = 0; frame < 150; ++frame) {
    std::vector<int16_t> pcm(160);
    tone.Generate(pcm.data(), pcm.size());
    ASSERT_GT(ToneLevel(pcm, 440), 1000.0) << "frame " << frame;
  }
}

TEST(HoldToneTest, AddToMixesAndSaturates) {
  HoldTone tone;
  std::vector<int16_t> pcm(160, 32000);
  tone.AddTo(pcm.data(), pcm.size());
  int16_t max = 0;
  for (int16_t v : pcm) max = std::max(max, v);
  EXPECT_EQ(max, 32767);  // saturated, not wrapped to negative
  for (int16_t v : pcm) EXPECT_GT(v, 32000 - 6000);
}

}  // namespace
}  // namespace anchord::media::internal
