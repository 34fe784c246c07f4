#include "mixer/mix.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mixer/internal/kernels.h"

namespace anchord::mixer {
namespace {

constexpr std::array<Isa, 4> kAllIsas = {Isa::kScalar, Isa::kSse2, Isa::kAvx2, Isa::kAvx512};

// n_sources planes of n_samples each, plus the pointer arrays a kernel takes.
class Planes {
 public:
  Planes(size_t n_sources, size_t n_samples)
      : n_sources_(n_sources), n_samples_(n_samples), data_(n_sources * n_samples) {}

  int16_t& at(size_t source, size_t sample) { return data_[source * n_samples_ + sample]; }
  int16_t at(size_t source, size_t sample) const { return data_[source * n_samples_ + sample]; }
  std::vector<const int16_t*> ConstPointers() const {
    std::vector<const int16_t*> p;
    for (size_t j = 0; j < n_sources_; ++j) p.push_back(data_.data() + j * n_samples_);
    return p;
  }
  std::vector<int16_t*> Pointers() {
    std::vector<int16_t*> p;
    for (size_t j = 0; j < n_sources_; ++j) p.push_back(data_.data() + j * n_samples_);
    return p;
  }
  const std::vector<int16_t>& data() const { return data_; }

 private:
  size_t n_sources_;
  size_t n_samples_;
  std::vector<int16_t> data_;
};

Planes Mix(MixMinusFn fn, const Planes& in, size_t n_sources, size_t n_samples) {
  // Poison the output so a kernel that skips a sample cannot pass by luck.
  Planes out(n_sources, n_samples);
  for (size_t i = 0; i < n_sources; ++i) {
    for (size_t s = 0; s < n_samples; ++s) out.at(i, s) = 0x5a5a;
  }
  fn(in.ConstPointers().data(), out.Pointers().data(), n_sources, n_samples);
  return out;
}

Planes RandomPlanes(std::mt19937& rng, size_t n_sources, size_t n_samples) {
  std::uniform_int_distribution<int> dist(INT16_MIN, INT16_MAX);
  Planes p(n_sources, n_samples);
  for (size_t j = 0; j < n_sources; ++j) {
    for (size_t s = 0; s < n_samples; ++s) p.at(j, s) = static_cast<int16_t>(dist(rng));
  }
  return p;
}

std::vector<Kernels> AvailableKernels() {
  std::vector<Kernels> kernels;
  for (Isa isa : kAllIsas) {
    if (auto k = KernelsFor(isa)) kernels.push_back(*k);
  }
  return kernels;
}

// The checked kernel's outputs, and its saturation flag in *saturated.
Planes MixChecked(MixMinusCheckedFn fn, const Planes& in, size_t n_sources, size_t n_samples,
                  bool* saturated) {
  Planes out(n_sources, n_samples);
  for (size_t i = 0; i < n_sources; ++i) {
    for (size_t s = 0; s < n_samples; ++s) out.at(i, s) = 0x5a5a;
  }
  *saturated = fn(in.ConstPointers().data(), out.Pointers().data(), n_sources, n_samples);
  return out;
}

// Whether any total - in[i] falls outside int16, computed directly in int64.
bool Saturates(const Planes& in, size_t n_sources, size_t n_samples) {
  for (size_t s = 0; s < n_samples; ++s) {
    int64_t total = 0;
    for (size_t j = 0; j < n_sources; ++j) total += in.at(j, s);
    for (size_t i = 0; i < n_sources; ++i) {
      const int64_t diff = total - in.at(i, s);
      if (diff > INT16_MAX || diff < INT16_MIN) return true;
    }
  }
  return false;
}

// Every available kernel, plain and checked, against the scalar reference; the checked flag
// against a direct computation.
void ExpectMatchesScalar(const Planes& in, size_t n_sources, size_t n_samples,
                         const std::string& what) {
  const Planes want = Mix(&internal::MixMinusScalar, in, n_sources, n_samples);
  const bool want_saturated = Saturates(in, n_sources, n_samples);
  for (const Kernels& k : AvailableKernels()) {
    const Planes got = Mix(k.mix_minus, in, n_sources, n_samples);
    ASSERT_EQ(got.data(), want.data())
        << IsaName(k.isa) << " " << what << " sources=" << n_sources << " samples=" << n_samples;
    bool saturated = false;
    const Planes checked = MixChecked(k.mix_minus_checked, in, n_sources, n_samples, &saturated);
    ASSERT_EQ(checked.data(), want.data()) << IsaName(k.isa) << " checked " << what;
    ASSERT_EQ(saturated, want_saturated)
        << IsaName(k.isa) << " " << what << " sources=" << n_sources << " samples=" << n_samples;
  }
}

TEST(MixScalarTest, HandComputedExample) {
  Planes in(3, 2);
  in.at(0, 0) = 100;
  in.at(1, 0) = -30;
  in.at(2, 0) = 7;  // total 77
  in.at(0, 1) = 30000;
  in.at(1, 1) = 20000;
  in.at(2, 1) = -32768;  // total 17232
  const Planes out = Mix(&internal::MixMinusScalar, in, 3, 2);
  EXPECT_EQ(out.at(0, 0), -23);  // -30 + 7
  EXPECT_EQ(out.at(1, 0), 107);  // 100 + 7
  EXPECT_EQ(out.at(2, 0), 70);   // 100 - 30
  EXPECT_EQ(out.at(0, 1), -12768);
  EXPECT_EQ(out.at(1, 1), -2768);
  EXPECT_EQ(out.at(2, 1), 32767);  // 50000 saturates
}

TEST(MixScalarTest, SaturatesBothWays) {
  Planes in(3, 2);
  for (size_t j = 0; j < 3; ++j) {
    in.at(j, 0) = INT16_MAX;
    in.at(j, 1) = INT16_MIN;
  }
  const Planes out = Mix(&internal::MixMinusScalar, in, 3, 2);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out.at(i, 0), INT16_MAX);  // 65534
    EXPECT_EQ(out.at(i, 1), INT16_MIN);  // -65536
  }
}

TEST(MixTest, EveryKernelMatchesScalarOnRandomInput) {
  constexpr std::array<size_t, 9> kSampleCounts = {1, 7, 8, 15, 16, 160, 320, 959, 960};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    for (size_t n_sources = 1; n_sources <= kMaxSources; ++n_sources) {
      for (size_t n_samples : kSampleCounts) {
        const Planes in = RandomPlanes(rng, n_sources, n_samples);
        ExpectMatchesScalar(in, n_sources, n_samples, "seed=" + std::to_string(seed));
      }
    }
  }
}

TEST(MixTest, ZeroSamplesWritesNothing) {
  for (const Kernels& k : AvailableKernels()) {
    int16_t in0 = 1, in1 = 2, out0 = 9, out1 = 9;
    const int16_t* in[] = {&in0, &in1};
    int16_t* out[] = {&out0, &out1};
    k.mix_minus(in, out, 2, 0);
    EXPECT_EQ(out0, 9) << IsaName(k.isa);
    EXPECT_EQ(out1, 9) << IsaName(k.isa);
  }
}

// Every combination of the extreme values {32767, -32767, -32768} over n_sources, one
// combination per sample column: 3^n columns (n <= 6 keeps it within kMaxSamples).
TEST(MixTest, EveryKernelMatchesScalarOnAllExtremeCombinations) {
  constexpr std::array<int16_t, 3> kExtremes = {INT16_MAX, -INT16_MAX, INT16_MIN};
  for (size_t n_sources = 1; n_sources <= 6; ++n_sources) {
    size_t n_samples = 1;
    for (size_t j = 0; j < n_sources; ++j) n_samples *= kExtremes.size();
    Planes in(n_sources, n_samples);
    for (size_t s = 0; s < n_samples; ++s) {
      size_t combo = s;
      for (size_t j = 0; j < n_sources; ++j, combo /= kExtremes.size()) {
        in.at(j, s) = kExtremes[combo % kExtremes.size()];
      }
    }
    ExpectMatchesScalar(in, n_sources, n_samples, "extremes");
  }
}

// Beyond 6 sources, random picks among the extremes: sums far outside int16 in both directions.
TEST(MixTest, EveryKernelMatchesScalarOnRandomExtremes) {
  constexpr std::array<int16_t, 4> kExtremes = {INT16_MAX, -INT16_MAX, INT16_MIN, 0};
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> pick(0, kExtremes.size() - 1);
  for (size_t n_sources = 2; n_sources <= kMaxSources; ++n_sources) {
    Planes in(n_sources, kMaxSamples);
    for (size_t j = 0; j < n_sources; ++j) {
      for (size_t s = 0; s < kMaxSamples; ++s) in.at(j, s) = kExtremes[pick(rng)];
    }
    ExpectMatchesScalar(in, n_sources, kMaxSamples, "random extremes");
    const Planes out = Mix(&internal::MixMinusScalar, in, n_sources, kMaxSamples);
    if (n_sources >= 3) {
      // The input really does saturate, so the test exercises the clamp.
      size_t clamped = 0;
      for (int16_t v : out.data()) clamped += (v == INT16_MAX || v == INT16_MIN);
      EXPECT_GT(clamped, 0u) << n_sources;
    }
  }
}

// DESIGN invariant 3: with a single other party, a leg hears that party bit-exact.
TEST(MixTest, TwoSourcesEachHearsTheOtherUnchanged) {
  std::mt19937 rng(7);
  for (const Kernels& k : AvailableKernels()) {
    for (size_t n_samples : {1u, 15u, 160u, 959u, 960u}) {
      Planes in = RandomPlanes(rng, 2, n_samples);
      in.at(0, 0) = INT16_MIN;  // extremes pass through too
      in.at(1, 0) = INT16_MIN;
      const Planes out = Mix(k.mix_minus, in, 2, n_samples);
      for (size_t s = 0; s < n_samples; ++s) {
        ASSERT_EQ(out.at(0, s), in.at(1, s)) << IsaName(k.isa) << " s=" << s;
        ASSERT_EQ(out.at(1, s), in.at(0, s)) << IsaName(k.isa) << " s=" << s;
      }
    }
  }
}

TEST(MixTest, OneSourceHearsSilence) {
  std::mt19937 rng(9);
  for (const Kernels& k : AvailableKernels()) {
    for (size_t n_samples : {1u, 7u, 160u, 960u}) {
      const Planes in = RandomPlanes(rng, 1, n_samples);
      const Planes out = Mix(k.mix_minus, in, 1, n_samples);
      for (size_t s = 0; s < n_samples; ++s) ASSERT_EQ(out.at(0, s), 0) << IsaName(k.isa);
    }
  }
}

TEST(DispatchTest, ParseIsaAcceptsExactlyTheNames) {
  EXPECT_EQ(ParseIsa("scalar"), Isa::kScalar);
  EXPECT_EQ(ParseIsa("sse2"), Isa::kSse2);
  EXPECT_EQ(ParseIsa("avx2"), Isa::kAvx2);
  EXPECT_EQ(ParseIsa("avx512"), Isa::kAvx512);
  EXPECT_EQ(ParseIsa(""), std::nullopt);
  EXPECT_EQ(ParseIsa("AVX2"), std::nullopt);
  EXPECT_EQ(ParseIsa("avx512bw"), std::nullopt);
  EXPECT_EQ(ParseIsa("avx2 "), std::nullopt);
}

TEST(DispatchTest, IsaNameRoundTrips) {
  for (Isa isa : kAllIsas) EXPECT_EQ(ParseIsa(IsaName(isa)), isa);
  EXPECT_EQ(IsaName(Isa::kScalar), "scalar");
  EXPECT_EQ(IsaName(Isa::kSse2), "sse2");
  EXPECT_EQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_EQ(IsaName(Isa::kAvx512), "avx512");
}

TEST(DispatchTest, ScalarIsAlwaysAvailable) {
  const auto k = KernelsFor(Isa::kScalar);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->isa, Isa::kScalar);
  EXPECT_NE(k->mix_minus, nullptr);
}

TEST(DispatchTest, KernelsForReportsTheIsaItWasAskedFor) {
  for (Isa isa : kAllIsas) {
    if (auto k = KernelsFor(isa)) {
      EXPECT_EQ(k->isa, isa);
      EXPECT_NE(k->mix_minus, nullptr);
      EXPECT_NE(k->mix_minus_checked, nullptr);
    }
  }
}

TEST(DispatchTest, BestKernelsIsSupportedAndNoSlowerThanAnyOther) {
  const Kernels best = BestKernels();
  ASSERT_TRUE(KernelsFor(best.isa).has_value());
  EXPECT_EQ(KernelsFor(best.isa)->mix_minus, best.mix_minus);
  // Isa values are ordered slowest to fastest; nothing available ranks above the best.
  for (Isa isa : kAllIsas) {
    if (KernelsFor(isa)) {
      EXPECT_LE(static_cast<int>(isa), static_cast<int>(best.isa));
    }
  }
}

#if defined(__x86_64__)
TEST(DispatchTest, Sse2IsAvailableOnX86_64) {
  // SSE2 is part of the x86-64 baseline, so its absence would be a dispatch bug.
  EXPECT_TRUE(KernelsFor(Isa::kSse2).has_value());
}
#endif

// The AVX-512 kernel on its own, so a CPU without it shows a skip rather than a silent pass.
TEST(MixTest, Avx512MatchesScalarBitExact) {
  if (!KernelsFor(Isa::kAvx512)) GTEST_SKIP() << "this CPU lacks avx512f/avx512bw";
  const Kernels k = *KernelsFor(Isa::kAvx512);
  std::mt19937 rng(512);
  // Every tail length 0..31 after 0, 1 and 30 full 32-sample blocks.
  for (size_t n_sources = 1; n_sources <= kMaxSources; ++n_sources) {
    for (size_t blocks : {0u, 1u, 30u}) {
      for (size_t tail = 0; tail < 32; ++tail) {
        const size_t n_samples = std::min(kMaxSamples, blocks * 32 + tail);
        const Planes in = RandomPlanes(rng, n_sources, n_samples);
        const Planes want = Mix(&internal::MixMinusScalar, in, n_sources, n_samples);
        ASSERT_EQ(Mix(k.mix_minus, in, n_sources, n_samples).data(), want.data())
            << "sources=" << n_sources << " samples=" << n_samples;
        bool saturated = false;
        ASSERT_EQ(MixChecked(k.mix_minus_checked, in, n_sources, n_samples, &saturated).data(),
                  want.data());
        ASSERT_EQ(saturated, Saturates(in, n_sources, n_samples)) << n_samples;
      }
    }
  }
}

// Tail samples past n_samples belong to someone else: the masked tail must not write them.
TEST(MixTest, KernelsWriteNothingPastNSamples) {
  std::mt19937 rng(3);
  for (const Kernels& k : AvailableKernels()) {
    for (size_t n_samples : {1u, 17u, 31u, 33u, 159u}) {
      const Planes in = RandomPlanes(rng, 3, n_samples);
      std::vector<int16_t> out_data(3 * 64 + 3 * n_samples, 0x1234);
      int16_t* out[3];
      for (size_t i = 0; i < 3; ++i) out[i] = out_data.data() + i * (n_samples + 64);
      k.mix_minus(in.ConstPointers().data(), out, 3, n_samples);
      k.mix_minus_checked(in.ConstPointers().data(), out, 3, n_samples);
      for (size_t i = 0; i < 3; ++i) {
        for (size_t s = n_samples; s < n_samples + 64; ++s) {
          ASSERT_EQ(out[i][s], 0x1234) << IsaName(k.isa) << " n=" << n_samples << " s=" << s;
        }
      }
    }
  }
}

// A saturating sample anywhere (body or tail) sets the flag; in-range extremes do not.
TEST(MixTest, CheckedFlagsExactlyTheOverflow) {
  for (const Kernels& k : AvailableKernels()) {
    for (size_t n_samples : {8u, 37u, 160u}) {
      for (size_t at = 0; at < n_samples; at += 5) {
        Planes in(3, n_samples);
        // total - in[i] for i = 2 is in[0] + in[1]: 16384 + 16383 = 32767 fits ...
        in.at(0, at) = 16384;
        in.at(1, at) = 16383;
        bool saturated = true;
        MixChecked(k.mix_minus_checked, in, 3, n_samples, &saturated);
        ASSERT_FALSE(saturated) << IsaName(k.isa) << " at=" << at;
        in.at(1, at) = 16384;  // ... 32768 does not
        MixChecked(k.mix_minus_checked, in, 3, n_samples, &saturated);
        ASSERT_TRUE(saturated) << IsaName(k.isa) << " at=" << at;
        in.at(0, at) = -16384;  // -16384 - 16384 = -32768 fits
        in.at(1, at) = -16384;
        MixChecked(k.mix_minus_checked, in, 3, n_samples, &saturated);
        ASSERT_FALSE(saturated) << IsaName(k.isa) << " at=" << at;
      }
    }
  }
}

}  // namespace
}  // namespace anchord::mixer
