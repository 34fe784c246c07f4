#include "mixer/frame_mixer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <numbers>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mixer/internal/kernels.h"

// Counts every allocation in this test binary, so a test can prove Mix() makes none. GCC 12
// reports the malloc/free pair inside replaced operator new/delete as mismatched once it inlines
// them into callers; the pairing is the replacement itself, so the warning is off here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace anchord::mixer {
namespace {

constexpr size_t kN = 160;  // 20 ms at 8 kHz
constexpr double kRate = 8000.0;

// A bridge of `n` slots with their own input and output buffers.
class Harness {
 public:
  explicit Harness(Kernels kernels, size_t n_samples = kN)
      : mixer_(kernels), n_(n_samples), in_(kMaxSources), out_(kMaxSources) {
    for (auto& v : in_) v.assign(n_, 0);
    for (auto& v : out_) v.assign(n_, 0x5a5a);
    frame_.n_samples = n_;
  }
  std::vector<int16_t>& in(size_t k) { return in_[k]; }
  const std::vector<int16_t>& out(size_t k) const { return out_[k]; }
  // talk: slot k contributes in(k); listen: slot k gets an output.
  void Set(size_t k, bool talk, bool listen, bool last = false) {
    frame_.in[k] = talk ? in_[k].data() : nullptr;
    frame_.out[k] = listen ? out_[k].data() : nullptr;
    frame_.last[k] = last;
  }
  const FrameMixer::ShareMap& Mix() {
    for (auto& v : out_) std::fill(v.begin(), v.end(), int16_t{0x5a5a});
    return mixer_.Mix(frame_);
  }
  FrameMixer& mixer() { return mixer_; }

 private:
  FrameMixer mixer_;
  size_t n_;
  std::vector<std::vector<int16_t>> in_;
  std::vector<std::vector<int16_t>> out_;
  FrameMixer::Frame frame_;
};

// A continuous cosine: frame f, sample s of a tone at hz with amplitude amp.
void Tone(std::vector<int16_t>& buf, size_t frame, double hz, double amp) {
  for (size_t s = 0; s < buf.size(); ++s) {
    const double t = static_cast<double>(frame * buf.size() + s) / kRate;
    buf[s] = static_cast<int16_t>(std::lround(amp * std::cos(2 * std::numbers::pi * hz * t)));
  }
}

std::vector<Kernels> AvailableKernels() {
  std::vector<Kernels> kernels;
  for (Isa isa : {Isa::kScalar, Isa::kSse2, Isa::kAvx2, Isa::kAvx512}) {
    if (auto k = KernelsFor(isa)) kernels.push_back(*k);
  }
  return kernels;
}

int MaxStep(const std::vector<int16_t>& samples) {
  int step = 0;
  for (size_t s = 1; s < samples.size(); ++s)
    step = std::max(step, std::abs(samples[s] - samples[s - 1]));
  return step;
}

// DESIGN invariant 3 through the FrameMixer: full-scale random audio, never limited or ramped
// after the first frame, for every kernel.
TEST(FrameMixerTest, SingleOtherPartyBitExactAtFullScale) {
  for (const Kernels& k : AvailableKernels()) {
    Harness h(k);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> full(INT16_MIN, INT16_MAX);
    h.Set(0, true, true);
    h.Set(1, true, true);
    for (size_t frame = 0; frame <= 1000; ++frame) {
      for (size_t j : {0u, 1u}) {
        for (int16_t& v : h.in(j)) v = static_cast<int16_t>(full(rng));
      }
      h.in(0)[frame % kN] = INT16_MIN;  // the extremes too
      h.in(1)[(frame + 1) % kN] = INT16_MAX;
      const auto& share = h.Mix();
      if (frame == 0) continue;  // both parties are new: faded in
      ASSERT_EQ(h.out(0), h.in(1)) << IsaName(k.isa) << " frame " << frame;
      ASSERT_EQ(h.out(1), h.in(0)) << IsaName(k.isa) << " frame " << frame;
      ASSERT_EQ(share[0], 0);
      ASSERT_EQ(share[1], 1);
    }
    EXPECT_EQ(h.mixer().counters().limited_outputs, 0u) << IsaName(k.isa);
    EXPECT_EQ(h.mixer().gain(0), 1.0f);
  }
}

// Without overflow the FrameMixer is the kernel: bit-exact mix-minus for 6 speech-level parties.
TEST(FrameMixerTest, NoOverflowIsExactlyTheKernel) {
  const Kernels best = BestKernels();
  Harness h(best);
  std::mt19937 rng(5);
  std::normal_distribution<double> speech(0.0, 2000.0);
  for (size_t k = 0; k < 6; ++k) h.Set(k, true, true);
  std::vector<int16_t> want_data(6 * kN);
  for (size_t frame = 0; frame < 50; ++frame) {
    for (size_t k = 0; k < 6; ++k) {
      for (int16_t& v : h.in(k)) v = static_cast<int16_t>(std::clamp(speech(rng), -8000.0, 8000.0));
    }
    h.Mix();
    if (frame == 0) continue;
    const int16_t* in[6];
    int16_t* want[6];
    for (size_t k = 0; k < 6; ++k) {
      in[k] = h.in(k).data();
      want[k] = want_data.data() + k * kN;
    }
    internal::MixMinusScalar(in, want, 6, kN);
    for (size_t k = 0; k < 6; ++k) {
      ASSERT_TRUE(std::equal(h.out(k).begin(), h.out(k).end(), want[k])) << frame << " " << k;
    }
  }
  EXPECT_EQ(h.mixer().counters().limited_outputs, 0u);
}

// Whether out looks like d times a gain that moves one way within the frame (a limiter's attack
// or release), rather than a clipped d (the ratio out/d dips wherever |d| passes full scale and
// comes back). Samples with small |d| say little about the ratio and are skipped.
bool LooksScaled(const std::vector<int16_t>& out, const std::vector<int32_t>& d) {
  constexpr double kRounding = 0.001;  // 0.5 / 4000 with margin
  double prev = -1;
  bool went_down = false;
  bool went_up = false;
  for (size_t s = 0; s < out.size(); ++s) {
    if (std::abs(d[s]) < 4000) continue;
    const double ratio = static_cast<double>(out[s]) / d[s];
    if (prev >= 0 && ratio < prev - kRounding) went_down = true;
    if (prev >= 0 && ratio > prev + kRounding) went_up = true;
    prev = ratio;
  }
  return !(went_down && went_up);
}

// Three loud tones: each party hears two at up to 48000 peak. Limited, not clipped.
TEST(FrameMixerTest, LimiterScalesInsteadOfClippingAndReleasesToExact) {
  Harness h(BestKernels());
  const double kHz[3] = {440.0, 554.0, 659.0};
  for (size_t k = 0; k < 3; ++k) h.Set(k, true, true);
  size_t frame = 0;
  for (; frame < 50; ++frame) {
    for (size_t k = 0; k < 3; ++k) Tone(h.in(k), frame, kHz[k], 24000);
    h.Mix();
    for (size_t i = 0; i < 3; ++i) {
      std::vector<int32_t> d(kN);
      for (size_t s = 0; s < kN; ++s) {
        for (size_t j = 0; j < 3; ++j) d[s] += j == i ? 0 : h.in(j)[s];
      }
      const std::vector<int16_t>& out = h.out(i);
      int run = 0;
      for (size_t s = 0; s < kN; ++s) {
        ASSERT_NE(out[s], INT16_MIN) << frame;
        run = std::abs(out[s]) >= 32767 ? run + 1 : 0;
        ASSERT_LT(run, 2) << "a flat top: frame " << frame << " out " << i << " s " << s;
      }
      if (frame == 0) continue;  // the fade-in frame scales d by the ramp as well
      ASSERT_TRUE(LooksScaled(out, d)) << "frame " << frame << " out " << i;
      // The test can fail: the hard-clipped mix does not look scaled on overloaded frames.
      if (*std::max_element(d.begin(), d.end()) > 36000) {
        std::vector<int16_t> clipped(kN);
        for (size_t s = 0; s < kN; ++s)
          clipped[s] = static_cast<int16_t>(std::clamp(d[s], -32768, 32767));
        ASSERT_FALSE(LooksScaled(clipped, d));
      }
    }
  }
  EXPECT_EQ(h.mixer().counters().clipped_samples, 0u);
  EXPECT_GT(h.mixer().counters().limited_outputs, 100u);
  EXPECT_LT(h.mixer().gain(0), 0.8f);
  // Party 2 leaves (its last frame fades out); 0 and 1 hear each other at 24000: no overflow.
  h.Set(2, true, false, /*last=*/true);
  const size_t stop = frame;
  for (; frame < stop + 60; ++frame) {
    for (size_t k = 0; k < 3; ++k) Tone(h.in(k), frame, kHz[k], 24000);
    h.Mix();
    if (frame == stop) h.Set(2, false, false);
    const size_t release_frames = 500 / 20;
    if (frame > stop + 1 + release_frames) {
      ASSERT_EQ(h.mixer().gain(0), 1.0f) << frame;
      ASSERT_EQ(h.mixer().gain(1), 1.0f) << frame;
      ASSERT_EQ(h.out(0), h.in(1)) << "frame " << frame - stop << " after the stop";
      ASSERT_EQ(h.out(1), h.in(0)) << "frame " << frame - stop << " after the stop";
    }
  }
}

// A loud onset at the very first sample of a frame: the attack shortens, nothing clips.
TEST(FrameMixerTest, SuddenOnsetIsNotClipped) {
  Harness h(BestKernels());
  for (size_t k = 0; k < 3; ++k) h.Set(k, true, true);
  for (size_t frame = 0; frame < 10; ++frame) {
    for (size_t k = 0; k < 3; ++k) {
      std::fill(h.in(k).begin(), h.in(k).end(), static_cast<int16_t>(frame < 5 ? 100 : 30000));
    }
    h.Mix();
    for (size_t i = 0; i < 3; ++i)
      ASSERT_LE(*std::max_element(h.out(i).begin(), h.out(i).end()), 32767);
  }
  EXPECT_EQ(h.mixer().counters().clipped_samples, 0u);
  EXPECT_NEAR(h.mixer().gain(0), 32767.0 / 60000.0, 1e-4);
}

// Entry and exit without clicks: the listener's output never steps by more than the steady
// mix's own largest step.
TEST(FrameMixerTest, StartsAndStopsMakeNoClick) {
  Harness h(BestKernels());
  h.Set(0, true, false);
  h.Set(2, false, true);  // the listener
  std::vector<int16_t> heard;
  std::vector<int16_t> unfaded;  // what a plain kernel would have given at the start
  for (size_t frame = 0; frame < 40; ++frame) {
    Tone(h.in(0), frame, 300, 8000);
    Tone(h.in(1), frame, 400, 16000);         // cos: +16000 at every frame edge
    if (frame == 10) h.Set(1, true, false);   // starts
    if (frame == 30) h.Set(1, false, false);  // vanishes without a last frame
    h.Mix();
    heard.insert(heard.end(), h.out(2).begin(), h.out(2).end());
    for (size_t s = 0; s < kN; ++s)
      unfaded.push_back(
          static_cast<int16_t>(h.in(0)[s] + (frame >= 10 && frame < 30 ? h.in(1)[s] : 0)));
  }
  // The steady two-tone mix's own largest step (frames 12..28).
  const std::vector<int16_t> steady(unfaded.begin() + 12 * kN, unfaded.begin() + 28 * kN);
  const int own_step = MaxStep(steady);
  EXPECT_LE(MaxStep(heard), own_step);
  // The test can fail: without the fades the start and the stop are clicks.
  EXPECT_GT(MaxStep(unfaded), own_step + 5000);
}

// A party marked last fades out over its last frame; a restarted slot cross-fades.
TEST(FrameMixerTest, LastFrameAndRestartMakeNoClick) {
  Harness h(BestKernels());
  h.Set(0, true, false);
  h.Set(1, true, false);
  h.Set(2, false, true);
  std::vector<int16_t> heard;
  for (size_t frame = 0; frame < 30; ++frame) {
    Tone(h.in(0), frame, 300, 8000);
    Tone(h.in(1), frame, frame < 10 ? 1000 : 700, 16000);
    if (frame == 10) h.mixer().Restart(1);  // another party in slot 1, at another frequency
    if (frame == 20) h.Set(1, true, false, /*last=*/true);
    if (frame == 21) h.Set(1, false, false);
    h.Mix();
    if (frame > 0) heard.insert(heard.end(), h.out(2).begin(), h.out(2).end());
  }
  // Largest own step of 300 Hz at 8000 plus 1 kHz at 16000 (the steepest of the mixes).
  const double own = 8000 * 2 * std::sin(std::numbers::pi * 300 / kRate) +
                     16000 * 2 * std::sin(std::numbers::pi * 1000 / kRate);
  EXPECT_LE(MaxStep(heard), own);
  EXPECT_EQ(h.mixer().counters().fades_out, 2u);
}

// Listen-only slots hear the same total: computed once, reported as shared, identical buffers.
TEST(FrameMixerTest, ListenOnlyOutputsAreSharedAndIdentical) {
  for (int16_t level : {int16_t{3000}, int16_t{30000}}) {  // normal and limited
    Harness h(BestKernels());
    h.Set(0, true, true);
    h.Set(1, true, true);
    h.Set(2, false, true);
    h.Set(3, false, true);
    h.Set(5, false, true);
    h.Set(4, false, false);  // neither talks nor listens
    for (size_t frame = 0; frame < 5; ++frame) {
      Tone(h.in(0), frame, 440, level);
      Tone(h.in(1), frame, 620, level);
      const FrameMixer::ShareMap share = h.Mix();
      EXPECT_EQ(share[0], 0);
      EXPECT_EQ(share[1], 1);
      EXPECT_EQ(share[2], 2);
      EXPECT_EQ(share[3], 2);
      EXPECT_EQ(share[5], 2);
      EXPECT_EQ(share[4], FrameMixer::kNoOutput);
      EXPECT_EQ(share[6], FrameMixer::kNoOutput);
      EXPECT_EQ(h.out(3), h.out(2)) << frame;
      EXPECT_EQ(h.out(5), h.out(2)) << frame;
      if (frame > 0 && level == 3000) {
        for (size_t s = 0; s < kN; ++s) ASSERT_EQ(h.out(2)[s], h.in(0)[s] + h.in(1)[s]);
      }
    }
  }
}

// Every kernel gives the same FrameMixer output, limiter and fades included.
TEST(FrameMixerTest, EveryKernelGivesTheSameFrames) {
  std::vector<std::vector<int16_t>> want;
  for (const Kernels& k : AvailableKernels()) {
    Harness h(k);
    std::mt19937 rng(77);
    std::uniform_int_distribution<int> loud(-20000, 20000);
    std::bernoulli_distribution coin(0.2);
    std::vector<int16_t> got;
    for (size_t frame = 0; frame < 200; ++frame) {
      for (size_t j = 0; j < 8; ++j) {
        for (int16_t& v : h.in(j)) v = static_cast<int16_t>(loud(rng));
        const bool talk = coin(rng) || j < 3;
        h.Set(j, talk, j % 2 == 0 || !talk, talk && coin(rng));
      }
      h.Mix();
      for (size_t j = 0; j < 8; ++j) got.insert(got.end(), h.out(j).begin(), h.out(j).end());
    }
    if (want.empty()) want.push_back(got);
    ASSERT_EQ(got, want[0]) << IsaName(k.isa);
  }
}

// One bridge's random frames: loud parties that start, stop and end (fades, the limiter: the
// parts of Mix() that use its working memory), one frame per Step().
class RandomBridge {
 public:
  explicit RandomBridge(unsigned seed) : h_(BestKernels()), rng_(seed) {}
  void Step() {
    std::uniform_int_distribution<int> loud(-20000, 20000);
    std::bernoulli_distribution coin(0.2);
    for (size_t j = 0; j < 8; ++j) {
      for (int16_t& v : h_.in(j)) v = static_cast<int16_t>(loud(rng_));
      const bool talk = coin(rng_) || j < 3;
      h_.Set(j, talk, j % 2 == 0 || !talk, talk && coin(rng_));
    }
    h_.Mix();
    for (size_t j = 0; j < 8; ++j) heard_.insert(heard_.end(), h_.out(j).begin(), h_.out(j).end());
  }
  const std::vector<int16_t>& heard() const { return heard_; }
  const FrameMixer& mixer() { return h_.mixer(); }

 private:
  Harness h_;
  std::mt19937 rng_;
  std::vector<int16_t> heard_;
};

// The working memory of a Mix() is one per thread (frame_mixer.cc): bridges that take turns on
// a thread, or run on two threads at once, hear exactly what each would alone.
TEST(FrameMixerTest, MixersOnOneThreadOrTwoDoNotDisturbEachOther) {
  constexpr size_t kFrames = 300;
  RandomBridge alone_a(11), alone_b(12);
  for (size_t f = 0; f < kFrames; ++f) alone_a.Step();
  for (size_t f = 0; f < kFrames; ++f) alone_b.Step();
  ASSERT_GT(alone_a.mixer().counters().limited_outputs, 0u);  // the limiter ran
  ASSERT_GT(alone_a.mixer().counters().fades_in, 0u);         // and so did the fades

  RandomBridge turn_a(11), turn_b(12);
  for (size_t f = 0; f < kFrames; ++f) {
    turn_a.Step();
    turn_b.Step();
  }
  EXPECT_EQ(turn_a.heard(), alone_a.heard());
  EXPECT_EQ(turn_b.heard(), alone_b.heard());

  RandomBridge thread_a(11), thread_b(12);
  std::thread other([&] {
    for (size_t f = 0; f < kFrames; ++f) thread_b.Step();
  });
  for (size_t f = 0; f < kFrames; ++f) thread_a.Step();
  other.join();
  EXPECT_EQ(thread_a.heard(), alone_a.heard());
  EXPECT_EQ(thread_b.heard(), alone_b.heard());
}

// No allocation after construction (DESIGN invariant 4).
TEST(FrameMixerTest, MixAllocatesNothing) {
  Harness h(BestKernels());
  for (size_t k = 0; k < kMaxSources; ++k) h.Set(k, k < 12, true, k == 3);
  const uint64_t before = g_allocations.load();
  for (size_t frame = 0; frame < 100; ++frame) {
    for (size_t k = 0; k < kMaxSources; ++k) Tone(h.in(k), frame, 200.0 + 50.0 * k, 20000);
    h.Mix();
    h.mixer().Restart(frame % kMaxSources);
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_GT(h.mixer().counters().limited_outputs, 0u);
}

TEST(FrameMixerTest, BadFrameSizeMixesNothing) {
  Harness h(BestKernels());
  h.Set(0, true, true);
  FrameMixer::Frame frame;
  frame.n_samples = kMaxSamples + 1;
  const auto& share = h.mixer().Mix(frame);
  for (uint8_t v : share) EXPECT_EQ(v, FrameMixer::kNoOutput);
  EXPECT_EQ(h.mixer().counters().frames, 0u);
}

}  // namespace
}  // namespace anchord::mixer
