// Mix-minus kernels: every ISA this CPU runs x sources {2,4,8,16} x samples {160,320,960}
// (20 ms at 8, 16 and 48 kHz). The counter time_per_sample is time per *input* sample
// (n_sources * n_samples per call), so figures compare across bridge sizes.
// FrameMixer/<isa>: the per-bridge mixer (checked kernel + limiter + fade/share bookkeeping) for
// 8 parties that all talk and listen, steady state, levels that never overflow (the limiter
// stays at unity: its cost is the check). FrameMixerLimiting/<isa>: the same with loud input,
// every output limited every frame (the limiter's scalar path), 8 x 160 only.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mixer/frame_mixer.h"
#include "mixer/mix.h"

namespace anchord::mixer {
namespace {

void SetTimePerSample(benchmark::State& state, double samples_per_call) {
  // kIsRate|kInvert turns "samples per second" into seconds per input sample (shown as e.g.
  // "1.1ns"; the JSON holds seconds).
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples_per_call));
  state.counters["time_per_sample"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * samples_per_call,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One contiguous buffer per direction, as a media worker keeps per bridge, filled with
// speech-like levels: mostly small, so saturation is rare as in real calls.
struct SpeechBuffers {
  SpeechBuffers(size_t n_sources, size_t n_samples)
      : in_data(n_sources * n_samples), out_data(n_sources * n_samples) {
    std::mt19937 rng(1);
    std::normal_distribution<double> speech(0.0, 3000.0);
    for (int16_t& v : in_data) {
      v = static_cast<int16_t>(std::clamp(speech(rng), -32768.0, 32767.0));
    }
    for (size_t j = 0; j < n_sources; ++j) {
      in.push_back(in_data.data() + j * n_samples);
      out.push_back(out_data.data() + j * n_samples);
    }
  }
  std::vector<int16_t> in_data;
  std::vector<int16_t> out_data;
  std::vector<const int16_t*> in;
  std::vector<int16_t*> out;
};

void BM_MixMinus(benchmark::State& state, Kernels kernels, size_t n_sources, size_t n_samples) {
  SpeechBuffers b(n_sources, n_samples);
  for (auto _ : state) {
    kernels.mix_minus(b.in.data(), b.out.data(), n_sources, n_samples);
    benchmark::DoNotOptimize(b.out_data.data());
    benchmark::ClobberMemory();
  }
  SetTimePerSample(state, static_cast<double>(n_sources * n_samples));
}

// The checked kernel alone (FrameMixer's per-frame kernel call), same input as BM_MixMinus.
void BM_MixMinusChecked(benchmark::State& state, Kernels kernels, size_t n_sources,
                        size_t n_samples) {
  SpeechBuffers b(n_sources, n_samples);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        kernels.mix_minus_checked(b.in.data(), b.out.data(), n_sources, n_samples));
    benchmark::ClobberMemory();
  }
  SetTimePerSample(state, static_cast<double>(n_sources * n_samples));
}

// peak: input samples are Gaussian (sigma = peak / 2) clamped to +-peak.
void BM_FrameMixer(benchmark::State& state, Kernels kernels, size_t n_sources, size_t n_samples,
                   double peak) {
  std::vector<int16_t> in_data(n_sources * n_samples);
  std::vector<int16_t> out_data(n_sources * n_samples);
  std::mt19937 rng(1);
  std::normal_distribution<double> level(0.0, peak / 2);
  for (int16_t& v : in_data) v = static_cast<int16_t>(std::clamp(level(rng), -peak, peak));
  FrameMixer mixer(kernels);
  FrameMixer::Frame frame;
  frame.n_samples = n_samples;
  for (size_t j = 0; j < n_sources; ++j) {
    frame.in[j] = in_data.data() + j * n_samples;
    frame.out[j] = out_data.data() + j * n_samples;
  }
  mixer.Mix(frame);  // the first frame fades everyone in; measure the steady state
  for (auto _ : state) {
    benchmark::DoNotOptimize(mixer.Mix(frame).data());
    benchmark::ClobberMemory();
  }
  const bool limiting = mixer.counters().limited_outputs > 0;
  if (limiting != (peak * static_cast<double>(n_sources - 1) > 32767)) {
    state.SkipWithError("the input does not limit (or not limit) as this benchmark claims");
  }
  SetTimePerSample(state, static_cast<double>(n_sources * n_samples));
}

constexpr Isa kIsas[] = {Isa::kScalar, Isa::kSse2, Isa::kAvx2, Isa::kAvx512};

bool RegisterAll() {
  for (Isa isa : kIsas) {
    const auto kernels = KernelsFor(isa);
    if (!kernels) continue;  // this CPU cannot run it: not benchmarked, not faked
    for (size_t n_sources : {2, 4, 8, 16}) {
      for (size_t n_samples : {160, 320, 960}) {
        const std::string name = "MixMinus/" + std::string(IsaName(isa)) +
                                 "/sources:" + std::to_string(n_sources) +
                                 "/samples:" + std::to_string(n_samples);
        benchmark::RegisterBenchmark(name.c_str(), BM_MixMinus, *kernels, n_sources, n_samples);
      }
    }
  }
  for (Isa isa : kIsas) {
    const auto kernels = KernelsFor(isa);
    if (!kernels) continue;
    for (size_t n_samples : {160, 320, 960}) {
      const std::string name = "MixMinusChecked/" + std::string(IsaName(isa)) +
                               "/sources:8/samples:" + std::to_string(n_samples);
      benchmark::RegisterBenchmark(name.c_str(), BM_MixMinusChecked, *kernels, 8, n_samples);
    }
    for (size_t n_samples : {160, 320, 960}) {
      // 7 others x 4000 = 28000: never overflows, so the limiter stays at unity.
      const std::string name = "FrameMixer/" + std::string(IsaName(isa)) +
                               "/sources:8/samples:" + std::to_string(n_samples);
      benchmark::RegisterBenchmark(name.c_str(), BM_FrameMixer, *kernels, 8, n_samples, 4000.0);
    }
    const std::string name =
        "FrameMixerLimiting/" + std::string(IsaName(isa)) + "/sources:8/samples:160";
    benchmark::RegisterBenchmark(name.c_str(), BM_FrameMixer, *kernels, 8, 160, 20000.0);
  }
  return true;
}

[[maybe_unused]] const bool registered = RegisterAll();

}  // namespace
}  // namespace anchord::mixer
