// TtyDecoder: Baudot TTY from spandsp's V.18 transmitter, through G.711, decoded one character
// at a time; nothing from tones, noise, silence or speech-like audio.
#include "media/tty/tty_decoder.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "media/internal/g711.h"
#include "tests/unit/media/tty_test_signal.h"

namespace anchord::media::tty {
namespace {

using testing::AddNoise;
using testing::AlawRoundTrip;
using testing::kTtyFrame;
using testing::MakeTty;
using testing::Scale;
using testing::SpeechLike;
using testing::Tone;
using testing::TtyRate;
using testing::UlawRoundTrip;

constexpr char kMessage[] = "HELP 911 FIRE";

struct Decoded {
  std::string text;
  std::vector<size_t> delivered_at;  // sample count fed when each character came out
  size_t carrier_samples = 0;        // samples fed (in whole chunks) while carrier() was true
  TtyCounters counters;
  TtyBaud baud = TtyBaud::kUnknown;
};

// Feeds `x` in chunks whose sizes cycle through `chunks` (the tick's 160 by default), draining
// the ring after every chunk like the worker does each tick.
Decoded Decode(const std::vector<int16_t>& x, std::vector<size_t> chunks = {kTtyFrame}) {
  auto decoder = TtyDecoder::Create();
  EXPECT_TRUE(decoder.has_value());
  Decoded out;
  size_t fed = 0;
  for (size_t k = 0; fed < x.size(); ++k) {
    const size_t n = std::min(chunks[k % chunks.size()], x.size() - fed);
    (*decoder)->Process(std::span<const int16_t>(x.data() + fed, n));
    fed += n;
    if ((*decoder)->carrier()) out.carrier_samples += n;
    char buf[8];
    for (size_t got; (got = (*decoder)->ReadChars(buf)) > 0;) {
      for (size_t i = 0; i < got; ++i) {
        out.text.push_back(buf[i]);
        out.delivered_at.push_back(fed);
      }
    }
  }
  out.counters = (*decoder)->counters();
  out.baud = (*decoder)->baud();
  return out;
}

std::vector<int16_t> Prepend(std::vector<int16_t> x, size_t zeros) {
  x.insert(x.begin(), zeros, 0);
  return x;
}

TtyBaud Expected(TtyRate baud) { return baud == TtyRate::k45 ? TtyBaud::k45 : TtyBaud::k50; }

// ---- Exact decoding: rate x law x alignment of the characters against the frames ----------

enum class Law { kUlaw, kAlaw };

class TtyDecodeTest : public ::testing::TestWithParam<std::tuple<TtyRate, Law, size_t>> {};

TEST_P(TtyDecodeTest, DecodesMessageExactly) {
  const auto [baud, law, offset] = GetParam();
  std::vector<int16_t> tty = Prepend(MakeTty(kMessage, baud), offset);
  tty = law == Law::kUlaw ? UlawRoundTrip(tty) : AlawRoundTrip(tty);
  Decoded d = Decode(tty);
  EXPECT_EQ(d.text, kMessage);
  EXPECT_EQ(d.baud, Expected(baud));
  EXPECT_EQ(d.counters.carrier_ups, 1u);
  EXPECT_EQ(d.counters.chars_overflowed, 0u);
}

INSTANTIATE_TEST_SUITE_P(RatesLawsOffsets, TtyDecodeTest,
                         ::testing::Combine(::testing::Values(TtyRate::k45, TtyRate::k50),
                                            ::testing::Values(Law::kUlaw, Law::kAlaw),
                                            ::testing::Values(0u, 37u, 80u, 123u)));

TEST(TtyDecoder, OddChunkSizesGiveTheSameText) {
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    const auto tty = UlawRoundTrip(Prepend(MakeTty(kMessage, baud), 59));
    Decoded d = Decode(tty, {37, 101, 160, 13, 211, 1, 80, 319});
    EXPECT_EQ(d.text, kMessage);
    EXPECT_EQ(d.baud, Expected(baud));
  }
}

TEST(TtyDecoder, QuietTty) {
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    EXPECT_EQ(Decode(UlawRoundTrip(Scale(MakeTty(kMessage, baud), 0.3))).text, kMessage);
    EXPECT_EQ(Decode(AlawRoundTrip(Scale(MakeTty(kMessage, baud), 0.3))).text, kMessage);
  }
}

TEST(TtyDecoder, TtyInWhiteNoise) {
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    for (uint32_t seed = 1; seed <= 10; ++seed) {
      const auto noisy = AddNoise(Prepend(MakeTty(kMessage, baud), 41 * seed), -35, seed);
      EXPECT_EQ(Decode(UlawRoundTrip(noisy)).text, kMessage) << "seed " << seed;
      // Quiet and noisy together: about 11 dB SNR.
      const auto both = AddNoise(Scale(MakeTty(kMessage, baud), 0.3), -35, seed);
      EXPECT_EQ(Decode(AlawRoundTrip(both)).text, kMessage) << "seed " << seed;
    }
  }
}

TEST(TtyDecoder, ShiftsDigitsPunctuationAndLineEnds) {
  const std::string text = "CALL 555-1234, OK?\r\nGA";
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    EXPECT_EQ(Decode(UlawRoundTrip(MakeTty(text, baud))).text, text);
  }
}

// ---- Real time: one character at a time, long before the message ends ---------------------

// Where each character's start bit begins: spandsp's transmitter sends one mark bit, then 8
// bits per code (start, 5 data, 2 stop), shifts counted as codes.
std::vector<double> CharStarts(const std::string& text, TtyRate baud, size_t lead) {
  const double bit = baud == TtyRate::k45 ? 8000.0 / 45.45 : 160.0;
  v18_state_t* enc = v18_init(nullptr, TRUE, V18_MODE_5BIT_45, nullptr, nullptr);
  std::vector<double> starts;
  size_t codes = 0;
  for (char c : text) {
    const uint16_t x = v18_encode_baudot(enc, static_cast<uint8_t>(c));
    if (x & 0x3E0) ++codes;  // a shift goes first
    starts.push_back(static_cast<double>(lead) + (1.0 + static_cast<double>(codes) * 8) * bit);
    ++codes;
  }
  v18_free(enc);
  return starts;
}

TEST(TtyDecoder, CharactersArriveOneByOne) {
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    const size_t lead = 800;  // MakeTty's 100 ms of silence
    const auto tty = UlawRoundTrip(MakeTty(kMessage, baud));
    Decoded d = Decode(tty);
    ASSERT_EQ(d.text, kMessage);
    const std::vector<double> starts = CharStarts(kMessage, baud, lead);
    std::string report;
    double max_latency = 0;
    for (size_t i = 0; i < d.text.size(); ++i) {
      // Latency: from the first sample of the character's start bit to the end of the frame
      // that delivered it, in 20 ms frames.
      const double latency = (static_cast<double>(d.delivered_at[i]) - starts[i]) / kTtyFrame;
      max_latency = std::max(max_latency, latency);
      EXPECT_GT(latency, 0.0) << "char " << i << " delivered before it was sent";
      // Stop-bit centre (6.7 bits with spandsp's framing) + 8 ms correlation delay + up to one
      // frame of tick granularity: 8.8 frames at 45.45 bit/s, 8.0 at 50.
      EXPECT_LE(latency, 8.9) << "char " << i;
      if (i > 0) {
        EXPECT_GT(d.delivered_at[i], d.delivered_at[i - 1]) << "not one by one";
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%c:%.1f ", d.text[i], latency);
      report += buf;
    }
    // The first character is out long before the last one is even sent.
    EXPECT_LT(d.delivered_at[0] + 100 * kTtyFrame, d.delivered_at.back());
    std::printf("[ latency ] %s baud, frames from start bit to delivery: %s(max %.1f)\n",
                TtyBaudName(Expected(baud)), report.c_str(), max_latency);
  }
}

// ---- Carrier flag --------------------------------------------------------------------------

TEST(TtyDecoder, CarrierOnlyWhileTonesPlay) {
  // 1 s silence, the message, 1 s silence: the carrier covers the tones and at most 160 ms
  // beyond them.
  const auto tty = UlawRoundTrip(MakeTty(kMessage, TtyRate::k45, 1000, 1000));
  size_t first = 0, last = tty.size();
  while (first < tty.size() && tty[first] == 0) ++first;
  while (last > first && tty[last - 1] == 0) --last;
  const size_t tone_samples = last - first;
  Decoded d = Decode(tty);
  EXPECT_EQ(d.text, kMessage);
  EXPECT_EQ(d.counters.carrier_ups, 1u);
  EXPECT_GE(d.carrier_samples + 2 * kTtyFrame, tone_samples);
  EXPECT_LE(d.carrier_samples, tone_samples + 9 * kTtyFrame);
}

TEST(TtyDecoder, BurstsKeepTheirRate) {
  // Two bursts; the second has only codes a wrong-rate receiver could also frame ("MV."), so
  // it is decoded at the rate the first burst proved.
  for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
    auto x = MakeTty("HELLO", baud, 100, 1000);
    const auto second = MakeTty("MV.", baud, 0, 500);
    x.insert(x.end(), second.begin(), second.end());
    Decoded d = Decode(UlawRoundTrip(x));
    EXPECT_EQ(d.text, "HELLOMV.");
    EXPECT_EQ(d.counters.carrier_ups, 2u);
    EXPECT_EQ(d.baud, Expected(baud));
  }
}

// ---- No false characters -------------------------------------------------------------------

void ExpectNothing(const char* what, const std::vector<int16_t>& x) {
  for (bool alaw : {false, true}) {
    Decoded d = Decode(alaw ? AlawRoundTrip(x) : UlawRoundTrip(x));
    EXPECT_EQ(d.text, "") << what << (alaw ? " A-law" : " mu-law");
    EXPECT_EQ(d.carrier_samples, 0u) << what << (alaw ? " A-law" : " mu-law");
    EXPECT_EQ(d.counters.carrier_ups, 0u) << what;
  }
}

constexpr size_t k30s = 30 * 8000;

TEST(TtyDecoder, NothingFromSilence) { ExpectNothing("silence", std::vector<int16_t>(k30s)); }

TEST(TtyDecoder, NothingFromTones) {
  ExpectNothing("1 kHz -10 dBm0", Tone(1000, -10, k30s));
  ExpectNothing("1 kHz 0 dBm0", Tone(1000, 0, k30s));
  ExpectNothing("440 Hz hold tone -13 dBm0", Tone(440, -13, k30s));
  ExpectNothing("2100 Hz -12 dBm0", Tone(2100, -12, k30s));
}

TEST(TtyDecoder, NothingFromWhiteNoise) {
  ExpectNothing("noise -35 dBm0", AddNoise(std::vector<int16_t>(k30s), -35, 5));
  ExpectNothing("noise -20 dBm0", AddNoise(std::vector<int16_t>(k30s), -20, 6));
  ExpectNothing("noise -6 dBm0", AddNoise(std::vector<int16_t>(k30s), -6, 7));
}

TEST(TtyDecoder, NothingFromSpeechLikeAudio) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const double level = -30.0 + 6.0 * seed;  // -24 .. -6 dBm0
    std::string what = "speech-like seed " + std::to_string(seed);
    ExpectNothing(what.c_str(), SpeechLike(2 * k30s, level, seed));
  }
}

// Loud speech-like audio makes spandsp's demodulator frame a few codes when it runs on it; the
// tone gate keeps the demodulators off until it hears a TTY carrier, so none are even framed
// (this test fails without the gate).
TEST(TtyDecoder, GateKeepsSpeechAwayFromTheDemodulators) {
  for (bool alaw : {false, true}) {
    const auto speech = SpeechLike(2 * k30s, -6, 4);
    Decoded d = Decode(alaw ? AlawRoundTrip(speech) : UlawRoundTrip(speech));
    EXPECT_EQ(d.counters.codes_rejected, 0u);
    EXPECT_EQ(d.counters.chars, 0u);
    EXPECT_EQ(d.text, "");
  }
}

TEST(TtyDecoder, NothingFromSteadyMarkOrSpace) {
  // A steady 1400 Hz tone is a TTY's mark hold (the gate may call it carrier) but carries no
  // character; a steady 1800 Hz tone never has a stop bit.
  for (double f : {1400.0, 1800.0}) {
    Decoded d = Decode(UlawRoundTrip(Tone(f, -14, 5 * 8000)));
    EXPECT_EQ(d.text, "") << f;
  }
}

// ---- Invariant 3: TTY tones survive a G.711 -> G.711 bit-exact path ---------------------------

// The bridge forwards a single party's payload bytes untouched (invariant 3); where it does
// decode and re-encode (a mix), the only byte that changes is mu-law 0x7F ("negative zero"),
// which becomes 0xFF and decodes to the same sample, 0. So the TTY audio is sample-exact.
TEST(TtyDecoder, TtyAudioSurvivesG711DecodeEncode) {
  for (Codec codec : {Codec::kPcmu, Codec::kPcma}) {
    for (TtyRate baud : {TtyRate::k45, TtyRate::k50}) {
      const auto tty = AddNoise(MakeTty(kMessage, baud), -35, 11);
      std::vector<uint8_t> wire(tty.size()), again(tty.size());
      std::vector<int16_t> pcm(tty.size()), pcm_again(tty.size());
      media::internal::G711Encode(codec, tty.data(), tty.size(), wire.data());
      media::internal::G711Decode(codec, wire.data(), wire.size(), pcm.data());
      media::internal::G711Encode(codec, pcm.data(), pcm.size(), again.data());
      media::internal::G711Decode(codec, again.data(), again.size(), pcm_again.data());
      const char* name = codec == Codec::kPcmu ? "PCMU" : "PCMA";
      size_t changed = 0;
      for (size_t i = 0; i < wire.size(); ++i) {
        if (again[i] == wire[i]) continue;
        ++changed;
        EXPECT_TRUE(codec == Codec::kPcmu && wire[i] == 0x7F && again[i] == 0xFF)
            << name << " byte " << i;
      }
      if (codec == Codec::kPcma) {
        EXPECT_EQ(changed, 0u);
      }
      EXPECT_EQ(pcm_again, pcm) << name;
      EXPECT_EQ(Decode(pcm_again).text, kMessage) << name;
    }
  }
}

}  // namespace
}  // namespace anchord::media::tty
