// Per-tick cost of TTY decoding on a caller leg: TtyDecoder::Process + ReadChars on one 160-sample
// frame (20 ms), on TTY, silence and speech-like audio; its parts (tone gate, one spandsp FSK
// receiver) and spandsp's line-buffering v18_rx for comparison. Each iteration is one frame.
#include <benchmark/benchmark.h>

#include <span>
#include <vector>

#include "media/tty/internal/tone_gate.h"
#include "media/tty/tty_decoder.h"
#include "tests/unit/media/tty_test_signal.h"

namespace {

using anchord::media::testing::MakeTty;
using anchord::media::testing::SpeechLike;
using anchord::media::testing::TtyRate;
using anchord::media::testing::UlawRoundTrip;
constexpr size_t kFrame = 160;

// About 10 s of audio, looped, so the decoder sees carrier bursts, characters and gaps.
const std::vector<int16_t>& Signal(int kind) {
  static const std::vector<int16_t> tty = [] {
    std::vector<int16_t> x;
    while (x.size() < 80000) {
      auto burst =
          UlawRoundTrip(MakeTty("HELP 911 FIRE AT 12 MAIN ST\r\n", TtyRate::k45, 200, 300));
      x.insert(x.end(), burst.begin(), burst.end());
    }
    return x;
  }();
  static const std::vector<int16_t> silence(80000, 0);
  static const std::vector<int16_t> speech = UlawRoundTrip(SpeechLike(80000, -15, 3));
  return kind == 0 ? tty : kind == 1 ? silence : speech;
}

void BM_TtyDecoderTick(benchmark::State& state) {
  const auto& x = Signal(static_cast<int>(state.range(0)));
  auto decoder = std::move(*anchord::media::tty::TtyDecoder::Create());
  size_t pos = 0;
  char out[8];
  for (auto _ : state) {
    decoder->Process(std::span<const int16_t>(x.data() + pos, kFrame));
    benchmark::DoNotOptimize(decoder->ReadChars(out));
    pos = (pos + kFrame) % (x.size() / kFrame * kFrame);
  }
  state.counters["chars"] = static_cast<double>(decoder->counters().chars);
}
BENCHMARK(BM_TtyDecoderTick)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->ArgNames({"signal(0=tty,1=silence,2=speech)"});

void BM_ToneGateTick(benchmark::State& state) {
  const auto& x = Signal(0);
  anchord::media::tty::internal::TtyToneGate gate;
  size_t pos = 0;
  for (auto _ : state) {
    gate.Process(x.data() + pos, kFrame);
    benchmark::DoNotOptimize(gate.carrier());
    pos = (pos + kFrame) % (x.size() / kFrame * kFrame);
  }
}
BENCHMARK(BM_ToneGateTick);

void CountBits(void* user, int bits) {
  if (bits >= 0) ++*static_cast<int*>(user);
}

void BM_SpandspFskRxTick(benchmark::State& state) {
  const auto& x = Signal(0);
  int codes = 0;
  fsk_rx_state_t* rx = fsk_rx_init(nullptr, &preset_fsk_specs[FSK_WEITBRECHT],
                                   FSK_FRAME_MODE_5N1_FRAMES, CountBits, &codes);
  size_t pos = 0;
  for (auto _ : state) {
    fsk_rx(rx, x.data() + pos, static_cast<int>(kFrame));
    pos = (pos + kFrame) % (x.size() / kFrame * kFrame);
  }
  benchmark::DoNotOptimize(codes);
  fsk_rx_free(rx);
}
BENCHMARK(BM_SpandspFskRxTick);

void IgnoreMsg(void*, const uint8_t*, int) {}

void BM_SpandspV18RxTick(benchmark::State& state) {
  const auto& x = Signal(0);
  v18_state_t* rx = v18_init(nullptr, FALSE, V18_MODE_5BIT_45, IgnoreMsg, nullptr);
  size_t pos = 0;
  for (auto _ : state) {
    v18_rx(rx, x.data() + pos, static_cast<int>(kFrame));
    pos = (pos + kFrame) % (x.size() / kFrame * kFrame);
  }
  v18_free(rx);
}
BENCHMARK(BM_SpandspV18RxTick);

}  // namespace

BENCHMARK_MAIN();
