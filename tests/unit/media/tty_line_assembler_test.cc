// TtyLineAssembler: lines from CR/LF, pauses and length; and end to end from TTY audio.
#include "media/tty/tty_line_assembler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/tty/tty_decoder.h"
#include "tests/unit/media/tty_test_signal.h"

namespace anchord::media::tty {
namespace {

using Lines = std::vector<std::string>;

TEST(TtyLineAssembler, CrLfEndsOneLine) {
  TtyLineAssembler a;
  EXPECT_EQ(a.Add("HELP", 0), Lines{});
  EXPECT_EQ(a.Add("\r", 10), Lines{"HELP"});
  EXPECT_EQ(a.Add("\n", 20), Lines{});  // the LF of CR LF: no empty line
  EXPECT_EQ(a.Add("FIRE\r\nGA\n\rX", 30), (Lines{"FIRE", "GA"}));
  EXPECT_EQ(a.pending(), "X");
}

TEST(TtyLineAssembler, RepeatedLineEndsGiveNoEmptyLines) {
  TtyLineAssembler a;
  EXPECT_EQ(a.Add("\r\r\n\n\nA\n\nB\r", 0), (Lines{"A", "B"}));
}

TEST(TtyLineAssembler, PauseEndsALine) {
  TtyLineAssembler a;
  a.Add("HELP 911", 1000);
  EXPECT_EQ(a.Poll(2999), std::nullopt);  // 1999 ms after the last character
  EXPECT_EQ(a.Poll(3000), "HELP 911");
  EXPECT_EQ(a.Poll(9000), std::nullopt);
  EXPECT_EQ(a.pending(), "");
}

TEST(TtyLineAssembler, CharacterAfterAPauseEndsThePreviousLineFirst) {
  TtyLineAssembler a;
  a.Add("FIRE", 0);
  a.Add(" AT", 1500);  // within 2 s of "FIRE": same line
  EXPECT_EQ(a.Add("GA", 3600), Lines{"FIRE AT"});
  EXPECT_EQ(a.Flush(), "GA");
  EXPECT_EQ(a.Flush(), std::nullopt);
}

TEST(TtyLineAssembler, LongLineIsCut) {
  TtyLineAssembler a(TtyLineAssembler::Options{.pause_ms = 2000, .max_chars = 4});
  EXPECT_EQ(a.Add("ABCDEFGHIJ", 0), (Lines{"ABCD", "EFGH"}));
  EXPECT_EQ(a.pending(), "IJ");
}

TEST(TtyLineAssembler, BackspaceErasesAndControlCharactersAreDropped) {
  TtyLineAssembler a;
  EXPECT_EQ(a.Add("FIER\b\bRE\a\x01\r", 0), Lines{"FIRE"});
  EXPECT_EQ(a.Add("\b\bOK\r", 10), Lines{"OK"});  // backspace on an empty line is harmless
}

// What the worker and the signaling thread do together: characters from the decoder each
// tick, a line per CR LF or pause.
TEST(TtyLineAssembler, LinesFromTtyAudio) {
  using testing::MakeTty;
  using testing::TtyRate;
  auto audio = MakeTty("HELP\r\nFIRE AT 12 MAIN", TtyRate::k45, 100, 3000);
  audio = testing::UlawRoundTrip(audio);
  auto decoder = TtyDecoder::Create();
  ASSERT_TRUE(decoder.has_value());
  TtyLineAssembler a;
  Lines lines;
  for (size_t f = 0; f * 160 < audio.size(); ++f) {
    const int64_t now_ms = static_cast<int64_t>(f) * 20;
    (*decoder)->Process(std::span<const int16_t>(audio.data() + f * 160, 160));
    char buf[8];
    const size_t n = (*decoder)->ReadChars(buf);
    for (auto& line : a.Add(std::string_view(buf, n), now_ms)) lines.push_back(line);
    if (auto line = a.Poll(now_ms)) lines.push_back(*line);
  }
  EXPECT_EQ(lines, (Lines{"HELP", "FIRE AT 12 MAIN"}));
}

}  // namespace
}  // namespace anchord::media::tty
