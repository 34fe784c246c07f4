#include "media/codec/opus_codec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "tests/unit/media/codec_test_util.h"

namespace anchord::media::codec {
namespace {

using testing::Rms;
using testing::SnrDb;
using testing::Tone;
using testing::ToneLevel;

using Packet = std::vector<uint8_t>;

// A voiced, speech-like test signal: five harmonics of a pitch gliding between 100 and 220 Hz,
// in 3 syllables a second (half-sine envelopes, pauses between them) over faint noise. Unlike a
// steady tone, PLC cannot predict it well, and SILK's VAD sees speech in the syllables (libopus
// adds LBRR only for frames it judges active).
std::vector<int16_t> Voice(int rate_hz, size_t n) {
  std::vector<int16_t> out(n);
  double phase = 0;
  uint32_t seed = 1;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate_hz;
    phase += 2 * M_PI * (160 + 60 * std::sin(2 * M_PI * 1.7 * t)) / rate_hz;
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += std::sin(h * phase) / h;
    seed = seed * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(seed >> 16) / 65536.0 - 0.5) * 100;
    out[i] = static_cast<int16_t>(6000 * std::max(0.0, std::sin(2 * M_PI * 3 * t)) * v + noise);
  }
  return out;
}

std::vector<Packet> EncodeVoice(OpusVoiceEncoder& enc, int frames) {
  const size_t n = enc.frame_samples();
  const auto voice = Voice(enc.sample_rate_hz(), frames * n);
  std::vector<Packet> packets;
  for (int f = 0; f < frames; ++f) {
    Packet p(kMaxPayloadBytes);
    const size_t bytes = enc.Encode(std::span(voice).subspan(f * n, n), p);
    EXPECT_GT(bytes, 0u);
    p.resize(bytes);
    packets.push_back(std::move(p));
  }
  return packets;
}

TEST(CodecOpusTest, RejectsUnsupportedRates) {
  EXPECT_FALSE(OpusVoiceEncoder::Create(48000));
  EXPECT_FALSE(OpusVoiceDecoder::Create(12000));
  EXPECT_TRUE(OpusVoiceEncoder::Create(8000));
  EXPECT_TRUE(OpusVoiceDecoder::Create(16000));
}

// No DTX (R6881-ED-72/73): silence is still sent as real frames, one per 20 ms, which decode.
TEST(CodecOpusTest, SilenceIsEncodedEveryFrame) {
  auto enc = OpusVoiceEncoder::Create(16000);
  auto dec = OpusVoiceDecoder::Create(16000);
  ASSERT_TRUE(enc && dec);
  std::vector<int16_t> silence(320, 0), pcm(320);
  Packet p(kMaxPayloadBytes);
  for (int f = 0; f < 100; ++f) {
    const size_t bytes = (*enc)->Encode(silence, p);
    ASSERT_GT(bytes, 2u) << f;  // DTX would send 1-2 byte packets here
    ASSERT_TRUE((*dec)->Decode(std::span(p).first(bytes), pcm)) << f;
  }
}

TEST(CodecOpusTest, BadPacketsAreConcealedAndReported) {
  auto enc = OpusVoiceEncoder::Create(16000);
  auto dec = OpusVoiceDecoder::Create(16000);
  ASSERT_TRUE(enc && dec);
  std::vector<int16_t> pcm(320);
  Packet p(kMaxPayloadBytes);
  const size_t bytes = (*enc)->Encode(Tone(1000, 16000, 5000, 0, 320), p);
  p.resize(bytes);
  EXPECT_TRUE((*dec)->Decode(p, pcm));
  EXPECT_FALSE((*dec)->Decode({}, pcm));
  const Packet code3_no_frames = {0x03, 0x00};
  EXPECT_FALSE((*dec)->Decode(code3_no_frames, pcm));
  // The same frame twice in one packet (code 1): 40 ms, not a 20 ms frame.
  Packet forty_ms = {static_cast<uint8_t>((p[0] & 0xFC) | 1)};
  forty_ms.insert(forty_ms.end(), p.begin() + 1, p.end());
  forty_ms.insert(forty_ms.end(), p.begin() + 1, p.end());
  EXPECT_FALSE((*dec)->Decode(forty_ms, pcm));
  EXPECT_FALSE((*dec)->DecodeFec(code3_no_frames, pcm));
  EXPECT_TRUE((*dec)->Decode(p, pcm));
}

// Opus's PLC continues a steady tone into the lost frame (not silence) and fades it out over a
// longer loss.
TEST(CodecOpusTest, ConcealmentContinuesThenDecays) {
  for (int rate : {8000, 16000}) {
    auto enc = OpusVoiceEncoder::Create(rate);
    auto dec = OpusVoiceDecoder::Create(rate);
    ASSERT_TRUE(enc && dec);
    const size_t n = FrameSamples(rate);
    std::vector<int16_t> pcm(n);
    Packet p(kMaxPayloadBytes);
    constexpr double kAmplitude = 8000;
    for (size_t f = 0; f < 25; ++f) {
      const size_t bytes = (*enc)->Encode(Tone(600, rate, kAmplitude, f * n, n), p);
      ASSERT_TRUE((*dec)->Decode(std::span(p).first(bytes), pcm));
    }
    std::vector<double> levels;
    for (int lost = 0; lost < 10; ++lost) {
      (*dec)->Conceal(pcm);
      levels.push_back(ToneLevel(pcm, 600, rate));
    }
    std::printf("opus %d Hz PLC tone level per lost frame:", rate);
    for (double l : levels) std::printf(" %.0f", l);
    std::printf("\n");
    EXPECT_GT(levels[0], 0.5 * kAmplitude) << rate;
    EXPECT_LT(levels[9], 0.5 * levels[0]) << rate;
  }
}

struct LossResult {
  double plc_snr_db;
  double fec_snr_db;
};

// Loses frame `lost` of `packets` and measures how close PLC and FEC (from packet lost + 1) get
// to what a decoder that received every packet produced for that frame.
LossResult MeasureLoss(int rate, const std::vector<Packet>& packets, size_t lost) {
  auto full = OpusVoiceDecoder::Create(rate);
  auto plc = OpusVoiceDecoder::Create(rate);
  auto fec = OpusVoiceDecoder::Create(rate);
  EXPECT_TRUE(full && plc && fec);
  const size_t n = FrameSamples(rate);
  std::vector<int16_t> ref(n), by_plc(n), by_fec(n);
  for (size_t f = 0; f < lost; ++f) {
    EXPECT_TRUE((*full)->Decode(packets[f], ref));
    EXPECT_TRUE((*plc)->Decode(packets[f], by_plc));
    EXPECT_TRUE((*fec)->Decode(packets[f], by_fec));
  }
  EXPECT_TRUE((*full)->Decode(packets[lost], ref));
  (*plc)->Conceal(by_plc);
  EXPECT_TRUE((*fec)->DecodeFec(packets[lost + 1], by_fec));
  return {SnrDb(ref, by_plc), SnrDb(ref, by_fec)};
}

// Mean PLC and FEC SNR over lost frames inside the first two syllables (frames 18-24, 35-41).
LossResult MeanOverSyllables(int rate, int loss_percent) {
  auto enc = OpusVoiceEncoder::Create(rate);
  EXPECT_TRUE(enc);
  (*enc)->SetPacketLossPercent(loss_percent);
  const auto packets = EncodeVoice(**enc, 45);
  LossResult sum{0, 0};
  int count = 0;
  for (size_t lost : {18, 19, 20, 21, 22, 23, 24, 35, 36, 37, 38, 39, 40, 41}) {
    const LossResult r = MeasureLoss(rate, packets, lost);
    EXPECT_GT(r.fec_snr_db, r.plc_snr_db - 1) << rate << " Hz, frame " << lost;
    sum.plc_snr_db += r.plc_snr_db;
    sum.fec_snr_db += r.fec_snr_db;
    ++count;
  }
  return {sum.plc_snr_db / count, sum.fec_snr_db / count};
}

// With loss signalled, frame N recovered from packet N+1's LBRR is much closer to the lossless
// decode than PLC's guess; without it there is no LBRR and DecodeFec is PLC.
TEST(CodecOpusTest, FecRecoversALostFrameBetterThanPlc) {
  for (int rate : {8000, 16000}) {
    const LossResult with = MeanOverSyllables(rate, 20);
    const LossResult without = MeanOverSyllables(rate, 0);
    std::printf(
        "opus %d Hz, mean over 14 lost frames: PLC %.1f dB, FEC %.1f dB; "
        "no loss signalled: FEC %.1f dB\n",
        rate, with.plc_snr_db, with.fec_snr_db, without.fec_snr_db);
    EXPECT_GT(with.fec_snr_db, with.plc_snr_db + 8) << rate;
    EXPECT_GT(with.fec_snr_db, 12) << rate;
    EXPECT_LT(without.fec_snr_db, with.fec_snr_db - 6) << rate;
  }
}

}  // namespace
}  // namespace anchord::media::codec
