// TtyToneGate::ProcessFrame (four sub-blocks side by side) must decide exactly as Process
// does, sub-block by sub-block: the decoder's fast path for legs without TTY relies on it.
#include "media/tty/internal/tone_gate.h"

#include <gtest/gtest.h>

#include <vector>

#include "tty_test_signal.h"

namespace anchord::media::tty::internal {
namespace {

using testing::AddNoise;
using testing::MakeTty;
using testing::SpeechLike;
using testing::TtyRate;

struct Verdict {
  bool carrier;
  float ratio;
  bool visible = true;  // false: inside a ProcessFrame run, before its last sub-block
};

// Per sub-block verdicts of Process fed 40 samples at a time.
std::vector<Verdict> BySubBlock(const std::vector<int16_t>& x) {
  TtyToneGate gate;
  std::vector<Verdict> out;
  for (size_t at = 0; at + TtyToneGate::kSubBlock <= x.size(); at += TtyToneGate::kSubBlock) {
    gate.Process(x.data() + at, TtyToneGate::kSubBlock);
    out.push_back({gate.carrier(), gate.ratio()});
  }
  return out;
}

// The same through ProcessFrame wherever a whole frame is left, else Process.
std::vector<Verdict> ByFrame(const std::vector<int16_t>& x) {
  TtyToneGate gate;
  std::vector<Verdict> out;
  constexpr size_t kFrame = TtyToneGate::kFrameBlocks * TtyToneGate::kSubBlock;
  size_t at = 0;
  while (at + TtyToneGate::kSubBlock <= x.size()) {
    if (x.size() - at >= kFrame) {
      const size_t closed = gate.ProcessFrame(x.data() + at);
      EXPECT_GE(closed, 1u);
      at += closed * TtyToneGate::kSubBlock;
      // Only the last closed sub-block's verdict can be seen.
      for (size_t k = 0; k < closed; ++k) {
        out.push_back({gate.carrier(), gate.ratio(), k + 1 == closed});
      }
    } else {
      gate.Process(x.data() + at, TtyToneGate::kSubBlock);
      at += TtyToneGate::kSubBlock;
      out.push_back({gate.carrier(), gate.ratio()});
    }
  }
  return out;
}

TEST(TtyToneGate, FramePathDecidesLikeSubBlockPath) {
  std::vector<int16_t> x = SpeechLike(8000 * 3);
  auto tty = AddNoise(MakeTty("HELP 911 FIRE", TtyRate::k45), -35);
  x.insert(x.end(), tty.begin(), tty.end());
  auto speech = SpeechLike(8000 * 2, -15, 5);
  x.insert(x.end(), speech.begin(), speech.end());
  const auto slow = BySubBlock(x);
  const auto fast = ByFrame(x);
  ASSERT_EQ(slow.size(), fast.size());
  size_t carrier_blocks = 0;
  for (size_t i = 0; i < slow.size(); ++i) {
    if (!fast[i].visible) continue;
    EXPECT_EQ(slow[i].carrier, fast[i].carrier) << "sub-block " << i;
    EXPECT_NEAR(slow[i].ratio, fast[i].ratio, 1e-4f) << "sub-block " << i;
    carrier_blocks += slow[i].carrier;
  }
  EXPECT_GT(carrier_blocks, 10u) << "the signal must exercise the carrier-up path";
}

}  // namespace
}  // namespace anchord::media::tty::internal
