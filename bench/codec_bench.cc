// Codec cost per 20 ms frame: encode + decode of one frame through the factory's objects (so a
// codec at a foreign bridge rate includes its two resamplers), for every codec at both bridge
// rates, plus decode-then-conceal and the resampler alone. Input: a voiced, speech-like signal
// (five harmonics of a gliding pitch in 3 syllables a second), 1 s of it cycled, so Opus works as
// on speech rather than on a pure tone.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "media/codec/codec_factory.h"
#include "media/codec/resampler.h"

namespace anchord::media::codec {
namespace {

std::vector<int16_t> Voice(int rate_hz, size_t n) {
  std::vector<int16_t> out(n);
  double phase = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate_hz;
    phase += 2 * M_PI * (160 + 60 * std::sin(2 * M_PI * 1.7 * t)) / rate_hz;
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += std::sin(h * phase) / h;
    out[i] = static_cast<int16_t>(6000 * (0.2 + 0.8 * std::abs(std::sin(2 * M_PI * 3 * t))) * v);
  }
  return out;
}

void BM_EncodeDecode(benchmark::State& state, const char* encoding, int bridge_rate_hz,
                     int loss_percent) {
  auto enc = CreateEncoder(*ParseRtpmap(encoding), bridge_rate_hz);
  auto dec = CreateDecoder(*ParseRtpmap(encoding), bridge_rate_hz);
  if (!enc || !dec) {
    state.SkipWithError("codec creation failed");
    return;
  }
  (*enc)->SetPacketLossPercent(loss_percent);
  const size_t n = FrameSamples(bridge_rate_hz);
  const auto voice = Voice(bridge_rate_hz, n * kFramesPerSecond);
  std::vector<uint8_t> payload(kMaxPayloadBytes);
  std::vector<int16_t> out(n);
  size_t frame = 0, bytes_total = 0;
  for (auto _ : state) {
    const auto in = std::span(voice).subspan(frame * n, n);
    const size_t bytes = (*enc)->Encode(in, payload);
    benchmark::DoNotOptimize((*dec)->Decode(std::span(payload).first(bytes), out));
    benchmark::ClobberMemory();
    bytes_total += bytes;
    frame = (frame + 1) % kFramesPerSecond;
  }
  state.counters["bytes_per_frame"] =
      static_cast<double>(bytes_total) / static_cast<double>(state.iterations());
}

// One good frame then one lost frame, repeated: Decode + Conceal, the cost of a tick with
// isolated losses (compare with the decode half of BM_EncodeDecode).
void BM_DecodeThenConceal(benchmark::State& state, const char* encoding, int bridge_rate_hz) {
  auto dec = CreateDecoder(*ParseRtpmap(encoding), bridge_rate_hz);
  auto enc = CreateEncoder(*ParseRtpmap(encoding), bridge_rate_hz);
  if (!enc || !dec) {
    state.SkipWithError("codec creation failed");
    return;
  }
  const size_t n = FrameSamples(bridge_rate_hz);
  const auto voice = Voice(bridge_rate_hz, n * kFramesPerSecond);
  std::vector<std::vector<uint8_t>> packets;
  for (int f = 0; f < kFramesPerSecond; ++f) {
    std::vector<uint8_t> p(kMaxPayloadBytes);
    p.resize((*enc)->Encode(std::span(voice).subspan(f * n, n), p));
    packets.push_back(std::move(p));
  }
  std::vector<int16_t> out(n);
  size_t frame = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize((*dec)->Decode(packets[frame], out));
    (*dec)->Conceal(out);
    benchmark::ClobberMemory();
    frame = (frame + 2) % kFramesPerSecond;
  }
}

void BM_Resample(benchmark::State& state, int in_rate_hz, int out_rate_hz) {
  auto r = Resampler::Create(in_rate_hz, out_rate_hz);
  const auto voice = Voice(in_rate_hz, FrameSamples(in_rate_hz));
  std::vector<int16_t> out(FrameSamples(out_rate_hz));
  for (auto _ : state) {
    benchmark::DoNotOptimize((*r)->Process(voice, out));
    benchmark::ClobberMemory();
  }
}

BENCHMARK_CAPTURE(BM_EncodeDecode, pcmu_8k, "PCMU/8000", 8000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, pcmu_16k, "PCMU/8000", 16000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, pcma_8k, "PCMA/8000", 8000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, g722_16k, "G722/8000", 16000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, g722_8k, "G722/8000", 8000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, opus_8k, "opus/48000/2", 8000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, opus_16k, "opus/48000/2", 16000, 0);
BENCHMARK_CAPTURE(BM_EncodeDecode, opus_16k_fec10, "opus/48000/2", 16000, 10);
BENCHMARK_CAPTURE(BM_DecodeThenConceal, pcmu_8k, "PCMU/8000", 8000);
BENCHMARK_CAPTURE(BM_DecodeThenConceal, g722_16k, "G722/8000", 16000);
BENCHMARK_CAPTURE(BM_DecodeThenConceal, opus_16k, "opus/48000/2", 16000);
BENCHMARK_CAPTURE(BM_Resample, up_8k_16k, 8000, 16000);
BENCHMARK_CAPTURE(BM_Resample, down_16k_8k, 16000, 8000);

}  // namespace
}  // namespace anchord::media::codec
