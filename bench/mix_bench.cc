// Mix-minus kernels: every ISA this CPU runs x sources {2,4,8,16} x samples {160,320,960}
// (20 ms at 8, 16 and 48 kHz). The counter time_per_sample is time per *input* sample
// (n_sources * n_samples per call), so figures compare across bridge sizes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mixer/mix.h"

namespace anchord::mixer {
namespace {

void BM_MixMinus(benchmark::State& state, Kernels kernels, size_t n_sources, size_t n_samples) {
  // One contiguous buffer per direction, as a media worker keeps per bridge.
  std::vector<int16_t> in_data(n_sources * n_samples);
  std::vector<int16_t> out_data(n_sources * n_samples);
  std::mt19937 rng(1);
  // Speech-like levels: mostly small, so saturation is rare as in real calls.
  std::normal_distribution<double> speech(0.0, 3000.0);
  for (int16_t& v : in_data) v = static_cast<int16_t>(std::clamp(speech(rng), -32768.0, 32767.0));
  std::vector<const int16_t*> in;
  std::vector<int16_t*> out;
  for (size_t j = 0; j < n_sources; ++j) {
    in.push_back(in_data.data() + j * n_samples);
    out.push_back(out_data.data() + j * n_samples);
  }
  for (auto _ : state) {
    kernels.mix_minus(in.data(), out.data(), n_sources, n_samples);
    benchmark::DoNotOptimize(out_data.data());
    benchmark::ClobberMemory();
  }
  const double samples = static_cast<double>(n_sources * n_samples);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  // kIsRate|kInvert turns "samples per second" into seconds per input sample (shown as e.g.
  // "1.1ns"; the JSON holds seconds).
  state.counters["time_per_sample"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * samples,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

bool RegisterAll() {
  for (Isa isa : {Isa::kScalar, Isa::kSse2, Isa::kAvx2}) {
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
  return true;
}

[[maybe_unused]] const bool registered = RegisterAll();

}  // namespace
}  // namespace anchord::mixer
